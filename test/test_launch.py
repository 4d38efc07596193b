"""launch/uav.launch.py: valid Python everywhere; builds its LaunchDescription where ROS 2 is installed.

Without ROS the launch logic still runs, against small stand-ins for the launch / launch_ros classes.
"""
import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / 'launch' / 'uav.launch.py'


def _load(name='uav_launch_under_test'):
    spec = importlib.util.spec_from_file_location(name, str(LAUNCH_FILE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_file_is_valid_python_with_the_expected_arguments():
    source = LAUNCH_FILE.read_text(encoding='utf-8')
    tree = ast.parse(source, filename=str(LAUNCH_FILE))
    compile(tree, str(LAUNCH_FILE), 'exec')
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert 'generate_launch_description' in functions
    args = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS')
    names = [elt.elts[0].value for elt in args.value.elts]
    for required in ('bundle', 'backend', 'image_topic', 'params_file', 'bag', 'use_sim_time', 'composable'):
        assert required in names


def test_params_file_exists_and_validates():
    import yaml

    from vitedge_ros.ros.core import validate_params

    data = yaml.safe_load((ROOT / 'config' / 'vitedge_node.yaml').read_text(encoding='utf-8'))
    (key,) = data
    assert key == '/**'
    validate_params(data[key]['ros__parameters'])


# ------------------------------------------------------------------------------------------ with real ROS 2
@pytest.mark.ros
def test_generate_launch_description_with_ros():
    launch = pytest.importorskip('launch')
    pytest.importorskip('launch_ros')
    module = _load('uav_launch_ros')
    ld = module.generate_launch_description()
    assert isinstance(ld, launch.LaunchDescription)
    declared = [a.name for a in ld.entities if isinstance(a, launch.actions.DeclareLaunchArgument)]
    assert 'bag' in declared and 'bundle' in declared
    ctx = launch.LaunchContext()
    for name, default, _ in module.ARGUMENTS:
        ctx.launch_configurations[name] = default
    ctx.launch_configurations['bag'] = '/tmp/some_bag'
    actions = module.launch_setup(ctx)
    kinds = [type(a).__name__ for a in actions]
    assert 'Node' in kinds and 'ExecuteProcess' in kinds


# ------------------------------------------------------------------------------------- stand-in launch classes
class _Recorder:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


class _LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


def _stub_modules():
    names = ['LaunchDescription', 'DeclareLaunchArgument', 'EmitEvent', 'ExecuteProcess', 'LogInfo', 'OpaqueFunction',
             'RegisterEventHandler', 'OnProcessExit', 'Shutdown', 'ComposableNodeContainer', 'LoadComposableNodes',
             'Node', 'ComposableNode']
    classes = {n: type(n, (_Recorder,), {}) for n in names}
    mods = {}
    for mod, members in {
        'launch': [],
        'launch.launch_description': ['LaunchDescription'],
        'launch.actions': ['DeclareLaunchArgument', 'EmitEvent', 'ExecuteProcess', 'LogInfo', 'OpaqueFunction',
                           'RegisterEventHandler'],
        'launch.event_handlers': ['OnProcessExit'],
        'launch.events': ['Shutdown'],
        'launch.substitutions': [],
        'launch_ros': [],
        'launch_ros.actions': ['ComposableNodeContainer', 'LoadComposableNodes', 'Node'],
        'launch_ros.descriptions': ['ComposableNode'],
    }.items():
        m = types.ModuleType(mod)
        for member in members:
            setattr(m, member, classes[member])
        mods[mod] = m
    mods['launch.substitutions'].LaunchConfiguration = _LaunchConfiguration
    return mods


@pytest.fixture
def stub_launch(monkeypatch):
    if importlib.util.find_spec('launch_ros') is not None:
        pytest.skip('real launch_ros installed: covered by test_generate_launch_description_with_ros')
    for name, mod in _stub_modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    return _load('uav_launch_stubbed')


def _context(module, **over):
    ctx = {name: default for name, default, _ in module.ARGUMENTS}
    ctx.update(over)
    return ctx


def _by_type(actions, name):
    return [a for a in actions if type(a).__name__ == name]


def test_launch_logic_live_camera(stub_launch):
    ld = stub_launch.generate_launch_description()
    entities = ld.args[0]
    assert [type(e).__name__ for e in entities].count('DeclareLaunchArgument') == len(stub_launch.ARGUMENTS)
    actions = stub_launch.launch_setup(_context(stub_launch, backend='tensorrt', image_topic='/cam/front/image'))
    (node,) = _by_type(actions, 'Node')
    kw = node.kwargs
    assert kw['executable'] == 'vitedge_node' and kw['package'] == 'vitedge_ros'
    params_file, overrides = kw['parameters']
    assert params_file.endswith('config/vitedge_node.yaml')
    assert overrides['backend'] == 'tensorrt' and overrides['use_sim_time'] is False
    assert overrides['bundle'].endswith('models/aerial_vit_tiny') and 'transport' not in overrides
    assert dict(kw['remappings']) == {'image': '/cam/front/image', 'image/compressed': '/cam/front/image/compressed',
                                      'camera_info': '/cam/front/camera_info'}
    assert not _by_type(actions, 'ExecuteProcess')


def test_launch_logic_bag_replay(stub_launch):
    actions = stub_launch.launch_setup(_context(stub_launch, bag='/data/flight', bag_remap='/a:=/b',
                                                shutdown_after_bag='true', bundle='/b/x'))
    (player,) = _by_type(actions, 'ExecuteProcess')
    cmd = player.kwargs['cmd']
    assert cmd[:4] == ['ros2', 'bag', 'play', '/data/flight']
    assert '--clock' in cmd and cmd[cmd.index('--remap') + 1] == '/a:=/b'
    (node,) = _by_type(actions, 'Node')
    overrides = node.kwargs['parameters'][1]
    assert overrides['use_sim_time'] is True and overrides['bundle'] == '/b/x'
    assert _by_type(actions, 'RegisterEventHandler')


def test_launch_logic_composable_camera(stub_launch):
    actions = stub_launch.launch_setup(_context(stub_launch, camera='v4l2', composable='true'))
    (container,) = _by_type(actions, 'ComposableNodeContainer')
    (component,) = container.kwargs['composable_node_descriptions']
    assert component.kwargs['plugin'] == 'v4l2_camera::V4L2Camera'
    assert len(_by_type(actions, 'Node')) == 1            # vitedge_node stays a process
    actions = stub_launch.launch_setup(_context(stub_launch, camera='v4l2', composable='true',
                                                container='/drone/camera_container'))
    (load,) = _by_type(actions, 'LoadComposableNodes')
    assert load.kwargs['target_container'] == '/drone/camera_container'
    plain = stub_launch.launch_setup(_context(stub_launch, camera='v4l2'))
    assert len(_by_type(plain, 'Node')) == 2
    with pytest.raises(ValueError, match='camera'):
        stub_launch.launch_setup(_context(stub_launch, camera='gopro'))
    with pytest.raises(ValueError, match='bag_loop'):
        stub_launch.launch_setup(_context(stub_launch, bag='/x', bag_loop='maybe'))


def test_docs_list_every_launch_argument():
    source = LAUNCH_FILE.read_text(encoding='utf-8')
    tree = ast.parse(source)
    args = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS')
    doc = (ROOT / 'docs' / 'ROS.md').read_text(encoding='utf-8')
    for elt in args.value.elts:
        assert '`{}`'.format(elt.elts[0].value) in doc, elt.elts[0].value

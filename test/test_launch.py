# Copyright 2026 vitedge_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
launch/uav.launch.py is valid Python everywhere and builds its LaunchDescription under ROS 2.

Without ROS the launch logic still runs, against small stand-ins for the launch / launch_ros
classes.
"""

import ast
import importlib.util
from pathlib import Path
import sys
import types

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
    args = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS'
    )
    names = [elt.elts[0].value for elt in args.value.elts]
    for required in (
        'bundle',
        'backend',
        'image_topic',
        'params_file',
        'bag',
        'use_sim_time',
        'composable',
        'tf_topic',
        'bag_delay',
        'bag_start_paused',
        'camera',
        'rviz',
    ):
        assert required in names


def test_params_file_exists_and_validates():
    from vitedge_ros.ros.core import validate_params
    import yaml

    data = yaml.safe_load((ROOT / 'config' / 'vitedge_node.yaml').read_text(encoding='utf-8'))
    (key,) = data
    assert key == '/**'
    validate_params(data[key]['ros__parameters'])


# --------------------------------------------------------------------------------- with real ROS 2
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
    assert (
        'Node' in kinds and 'RegisterEventHandler' in kinds
    )  # the player starts once the node is ready
    ctx.launch_configurations['bag_wait_for_node'] = 'false'
    assert 'ExecuteProcess' in [type(a).__name__ for a in module.launch_setup(ctx)]


# ------------------------------------------------------------------------- stand-in launch classes
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
    names = [
        'LaunchDescription',
        'DeclareLaunchArgument',
        'EmitEvent',
        'ExecuteProcess',
        'LogInfo',
        'OpaqueFunction',
        'RegisterEventHandler',
        'OnProcessExit',
        'OnProcessIO',
        'Shutdown',
        'ComposableNodeContainer',
        'LoadComposableNodes',
        'Node',
        'ComposableNode',
    ]
    classes = {n: type(n, (_Recorder,), {}) for n in names}
    mods = {}
    for mod, members in {
        'launch': [],
        'launch.launch_description': ['LaunchDescription'],
        'launch.actions': [
            'DeclareLaunchArgument',
            'EmitEvent',
            'ExecuteProcess',
            'LogInfo',
            'OpaqueFunction',
            'RegisterEventHandler',
        ],
        'launch.event_handlers': ['OnProcessExit', 'OnProcessIO'],
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
        pytest.skip(
            'real launch_ros installed: covered by test_generate_launch_description_with_ros'
        )
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
    assert [type(e).__name__ for e in entities].count('DeclareLaunchArgument') == len(
        stub_launch.ARGUMENTS
    )
    actions = stub_launch.launch_setup(
        _context(stub_launch, backend='tensorrt', image_topic='/cam/front/image')
    )
    (node,) = _by_type(actions, 'Node')
    kw = node.kwargs
    assert (
        kw['executable'] == 'vitedge_node'
        and kw['package'] == 'vitedge_ros'
        and kw['name'] == 'vitedge_node'
    )
    params_file, overrides = kw['parameters']
    assert params_file.endswith('config/vitedge_node.yaml')
    assert overrides == {
        'backend': 'tensorrt'
    }  # only what was given: the params file keeps the rest
    assert dict(kw['remappings']) == {
        'image': '/cam/front/image',
        'image/compressed': '/cam/front/image/compressed',
        'camera_info': '/cam/front/camera_info',
        '/tf': '/tf',
        '/tf_static': '/tf_static',
    }
    assert not _by_type(actions, 'ExecuteProcess')


def test_defaults_leave_the_params_file_in_charge(stub_launch):
    (node,) = _by_type(stub_launch.launch_setup(_context(stub_launch)), 'Node')
    assert len(node.kwargs['parameters']) == 1  # no bundle/backend/use_sim_time override at all
    custom = stub_launch.launch_setup(_context(stub_launch, params_file='/data/uav1.yaml'))
    assert _by_type(custom, 'Node')[0].kwargs['parameters'] == ['/data/uav1.yaml']
    given = stub_launch.launch_setup(
        _context(stub_launch, bundle='~/bundles/x', publish_overlay='true', use_sim_time='false')
    )
    overrides = _by_type(given, 'Node')[0].kwargs['parameters'][1]
    assert overrides['bundle'].endswith('/bundles/x') and not overrides['bundle'].startswith('~')
    assert overrides['publish_overlay'] is True and overrides['use_sim_time'] is False


def test_relative_topics_follow_the_namespace_and_tf_is_remappable(stub_launch):
    actions = stub_launch.launch_setup(
        _context(
            stub_launch,
            namespace='uav1',
            tf_topic='tf',
            tf_static_topic='tf_static',
            node_name='front_detector',
        )
    )
    (node,) = _by_type(actions, 'Node')
    kw = node.kwargs
    assert kw['namespace'] == 'uav1' and kw['name'] == 'front_detector'
    remaps = dict(kw['remappings'])
    # relative names: resolved in /uav1 by rcl, like the outputs (detections -> /uav1/detections)
    assert remaps['image'] == 'camera/image_raw' and remaps['camera_info'] == 'camera/camera_info'
    assert remaps['/tf'] == 'tf' and remaps['/tf_static'] == 'tf_static'
    assert stub_launch.resolve_name('camera/image_raw', 'uav1') == '/uav1/camera/image_raw'
    assert stub_launch.resolve_name('tf', '/uav1/') == '/uav1/tf'
    assert (
        stub_launch.resolve_name('/tf', 'uav1') == '/tf'
        and stub_launch.resolve_name('tf', '') == '/tf'
    )
    (log,) = _by_type(actions, 'LogInfo')
    assert (
        'image /uav1/camera/image_raw' in log.kwargs['msg'] and 'tf /uav1/tf' in log.kwargs['msg']
    )


def test_launch_logic_bag_replay(stub_launch):
    actions = stub_launch.launch_setup(
        _context(
            stub_launch,
            bag='/data/flight',
            bag_remap='/a:=/b',
            shutdown_after_bag='true',
            bundle='/b/x',
            bag_delay='2.5',
            bag_start_paused='true',
            bag_storage='mcap',
            namespace='uav1',
            tf_topic='tf',
        )
    )
    assert not _by_type(actions, 'ExecuteProcess')  # the player waits for the node
    (node,) = _by_type(actions, 'Node')
    overrides = node.kwargs['parameters'][1]
    assert overrides == {'use_sim_time': True, 'bundle': '/b/x'}
    handlers = _by_type(actions, 'RegisterEventHandler')
    (io,) = [h.args[0] for h in handlers if type(h.args[0]).__name__ == 'OnProcessIO']
    assert io.kwargs['target_action'] is node
    on_out = io.kwargs['on_stdout']
    assert on_out(types.SimpleNamespace(text=b'[INFO] [vitedge_node]: loading the engine')) is None
    started = on_out(
        types.SimpleNamespace(text=b'[INFO] [1.2] [uav1.vitedge_node]: vitedge_node ready: bundle')
    )
    (player,) = [a for a in started if type(a).__name__ == 'ExecuteProcess']
    assert (
        io.kwargs['on_stderr'](types.SimpleNamespace(text=b'vitedge_node ready: again')) is None
    )  # once
    cmd = player.kwargs['cmd']
    assert cmd[:6] == ['ros2', 'bag', 'play', '/data/flight', '--rate', '1.0']
    assert cmd[cmd.index('--storage') + 1] == 'mcap' and cmd[cmd.index('--delay') + 1] == '2.5'
    assert '--start-paused' in cmd and cmd[-1] == '--clock'
    first = cmd.index('--remap') + 1
    remaps = cmd[first:-1]
    assert remaps == ['/a:=/b', '/tf:=/uav1/tf']  # the bag's TF goes where the node listens
    exits = [h.args[0] for h in handlers if type(h.args[0]).__name__ == 'OnProcessExit']
    assert [e.kwargs['target_action'] for e in exits] == [node, player]


def test_bag_plays_at_once_without_waiting(stub_launch):
    actions = stub_launch.launch_setup(
        _context(stub_launch, bag='/data/flight.mcap', bag_wait_for_node='false')
    )
    (player,) = _by_type(actions, 'ExecuteProcess')
    cmd = player.kwargs['cmd']
    assert (
        '--delay' not in cmd and '--storage' not in cmd and '--remap' not in cmd
    )  # Humble: --delay > 0 only
    assert not _by_type(actions, 'RegisterEventHandler')
    with pytest.raises(ValueError, match='log_level'):
        stub_launch.launch_setup(_context(stub_launch, bag='/x', log_level='warn'))
    with pytest.raises(ValueError, match='bag_delay'):
        stub_launch.launch_setup(_context(stub_launch, bag='/x', bag_delay='-1'))
    with pytest.raises(ValueError, match='bag_loop'):
        stub_launch.launch_setup(_context(stub_launch, bag='/x', bag_loop='maybe'))
    with pytest.raises(ValueError, match='cannot be combined'):
        stub_launch.launch_setup(_context(stub_launch, bag='/x', camera='usb'))


def test_camera_drivers(stub_launch):
    drivers = (
        ('v4l2', 'v4l2_camera', 'v4l2_camera_node', 'image_raw'),
        ('usb', 'usb_cam', 'usb_cam_node_exe', 'image_raw'),
        ('csi', 'gscam', 'gscam_node', 'camera/image_raw'),
    )
    for camera, package, executable, image_remap in drivers:
        actions = stub_launch.launch_setup(_context(stub_launch, camera=camera, namespace='uav1'))
        vitedge, driver = _by_type(actions, 'Node')
        kw = driver.kwargs
        assert (kw['package'], kw['executable'], kw['namespace']) == (package, executable, 'uav1')
        remaps = dict(kw['remappings'])
        assert (
            remaps[image_remap]
            == 'camera/image_raw'
            == dict(vitedge.kwargs['remappings'])['image']
        )
        (params,) = kw['parameters']
        assert params.get('frame_id', params.get('camera_frame_id')) == 'camera_optical_frame'
    usb = _by_type(
        stub_launch.launch_setup(
            _context(
                stub_launch, camera='usb', camera_width='640', camera_height='480', camera_fps='15'
            )
        ),
        'Node',
    )[1]
    params = usb.kwargs['parameters'][0]
    assert (params['image_width'], params['image_height'], params['framerate']) == (640, 480, 15.0)
    csi = _by_type(
        stub_launch.launch_setup(_context(stub_launch, camera='csi', csi_sensor_id='1')), 'Node'
    )[1]
    config = csi.kwargs['parameters'][0]['gscam_config']
    assert config.startswith(
        'nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM), width=(int)1280'
    )
    assert config.endswith('! videoconvert') and 'framerate=(fraction)30/1' in config


def test_launch_logic_composable_camera(stub_launch):
    actions = stub_launch.launch_setup(_context(stub_launch, camera='v4l2', composable='true'))
    (container,) = _by_type(actions, 'ComposableNodeContainer')
    (component,) = container.kwargs['composable_node_descriptions']
    assert component.kwargs['plugin'] == 'v4l2_camera::V4L2Camera'
    assert len(_by_type(actions, 'Node')) == 1  # vitedge_node stays a process
    csi = stub_launch.launch_setup(_context(stub_launch, camera='csi', composable='true'))
    assert (
        _by_type(csi, 'ComposableNodeContainer')[0]
        .kwargs['composable_node_descriptions'][0]
        .kwargs['plugin']
        == 'gscam::GSCam'
    )
    actions = stub_launch.launch_setup(
        _context(stub_launch, camera='usb', composable='true', container='/drone/camera_container')
    )
    (load,) = _by_type(actions, 'LoadComposableNodes')
    assert load.kwargs['target_container'] == '/drone/camera_container'
    assert load.kwargs['composable_node_descriptions'][0].kwargs['plugin'] == 'usb_cam::UsbCamNode'
    with pytest.raises(ValueError, match='camera'):
        stub_launch.launch_setup(_context(stub_launch, camera='gopro'))


def test_rviz_option_uses_the_shipped_config(stub_launch):
    actions = stub_launch.launch_setup(
        _context(stub_launch, rviz='true', namespace='uav2', tf_topic='tf')
    )
    (rviz,) = [n for n in _by_type(actions, 'Node') if n.kwargs['package'] == 'rviz2']
    config = rviz.kwargs['arguments'][1]
    assert rviz.kwargs['arguments'][0] == '-d' and config.endswith('config/vitedge.rviz')
    assert rviz.kwargs['namespace'] == 'uav2' and dict(rviz.kwargs['remappings'])['/tf'] == 'tf'
    assert Path(config).is_file()


def test_rviz_config_shows_overlay_targets_and_obstacles():
    import yaml

    cfg = yaml.safe_load((ROOT / 'config' / 'vitedge.rviz').read_text(encoding='utf-8'))
    displays = {d['Class']: d for d in cfg['Visualization Manager']['Displays']}
    assert displays['rviz_default_plugins/Image']['Topic']['Value'] == 'overlay'
    assert displays['rviz_default_plugins/PoseArray']['Topic']['Value'] == 'targets'
    assert displays['rviz_default_plugins/PointCloud2']['Topic']['Value'] == 'obstacles/bearings'
    assert cfg['Visualization Manager']['Global Options']['Fixed Frame'] == 'map'
    assert 'rviz_default_plugins/TF' in displays


def test_bundle_from_a_params_file_reaches_the_node(
    stub_launch, monkeypatch, tmp_path, tiny_detector_bundle
):
    """
    Launch -> params file -> rcl overrides -> vitedge_node loads that file's bundle.

    The launch is given no bundle:=.
    """
    import importlib

    from test_ros_node_stubbed import _modules, params_file_overrides

    params = tmp_path / 'uav1.yaml'
    params.write_text(
        '/**:\n  ros__parameters:\n    bundle: {}\n    backend: onnxruntime\n'
        '    obstacle_classes: []\n'.format(tiny_detector_bundle),
        encoding='utf-8',
    )
    (node_action,) = _by_type(
        stub_launch.launch_setup(_context(stub_launch, params_file=str(params), namespace='uav1')),
        'Node',
    )
    overrides = {}
    for entry in node_action.kwargs['parameters']:  # launch_ros applies them in order, later wins
        overrides.update(
            params_file_overrides(entry, 'vitedge_node', 'uav1')
            if isinstance(entry, str)
            else entry
        )
    for name, mod in _modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, 'cv_bridge', None)
    sys.modules.pop('vitedge_ros.ros.node', None)
    node_module = importlib.import_module('vitedge_ros.ros.node')
    node = node_module.VitedgeNode(
        node_action.kwargs['name'],
        namespace=node_action.kwargs['namespace'],
        parameter_overrides=overrides,
    )
    try:
        assert node.node_params.bundle == str(tiny_detector_bundle)
        assert node.core.bundle_name == 'tiny_detector' and node.node_params.obstacle_classes == []
        node.timers[0][1]()
        assert (
            node.publishers['/diagnostics'].sent[0].status[0].name
            == 'uav1/vitedge_node: perception'
        )
    finally:
        node.close()
        sys.modules.pop('vitedge_ros.ros.node', None)


def test_ready_marker_is_what_the_node_logs():
    source = (ROOT / 'vitedge_ros' / 'ros' / 'node.py').read_text(encoding='utf-8')
    tree = ast.parse(LAUNCH_FILE.read_text(encoding='utf-8'))
    marker = next(
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'READY_MARKER'
    )
    logged = []  # the format strings of the node's log.info calls (source layout does not matter)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == 'info' and node.args:
            first = node.args[0]
            if isinstance(first, ast.Call) and getattr(first.func, 'attr', '') == 'format':
                first = first.func.value
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                logged.append(first.value)
    assert any(text.startswith(marker) for text in logged), (marker, logged)


def test_docs_list_every_launch_argument():
    source = LAUNCH_FILE.read_text(encoding='utf-8')
    tree = ast.parse(source)
    args = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'ARGUMENTS'
    )
    doc = (ROOT / 'docs' / 'ROS.md').read_text(encoding='utf-8')
    for elt in args.value.elts:
        assert '`{}`'.format(elt.elts[0].value) in doc, elt.elts[0].value

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

"""package.xml, setup.py and the requirements files against what the code imports and installs."""

import ast
from pathlib import Path
import re
import runpy
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Drone-side code scanned for imports: what `ros2 run` / `ros2 launch` executes.
SCANNED = (
    'vitedge_ros/ros',
    'vitedge_ros/runtime',
    'vitedge_ros/geometry',
    'vitedge_ros/perception',
    'launch',
)
#: Import name -> rosdep key (ROS packages by their package name; rosdistro rosdep/python.yaml and
#: base.yaml keys).
ROSDEP = {
    'rclpy': 'rclpy',
    'builtin_interfaces': 'builtin_interfaces',
    'rcl_interfaces': 'rcl_interfaces',
    'std_msgs': 'std_msgs',
    'sensor_msgs': 'sensor_msgs',
    'geometry_msgs': 'geometry_msgs',
    'diagnostic_msgs': 'diagnostic_msgs',
    'vision_msgs': 'vision_msgs',
    'cv_bridge': 'cv_bridge',
    # the Python tf2_ros of Humble is the package tf2_ros_py (ros2/geometry2)
    'tf2_ros': 'tf2_ros_py',
    'ament_index_python': 'ament_index_python',
    'launch': 'launch',
    'launch_ros': 'launch_ros',
    'numpy': 'python3-numpy',
    'cv2': 'python3-opencv',
    'yaml': 'python3-yaml',
}
#: Imports that are not rosdep exec dependencies, and why.
NOT_EXEC_DEPENDS = {
    'onnxruntime': 'pip step requirements/ros-humble.txt (numpy < 2), see package.xml',
    'tensorrt': 'JetPack (python3-libnvinfer)',
    'pycuda': 'JetPack-side build',
    'cuda': 'cuda-python, optional',
    'onnx': 'optional: names ONNX nodes in TensorRT parser errors (tools/build_engine.py)',
    'rosbags': 'tools and tests only (test_depend python3-rosbags-pip)',
    'torch': 'workstation only: the torch engine of the tools',
}
#: Exec dependencies used by commands rather than imports.
COMMAND_DEPENDS = {
    'ros2bag': 'ros2 bag play in launch/uav.launch.py',
    'rosbag2_storage_mcap': 'mcap bags (the project writes mcap) for ros2 bag play',
}


def _package():
    return ET.parse(ROOT / 'package.xml').getroot()


def _third_party_imports():
    stdlib = getattr(sys, 'stdlib_module_names', None)
    if stdlib is None:  # Python < 3.10
        pytest.skip('needs sys.stdlib_module_names (Python >= 3.10)')
    found = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob('*.py')):
            for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split('.')[0]
                    if top not in stdlib and top != 'vitedge_ros':
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_package_xml_format3_ament_python_and_deps():
    root = _package()
    assert root.tag == 'package' and root.get('format') == '3'
    assert root.findtext('name') == 'vitedge_ros'
    assert root.find('export/build_type').text == 'ament_python'
    test_deps = {e.text for e in root.findall('test_depend')}
    assert {'ament_flake8', 'ament_pep257', 'python3-pytest', 'python3-rosbags-pip'} <= test_deps
    (vision,) = [e for e in root.findall('exec_depend') if e.text == 'vision_msgs']
    assert vision.get('version_gte') == '4.0.0'  # Humble's: Point2D, Pose2D.position


def test_every_imported_ros_package_is_declared_and_nothing_else():
    exec_deps = {e.text for e in _package().findall('exec_depend')}
    imports = _third_party_imports()
    unknown = sorted(set(imports) - set(ROSDEP) - set(NOT_EXEC_DEPENDS))
    assert unknown == [], 'imports with no rosdep key and no reason: {}'.format(
        {k: sorted(imports[k]) for k in unknown}
    )
    missing = sorted(ROSDEP[m] for m in imports if m in ROSDEP and ROSDEP[m] not in exec_deps)
    assert missing == [], 'imported but not in package.xml: {}'.format(missing)
    unused = sorted(exec_deps - {ROSDEP[m] for m in imports if m in ROSDEP} - set(COMMAND_DEPENDS))
    assert unused == [], 'declared but never imported or run: {}'.format(unused)
    assert 'tf2_ros' not in exec_deps and 'python3-onnxruntime-pip' not in exec_deps


def test_launch_packages_are_declared_or_optional_and_documented():
    tree = ast.parse((ROOT / 'launch' / 'uav.launch.py').read_text(encoding='utf-8'))
    started = {
        kw.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == 'package' and isinstance(kw.value, ast.Constant)
    }
    cameras = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'camera_description'
    )
    started |= {
        ret.value.elts[0].value for ret in ast.walk(cameras) if isinstance(ret, ast.Return)
    }
    assert {'v4l2_camera', 'usb_cam', 'gscam', 'rviz2', 'rclcpp_components'} <= started
    optional = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'OPTIONAL_PACKAGES'
    )
    optional = {k.value for k in optional.value.keys}
    assert started - {'vitedge_ros'} <= optional, started
    doc = (ROOT / 'docs' / 'ROS.md').read_text(encoding='utf-8')
    for name in optional:
        assert '`{}`'.format(name) in doc, name


def test_onnxruntime_pip_step_pins_numpy_1_and_brings_no_opencv():
    text = (ROOT / 'requirements' / 'ros-humble.txt').read_text(encoding='utf-8')
    reqs = [line.split('#')[0].strip() for line in text.splitlines() if line.split('#')[0].strip()]
    names = {re.split(r'[<>=!; \[]', r)[0].lower(): r for r in reqs}
    assert 'onnxruntime' in names
    assert re.search(r'<\s*2(\.0)?\b', names['numpy']), names['numpy']
    assert not any('opencv' in n for n in names) and 'torch' not in names
    assert 'ros-humble.txt' in (ROOT / 'package.xml').read_text(encoding='utf-8')
    assert 'requirements/ros-humble.txt' in (ROOT / 'docs' / 'ROS.md').read_text(encoding='utf-8')


def _setup_kwargs(monkeypatch):
    import setuptools

    captured = {}
    monkeypatch.setattr(setuptools, 'setup', lambda **kw: captured.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / 'setup.py'), run_name='setup_under_test')
    return captured


def test_no_checkpoints_or_engines_installed_into_share(monkeypatch):
    kwargs = _setup_kwargs(monkeypatch)
    installed = [f for _dest, files in kwargs['data_files'] for f in files]
    assert 'models/aerial_vit_tiny/model.onnx' in installed and 'config/vitedge.rviz' in installed
    assert 'config/vitedge_node.yaml' in installed and 'launch/uav.launch.py' in installed
    assert (ROOT / 'models' / 'checkpoints').is_dir()  # they exist in the source tree...
    bad = [
        f
        for f in installed
        if f.endswith(('.pt', '.pth', '.ckpt', '.safetensors', '.engine'))
        or '/checkpoints/' in f
        or '/engines/' in f
    ]
    assert bad == []  # ...but are not installed
    scripts = kwargs['entry_points']['console_scripts']
    assert scripts[:2] == [
        'vitedge_node = vitedge_ros.ros.startup:main',
        'vitedge_build_engine = vitedge_ros.runtime.build_engine_cli:main',
    ]
    assert all(s.startswith('vitedge_') for s in scripts)  # the tools' (test_tools_thin.py)


def test_setup_entry_point_extras_and_data_files():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    src = (ROOT / 'setup.py').read_text()
    assert "'vitedge_node = vitedge_ros.ros.startup:main'" in src
    for extra in ("'runtime'", "'tools'", "'jetson'", "'dev'"):
        assert extra in src
    assert any(
        isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'setup' for n in ast.walk(tree)
    )
    cfg = (ROOT / 'setup.cfg').read_text()
    assert (
        'script_dir=$base/lib/vitedge_ros' in cfg
        and 'install_scripts=$base/lib/vitedge_ros' in cfg
    )
    assert (ROOT / 'resource' / 'vitedge_ros').is_file()


def test_runtime_ros_geometry_parse_as_python38():
    for sub in ('runtime', 'ros', 'geometry'):
        for path in (ROOT / 'vitedge_ros' / sub).rglob('*.py'):
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


def test_only_ros_package_imports_rclpy():
    offenders = []
    for path in (ROOT / 'vitedge_ros').rglob('*.py'):
        if path.parts[-2] == 'ros':
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split('.')[0] in ('rclpy', 'rclpy_components') for n in names):
                offenders.append(str(path))
    assert offenders == []


def test_runtime_has_no_toplevel_torch_import():
    for path in (ROOT / 'vitedge_ros' / 'runtime').rglob('*.py'):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert (mod or '').split('.')[0] not in ('torch', 'timm', 'rclpy'), path

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_package_xml_format3_ament_python_and_deps():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.tag == 'package' and root.get('format') == '3'
    assert root.findtext('name') == 'vitedge_ros'
    assert root.find('export/build_type').text == 'ament_python'
    exec_deps = {e.text for e in root.findall('exec_depend')}
    for dep in ('rclpy', 'sensor_msgs', 'vision_msgs', 'geometry_msgs', 'diagnostic_msgs', 'cv_bridge', 'tf2_ros',
                'python3-numpy', 'python3-opencv'):
        assert dep in exec_deps, dep
    test_deps = {e.text for e in root.findall('test_depend')}
    assert {'ament_flake8', 'ament_pep257', 'python3-pytest'} <= test_deps


def test_setup_entry_point_extras_and_data_files():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    src = (ROOT / 'setup.py').read_text()
    assert "'vitedge_node = vitedge_ros.ros.startup:main'" in src
    for extra in ("'runtime'", "'tools'", "'jetson'", "'dev'"):
        assert extra in src
    assert any(isinstance(n, ast.Call) and getattr(n.func, 'id', '') == 'setup' for n in ast.walk(tree))
    cfg = (ROOT / 'setup.cfg').read_text()
    assert 'script_dir=$base/lib/vitedge_ros' in cfg and 'install_scripts=$base/lib/vitedge_ros' in cfg
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

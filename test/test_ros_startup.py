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
The ROS 2 installation check of ``ros2 run vitedge_ros vitedge_node`` (vitedge_ros.ros.startup).

Foxy and Galactic are imitated with stand-in modules that lack what their vision_msgs /
rcl_interfaces lack (vision_msgs 2.0.0 and 3.0.2 message lists from
github.com/ros-perception/vision_msgs tags; Foxy's ParameterDescriptor has no dynamic_typing); the
entry point must print one line and exit 1, no traceback.
"""

import importlib.util
from pathlib import Path
import subprocess
import sys
import textwrap
import types

import pytest
from vitedge_ros.ros import startup

ROOT = Path(__file__).resolve().parents[1]


def _msg_class(name, fields):
    fields_and_types = classmethod(lambda cls: dict.fromkeys(fields, 'x'))
    return type(name, (), {'get_fields_and_field_types': fields_and_types})


HUMBLE_VISION = {
    'Point2D': ['x', 'y'],
    'Pose2D': ['position', 'theta'],
    'BoundingBox2D': ['center', 'size_x'],
    'Classification': ['header', 'results'],
    'ObjectHypothesis': ['class_id', 'score'],
    'ObjectHypothesisWithPose': ['hypothesis', 'pose'],
    'Detection2D': ['header', 'results'],
    'Detection2DArray': ['header', 'detections'],
}
GALACTIC_VISION = {k: v for k, v in HUMBLE_VISION.items() if k not in ('Point2D', 'Pose2D')}
FOXY_VISION = {
    k: v for k, v in GALACTIC_VISION.items() if k not in ('Classification', 'ObjectHypothesis')
}
DESCRIPTOR_HUMBLE = [
    'name',
    'type',
    'description',
    'additional_constraints',
    'read_only',
    'dynamic_typing',
    'floating_point_range',
    'integer_range',
]
DESCRIPTOR_FOXY = [f for f in DESCRIPTOR_HUMBLE if f != 'dynamic_typing']


def _importer(vision, descriptor):
    def import_module(name):
        if name == 'vision_msgs.msg':
            if vision is None:
                raise ImportError("No module named 'vision_msgs'")
            mod = types.ModuleType(name)
            for cls, fields in vision.items():
                setattr(mod, cls, _msg_class(cls, fields))
            return mod
        if name == 'rcl_interfaces.msg':
            mod = types.ModuleType(name)
            mod.ParameterDescriptor = _msg_class('ParameterDescriptor', descriptor)
            return mod
        raise ImportError(name)

    return import_module


@pytest.fixture
def rclpy_found(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        'find_spec',
        lambda name, *a: object() if name == 'rclpy' else real(name, *a),
    )


def test_humble_interfaces_pass(rclpy_found):
    assert startup.check_ros_environment(_importer(HUMBLE_VISION, DESCRIPTOR_HUMBLE)) == []


def test_galactic_and_foxy_are_named(rclpy_found):
    (galactic,) = startup.check_ros_environment(_importer(GALACTIC_VISION, DESCRIPTOR_HUMBLE))
    assert 'Point2D, Pose2D' in galactic and 'vision_msgs < 4.0' in galactic
    foxy = startup.check_ros_environment(_importer(FOXY_VISION, DESCRIPTOR_FOXY))
    assert len(foxy) == 2 and 'Classification' in foxy[0] and 'dynamic_typing' in foxy[1]
    # a 4.x Pose2D without position (a mixed installation) is caught by its fields
    odd = dict(HUMBLE_VISION, Pose2D=['x', 'y', 'theta'])
    assert startup.check_ros_environment(_importer(odd, DESCRIPTOR_HUMBLE)) == [
        'vision_msgs/Pose2D has no position field (vision_msgs < 4.0)'
    ]
    (missing,) = startup.check_ros_environment(_importer(None, DESCRIPTOR_HUMBLE))
    assert missing.startswith('vision_msgs is not installed')


def test_main_prints_one_line_and_exits_1(rclpy_found, monkeypatch, capsys):
    monkeypatch.setattr(startup, 'check_ros_environment', lambda: ['vision_msgs has no X'])
    monkeypatch.setenv('ROS_DISTRO', 'galactic')
    assert startup.main([]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'ROS_DISTRO=galactic' in err and 'ROS 2 Humble' in err


def _run_entry_point(tmp_path, stubs):
    """
    Run the console-script entry point in a fresh interpreter.

    The stub ROS packages ``stubs`` are on its path.
    """
    for rel, text in stubs.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding='utf-8')
    code = 'import sys; from vitedge_ros.ros.startup import main; sys.exit(main([]))'
    env = {
        'PYTHONPATH': '{}:{}'.format(tmp_path, ROOT),
        'ROS_DISTRO': 'foxy',
        'PATH': '/usr/bin:/bin',
    }
    # Python 3.6 (the drone lane) has neither capture_output nor text
    return subprocess.run(
        [sys.executable, '-c', code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # noqa: UP022
        universal_newlines=True,
        env=env,
        timeout=120,
    )  # noqa: UP021


FOXY_STUBS = {
    'rclpy/__init__.py': 'raise RuntimeError("rclpy must not be imported by the check")\n',
    'vision_msgs/__init__.py': '',
    'vision_msgs/msg/__init__.py': """
        class BoundingBox2D:
            __slots__ = ['_center', '_size_x', '_size_y']
        class Detection2D:
            __slots__ = ['_header', '_results', '_bbox']
        Detection2DArray = ObjectHypothesisWithPose = Detection2D
        """,
    'rcl_interfaces/__init__.py': '',
    'rcl_interfaces/msg/__init__.py': """
        class ParameterDescriptor:
            __slots__ = ['_name', '_type', '_description', '_additional_constraints', '_read_only']
        """,
}


def test_entry_point_on_foxy_like_packages_exits_1_without_traceback(tmp_path):
    proc = _run_entry_point(tmp_path, FOXY_STUBS)
    assert proc.returncode == 1, proc.stderr
    assert 'Traceback' not in proc.stderr and proc.stderr.count('\n') == 1
    assert proc.stderr.startswith('vitedge_node: unsupported ROS 2 installation (ROS_DISTRO=foxy)')
    assert 'Point2D' in proc.stderr and 'dynamic_typing' in proc.stderr


def test_entry_point_without_ros_exits_1_without_traceback(tmp_path):
    proc = _run_entry_point(tmp_path, {'placeholder.txt': ''})
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert 'rclpy is not importable' in proc.stderr


def test_setup_entry_point_goes_through_the_check():
    assert "'vitedge_node = vitedge_ros.ros.startup:main'" in (ROOT / 'setup.py').read_text(
        encoding='utf-8'
    )

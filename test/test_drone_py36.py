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
Drone-side code on JetPack 4.6's Python 3.6: imports, installed commands, 3.6-only code paths.

Runs in both lanes; the tests marked ``lane_only`` need the Python 3.6 lane's venv
(test/lane_py36.py).
"""

import importlib
import importlib.util
import os
from pathlib import Path
import subprocess
import sys

from lane_py36 import drone_sources, PINS, ROOT
import pytest

IN_LANE = os.environ.get('VITEDGE_LANE') == 'py36'
lane_only = pytest.mark.skipif(
    not IN_LANE, reason='needs the Python 3.6 lane venv (make test, test/lane_py36.py)'
)
#: Modules JetPack or ROS provide, never pip: a drone module may fail to import only for want of
#: one of these.
PLATFORM_MODULES = {
    'rclpy',
    'tensorrt',
    'pycuda',
    'cuda',
    'cv_bridge',
    'tf2_ros',
    'builtin_interfaces',
    'rcl_interfaces',
    'std_msgs',
    'sensor_msgs',
    'geometry_msgs',
    'diagnostic_msgs',
    'vision_msgs',
    'launch',
    'launch_ros',
    'ament_index_python',
}
#: Optional on the drone: the builder's ONNX parser audit (vitedge_ros.export.trt_audit) needs
#: onnx, and trt_builder.build_engine goes on without the audit, with a warning, where onnx is
#: missing.
OPTIONAL_ON_DRONE = {'onnx'}
ON_PY36 = sys.version_info[:2] == (3, 6)


def _drone_modules():
    out = []
    for path in drone_sources():
        rel = path.relative_to(ROOT)
        if rel.parts[0] != 'vitedge_ros':
            continue
        name = '.'.join(rel.with_suffix('').parts)
        name = name[: -len('.__init__')] if name.endswith('.__init__') else name
        out.append(name)
    return out


def _missing_platform_module(exc):
    """
    Return the JetPack/ROS module whose absence caused ``exc``, or None.

    The cause chain of ``exc`` is walked.
    """
    while exc is not None:
        name = getattr(exc, 'name', None) or ''
        if name.split('.')[0] in PLATFORM_MODULES:
            return name
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.mark.parametrize('module', _drone_modules())
def test_drone_module_imports(module):
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if getattr(exc, 'name', None) and exc.name.split('.')[0] in OPTIONAL_ON_DRONE:
            pytest.skip('{} needs {} (optional on the drone)'.format(module, exc.name))
        missing = _missing_platform_module(exc)
        if missing is None:
            raise
        assert missing.split('.')[0] in str(exc) or missing.split('.')[0] in str(exc.__cause__), (
            exc
        )


@lane_only
def test_lane_is_jetpack_python_with_the_pinned_packages():
    import pkg_resources

    assert ON_PY36, sys.version
    pins = {}
    for line in PINS.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            name, version = line.split('==')
            pins[name] = version
    got = {name: pkg_resources.get_distribution(name).version for name in pins}
    assert got == pins
    import cv2
    import numpy
    import onnxruntime

    assert (numpy.__version__, onnxruntime.__version__, cv2.__version__) == (
        '1.19.5',
        '1.10.0',
        '4.5.5',
    )


def test_eval_bag_without_rosbags_is_one_line_exit_2(tmp_path):
    """
    tools/eval_bag.py on the drone's Python says in one line that rosbags is missing.

    rosbags needs Python >= 3.8.
    """
    if importlib.util.find_spec('rosbags') is not None:
        pytest.skip('rosbags installed: test_eval_bag.py covers replay')
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'eval_bag.py'),
            str(tmp_path / 'no_bag'),
            '--bundle',
            str(ROOT / 'models' / 'aerial_vit_tiny'),
            '--image-topic',
            '/camera/image',
            '--out',
            str(tmp_path / 'out'),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'rosbags' in lines[0] and 'Python >= 3.8' in lines[0], proc.stderr
    assert not (tmp_path / 'out').exists()


def test_detect_gpu_falls_back_to_nvidia_smi(tmp_path, monkeypatch):
    """
    The nvidia-smi path of engine_key.detect_gpu works on this Python.

    It calls subprocess without 3.7's capture_output.
    """
    from vitedge_ros.runtime.engine_key import detect_gpu

    smi = tmp_path / 'nvidia-smi'
    smi.write_text('#!/bin/sh\necho "NVIDIA GeForce RTX 3060, 8.6"\n', encoding='utf-8')
    smi.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path) + os.pathsep + os.environ.get('PATH', ''))
    for name in ('pycuda', 'pycuda.driver', 'cuda', 'cuda.cudart'):
        monkeypatch.setitem(sys.modules, name, None)  # import fails: "no pycuda, no cuda-python"
    gpu = detect_gpu()
    assert (gpu.name, gpu.compute_capability, gpu.source) == (
        'NVIDIA GeForce RTX 3060',
        (8, 6),
        'nvidia-smi',
    )


def test_node_params_plain_class_behaves_like_the_dataclass_it_replaced():
    from vitedge_ros.ros.core import NodeParams, validate_params

    a, b = NodeParams(), NodeParams()
    a.classes.append('person')
    a.obstacle_classes.append('tree')
    assert (
        b.classes == []
        and 'tree' not in b.obstacle_classes
        and 'tree' not in NodeParams.obstacle_classes
    )
    assert NodeParams(bundle='x', max_detections=5).max_detections == 5
    assert NodeParams(bundle='x') == NodeParams(bundle='x') != NodeParams(bundle='y')
    with pytest.raises(TypeError, match='unknown field'):
        NodeParams(bundel='x')
    p = validate_params(
        {'classes': ['person'], 'max_detections': 7}, labels=['person', 'vehicle', 'obstacle']
    )
    assert (p.classes, p.max_detections, p.backend) == (['person'], 7, 'auto')
    assert 'max_detections=7' in repr(p)


def _lane_bin(name):
    return Path(sys.prefix) / 'bin' / name


@lane_only
def test_pip_install_put_the_drone_commands_on_path():
    """
    `pip install .[runtime]` puts the drone's commands in bin/.

    The lane's install; the jetson extra adds pycuda.
    """
    for name, module in (
        ('vitedge_node', 'vitedge_ros.ros.startup'),
        ('vitedge_build_engine', 'vitedge_ros.runtime.build_engine_cli'),
    ):
        script = _lane_bin(name)
        assert script.is_file() and os.access(str(script), os.X_OK), script
        text = script.read_text(encoding='utf-8')
        assert module in text and text.startswith('#!' + sys.executable.rsplit('/bin/', 1)[0]), (
            text
        )


@lane_only
def test_installed_build_engine_without_tensorrt_is_one_line_exit_3(tiny_detector_bundle):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    help_ = subprocess.run(
        [str(_lane_bin('vitedge_build_engine')), '--help'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        timeout=120,
    )
    assert help_.returncode == 0 and '--precision' in help_.stdout, help_.stderr
    proc = subprocess.run(
        [str(_lane_bin('vitedge_build_engine')), str(tiny_detector_bundle), '--precision', 'fp16'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and 'Traceback' not in proc.stderr, (
        proc.stderr
    )


def test_fisheye_inversion_without_opencv_criteria_matches(monkeypatch):
    """
    The fisheye inversion does not depend on the ``criteria`` of fisheye.undistortPoints.

    OpenCV < 4.6 (JetPack 4.6 ships 4.1) has no such argument; an OpenCV 4.5-like stand-in changes
    nothing.
    """
    import cv2
    import numpy as np
    from vitedge_ros.geometry.camera import PinholeCamera

    cam = PinholeCamera(
        [[420.0, 0.0, 330.0], [0.0, 410.0, 235.0], [0.0, 0.0, 1.0]],
        [-0.05, 0.03, -0.01, 0.002],
        640,
        480,
        'equidistant',
    )
    rng = np.random.RandomState(3)
    pts = np.column_stack(
        [rng.uniform(-1.5, 1.5, 200), rng.uniform(-1.2, 1.2, 200), np.ones(200)]
    )  # to ~62 deg
    uv = cam.project(pts)
    real = cv2.fisheye.undistortPoints

    def opencv_45(*args, **kwargs):
        if 'criteria' in kwargs:
            raise TypeError("'criteria' is an invalid keyword argument for this function")
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2.fisheye, 'undistortPoints', opencv_45)
    np.testing.assert_allclose(cam.normalize(uv), pts[:, :2], atol=1e-9)
    assert (
        np.abs(uv - PinholeCamera(cam.K, None, 640, 480).project(pts)).max() > 5.0
    )  # distortion matters

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

"""Shared fixtures: tiny models exported as bundles, made once per test session."""

import importlib.util
import os
from pathlib import Path
import sys
import tempfile
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The node's default engine cache ($XDG_CACHE_HOME/vitedge_ros/engines) goes to a temporary folder
# in tests.
os.environ['XDG_CACHE_HOME'] = tempfile.mkdtemp(prefix='vitedge_test_cache_')

#: Import names of the packages the tests may need beyond the node's runtime dependencies
#: (package.xml's exec_depend keys python3-numpy, python3-opencv, python3-yaml, onnxruntime via
#: requirements/ros-humble.txt, and pytest): setup.py's ``tools`` extra, the workstation side.
#: ``colcon test`` on a ROS machine that has only the node's dependencies reports a test module
#: that cannot import one of these as skipped, naming the package (``pytest_make_collect_report``
#: below); test/test_runtime_only_lane.py checks this list against setup.py.
OPTIONAL_TEST_PACKAGES = (
    'torch',
    'torchvision',
    'timm',
    'onnx',
    'onnxslim',
    'onnxscript',
    'torch_pruning',
    'rosbags',
    'faster_coco_eval',
    'sklearn',
    'skimage',
    'matplotlib',
    'tqdm',
    'mcap',
    'scipy',
)
#: Packages that run on the drone: a module-level import of an optional package there is a fault,
#: never a skip.
DRONE_DIRS = tuple(
    str(ROOT / 'vitedge_ros' / d) + os.sep for d in ('runtime', 'geometry', 'perception', 'ros')
)

DETECTOR_LABELS = ['person', 'vehicle', 'obstacle']
#: The tiny test detector's input (96×64, letterbox, mean 0.5, std 0.25).
TINY_DETECTOR_INPUT = {
    'width': 96,
    'height': 64,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.25] * 3,
    'resize': 'letterbox',
}
#: What exporting a tiny test bundle imports (vitedge_ros.export, vitedge_ros.models).
EXPORT_NEEDS = ('torch', 'timm', 'onnx')
TINY_BACKBONE = {'backbone': 'vit_tiny_patch16_224', 'embed_dim': 32, 'depth': 1, 'num_heads': 2}


def pytest_collection_modifyitems(config, items):
    """
    Skip gpu/ros tests cleanly where TensorRT+pycuda or rclpy are missing.

    ``needs(...)`` tests are skipped without their modules.
    """
    has_trt = (
        importlib.util.find_spec('tensorrt') is not None
        and importlib.util.find_spec('pycuda') is not None
    )
    has_ros = importlib.util.find_spec('rclpy') is not None
    for item in items:
        if 'gpu' in item.keywords and not has_trt:
            item.add_marker(
                pytest.mark.skip(reason='needs an NVIDIA GPU with TensorRT and pycuda')
            )
        if 'ros' in item.keywords and not has_ros:
            item.add_marker(pytest.mark.skip(reason='needs ROS 2 (rclpy)'))
        missing = sorted(
            {
                name
                for mark in item.iter_markers('needs')
                for name in mark.args
                if importlib.util.find_spec(name.split('.')[0]) is None
            }
        )
        if missing:
            item.add_marker(pytest.mark.skip(reason=_needs_reason(', '.join(missing))))


def _needs_reason(names: str) -> str:
    return 'needs {} (a workstation package, not a runtime dependency of the node)'.format(names)


def missing_optional(exc: BaseException) -> Optional[str]:
    """
    Return the optional test package (OPTIONAL_TEST_PACKAGES) whose absence raised ``exc``.

    Else None.

    None as well when a drone module (DRONE_DIRS) imports it at module level: the drone side must
    import without the workstation packages (test_runtime_torch_free.py), so that stays an error.
    """
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split('.')[0]
    if top not in OPTIONAL_TEST_PACKAGES:
        return None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == '<module>' and code.co_filename.startswith(DRONE_DIRS):
            return None
        tb = tb.tb_next
    return top


def _import_line(exc: BaseException, path: str) -> int:
    """
    Line of ``path`` (the test module) in ``exc``'s traceback.

    The import that failed (1 if not found).
    """
    line, tb = 1, exc.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _test_module(collector):
    """
    Return the module a ``pytest.Module`` collects.

    Imported here, then cached on the collector by pytest.
    """
    return collector.obj


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector):
    """
    Report a test module that cannot import an optional (workstation) package as skipped.

    Not as an error.

    pytest wraps a test module's ImportError in ``CollectError`` (``raise ... from e`` in
    _pytest/python.py, pytest 6.2 to 9); the cause names the missing module. Anything else is left
    to pytest's own report.
    """
    from _pytest.reports import CollectReport

    if not isinstance(collector, pytest.Module):
        return None
    try:
        _test_module(collector)
    except collector.CollectError as exc:
        cause = exc.__cause__
        name = missing_optional(cause) if cause is not None else None
        if name is None:
            return None
        path = str(getattr(collector, 'path', None) or collector.fspath)
        reason = 'Skipped: ' + _needs_reason(name)
        return CollectReport(
            collector.nodeid, 'skipped', (path, _import_line(cause, path), reason), []
        )
    except pytest.skip.Exception:
        return None
    return None


def require(*modules: str) -> None:
    """
    Skip the calling test or fixture unless every module in ``modules`` imports.

    Uses pytest.importorskip.
    """
    for name in modules:
        pytest.importorskip(name, reason=_needs_reason(name))


def make_tiny_detector(
    seed: int = 0, img_size=(64, 96), max_detections: int = 20, box: str = 'centre'
):
    """Return a random-init ViTCenterDetector small enough for unit tests (``box``: head kind)."""
    import torch
    from vitedge_ros.models import create_model

    torch.manual_seed(seed)
    return create_model(
        'vit_center',
        task='detect',
        num_classes=3,
        img_size=img_size,
        max_detections=max_detections,
        head_channels=16,
        box=box,
        **TINY_BACKBONE,
    )


def export_tiny_detector(out: Path, opset: Optional[int] = None) -> Path:
    """
    Export the tiny random-init detector as a bundle at ``out`` (needs torch).

    Input 96×64, letterbox, rgb.
    """
    from vitedge_ros.export import export_bundle
    from vitedge_ros.models import DetectorExport

    wrapper = DetectorExport(make_tiny_detector())
    export_bundle(
        wrapper,
        out,
        name='tiny_detector',
        task='detect',
        labels=DETECTOR_LABELS,
        input_spec=dict(TINY_DETECTOR_INPUT),
        decoder={'type': 'vit_center', 'score_threshold': 0.0, 'max_detections': 20},
        source={'arch': 'vit_center', 'note': 'random init, tests only'},
        output_names=wrapper.output_names,
        **_opset_kw(opset),
    )
    return out


def export_tiny_classifier(out: Path, opset: Optional[int] = None) -> Path:
    """
    Export the tiny random-init timm ViT classifier as a bundle at ``out`` (needs torch).

    10 classes, 32×32 input.
    """
    import torch
    from vitedge_ros.export import export_bundle
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    model = create_model(
        'vit_tiny_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
    )
    export_bundle(
        model,
        out,
        name='tiny_classifier',
        task='classify',
        labels=[str(i) for i in range(10)],
        input_spec={
            'width': 32,
            'height': 32,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.5] * 3,
            'resize': 'stretch',
        },
        decoder={'type': 'classifier', 'top_k': 3},
        output_names=['logits'],
        **_opset_kw(opset),
    )
    return out


def _opset_kw(opset: Optional[int]) -> dict:
    return {} if opset is None else {'opset': opset}


def lane_bundle(name: str) -> Optional[Path]:
    """
    Return the bundle the main venv exported, in the Python 3.6 lane; None outside it.

    The lane is on when test/lane_py36.py sets ``VITEDGE_LANE_DIR``. The lane has no torch to
    export with; a lane without the bundle is a broken lane run, so it fails.
    """
    lane_dir = os.environ.get('VITEDGE_LANE_DIR')
    if not lane_dir:
        return None
    path = Path(lane_dir) / name
    if not (path / 'bundle.yaml').is_file():
        pytest.fail(
            'Python 3.6 lane: {} missing '
            '(test/lane_py36.py exports it before the lane runs)'.format(path)
        )
    return path


@pytest.fixture(scope='session')
def tiny_detector_bundle(tmp_path_factory) -> Path:
    """
    Return a bundle directory with a tiny random-init detector (input 96×64, letterbox, rgb).

    Skips without torch.
    """
    made = lane_bundle('tiny_detector')
    if made is not None:
        return made
    require(*EXPORT_NEEDS)
    return export_tiny_detector(tmp_path_factory.mktemp('bundles') / 'tiny_detector')


@pytest.fixture(scope='session')
def tiny_classifier_bundle(tmp_path_factory) -> Path:
    """
    Return a bundle directory with a tiny random-init timm ViT classifier.

    10 classes, 32×32 input; skips without torch.
    """
    made = lane_bundle('tiny_classifier')
    if made is not None:
        return made
    require(*EXPORT_NEEDS)
    return export_tiny_classifier(tmp_path_factory.mktemp('bundles') / 'tiny_classifier')


@pytest.fixture(scope='session')
def shipped_bundle() -> Path:
    """Return the embedded default bundle under models/ (skips if it has not been built)."""
    path = ROOT / 'models' / 'aerial_vit_tiny'
    if not (path / 'bundle.yaml').is_file():
        pytest.skip('shipped bundle models/aerial_vit_tiny not present')
    skip_if_lane_cannot_read(path)
    return path


def skip_if_lane_cannot_read(bundle_dir: Path) -> None:
    """
    In the Python 3.6 lane, skip when onnxruntime 1.10 cannot read the bundle's opset (<= 15).

    test_lane_parity.py holds the shipped bundles to that strictly (an expected failure until
    re-exported).
    """
    if os.environ.get('VITEDGE_LANE_DIR'):
        from lane_py36 import ort_refuses

        why = ort_refuses(Path(bundle_dir) / 'model.onnx')
        if why:
            pytest.skip(why + ' (test_lane_parity.py holds the shipped bundles to this strictly)')

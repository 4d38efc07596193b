import json
import subprocess
import sys
from pathlib import Path

import pytest

from vitedge_ros.demo import run_demo
from vitedge_ros.runtime.latency_stats import KEYS

ROOT = Path(__file__).resolve().parents[1]


def test_demo_on_tiny_bundle_writes_outputs(tiny_detector_bundle, tmp_path):
    lines = []
    summary = run_demo(tiny_detector_bundle, frames=4, out_dir=tmp_path, printer=lines.append)
    assert summary['frames'] == 4
    assert sum(1 for ln in lines if ln.startswith('frame ')) == 4
    assert set(summary['latency_ms']) == {'preprocess', 'inference', 'postprocess', 'total'}
    total = summary['latency_ms']['total']      # the one latency summary (runtime/latency_stats.py)
    assert list(total) == list(KEYS) and total['n'] == 4 and 0 < total['median_ms'] <= total['max_ms']
    assert any(ln.strip().startswith('total') and '{:.2f}'.format(total['mean_ms']) in ln for ln in lines)
    assert (tmp_path / 'demo.mp4').stat().st_size > 1000
    assert (tmp_path / 'demo_strip.png').stat().st_size > 1000
    assert json.loads((tmp_path / 'summary.json').read_text())['frames'] == 4
    assert not (tmp_path / 'demo.part.mp4').exists()


def test_demo_cli_bad_bundle_exit_code(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / 'tools' / 'demo.py'), '--bundle', str(tmp_path / 'none'),
                          '--out', str(tmp_path / 'o')], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and 'does not exist' in out.stderr


@pytest.fixture(scope='module')
def shipped_demo_summary(shipped_bundle):
    """The flight ``make demo`` runs (120 frames, seed 7), through onnxruntime like on this machine."""
    return run_demo(shipped_bundle, frames=120, out_dir=None, printer=None, backend='onnxruntime')


def test_shipped_detector_meets_issue2_acceptance(shipped_demo_summary):
    """Issue 2: recall and precision ≥ 0.8 at IoU 0.5 on persons over the demo sequence.

    Measured 0.842 / 0.813 for issue 13's re-trained detector (0.884 / 0.827 before it): docs/reports/aerial_vit_tiny.
    """
    person = shipped_demo_summary['person']
    assert person['iou'] == 0.5 and person['tp'] + person['fn'] >= 600  # the generator's persons, all of them
    assert person['recall'] >= 0.8 and person['precision'] >= 0.8, person


@pytest.mark.parametrize('n', [1])
def test_demo_strip_has_frames(tiny_detector_bundle, tmp_path, n):
    run_demo(tiny_detector_bundle, frames=n, out_dir=tmp_path, printer=None)
    import cv2
    strip = cv2.imread(str(tmp_path / 'demo_strip.png'))
    assert strip is not None and strip.shape[1] == 1278

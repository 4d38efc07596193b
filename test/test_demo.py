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

import json
from pathlib import Path
import subprocess
import sys

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
    total = summary['latency_ms']['total']  # the one latency summary (runtime/latency_stats.py)
    assert (
        list(total) == list(KEYS) and total['n'] == 4 and 0 < total['median_ms'] <= total['max_ms']
    )
    assert any(
        ln.strip().startswith('total') and '{:.2f}'.format(total['mean_ms']) in ln for ln in lines
    )
    assert (tmp_path / 'demo.mp4').stat().st_size > 1000
    assert (tmp_path / 'demo_strip.png').stat().st_size > 1000
    assert json.loads((tmp_path / 'summary.json').read_text())['frames'] == 4
    assert not (tmp_path / 'demo.part.mp4').exists()


def test_demo_cli_bad_bundle_exit_code(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'demo.py'),
            '--bundle',
            str(tmp_path / 'none'),
            '--out',
            str(tmp_path / 'o'),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and 'does not exist' in out.stderr


@pytest.fixture(scope='module')
def shipped_demo_summary(shipped_bundle):
    """
    Run the flight ``make demo`` runs (120 frames, seed 7) and return its summary.

    Through onnxruntime, as on this machine.
    """
    return run_demo(shipped_bundle, frames=120, out_dir=None, printer=None, backend='onnxruntime')


def test_shipped_detector_meets_issue2_acceptance(shipped_demo_summary):
    """
    Issue 2: recall and precision ≥ 0.8 at IoU 0.5 on persons over the demo sequence.

    Measured 0.842 / 0.813 for issue 13's re-trained detector (0.884 / 0.827 before it):
    docs/reports/aerial_vit_tiny.
    """
    person = shipped_demo_summary['person']
    assert (
        person['iou'] == 0.5 and person['tp'] + person['fn'] >= 600
    )  # the generator's persons, all of them
    assert person['recall'] >= 0.8 and person['precision'] >= 0.8, person


@pytest.mark.parametrize('n', [1])
def test_demo_strip_has_frames(tiny_detector_bundle, tmp_path, n):
    run_demo(tiny_detector_bundle, frames=n, out_dir=tmp_path, printer=None)
    import cv2

    strip = cv2.imread(str(tmp_path / 'demo_strip.png'))
    assert strip is not None and strip.shape[1] == 1278


# ------------------------------------------------------------------------ issue 15: the demo's map
class OraclePersons:
    """
    A detector that finds exactly the generator's persons of each frame.

    In order (one call per frame).
    """

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'oracle'

    def __init__(self, scenes):
        self.boxes = [sc.boxes[sc.labels == 0] for sc in scenes]
        self.calls = 0

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        boxes = self.boxes[self.calls]
        self.calls += 1
        dets = [Detection(0, 'person', 0.9, tuple(float(v) for v in b)) for b in boxes]
        times = dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1)
        return FrameResult(dets, [], times, (image.shape[1], image.shape[0]))


def _world_metres(scene, uv):
    """
    Map frame pixel edges to world metres, independently of the demo.

    Frame pixel edges -> world pixels (inverse warp) -> metres (x east, y north).
    """
    import numpy as np

    a = np.vstack([np.asarray(scene.transform, np.float64), [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(a)
    uv = np.asarray(uv, np.float64).reshape(-1, 2) - 0.5
    w = (inv[:2, :2] @ uv.T).T + inv[:2, 2] + 0.5
    gsd = scene.gsd * np.sqrt(abs(np.linalg.det(a[:2, :2])))
    return np.stack([w[:, 0] * gsd, -w[:, 1] * gsd], axis=1)


def test_demo_camera_and_pose_reproduce_the_flight():
    """The demo's CameraInfo and pose see the ground exactly as the generator's warp maps it."""
    import numpy as np
    from vitedge_ros.data.synthetic import camera_sequence
    from vitedge_ros.demo import DEMO_HFOV_DEG, flight_camera_info, nadir_pose
    from vitedge_ros.geometry.camera import PinholeCamera
    from vitedge_ros.geometry.projection import pixels_to_ground

    info = flight_camera_info(320, 240)
    assert info.k[0] == pytest.approx(160.0 / np.tan(np.radians(DEMO_HFOV_DEG / 2)))
    cam = PinholeCamera.from_camera_info(info)
    uv = np.array([[0.0, 0.0], [319.5, 10.0], [160.0, 120.0], [37.25, 201.5]])
    for scene in camera_sequence(3, seed=7, width=320, height=240):
        pose = nadir_pose(scene, info)
        got = pixels_to_ground(cam, uv, pose, 0.0)
        assert np.allclose(got[:, :2], _world_metres(scene, uv), atol=1e-6)
        assert pose.translation[2] == pytest.approx(
            info.k[0] * scene.gsd
        )  # altitude = focal length x gsd
        assert np.allclose(got[:, 2], 0.0, atol=1e-9)


@pytest.mark.needs('matplotlib')
def test_demo_map_shows_the_localisation_inputs(tmp_path):
    """
    The map beside the video plots exactly the true persons and targets the metrics score.

    The targets are the published ones.
    """
    import numpy as np
    from vitedge_ros.data.synthetic import camera_sequence
    from vitedge_ros.demo import flight_camera_info, nadir_pose
    from vitedge_ros.eval.localisation import LocalisationMeter
    from vitedge_ros.geometry.camera import PinholeCamera
    from vitedge_ros.geometry.projection import pixels_to_ground

    scenes = list(camera_sequence(3, seed=7, width=320, height=240))
    summary = run_demo(
        None,
        frames=3,
        seed=7,
        width=320,
        height=240,
        out_dir=tmp_path,
        printer=None,
        pipeline=OraclePersons(scenes),
    )
    plotted = json.loads((tmp_path / 'map.json').read_text())
    assert plotted['frame'] == 'map' and [f['index'] for f in plotted['frames']] == [0, 1, 2]
    info = flight_camera_info(320, 240)
    cam = PinholeCamera.from_camera_info(info)
    meter = LocalisationMeter(2.0)
    for scene, frame in zip(scenes, plotted['frames']):
        persons = scene.labels == 0
        truth = []
        for i in np.nonzero(persons)[0]:
            ys, xs = np.nonzero(scene.instances == i + 1)
            truth.append([xs.mean() + 0.5, ys.mean() + 0.5])
        truth = _world_metres(scene, truth)
        boxes = scene.boxes[
            persons
        ]  # flat persons (person_height_m 0): the target is the box centre
        centres = np.stack(
            [(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1
        )
        targets = pixels_to_ground(cam, centres, nadir_pose(scene, info), 0.0)[:, :2]
        assert len(truth) >= 1
        assert np.allclose(np.array(frame['true']).reshape(-1, 2), truth, atol=1e-6)
        assert np.allclose(np.array(frame['estimated']).reshape(-1, 2), targets, atol=1e-6)
        meter.add(targets, truth)
    loc = summary['localisation']
    want = meter.result()
    for key in ('persons_true', 'targets_published', 'persons_localised', 'false_targets'):
        assert loc[key] == want[key], key
    assert loc['median_m'] == pytest.approx(want['median_m']) and loc['p95_m'] == pytest.approx(
        want['p95_m']
    )
    # perfect boxes: every person localised; box centre against the centre of the visible pixels,
    # centimetres
    assert loc['recall'] == 1.0 and loc['median_m'] < 0.1 and loc['false_targets'] == 0
    saved = json.loads((tmp_path / 'summary.json').read_text())
    assert saved['localisation']['persons_localised'] == want['persons_localised']
    import cv2

    assert cv2.imread(str(tmp_path / 'topdown.png')) is not None
    strip = cv2.imread(str(tmp_path / 'demo_strip.png'))
    assert strip.shape[1] == 1278 and (tmp_path / 'demo.mp4').stat().st_size > 1000


@pytest.mark.needs('matplotlib')
def test_topdown_frame_draws_its_points_where_it_says():
    """
    The map panel holds the true and estimated markers at the pixel positions it returns.

    True persons are green, estimated ones blue.
    """
    import numpy as np
    from vitedge_ros.eval.localisation import topdown_frame

    truth = np.array([[2.0, 3.0], [-4.0, -1.0]])
    est = np.array([[5.0, -5.0]])
    img, plotted = topdown_frame(truth, est, (-10.0, 10.0, -10.0, 10.0), size=(400, 400))
    assert img.shape == (400, 400, 3) and img.dtype == np.uint8
    assert np.allclose(plotted['true'], truth) and np.allclose(plotted['estimated'], est)

    def near(px, bgr, r=6):
        x, y = int(round(px[0])), int(round(px[1]))
        win = img[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3).astype(int)
        return bool((np.abs(win - np.array(bgr)).sum(axis=1) < 60).any())

    green, blue = (44, 160, 44), (180, 119, 31)  # matplotlib tab:green, tab:blue in BGR
    assert all(near(p, green) for p in plotted['true_px'])
    assert all(near(p, blue) for p in plotted['estimated_px'])
    assert not near(plotted['estimated_px'][0], green) and not near(plotted['true_px'][0], blue)
    # x grows to the right, y (north) upwards
    assert (
        plotted['true_px'][0][0] > plotted['true_px'][1][0]
        and plotted['true_px'][0][1] < plotted['true_px'][1][1]
    )

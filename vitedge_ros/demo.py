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
The demo: a driver of the perception core over a generated drone camera sequence.

With a summary a person can read.

Like the rclpy node and the bag replay, it feeds the node's ``PerceptionCore``
(``vitedge_ros.perception.core``) frames, the camera's CameraInfo and the camera pose at each
frame, and takes the same outputs: detections, person targets on the ground (metres, in ``map``),
clear path and the overlay. The flight is ``vitedge_ros.data.synthetic.camera_sequence``: each
frame is a similarity warp (rotation, zoom, shift) of one generated nadir world at ``gsd`` metres
per pixel, which is exactly a pinhole camera looking straight down over flat ground
(``DEMO_HFOV_DEG`` horizontal field of view, its altitude following the zoom);
``flight_camera_info`` and ``nadir_pose`` give the core that camera, and ``true_person_positions``
the true person positions (the centre of each person's pixels in the generator's instance map,
taken to the ground through the same warp). The generator's persons are painted flat, so the core
runs with the synthetic world's node parameters (``replay.synthetic.NODE_PARAMS``:
``person_height_m`` 0, a target at the box centre), as ``make eval-localisation`` replays its
flights.

It prints one line per frame, then frames, mean and p95 latency per step, detections per class,
person precision/recall at IoU 0.5 against the generator's boxes and the localisation of persons
against their true positions (``vitedge_ros.eval.localisation``), and writes in ``out_dir``:
``demo.mp4`` (the overlay beside the top-down map of that frame: true persons and published targets
in metres), ``demo_strip.png``, ``topdown.png`` (the whole flight, as ``tools/eval_bag.py`` draws
it) and ``summary.json``.
"""

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .eval.detection import detection_arrays, precision_recall
from .geometry.projection import CameraPose, quat_from_matrix
from .runtime import load_bundle, Pipeline
from .runtime.bundle import atomic_write_bytes
from .runtime.latency_stats import latency_summary

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / 'models' / 'aerial_vit_tiny'
STRIP_FRAMES = 6
DEMO_HFOV_DEG = 60.0
MAP_FRAME = 'map'
CAMERA_FRAME = 'camera_optical_frame'
MAP_MARGIN = (
    1.2  # the map shows the camera footprint and this much more around it (times its size)
)
PIPELINE_STEPS = ('preprocess', 'inference', 'postprocess', 'total')


# ------------------------------------------------------------------------------------------ the
# flight's camera
def flight_camera_info(width: int, height: int, hfov_deg: float = DEMO_HFOV_DEG) -> Any:
    """
    Return a sensor_msgs/CameraInfo-like object of the demo camera.

    Duck-typed: ``k``, ``d``, ``p`` and the image size.
    Pinhole, no distortion, principal point at the image centre (pixel-edge coordinates, as boxes
    are), ``fx = fy = (width / 2) / tan(hfov / 2)``.
    """
    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    k = [f, 0.0, width / 2.0, 0.0, f, height / 2.0, 0.0, 0.0, 1.0]
    return SimpleNamespace(
        width=int(width),
        height=int(height),
        distortion_model='plumb_bob',
        d=[0.0] * 5,
        k=k,
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[f, 0.0, width / 2.0, 0.0, 0.0, f, height / 2.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        binning_x=0,
        binning_y=0,
        roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0, do_rectify=False),
    )


def frame_to_map(transform: np.ndarray, world_gsd: float, uv: Any) -> np.ndarray:
    """
    Return the ground points (N x 3, map metres) of frame pixels ``uv`` (N x 2, pixel edges).

    Map axes: x east, y north, z 0.
    ``transform`` is the frame's 2x3 world-pixel -> frame-pixel affine map (``Scene.transform``,
    pixel indices as ``cv2.warpAffine`` takes them); world pixel ``(i, j)`` (edges) lies at ``(i *
    gsd, -j * gsd)``.
    """
    inv = cv2.invertAffineTransform(np.asarray(transform, dtype=np.float64))
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    world = (uv - 0.5) @ inv[:, :2].T + inv[:, 2] + 0.5
    return np.stack(
        [world[:, 0] * world_gsd, -world[:, 1] * world_gsd, np.zeros(len(world))], axis=1
    )


def world_gsd(scene: Any) -> float:
    """
    Metres per world pixel of a ``camera_sequence`` frame.

    ``Scene.gsd`` is the frame's: world gsd / zoom.
    """
    zoom = math.sqrt(
        abs(float(np.linalg.det(np.asarray(scene.transform, dtype=np.float64)[:, :2])))
    )
    return float(scene.gsd) * zoom


def nadir_pose(scene: Any, camera_info: Any) -> CameraPose:
    """
    Return the camera optical frame's pose in ``map`` for one ``camera_sequence`` frame.

    The pose is exact for the warp.
    The optical axis points straight down; image right and image down are the warp's frame axes on
    the ground; the altitude is ``fx`` times the frame's metres per pixel, so the pinhole camera of
    ``camera_info`` sees the ground exactly as the warp maps it.
    """
    gsd = world_gsd(scene)
    cx, cy, fx = camera_info.k[2], camera_info.k[5], camera_info.k[0]
    pts = frame_to_map(scene.transform, gsd, [[cx, cy], [cx + 1.0, cy], [cx, cy + 1.0]])
    ex, ey = (
        pts[1] - pts[0],
        pts[2] - pts[0],
    )  # ground metres per pixel along image right / image down
    metres_per_px = float(np.linalg.norm(ex))
    rotation = np.stack(
        [ex / metres_per_px, ey / metres_per_px, np.array([0.0, 0.0, -1.0])], axis=1
    )
    translation = pts[0] + np.array([0.0, 0.0, fx * metres_per_px])
    return CameraPose(quat_from_matrix(rotation), translation)


def true_person_positions(scene: Any, person_label: int = 0) -> np.ndarray:
    """
    Return the true ground positions (N x 3, map metres) of a frame's annotated persons.

    The frame is one of ``camera_sequence``.
    Each is the centre of the person's pixels in the generator's instance map (seen from straight
    above, where the person stands), taken to the ground with ``frame_to_map``.
    """
    centres = []
    for i, label in enumerate(np.asarray(scene.labels).reshape(-1)):
        if int(label) != person_label:
            continue
        ys, xs = np.nonzero(scene.instances == i + 1)
        if len(xs):
            centres.append([xs.mean() + 0.5, ys.mean() + 0.5])
    if not centres:
        return np.zeros((0, 3))
    return frame_to_map(scene.transform, world_gsd(scene), centres)


def _footprint(scene: Any, width: int, height: int) -> np.ndarray:
    return frame_to_map(
        scene.transform, world_gsd(scene), [[0, 0], [width, 0], [width, height], [0, height]]
    )


def _image_message(bgr: np.ndarray, index: int, fps: float) -> Any:
    """
    Return a sensor_msgs/Image-like object (duck-typed) of one frame.

    Stamp ``index / fps`` s, ``CAMERA_FRAME``.
    """
    from .perception.image_conversion import bgr_to_image_fields

    t_ns = int(round(index * 1e9 / fps))
    header = SimpleNamespace(
        stamp=SimpleNamespace(sec=t_ns // 1000000000, nanosec=t_ns % 1000000000),
        frame_id=CAMERA_FRAME,
    )
    return SimpleNamespace(header=header, **bgr_to_image_fields(bgr))


# ------------------------------------------------------------------------------------------------
# the driver
class _Flight:
    """The demo's side of the core: poses by stamp, outputs as they come (one frame at a time)."""

    def __init__(self) -> None:
        self.poses: Dict[Tuple[int, int], CameraPose] = {}
        self.outputs: List[Any] = []
        self.failures: List[str] = []

    def pose_lookup(self, target: str, source: str, stamp: Any) -> Optional[CameraPose]:
        if target != MAP_FRAME or source != CAMERA_FRAME:
            return None
        return self.poses.get((int(stamp.sec), int(stamp.nanosec)))

    def on_failure(self, tag: Any, reason: str, exc: Exception) -> None:
        self.failures.append('frame {}: {}: {}'.format(tag, reason, exc))


def _make_core(pipe: Any, flight: _Flight, overlay: bool) -> Any:
    from .perception.core import PerceptionCore, validate_params
    from .replay.synthetic import NODE_PARAMS

    labels = list(pipe.labels)
    values = dict(
        NODE_PARAMS,
        target_frame=MAP_FRAME,
        publish_overlay=overlay,
        obstacle_classes=[c for c in ('obstacle',) if c in labels],
    )
    params = validate_params(values, labels=labels)
    return PerceptionCore(
        pipe,
        params,
        flight.outputs.append,
        pose_lookup=flight.pose_lookup,
        bundle_name=pipe.bundle.name if getattr(pipe, 'bundle', None) else 'custom',
        on_failure=flight.on_failure,
        log=lambda level, text: None,
    )


def _process(
    core: Any, flight: _Flight, scene: Any, camera_info: Any, index: int, fps: float
) -> Any:
    """
    Hand one frame to the core and wait for its outputs.

    A failed frame raises: the demo's frames are clean.
    """
    from .runtime.errors import FrameError

    msg = _image_message(scene.image, index, fps)
    flight.poses[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = nadir_pose(scene, camera_info)
    core.on_image(msg, tag=index)
    core.wait_idle()
    if flight.failures or not flight.outputs:
        raise FrameError(
            'the perception core gave no output for frame {}: {}'.format(
                index, '; '.join(flight.failures) or 'worker failed'
            )
        )
    return flight.outputs.pop()


def _strip(frames: List[np.ndarray], width: int = 1280) -> np.ndarray:
    """Tile frames in a 3-column grid scaled to ``width`` pixels."""
    cols = 3
    tile_w = width // cols
    tiles = [
        cv2.resize(
            f, (tile_w, int(f.shape[0] * tile_w / f.shape[1])), interpolation=cv2.INTER_AREA
        )
        for f in frames
    ]
    rows = [
        np.hstack(
            tiles[i:i + cols] + [np.zeros_like(tiles[0])] * (cols - len(tiles[i:i + cols]))
        )
        for i in range(0, len(tiles), cols)
    ]
    return np.vstack(rows)


class _MapVideo:
    """
    Side-by-side frames: the core's overlay and, beside it.

    The top-down map of the same frame.
    """

    def __init__(self, out: Path, width: int, height: int, fps: float):
        self.size = (width + height, height)
        self.part = out / 'demo.part.mp4'
        self.path = out / 'demo.mp4'
        self.writer = cv2.VideoWriter(
            str(self.part), cv2.VideoWriter_fourcc(*'mp4v'), fps, self.size, True
        )
        self.seen: List[np.ndarray] = []
        self.frames: List[Dict[str, Any]] = []

    def add(
        self,
        overlay: np.ndarray,
        truth: np.ndarray,
        targets: Sequence[Sequence[float]],
        footprint: np.ndarray,
        index: int,
    ) -> np.ndarray:
        from .eval.localisation import topdown_frame

        h = overlay.shape[0]
        seen = np.concatenate(self.seen) if self.seen else None
        centre = footprint[:, :2].mean(axis=0)
        half = MAP_MARGIN * float(np.ptp(footprint[:, :2], axis=0).max()) / 2.0
        extent = (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)
        panel, plotted = topdown_frame(
            truth,
            targets,
            extent,
            seen_xy=seen,
            footprint_xy=footprint,
            size=(h, h),
            title='frame {}: persons (m, {})'.format(index, MAP_FRAME),
        )
        self.seen.append(np.asarray(truth, dtype=np.float64).reshape(-1, 3)[:, :2])
        self.frames.append(
            {
                'index': index,
                'true': plotted['true'].tolist(),
                'estimated': plotted['estimated'].tolist(),
            }
        )
        side = np.hstack([overlay, panel])
        self.writer.write(side)
        return side

    def close(self) -> Optional[Path]:
        self.writer.release()
        if self.part.exists():
            self.part.replace(self.path)
            return self.path
        return None


def _say_summary(say: Callable[[str], None], summary: Dict[str, Any], reason: str) -> None:
    say('')
    say('frames: {}   backend: {}'.format(summary['frames'], reason))
    say('latency per step (ms):   mean     p95')
    for k in PIPELINE_STEPS:
        s = summary['latency_ms'].get(k) or {}
        say('  {:<20s} {:7.2f} {:7.2f}'.format(k, s.get('mean_ms') or 0.0, s.get('p95_ms') or 0.0))
    say(
        'detections per class: {}'.format(
            ', '.join(
                '{} {}'.format(k, v) for k, v in sorted(summary['detections_per_class'].items())
            )
        )
    )
    pr = summary['person']
    say(
        'persons vs generator boxes @IoU 0.5: precision {:.3f}  recall {:.3f}  '
        '(tp {} fp {} fn {})'.format(pr['precision'], pr['recall'], pr['tp'], pr['fp'], pr['fn'])
    )
    loc = summary['localisation']
    if loc['persons_true']:
        say(
            'persons localised on the ground: {}/{} ({:.1%}) within {:g} m; horizontal error '
            'median {:.2f} m, '
            'p95 {:.2f} m; {:.2f} false targets/frame'.format(
                loc['persons_localised'],
                loc['persons_true'],
                loc['recall'] or 0.0,
                loc['gate_m'],
                loc['median_m'] or 0.0,
                loc['p95_m'] or 0.0,
                loc['false_targets_per_frame'] or 0.0,
            )
        )


def run_demo(
    bundle: Union[str, Path] = DEFAULT_BUNDLE,
    frames: int = 120,
    seed: int = 7,
    out_dir: Optional[Union[str, Path]] = 'demo_out',
    backend: str = 'auto',
    width: int = 640,
    height: int = 480,
    fps: float = 10.0,
    printer: Optional[Callable[[str], None]] = print,
    pipeline: Any = None,
    gate_m: float = 2.0,
) -> Dict[str, Any]:
    """
    Run the demo; returns the summary dict (also written to ``out_dir/summary.json``).

    ``pipeline``: a ready pipeline-like object (``__call__``, ``labels``) instead of loading
    ``bundle`` (tests). ``gate_m``: a target within this horizontal distance (m) of a true person
    can localise it. Summary keys: ``bundle``, ``backend``, ``frames``, ``latency_ms`` (per
    pipeline step), ``detections_per_class``, ``person`` (precision/recall at IoU 0.5),
    ``localisation`` (``LocalisationMeter.result()``, metres) and the paths written.
    """
    from .data.synthetic import camera_sequence, DETECTION_CLASSES, PERSON
    from .eval.localisation import LocalisationMeter

    say = printer or (lambda _s: None)
    pipe = pipeline if pipeline is not None else Pipeline(load_bundle(bundle), backend=backend)
    name = pipe.bundle.name if getattr(pipe, 'bundle', None) is not None else 'custom'
    reason = str(getattr(pipe, 'backend_reason', '') or getattr(pipe, 'backend_name', 'custom'))
    say(
        'bundle {} ({}), backend: {}'.format(
            name, getattr(getattr(pipe, 'bundle', None), 'path', '-'), reason
        )
    )
    out = Path(out_dir) if out_dir is not None else None
    camera_info = flight_camera_info(width, height)
    flight = _Flight()
    core = _make_core(pipe, flight, overlay=out is not None)
    core.on_camera_info(camera_info)
    meter = LocalisationMeter(gate_m)
    video = None
    timings: Dict[str, List[float]] = {}
    per_class: Dict[str, int] = {}
    gts, preds, strip = [], [], []
    strip_every = max(1, frames // STRIP_FRAMES)
    person_id = pipe.labels.index('person') if 'person' in pipe.labels else 0
    gt_labels = [pipe.labels.index(c) if c in pipe.labels else -1 for c in DETECTION_CLASSES]
    try:
        for i, scene in enumerate(camera_sequence(frames, seed=seed, width=width, height=height)):
            res = _process(core, flight, scene, camera_info, i, fps)
            for k in PIPELINE_STEPS:
                timings.setdefault(k, []).append(res.timings_ms[k])
            for d in res.detections:
                per_class[d.label] = per_class.get(d.label, 0) + 1
            truth = true_person_positions(scene, PERSON)
            meter.add(res.targets or [], truth)
            gts.append(
                (scene.boxes, np.asarray([gt_labels[int(lb)] for lb in scene.labels], np.int64))
            )
            preds.append(detection_arrays(res.detections))
            n_person = sum(1 for d in res.detections if d.class_id == person_id)
            say(
                'frame {:4d}  {:5.1f} ms  {:2d} detections '
                '({} persons; {} in ground truth)  {}'.format(
                    i,
                    res.timings_ms['total'],
                    len(res.detections),
                    n_person,
                    int((scene.labels == PERSON).sum()),
                    ', '.join(
                        '{} {:.2f} @({:.0f},{:.0f})'.format(d.label, d.score, *d.center)
                        for d in res.detections[:4]
                    )
                    + (' …' if len(res.detections) > 4 else ''),
                )
            )
            if out is not None:
                if video is None:
                    out.mkdir(parents=True, exist_ok=True)
                    video = _MapVideo(out, width, height, fps)
                side = video.add(
                    res.overlay, truth, res.targets or [], _footprint(scene, width, height), i
                )
                if i % strip_every == 0 and len(strip) < STRIP_FRAMES:
                    strip.append(side)
    finally:
        core.shutdown()
        if video is not None:
            video.writer.release()
    pr = precision_recall(gts, preds, person_id, iou=0.5)
    summary: Dict[str, Any] = {
        'bundle': name,
        'backend': str(getattr(pipe, 'backend_name', 'custom')),
        'frames': len(gts),
        'latency_ms': {k: latency_summary(v) for k, v in timings.items()},
        'detections_per_class': per_class,
        'person': {
            'precision': pr['precision'],
            'recall': pr['recall'],
            'tp': pr['tp'],
            'fp': pr['fp'],
            'fn': pr['fn'],
            'iou': 0.5,
        },
        'localisation': dict(
            meter.result(),
            frame=MAP_FRAME,
            hfov_deg=DEMO_HFOV_DEG,
            truth='centre of each person in the generator instance map, on the ground',
        ),
    }
    _say_summary(say, summary, reason)
    if out is not None:
        _write_outputs(out, summary, video, strip, meter, name, say)
    return summary


def _write_outputs(
    out: Path,
    summary: Dict[str, Any],
    video: Optional[_MapVideo],
    strip: List[np.ndarray],
    meter: Any,
    name: str,
    say: Callable[[str], None],
) -> None:
    """
    Write demo.mp4 (renamed from its partial name), demo_strip.png, topdown.png and the JSONs.

    The JSON files are map.json and summary.json.
    """
    from .eval.localisation import plot_topdown

    out.mkdir(parents=True, exist_ok=True)
    if video is not None:
        path = video.close()
        if path is not None:
            summary['video'] = str(path)
        atomic_write_bytes(
            out / 'map.json', json.dumps({'frame': MAP_FRAME, 'frames': video.frames}).encode()
        )
        summary['map_points'] = str(out / 'map.json')
    if strip:
        ok, png = cv2.imencode('.png', _strip(strip))
        if ok:
            atomic_write_bytes(out / 'demo_strip.png', png.tobytes())
            summary['strip'] = str(out / 'demo_strip.png')
    plot_topdown(
        out / 'topdown.png',
        meter,
        title='{}: demo flight, person targets vs truth ({})'.format(name, MAP_FRAME),
    )
    summary['topdown'] = str(out / 'topdown.png')
    atomic_write_bytes(out / 'summary.json', json.dumps(summary, indent=2).encode())
    written = (
        summary.get('video'),
        summary.get('strip'),
        summary['topdown'],
        summary.get('map_points'),
        out / 'summary.json',
    )
    say('wrote {}'.format(', '.join(str(p) for p in written if p)))

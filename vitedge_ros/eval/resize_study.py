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
Which resize the frame path uses, decided by accuracy.

INTER_AREA vs INTER_LINEAR, and reduced JPEG decoding.

The logic of ``tools/resize_study.py`` (docs/EVALUATION.md, "Resize: measured, not assumed"). One
bundle, one onnxruntime session, each variant differing only in the host resize:

- ``area``: ``cv2.INTER_AREA`` when shrinking (bundle ``input.interpolation: area``, every bundle
  before it);
- ``inter_linear``: ``cv2.INTER_LINEAR`` at every scale, about 6x cheaper than INTER_AREA at
  640×480 → 448×336 (at 640×480 this is what ``input.interpolation: linear`` does; below half size
  that falls back to INTER_AREA, which is the ``area`` row there);
- ``jpeg_reduced2_linear`` / ``_area`` (frames at least twice the network size only): the JPEG
  decoded at half size by libjpeg's DCT scaling (``cv2.IMREAD_REDUCED_COLOR_2``), then resized;
  boxes mapped to the full frame.

Sets (all generated, ground truth from the generator): the demo flight (``tools/demo.py``: 120
    frames, seed 7,
640×480), the validation flights of the shipped detector's training config (8 flights × 60 frames,
every 3rd, seeds 9000..9007), and the same flights at 1280×960 encoded as JPEG (quality 90) for the
reduced decode.
Scores: person precision and recall at IoU 0.5 at the bundle's threshold (the demo bar is 0.8 for
    both) and
COCO mAP@0.5 over all classes (faster-coco-eval, :func:`vitedge_ros.eval.detection.detection_map`).
Speed of the resize itself belongs to ``make bench`` (docs/BENCHMARKS.md section 3); the study only
times the JPEG decode per reduction, interleaved on the same payloads, as the reason to reduce at
all.
"""

from pathlib import Path
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .detection import detection_arrays, detection_map, precision_recall
from ..data.synthetic import THRESHOLD_FLIGHTS

DEMO_FLIGHT = {'frames': 120, 'seed': 7, 'width': 640, 'height': 480}
VAL_FLIGHTS = THRESHOLD_FLIGHTS
LARGE = (1280, 960)
JPEG_QUALITY = 90


def flight_frames(
    count: int, frames: int, seed: int, every: int = 1, width: int = 640, height: int = 480
) -> Iterable[Any]:
    """
    Return the frames of ``count`` generated flights (``camera_sequence`` seeds ``seed ..``).

    Every ``every``-th frame is kept.
    """
    from ..data.synthetic import camera_sequence

    for k in range(count):
        for i, sc in enumerate(camera_sequence(frames, seed=seed + k, width=width, height=height)):
            if i % every == 0:
                yield sc


def _score(
    gts: List[Any], preds: List[Any], labels: Sequence[str], person_id: int
) -> Dict[str, Any]:
    pr = precision_recall(gts, preds, person_id, iou=0.5)
    m = detection_map(gts, preds, list(labels))
    return {
        'frames': len(gts),
        'person_precision': pr['precision'],
        'person_recall': pr['recall'],
        'person_tp': pr['tp'],
        'person_fp': pr['fp'],
        'person_fn': pr['fn'],
        'map50': float(m.get('map50', float('nan'))),
    }


def _decode(jpg: bytes, reduce: int) -> np.ndarray:
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4}[
        reduce
    ]
    return cv2.imdecode(np.frombuffer(jpg, np.uint8), flag)


def evaluate_variants(
    bundle: Union[str, Path],
    scenes: Iterable[Any],
    variants: Sequence[Tuple[str, str, int]],
    jpeg: bool = False,
) -> Dict[str, Dict[str, Any]]:
    """
    Score each ``(name, interpolation, jpeg_reduce)`` variant on the same frames.

    Returns name -> scores.

    ``interpolation``: ``area``, ``linear`` (the bundle values) or ``inter_linear``
    (cv2.INTER_LINEAR at every scale, a measurement-only variant: the Preprocessor's choice of flag
    is replaced for it).

    ``jpeg``: frames go through a JPEG encode (quality :data:`JPEG_QUALITY`) and decode first
    (reduced by ``jpeg_reduce``), as on the compressed transport.
    """
    from ..data.synthetic import DETECTION_CLASSES
    from ..runtime import load_bundle, Pipeline

    b = load_bundle(bundle)
    pipes = {}
    for name, interp, _r in variants:
        spec_interp = 'linear' if interp == 'inter_linear' else interp
        pipes[name] = Pipeline(
            b._replace(input=b.input._replace(interpolation=spec_interp)), backend='onnxruntime'
        )
        if interp == 'inter_linear':
            pipes[name].preprocess.interpolation = lambda src_w, new_w: cv2.INTER_LINEAR
    labels = pipes[variants[0][0]].labels
    person_id = labels.index('person') if 'person' in labels else 0
    gt_labels = [labels.index(c) if c in labels else -1 for c in DETECTION_CLASSES]
    gts: List[Any] = []
    preds: Dict[str, List[Any]] = {name: [] for name, _i, _r in variants}
    decode_ms: Dict[int, List[float]] = {}
    for sc in scenes:
        gts.append((sc.boxes, np.asarray([gt_labels[int(lb)] for lb in sc.labels], np.int64)))
        h, w = sc.image.shape[:2]
        jpg = None
        if jpeg:
            ok, enc = cv2.imencode('.jpg', sc.image, [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
            if not ok:
                raise RuntimeError('cv2.imencode failed')
            jpg = enc.tobytes()
        if (
            jpg is not None
        ):  # decode time, the reductions interleaved on the same payload (median of 3)
            for reduce in sorted({r for _n, _i, r in variants}):
                ts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    _decode(jpg, reduce)
                    ts.append((time.perf_counter() - t0) * 1e3)
                decode_ms.setdefault(reduce, []).append(float(np.median(ts)))
        for name, _interp, reduce in variants:
            img = _decode(jpg, reduce) if jpg is not None else sc.image
            res = pipes[name](img, source_size=(w, h))
            preds[name].append(detection_arrays(res.detections))
    out = {}
    for name, interp, reduce in variants:
        s = _score(gts, preds[name], labels, person_id)
        s.update(
            {
                'interpolation': interp,
                'jpeg_reduce': reduce,
                'jpeg_decode_ms_median': float(np.median(decode_ms[reduce]))
                if reduce in decode_ms
                else None,
            }
        )
        out[name] = s
    for p in pipes.values():
        p.close()
    return out


def run_resize_study(bundle: Union[str, Path], quick: bool = False) -> Dict[str, Any]:
    """
    All sets and variants (see the module docstring).

    ``quick``: a few frames (tests), not for the docs.
    """
    from ..data.synthetic import camera_sequence
    from ..runtime import load_bundle

    t0 = time.perf_counter()
    b = load_bundle(bundle)
    demo = dict(DEMO_FLIGHT, frames=6 if quick else DEMO_FLIGHT['frames'])
    val = dict(
        VAL_FLIGHTS,
        count=1 if quick else VAL_FLIGHTS['count'],
        frames=9 if quick else VAL_FLIGHTS['frames'],
    )
    two = [('area', 'area', 1), ('inter_linear', 'inter_linear', 1)]
    sets = {
        'demo_flight': {
            'what': 'tools/demo.py flight: {frames} frames, seed {seed}, '
            '{width}x{height}, raw'.format(**demo),
            'results': evaluate_variants(
                bundle,
                camera_sequence(
                    demo['frames'], seed=demo['seed'], width=demo['width'], height=demo['height']
                ),
                two,
            ),
        },
        'val_flights': {
            'what': '{count} validation flights x {frames} frames, every {every}, seeds {seed}.., '
            '640x480, raw'.format(**val),
            'results': evaluate_variants(bundle, flight_frames(**val), two),
        },
    }
    big_w, big_h = LARGE
    if big_w >= 2 * b.input.width and big_h >= 2 * b.input.height:
        four = two + [('jpeg_reduced2_area', 'area', 2), ('jpeg_reduced2_linear', 'linear', 2)]
        sets['val_flights_large_jpeg'] = {
            'what': 'the validation flights at {}x{}, JPEG quality {} '
            '(>= 2x the network size)'.format(big_w, big_h, JPEG_QUALITY),
            'results': evaluate_variants(
                bundle, flight_frames(width=big_w, height=big_h, **val), four, jpeg=True
            ),
        }
    return {
        'bundle': b.name,
        'network_input': [b.input.width, b.input.height],
        'backend': 'onnxruntime',
        'quick': bool(quick),
        'sets': sets,
        'seconds': round(time.perf_counter() - t0, 1),
    }


def render_markdown(study: Dict[str, Any], command: str) -> str:
    """Return the study as a Markdown section (every figure from ``study``)."""
    lines = [
        'Bundle `{}` (network input {}×{}), backend {}; written by `{}`.'.format(
            study['bundle'],
            study['network_input'][0],
            study['network_input'][1],
            study['backend'],
            command,
        ),
        '',
        '| set | variant | person precision | person recall | mAP@0.5 (all classes) | JPEG decode '
        'ms (median) |',
        '| --- | --- | --- | --- | --- | --- |',
    ]
    for s in study['sets'].values():
        for name, r in s['results'].items():
            dec = r.get('jpeg_decode_ms_median')
            lines.append(
                '| {} | `{}` | {:.3f} | {:.3f} | {:.4f} | {} |'.format(
                    s['what'],
                    name,
                    r['person_precision'],
                    r['person_recall'],
                    r['map50'],
                    '–' if dec is None else '{:.3g}'.format(dec),
                )
            )
    return '\n'.join(lines) + '\n'


def write_study(
    study: Dict[str, Any],
    json_path: Union[str, Path],
    md_path: Optional[Union[str, Path]],
    command: str,
) -> None:
    """Write the JSON (and the Markdown table) atomically."""
    import json

    from ..runtime.bundle import atomic_write_bytes

    atomic_write_bytes(json_path, (json.dumps(study, indent=1) + '\n').encode('utf-8'))
    if md_path is not None:
        atomic_write_bytes(md_path, render_markdown(study, command).encode('utf-8'))

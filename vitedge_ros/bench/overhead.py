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
Runtime overhead per 640×480 frame against inference.

What the node does around the engine, before and after.

Two frame paths in the same run, frame by frame interleaved (so machine load hits both alike), on
the frames of a synthetic drone flight:

- **before** (the host path until issue 16): the bundle's graph with normalised input; raw Images
  converted with a copy (``image_msg_to_bgr``: bgr8 copied, rgb8 channel-swapped), the JPEG decoded
  (``compressed_msg_to_bgr``), then the old preprocessing: INTER_AREA resize, a letterbox canvas,
  the channel swap, then a float conversion, scale and shift in three passes
  (:func:`legacy_preprocess`, kept here only to measure it).
- **after** (this runtime): the same weights taking raw pixels (``input.pixels: raw``,
  normalisation folded into the first layer), raw Images as a view of the message
  (``image_msg_to_frame``: no copy, no swap), the JPEG decoded the same way, then
  :class:`Preprocessor`: one resize (``after_interpolation``) and one uint8 HWC -> float32 NCHW
  pass into the pipeline's reused input buffer.

Both paths then run their own graph on onnxruntime CPU, decode, and build + serialise the
Detection2DArray. Each step's median over the frames of one pass is one repeat; repeats give median
with min–max, and every ratio is taken per repeat against that path's own inference. The twin
bundle (raw twin of a normalised bundle, or normalised twin of a raw one:
:func:`vitedge_ros.export.raw_pixels.twin_bundle`) is written under ``work``.
"""

from pathlib import Path
import time
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from .stats import latency_summary, round_sig, SIG, stat

PATHS = ('before', 'after')
STEPS = (
    'jpeg_decode',
    'raw_bgr8_to_ndarray',
    'raw_rgb8_to_ndarray',
    'preprocess',
    'preprocess_rgb8_message',
    'inference',
    'postprocess',
    'detections_msg_build_and_cdr',
)
STEP_LABELS = {
    'jpeg_decode': 'JPEG decode (CompressedImage → BGR, cv2.imdecode)',
    'raw_bgr8_to_ndarray': 'raw Image bgr8 → ndarray (before: copy; after: view)',
    'raw_rgb8_to_ndarray': 'raw Image rgb8 → ndarray (before: channel swap; after: view)',
    'preprocess': 'preprocess of the decoded frame (before: area resize, canvas, swap, normalise; '
    'after: one '
    'resize + one NCHW pass)',
    'preprocess_rgb8_message': 'preprocess of the rgb8 message (before: of the swapped copy; '
    'after: of the view)',
    'inference': 'inference (onnxruntime CPU)',
    'postprocess': 'postprocess (decode, threshold, boxes to image pixels)',
    'detections_msg_build_and_cdr': 'Detection2DArray build + CDR serialisation',
}
# what a node pays per frame besides inference, per transport
TOTALS = (
    (
        'compressed_transport',
        ('jpeg_decode', 'preprocess', 'postprocess', 'detections_msg_build_and_cdr'),
    ),
    (
        'raw_transport',
        ('raw_bgr8_to_ndarray', 'preprocess', 'postprocess', 'detections_msg_build_and_cdr'),
    ),
    (
        'raw_transport_rgb8',
        (
            'raw_rgb8_to_ndarray',
            'preprocess_rgb8_message',
            'postprocess',
            'detections_msg_build_and_cdr',
        ),
    ),
)
# acceptance of issue 16 for the after path: overhead total <= this many times inference
TARGETS = {'raw_transport': 0.10, 'raw_transport_rgb8': 0.10, 'compressed_transport': 0.15}


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


def _timed(times: Dict[str, List[float]], key: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)``, its wall time in ms appended to ``times[key]``."""
    t0 = time.perf_counter()
    out = fn(*args)
    times[key].append(_ms(t0))
    return out


def legacy_preprocess(spec: Any, image: np.ndarray) -> np.ndarray:
    """
    Return the preprocessing every bundle got before issue 16 (normalised input).

    It is reproduced here to be measured.

    BGR frame -> INTER_AREA resize (INTER_LINEAR when enlarging) -> letterbox canvas -> channel
    swap to the model's order (``Preprocessor.letterbox``, unchanged) -> float32 copy -> ``*= a``
    -> ``+= b`` (``Preprocessor.normalize``): what ``Preprocessor.__call__`` was at main 358a2e5.
    """
    from ..runtime.preprocess import Preprocessor

    pre = Preprocessor(spec._replace(interpolation='area'))
    return pre.normalize(pre.letterbox(image)[0])


def _bundles(bundle: Union[str, Path], work: Path, after_interpolation: str) -> Tuple[Any, Any]:
    """
    Return (before bundle with normalised input, after bundle with raw input) for ``bundle``.

    The twins are written under ``work``.
    """
    from ..export.raw_pixels import twin_bundle
    from ..runtime import load_bundle

    b = load_bundle(bundle)
    if b.input.raw:
        before = twin_bundle(
            b, work / '{}-normalized'.format(b.name), raw=False, interpolation='area'
        )
        after = b._replace(input=b.input._replace(interpolation=after_interpolation))
    else:
        before = b
        after = twin_bundle(
            b, work / '{}-raw'.format(b.name), raw=True, interpolation=after_interpolation
        )
    return before, after


def run_overhead(
    bundle: Union[str, Path],
    *,
    work: Optional[Union[str, Path]] = None,
    frames: int = 30,
    repeats: int = 5,
    seed: int = 5,
    width: int = 640,
    height: int = 480,
    jpeg_quality: int = 90,
    after_interpolation: str = 'linear',
) -> Dict[str, Any]:
    """
    Time both paths on ``frames`` synthetic frames, ``repeats`` passes.

    Returns overhead.json.
    """
    import tempfile

    import cv2

    from ..data.synthetic import camera_sequence
    from ..perception.image_conversion import (
        bgr_to_image_fields,
        compressed_msg_to_bgr,
        image_msg_to_bgr,
        image_msg_to_frame,
    )
    from ..ros.messages import build_detection2d_array, build_header
    from ..ros.rosbags_types import rosbags_types
    from ..runtime import Pipeline

    t_start = time.perf_counter()
    tmp = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix='vitedge_overhead_')
        work = tmp.name
    b_before, b_after = _bundles(bundle, Path(work), after_interpolation)
    typestore, types = rosbags_types()
    pipes = {
        'before': Pipeline(b_before, backend='onnxruntime'),
        'after': Pipeline(b_after, backend='onnxruntime'),
    }
    spec_before = b_before.input
    msgs = []
    for i, scene in enumerate(camera_sequence(frames, seed=seed, width=width, height=height)):
        header = build_header(types, 1000 + i, 0, 'camera')
        ok, jpg = cv2.imencode('.jpg', scene.image, [int(cv2.IMWRITE_JPEG_QUALITY), jpeg_quality])
        if not ok:
            raise RuntimeError('cv2.imencode failed')
        comp = types.CompressedImage(
            header=header, format='jpeg', data=np.frombuffer(jpg.tobytes(), np.uint8)
        )
        raws = {}
        for enc in ('bgr8', 'rgb8'):
            f = bgr_to_image_fields(scene.image, enc)
            raws[enc] = types.Image(
                header=header,
                height=f['height'],
                width=f['width'],
                encoding=f['encoding'],
                is_bigendian=f['is_bigendian'],
                step=f['step'],
                data=np.frombuffer(f['data'], np.uint8),
            )
        msgs.append((header, comp, raws, len(jpg)))

    def cdr(res: Any, header: Any) -> float:
        t0 = time.perf_counter()
        typestore.serialize_cdr(
            build_detection2d_array(res.detections, header, types),
            'vision_msgs/msg/Detection2DArray',
        )
        return _ms(t0)

    # warm-up: engine start-up and the first CDR serialisation (rosbags generates code) stay out of
    # the figures
    for header, comp, _raws, _ in msgs[:2]:
        for p in pipes.values():
            cdr(p(compressed_msg_to_bgr(comp)), header)
    per_repeat = {
        path: {k: [] for k in STEPS} for path in PATHS
    }  # type: Dict[str, Dict[str, List[float]]]
    n_dets = {path: [] for path in PATHS}  # type: Dict[str, List[int]]
    after_buf = np.empty((1, 3, b_after.input.height, b_after.input.width), np.float32)
    for _ in range(repeats):
        times = {
            path: {k: [] for k in STEPS} for path in PATHS
        }  # type: Dict[str, Dict[str, List[float]]]
        for header, comp, raws, _ in msgs:
            # ---- before: copies and the legacy host path; then the normalised graph
            tb = times['before']
            img = _timed(tb, 'jpeg_decode', compressed_msg_to_bgr, comp)
            _timed(tb, 'raw_bgr8_to_ndarray', image_msg_to_bgr, raws['bgr8'])
            swapped = _timed(tb, 'raw_rgb8_to_ndarray', image_msg_to_bgr, raws['rgb8'])
            _timed(tb, 'preprocess', legacy_preprocess, spec_before, img)
            _timed(tb, 'preprocess_rgb8_message', legacy_preprocess, spec_before, swapped)
            res = pipes['before'](
                img
            )  # inference and postprocess of the before graph (its tensor equals the above)
            for k in ('inference', 'postprocess'):
                tb[k].append(float(res.timings_ms[k]))
            tb['detections_msg_build_and_cdr'].append(cdr(res, header))
            n_dets['before'].append(len(res.detections))
            # ---- after: views and the one-pass host path; then the raw-pixel graph
            ta = times['after']
            img = _timed(ta, 'jpeg_decode', compressed_msg_to_bgr, comp)
            _timed(ta, 'raw_bgr8_to_ndarray', image_msg_to_frame, raws['bgr8'])
            frame = _timed(ta, 'raw_rgb8_to_ndarray', image_msg_to_frame, raws['rgb8'])
            _timed(
                ta,
                'preprocess_rgb8_message',
                pipes['after'].preprocess,
                frame.pixels,
                frame.order,
                after_buf,
            )
            res = pipes['after'](img)
            for k in ('preprocess', 'inference', 'postprocess'):
                ta[k].append(float(res.timings_ms[k]))
            ta['detections_msg_build_and_cdr'].append(cdr(res, header))
            n_dets['after'].append(len(res.detections))
        for path in PATHS:
            for k in STEPS:
                per_repeat[path][k].append(float(np.median(times[path][k])))
    rows = []
    for k in STEPS:
        row = {'step': k, 'label': STEP_LABELS[k]}  # type: Dict[str, Any]
        for path in PATHS:
            inf = per_repeat[path]['inference']
            row[path] = {
                'ms': latency_summary(per_repeat[path][k], SIG),
                'ratio_to_inference': stat([a / b for a, b in zip(per_repeat[path][k], inf)]),
            }
        rows.append(row)
    totals = []
    for name, keys in TOTALS:
        tot = {
            'name': name,
            'steps': list(keys),
            'target_after': TARGETS.get(name),
        }  # type: Dict[str, Any]
        for path in PATHS:
            inf = per_repeat[path]['inference']
            sums = [sum(per_repeat[path][k][r] for k in keys) for r in range(repeats)]
            tot[path] = {
                'ms': latency_summary(sums, SIG),
                'ratio_to_inference': stat([s / b for s, b in zip(sums, inf)]),
            }
        target = TARGETS.get(name)
        tot['after_meets_target'] = bool(
            target is not None and tot['after']['ratio_to_inference']['median'] <= target
        )
        totals.append(tot)
    spec = b_after.input
    out = {
        'section': 'overhead',
        'bundle': str(pipes['before'].bundle.name),
        'bundle_dir': str(bundle),
        'network_input': [spec.width, spec.height],
        'frame_size': [width, height],
        'frames': frames,
        'repeats': repeats,
        'jpeg_quality': jpeg_quality,
        'jpeg_bytes_median': int(np.median([m[3] for m in msgs])),
        'backend': pipes['after'].backend_name,
        'onnxruntime_threads': 'default (all cores)',
        'paths': {
            'before': {
                'bundle': b_before.name,
                'pixels': 'normalized',
                'interpolation': 'area',
                'detections_per_frame_median': float(np.median(n_dets['before'])),
            },
            'after': {
                'bundle': b_after.name,
                'pixels': 'raw',
                'pixel_order': spec.pixel_order,
                'interpolation': spec.interpolation,
                'detections_per_frame_median': float(np.median(n_dets['after'])),
            },
        },
        'rows': rows,
        'totals': totals,
        'seconds': round(time.perf_counter() - t_start, 1),
    }
    for p in pipes.values():
        p.close()
    if tmp is not None:
        tmp.cleanup()
    return out


def run_replay(
    bundle: Union[str, Path], work: Union[str, Path], *, repeats: int = 3, frames: int = 60
) -> Dict[str, Any]:
    """
    Measure eval_bag throughput and peak RSS over ``repeats`` runs; return replay.json.

    Each run is a fresh process on onnxruntime.
    """
    from ..replay.bench import benchmark_replay

    t_start = time.perf_counter()
    runs = [
        benchmark_replay(bundle, work, frames=frames, backend='onnxruntime')
        for _ in range(repeats)
    ]
    first = runs[0]
    figs = {}
    for k in (
        'fps',
        'inference_ms_p50',
        'pipeline_ms_p50',
        'end_to_end_ms_p50',
        'end_to_end_ms_p95',
        'peak_rss_mb',
    ):
        vals = [r[k] for r in runs if r.get(k) is not None]
        figs[k] = (latency_summary(vals, SIG) if '_ms_' in k else stat(vals)) if vals else None
    return {
        'section': 'replay',
        'bundle': first['bundle'],
        'backend': first['backend'],
        'mode': first['mode'],
        'frames': frames,
        'frame_size': list(first['frame_size']),
        'repeats': repeats,
        'frames_processed': [r['frames_processed'] for r in runs],
        'frames_dropped': [r['frames_dropped'] for r in runs],
        'torch_imported': any(bool(r['torch_imported']) for r in runs),
        'map50': round_sig(first.get('map50')),
        'map50_person': round_sig(first.get('map50_person')),
        'map50_identical_across_runs': len({r.get('map50') for r in runs}) == 1,
        'figures': figs,
        'tool': 'tools/eval_bag.py (vitedge_ros.replay.bench.benchmark_replay), fresh '
        'process per run, synthetic flight bag (mcap), throughput mode',
        'seconds': round(time.perf_counter() - t_start, 1),
    }

"""Runtime overhead per 640×480 frame against inference: what the node does around the engine.

Per frame of a synthetic drone flight: JPEG decode of a sensor_msgs/CompressedImage payload
(``compressed_msg_to_bgr``, i.e. ``cv2.imdecode``), raw sensor_msgs/Image → ndarray (``image_msg_to_bgr``,
bgr8 and rgb8), then the runtime ``Pipeline`` (its own per-step timings: preprocess, inference,
postprocess), then the vision_msgs/Detection2DArray build and its CDR serialisation (rosbags typestore).
Each step's median over the frames of one pass is one repeat; repeats give median with min–max, and the
ratio of each step to inference is taken per repeat.
"""
import time
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from .stats import round_sig, stat

STEPS = ('jpeg_decode', 'raw_bgr8_to_ndarray', 'raw_rgb8_to_ndarray', 'preprocess', 'inference', 'postprocess',
         'detections_msg_build_and_cdr')
STEP_LABELS = {
    'jpeg_decode': 'JPEG decode (CompressedImage → BGR, cv2.imdecode)',
    'raw_bgr8_to_ndarray': 'raw Image bgr8 → ndarray',
    'raw_rgb8_to_ndarray': 'raw Image rgb8 → ndarray (channel swap)',
    'preprocess': 'preprocess (letterbox, normalise, NCHW)',
    'inference': 'inference (onnxruntime CPU)',
    'postprocess': 'postprocess (decode, threshold, boxes to image pixels)',
    'detections_msg_build_and_cdr': 'Detection2DArray build + CDR serialisation',
}
# what a node on the compressed transport pays per frame besides inference
OVERHEAD_COMPRESSED = ('jpeg_decode', 'preprocess', 'postprocess', 'detections_msg_build_and_cdr')
OVERHEAD_RAW = ('raw_bgr8_to_ndarray', 'preprocess', 'postprocess', 'detections_msg_build_and_cdr')


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1e3


def run_overhead(bundle: Union[str, Path], *, frames: int = 30, repeats: int = 5, seed: int = 5,
                 width: int = 640, height: int = 480, jpeg_quality: int = 90) -> Dict[str, Any]:
    """Time every step on ``frames`` synthetic frames, ``repeats`` passes; returns overhead.json."""
    import cv2

    from ..data.synthetic import camera_sequence
    from ..perception.image_conversion import bgr_to_image_fields, compressed_msg_to_bgr, image_msg_to_bgr
    from ..ros.messages import build_detection2d_array, build_header
    from ..ros.rosbags_types import rosbags_types
    from ..runtime import Pipeline

    t_start = time.perf_counter()
    typestore, types = rosbags_types()
    pipe = Pipeline(bundle, backend='onnxruntime')
    msgs = []
    n_dets = []
    for i, scene in enumerate(camera_sequence(frames, seed=seed, width=width, height=height)):
        header = build_header(types, 1000 + i, 0, 'camera')
        ok, jpg = cv2.imencode('.jpg', scene.image, [int(cv2.IMWRITE_JPEG_QUALITY), jpeg_quality])
        if not ok:
            raise RuntimeError('cv2.imencode failed')
        comp = types.CompressedImage(header=header, format='jpeg', data=np.frombuffer(jpg.tobytes(), np.uint8))
        raws = {}
        for enc in ('bgr8', 'rgb8'):
            f = bgr_to_image_fields(scene.image, enc)
            raws[enc] = types.Image(header=header, height=f['height'], width=f['width'], encoding=f['encoding'],
                                    is_bigendian=f['is_bigendian'], step=f['step'],
                                    data=np.frombuffer(f['data'], np.uint8))
        msgs.append((header, comp, raws, len(jpg)))
    # warm-up: engine start-up and the first CDR serialisation (rosbags generates code) stay out of the figures
    for header, comp, _raws, _ in msgs[:2]:
        res = pipe(compressed_msg_to_bgr(comp))
        typestore.serialize_cdr(build_detection2d_array(res.detections, header, types),
                                'vision_msgs/msg/Detection2DArray')
    per_repeat: Dict[str, List[float]] = {k: [] for k in STEPS}
    for _ in range(repeats):
        times: Dict[str, List[float]] = {k: [] for k in STEPS}
        for header, comp, raws, _ in msgs:
            t0 = time.perf_counter()
            img = compressed_msg_to_bgr(comp)
            times['jpeg_decode'].append(_ms(t0))
            t0 = time.perf_counter()
            image_msg_to_bgr(raws['bgr8'])
            times['raw_bgr8_to_ndarray'].append(_ms(t0))
            t0 = time.perf_counter()
            image_msg_to_bgr(raws['rgb8'])
            times['raw_rgb8_to_ndarray'].append(_ms(t0))
            res = pipe(img)
            for k in ('preprocess', 'inference', 'postprocess'):
                times[k].append(float(res.timings_ms[k]))
            t0 = time.perf_counter()
            msg = build_detection2d_array(res.detections, header, types)
            typestore.serialize_cdr(msg, 'vision_msgs/msg/Detection2DArray')
            times['detections_msg_build_and_cdr'].append(_ms(t0))
            n_dets.append(len(res.detections))
        for k in STEPS:
            per_repeat[k].append(float(np.median(times[k])))
    inf = per_repeat['inference']
    rows = []
    for k in STEPS:
        rows.append({'step': k, 'label': STEP_LABELS[k], 'ms': stat(per_repeat[k]),
                     'ratio_to_inference': stat([a / b for a, b in zip(per_repeat[k], inf)])})
    totals = {}
    for name, keys in (('compressed_transport', OVERHEAD_COMPRESSED), ('raw_transport', OVERHEAD_RAW)):
        sums = [sum(per_repeat[k][r] for k in keys) for r in range(repeats)]
        totals[name] = {'steps': list(keys), 'ms': stat(sums), 'ratio_to_inference': stat(
            [s / b for s, b in zip(sums, inf)])}
    spec = pipe.bundle.input
    out = {'section': 'overhead', 'bundle': str(pipe.bundle.name), 'bundle_dir': str(bundle),
           'network_input': [spec.width, spec.height], 'frame_size': [width, height], 'frames': frames,
           'repeats': repeats, 'jpeg_quality': jpeg_quality,
           'jpeg_bytes_median': int(np.median([m[3] for m in msgs])), 'backend': pipe.backend_name,
           'onnxruntime_threads': 'default (all cores)', 'detections_per_frame_median': float(np.median(n_dets)),
           'rows': rows, 'totals': totals, 'seconds': round(time.perf_counter() - t_start, 1)}
    pipe.close()
    return out


def run_replay(bundle: Union[str, Path], work: Union[str, Path], *, repeats: int = 3,
               frames: int = 60) -> Dict[str, Any]:
    """eval_bag throughput and peak RSS (fresh process per run, onnxruntime), ``repeats`` runs; replay.json."""
    from ..eval.bag_replay import benchmark_replay

    t_start = time.perf_counter()
    runs = [benchmark_replay(bundle, work, frames=frames, backend='onnxruntime') for _ in range(repeats)]
    first = runs[0]
    figs = {}
    for k in ('fps', 'inference_ms_p50', 'pipeline_ms_p50', 'end_to_end_ms_p50', 'end_to_end_ms_p95',
              'peak_rss_mb'):
        vals = [r[k] for r in runs if r.get(k) is not None]
        figs[k] = stat(vals) if vals else None
    return {'section': 'replay', 'bundle': first['bundle'], 'backend': first['backend'], 'mode': first['mode'],
            'frames': frames, 'frame_size': list(first['frame_size']), 'repeats': repeats,
            'frames_processed': [r['frames_processed'] for r in runs],
            'frames_dropped': [r['frames_dropped'] for r in runs],
            'torch_imported': any(bool(r['torch_imported']) for r in runs),
            'map50': round_sig(first.get('map50')), 'map50_person': round_sig(first.get('map50_person')),
            'map50_identical_across_runs': len({r.get('map50') for r in runs}) == 1,
            'figures': figs, 'tool': 'tools/eval_bag.py (vitedge_ros.eval.bag_replay.benchmark_replay), fresh '
            'process per run, synthetic flight bag (mcap), throughput mode',
            'seconds': round(time.perf_counter() - t_start, 1)}

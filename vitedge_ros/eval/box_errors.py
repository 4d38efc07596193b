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
Where a detector's boxes go wrong: centre versus size, on the detections that found an object.

mAP@0.5:0.95 punishes boxes that overlap an object but not tightly. For one class, each detection
matched to a ground-truth box (greedy one-to-one at IoU >= 0.5, highest score first, as
:func:`vitedge_ros.eval.detection.precision_recall`) is decomposed into its centre error (pixels,
and as a fraction of the object's size sqrt(w·h)) and its size errors (|log(w_pred / w_gt)|,
|log(h_pred / h_gt)|). Two counterfactuals say which error costs more IoU: the prediction moved to
the true centre (size kept), and the prediction given the true size (centre kept); the larger
median IoU gain names what limits the box quality (``limited_by``).

``python -m vitedge_ros.eval.box_errors --bundle B [--bundle B2] --out FILE.json`` runs bundles
through the runtime (onnxruntime) on the SYNTHETIC validation scenes the model card uses (200,
seed 1000000, 640×480) and writes the statistics per class.
"""

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .detection import greedy_matches, GroundTruth, Prediction, scene_predictions


def matched_pairs(
    gts: Sequence[GroundTruth], preds: Sequence[Prediction], class_id: int, iou: float = 0.5
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return (predicted boxes K×4, their ground-truth boxes K×4) matched greedily at ``iou``.

    Highest score first, one detection per object, per image, for ``class_id`` only
    (:func:`vitedge_ros.eval.detection.greedy_matches`, as precision/recall match).
    """
    got, want = [], []
    for (gb, gl), (pb, ps, pl) in zip(gts, preds):
        g = np.asarray(gb, np.float32).reshape(-1, 4)[np.asarray(gl).reshape(-1) == class_id]
        sel = np.asarray(pl).reshape(-1) == class_id
        p = np.asarray(pb, np.float32).reshape(-1, 4)[sel]
        p = p[np.argsort(-np.asarray(ps, np.float32).reshape(-1)[sel], kind='stable')]
        for i, j in greedy_matches(p, g, iou):
            got.append(p[i])
            want.append(g[j])
    return np.asarray(got, np.float64).reshape(-1, 4), np.asarray(want, np.float64).reshape(-1, 4)


def _cxcywh(b: np.ndarray) -> np.ndarray:
    return np.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )


def _xyxy(c: np.ndarray) -> np.ndarray:
    half = c[:, 2:] / 2
    return np.concatenate([c[:, :2] - half, c[:, :2] + half], 1)


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(a[:, 2:] - a[:, :2], axis=1) + np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area - inter, 1e-9)


def _q(v: np.ndarray) -> Dict[str, float]:
    return {
        'median': round(float(np.median(v)), 4),
        'p90': round(float(np.percentile(v, 90)), 4),
    }


def localisation_errors(pred: np.ndarray, gt: np.ndarray) -> Dict[str, Any]:
    """
    Statistics of matched box pairs (K×4 xyxy each, pixels); see the module docstring.

    Returns ``{'matches': K}`` alone when K is 0.
    """
    out: Dict[str, Any] = {'matches': int(len(pred))}
    if not len(pred):
        return out
    p, g = _cxcywh(pred), _cxcywh(gt)
    centre = np.hypot(p[:, 0] - g[:, 0], p[:, 1] - g[:, 1])
    scale = np.sqrt(np.maximum(g[:, 2] * g[:, 3], 1e-9))
    iou = _pair_iou(pred, gt)
    centred = _pair_iou(_xyxy(np.concatenate([g[:, :2], p[:, 2:]], 1)), gt)
    sized = _pair_iou(_xyxy(np.concatenate([p[:, :2], g[:, 2:]], 1)), gt)
    gain_centre, gain_size = centred - iou, sized - iou
    out.update(
        {
            'iou': _q(iou),
            'share_iou_ge_0.75': round(float(np.mean(iou >= 0.75)), 4),
            'share_iou_ge_0.9': round(float(np.mean(iou >= 0.9)), 4),
            'centre_error_px': _q(centre),
            'centre_error_rel': _q(centre / scale),
            'abs_log_w_ratio': _q(np.abs(np.log(np.maximum(p[:, 2], 1e-6) / g[:, 2]))),
            'abs_log_h_ratio': _q(np.abs(np.log(np.maximum(p[:, 3], 1e-6) / g[:, 3]))),
            'object_size_px': _q(scale),
            'iou_gain_true_centre': _q(gain_centre),
            'iou_gain_true_size': _q(gain_size),
            'limited_by': 'centre'
            if float(np.median(gain_centre)) > float(np.median(gain_size))
            else 'size',
        }
    )
    return out


def bundle_box_errors(bundle_dir: Path, scenes: Sequence[Any]) -> Dict[str, Any]:
    """
    Run a detector bundle on ``scenes`` (runtime, onnxruntime); its per-class box errors.

    Raises ValueError for a bundle without boxes, BundleError for an unreadable one.
    """
    from ..runtime import load_bundle, Pipeline
    from ..tasks import get_task

    bundle = load_bundle(bundle_dir)
    if not get_task(bundle.task).boxes:
        raise ValueError('{}: a {} bundle has no boxes'.format(bundle_dir, bundle.task))
    pipe = Pipeline(bundle, backend='onnxruntime')  # at the bundle's own score threshold
    gts, preds = scene_predictions(pipe, scenes)
    return {
        'bundle': bundle.name,
        'score_threshold': bundle.decoder.get('score_threshold'),
        'per_class': {
            name: localisation_errors(*matched_pairs(gts, preds, k))
            for k, name in enumerate(bundle.labels)
        },
    }


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m vitedge_ros.eval.box_errors``; 0 ok, 2 bad input (one line)."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--bundle', action='append', required=True, type=Path, help='detector bundle')
    p.add_argument('--out', required=True, type=Path, help='JSON to write')
    p.add_argument('--scenes', type=int, default=200, help='validation scenes (default 200)')
    args = p.parse_args(argv)
    from ..runtime import BundleError
    from ..runtime.bundle import atomic_write_bytes
    from ..training.data import detection_scenes

    try:
        scenes = list(detection_scenes(args.scenes, 1_000_000, 640, 480))
        data = {
            'scenes': 'SYNTHETIC validation scenes (vitedge_ros.training.data.detection_scenes: '
            "{}, seed 1000000, 640x480), through the runtime on onnxruntime at each bundle's "
            'threshold; matches at IoU >= 0.5'.format(args.scenes),
            'bundles': [bundle_box_errors(b, scenes) for b in args.bundle],
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out, (json.dumps(data, indent=1) + '\n').encode('utf-8'))
    except (BundleError, OSError, ValueError) as exc:
        print('box_errors: error: {}'.format(exc), file=sys.stderr)
        return 2
    for b in data['bundles']:
        for name, e in b['per_class'].items():
            if e['matches']:
                print(
                    '{} {}: {} matches, IoU median {}, centre error median {} px, '
                    'limited by {}'.format(
                        b['bundle'], name, e['matches'], e['iou']['median'],
                        e['centre_error_px']['median'], e['limited_by'],
                    )
                )  # fmt: skip
    return 0


if __name__ == '__main__':
    sys.exit(main())

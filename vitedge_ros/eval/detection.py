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
Detection metrics: COCO mAP through faster-coco-eval, and precision/recall at one IoU.

Boxes are xyxy pixels everywhere in the project; conversion to COCO's xywh happens here only.
"""

import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..runtime.nms import box_iou

GroundTruth = Tuple[np.ndarray, np.ndarray]  # boxes N×4 xyxy, labels N
Prediction = Tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes M×4, scores M, labels M


def detection_arrays(detections: Sequence[Any]) -> Prediction:
    """
    Return runtime detections (:class:`vitedge_ros.runtime.Detection`) as a :data:`Prediction`.

    Boxes M×4 float32 xyxy pixels, scores M float32, class ids M int64.
    """
    return (
        np.asarray([d.box for d in detections], np.float32).reshape(-1, 4),
        np.asarray([d.score for d in detections], np.float32),
        np.asarray([d.class_id for d in detections], np.int64),
    )


def scene_predictions(
    pipeline: Any, scenes: Iterable[Any]
) -> Tuple[List[GroundTruth], List[Prediction]]:
    """
    Run a runtime pipeline on generated scenes; their ground truth and its detections, aligned.

    ``scenes``: objects with ``image`` (BGR uint8), ``boxes`` (N×4 xyxy pixels) and ``labels``
    (class ids in the pipeline's bundle's labels), as the synthetic generator yields.
    """
    gts: List[GroundTruth] = []
    preds: List[Prediction] = []
    for sc in scenes:
        gts.append(
            (np.asarray(sc.boxes, np.float32).reshape(-1, 4), np.asarray(sc.labels, np.int64))
        )
        preds.append(detection_arrays(pipeline(sc.image).detections))
    return gts, preds


def greedy_matches(
    pred_boxes: np.ndarray, gt_boxes: np.ndarray, iou: float
) -> List[Tuple[int, int]]:
    """
    Match predictions (already best-first) to ground truth one to one, greedily, at ``iou``.

    Each prediction in turn takes the unmatched ground-truth box it overlaps most with IoU >=
    ``iou``. Returns (prediction index, ground-truth index) pairs.
    """
    if not len(pred_boxes) or not len(gt_boxes):
        return []
    ious = box_iou(pred_boxes, gt_boxes)
    used = np.zeros(len(gt_boxes), dtype=bool)
    pairs = []
    for i in range(len(pred_boxes)):
        cand = np.where(~used & (ious[i] >= iou))[0]
        if cand.size:
            j = int(cand[np.argmax(ious[i, cand])])
            used[j] = True
            pairs.append((i, j))
    return pairs


def to_coco_dicts(
    gts: Sequence[GroundTruth],
    preds: Sequence[Prediction],
    class_names: Sequence[str],
    image_sizes: Optional[Sequence[Tuple[int, int]]] = None,
    image_ids: Optional[Sequence[int]] = None,
) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """
    COCO ground-truth dict and detection list.

    Category ids are label + 1, images numbered from 1.
    """
    ids = list(image_ids) if image_ids is not None else list(range(1, len(gts) + 1))
    images, anns, dets = [], [], []
    for k, ((gb, gl), img_id) in enumerate(zip(gts, ids)):
        w, h = image_sizes[k] if image_sizes is not None else (10000, 10000)
        images.append({'id': int(img_id), 'width': int(w), 'height': int(h)})
        for box, lab in zip(np.asarray(gb, np.float64).reshape(-1, 4), np.asarray(gl).reshape(-1)):
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': int(img_id),
                    'category_id': int(lab) + 1,
                    'bbox': [float(box[0]), float(box[1]), bw, bh],
                    'area': bw * bh,
                    'iscrowd': 0,
                }
            )
    for (pb, ps, pl), img_id in zip(preds, ids):
        for box, s, lab in zip(
            np.asarray(pb, np.float64).reshape(-1, 4),
            np.asarray(ps).reshape(-1),
            np.asarray(pl).reshape(-1),
        ):
            dets.append(
                {
                    'image_id': int(img_id),
                    'category_id': int(lab) + 1,
                    'score': float(s),
                    'bbox': [
                        float(box[0]),
                        float(box[1]),
                        float(box[2] - box[0]),
                        float(box[3] - box[1]),
                    ],
                }
            )
    cats = [{'id': i + 1, 'name': n} for i, n in enumerate(class_names)]
    return {'images': images, 'annotations': anns, 'categories': cats}, dets


def coco_evaluate(
    gt_dict: Dict[str, Any], dets: List[Dict[str, Any]], curves: bool = False
) -> Dict[str, Any]:
    """
    mAP@0.5 and mAP@0.5:0.95 overall and per class with faster-coco-eval (COCO's definition).

    With ``curves``, ``result['pr_curves'][name]`` holds COCO's interpolated precision at IoU 0.5
    on its 101 recall points (``recall``, ``precision``; -1 entries of the evaluator left out),
    area ``all``, 100 detections per image.
    """
    from faster_coco_eval import COCO, COCOeval_faster

    names = {c['id']: c['name'] for c in gt_dict['categories']}
    result: Dict[str, Any] = {'map50': 0.0, 'map50_95': 0.0, 'per_class': {}}
    if not gt_dict['annotations']:
        return result
    gt = COCO(gt_dict)
    dt = (
        gt.loadRes(dets)
        if dets
        else COCO(
            {'images': gt_dict['images'], 'annotations': [], 'categories': gt_dict['categories']}
        )
    )
    ev = COCOeval_faster(gt, dt, 'bbox', print_function=lambda *a, **k: None)
    ev.params.maxDets = [1, 10, 100]
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    result['map50_95'] = max(0.0, float(ev.stats[0]))
    result['map50'] = max(0.0, float(ev.stats[1]))
    precision = ev.eval['precision']  # T×R×K×A×M
    iou50 = int(np.argmin(np.abs(np.asarray(ev.params.iouThrs) - 0.5)))
    present = {a['category_id'] for a in gt_dict['annotations']}
    for k, cat_id in enumerate(ev.params.catIds):
        if cat_id not in present:
            continue
        p = precision[:, :, k, 0, -1]
        ap_all = float(np.mean(p[p > -1])) if np.any(p > -1) else 0.0
        p50 = precision[iou50, :, k, 0, -1]
        ap50 = float(np.mean(p50[p50 > -1])) if np.any(p50 > -1) else 0.0
        result['per_class'][names[cat_id]] = {'ap50': ap50, 'ap50_95': ap_all}
        if curves:
            rec = np.asarray(ev.params.recThrs, dtype=np.float64)
            result.setdefault('pr_curves', {})[names[cat_id]] = {
                'recall': [float(r) for r, q in zip(rec, p50) if q > -1],
                'precision': [float(q) for q in p50 if q > -1],
            }
    return result


def detection_map(
    gts: Sequence[GroundTruth], preds: Sequence[Prediction], class_names: Sequence[str]
) -> Dict[str, Any]:
    """COCO mAP of predictions against ground truth (lists aligned by image)."""
    gt_dict, dets = to_coco_dicts(gts, preds, class_names)
    return coco_evaluate(gt_dict, dets)


def precision_recall(
    gts: Sequence[GroundTruth],
    preds: Sequence[Prediction],
    class_id: int,
    iou: float = 0.5,
    min_score: float = 0.0,
) -> Dict[str, float]:
    """Greedy one-to-one matching at ``iou`` for one class: precision, recall, tp, fp, fn."""
    tp = fp = fn = 0
    for (gb, gl), (pb, ps, pl) in zip(gts, preds):
        g = np.asarray(gb, np.float32).reshape(-1, 4)[np.asarray(gl).reshape(-1) == class_id]
        sel = (np.asarray(pl).reshape(-1) == class_id) & (np.asarray(ps).reshape(-1) >= min_score)
        p = np.asarray(pb, np.float32).reshape(-1, 4)[sel]
        order = np.argsort(-np.asarray(ps).reshape(-1)[sel], kind='stable')
        matched = len(greedy_matches(p[order], g, iou))
        tp += matched
        fp += len(p) - matched
        fn += len(g) - matched
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {'precision': precision, 'recall': recall, 'tp': tp, 'fp': fp, 'fn': fn}


def pick_score_threshold(
    gts: Sequence[GroundTruth],
    preds: Sequence[Prediction],
    class_id: int = 0,
    min_precision: Optional[float] = None,
    min_recall: Optional[float] = None,
) -> Tuple[float, Dict[str, Any]]:
    """
    Choose the score threshold for ``class_id`` at IoU 0.5 from detections aligned with ``gts``.

    The thresholds tried are 0.10-0.70 in steps of 0.05. ``gts``: (boxes N×4 xyxy, labels N) per
    image; ``preds``: (boxes M×4, scores M, labels M) in the same pixels. Without targets: the
    threshold of best F1. With ``min_precision`` and/or ``min_recall`` (0-1): the best F1 among the
    thresholds whose precision and recall both reach them (an operating point such as issue 2's
    "person precision and recall >= 0.8"); when none does, the best F1 overall. Returns
    ``(threshold, stats)``; ``stats`` holds precision, recall, tp, fp, fn, f1 and, with targets,
    ``meets_targets``.
    """
    rows = []
    for t in np.arange(0.1, 0.75, 0.05):
        pr = precision_recall(gts, preds, class_id, iou=0.5, min_score=float(t))
        f1 = 2 * pr['precision'] * pr['recall'] / max(1e-9, pr['precision'] + pr['recall'])
        rows.append((round(float(t), 2), dict(pr, f1=f1)))
    targets = min_precision is not None or min_recall is not None
    meets = [
        r
        for r in rows
        if r[1]['precision'] >= (min_precision or 0.0) and r[1]['recall'] >= (min_recall or 0.0)
    ]
    pool = meets if targets and meets else rows
    best = (0.3, {'f1': -1.0})
    for t, pr in pool:
        if pr['f1'] > best[1]['f1']:
            best = (t, pr)
    if targets:
        best[1]['meets_targets'] = bool(meets)
        if not meets:
            logging.getLogger(__name__).warning(
                'no score threshold reaches precision >= %s and recall >= %s on the '
                'validation set: picked the best F1',
                min_precision,
                min_recall,
            )
    return best

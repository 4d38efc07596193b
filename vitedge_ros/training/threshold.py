"""The detector's score threshold, picked on validation data for the bundle (``export.score_threshold: auto``)."""
import logging
from typing import Dict, Optional, Tuple

import numpy as np
import torch

from ..eval.detection import precision_recall
from .data import DetectionSet
from .evaluate import drop_ignored, predict_detector

LOG = logging.getLogger(__name__)


def pick_threshold(model: torch.nn.Module, val: DetectionSet, class_id: int = 0,
                   min_precision: Optional[float] = None,
                   min_recall: Optional[float] = None) -> Tuple[float, Dict[str, float]]:
    """Score threshold (0.10-0.70, step 0.05) for ``class_id`` at IoU 0.5 on the validation set (ignored regions out).

    Without targets: the threshold of best F1. With ``min_precision`` and/or ``min_recall`` (0-1): the best F1
    among the thresholds whose precision and recall both reach them (an operating point such as issue 2's
    "person precision and recall >= 0.8"); when none does, the best F1 overall. The returned dict holds
    precision, recall, tp, fp, fn, f1 and, with targets, ``meets_targets``.
    """
    preds = predict_detector(model, val, min_score=0.05)
    gts = list(zip(val.boxes, val.labels))
    if val.ignored is not None:  # as in evaluate_detector: nothing counts inside ignored regions
        gts, preds = drop_ignored(gts, preds, val.ignored, (val.spec.width, val.spec.height))
    rows = []
    for t in np.arange(0.1, 0.75, 0.05):
        pr = precision_recall(gts, preds, class_id, iou=0.5, min_score=float(t))
        f1 = 2 * pr['precision'] * pr['recall'] / max(1e-9, pr['precision'] + pr['recall'])
        rows.append((round(float(t), 2), dict(pr, f1=f1)))
    targets = min_precision is not None or min_recall is not None
    meets = [r for r in rows if r[1]['precision'] >= (min_precision or 0.0) and r[1]['recall'] >= (min_recall or 0.0)]
    pool = meets if targets and meets else rows
    best = (0.3, {'f1': -1.0})
    for t, pr in pool:
        if pr['f1'] > best[1]['f1']:
            best = (t, pr)
    if targets:
        best[1]['meets_targets'] = bool(meets)
        if not meets:
            LOG.warning('no score threshold reaches precision >= %s and recall >= %s on the validation set: '
                        'picked the best F1', min_precision, min_recall)
    return best

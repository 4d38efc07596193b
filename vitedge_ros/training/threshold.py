"""The detector's score threshold, picked on validation data for the bundle (``export.score_threshold: auto``)."""
from typing import Dict, Optional, Tuple

import torch

from ..eval.detection import pick_score_threshold
from .data import DetectionSet
from .evaluate import drop_ignored, predict_detector


def pick_threshold(model: torch.nn.Module, val: DetectionSet, class_id: int = 0,
                   min_precision: Optional[float] = None,
                   min_recall: Optional[float] = None) -> Tuple[float, Dict[str, float]]:
    """Score threshold (0.10-0.70, step 0.05) for ``class_id`` at IoU 0.5 on the validation set (ignored regions out).

    The rule of :func:`vitedge_ros.eval.detection.pick_score_threshold`, on the model's detections (score >= 0.05).
    """
    preds = predict_detector(model, val, min_score=0.05)
    gts = list(zip(val.boxes, val.labels))
    if val.ignored is not None:  # as in evaluate_detector: nothing counts inside ignored regions
        gts, preds = drop_ignored(gts, preds, val.ignored, (val.spec.width, val.spec.height))
    return pick_score_threshold(gts, preds, class_id, min_precision, min_recall)

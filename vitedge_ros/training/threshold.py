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
The detector's score threshold, picked on validation data for the bundle.

This is what ``export.score_threshold: auto`` asks for.
"""

from typing import Dict, Optional, Tuple

import torch

from .data import DetectionSet
from .evaluate import drop_ignored, predict_detector
from ..eval.detection import pick_score_threshold


def pick_threshold(
    model: torch.nn.Module,
    val: DetectionSet,
    class_id: int = 0,
    min_precision: Optional[float] = None,
    min_recall: Optional[float] = None,
) -> Tuple[float, Dict[str, float]]:
    """
    Pick the score threshold for ``class_id`` at IoU 0.5 on the validation set.

    Candidates are 0.10-0.70 in steps of 0.05; ignored regions are left out.

    The rule of :func:`vitedge_ros.eval.detection.pick_score_threshold`, on the model's detections
    (score >= 0.05).
    """
    preds = predict_detector(model, val, min_score=0.05)
    gts = list(zip(val.boxes, val.labels))
    if val.ignored is not None:  # as in evaluate_detector: nothing counts inside ignored regions
        gts, preds = drop_ignored(gts, preds, val.ignored, (val.spec.width, val.spec.height))
    return pick_score_threshold(gts, preds, class_id, min_precision, min_recall)

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
Task metrics of a compression stage's model, from torch or from its ONNX graph's outputs.

The torch side is ``evaluate_torch``. Classifiers: top-1 on the held-out split; detectors:
COCO-style mAP (:func:`vitedge_ros.eval.detection.detection_map`) and the person class's AP;
segmenters: mean IoU through the runtime decoder in input-image pixels. ``data`` is the run's
:class:`vitedge_ros.compress.runner.Data`.
"""

from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np
from torch import nn

from ..tasks import get_task


def detection_metric(res: Dict[str, Any], labels: List[str]) -> Dict[str, Any]:
    """
    Return the report's detection metric from a mAP result.

    Keys: map50, map50_95, the person's AP and per_class.
    """
    out = {'map50': float(res['map50']), 'map50_95': float(res['map50_95'])}
    pc = res.get('per_class', {})
    if 'person' in pc:
        out['person_ap50'] = float(pc['person']['ap50'])
        out['person_ap50_95'] = float(pc['person']['ap50_95'])
    out['per_class'] = {k: {kk: float(vv) for kk, vv in v.items()} for k, v in pc.items()}
    return out


def evaluate_torch(model: nn.Module, data: Any) -> Dict[str, Any]:
    """Task metric of a torch model (:meth:`vitedge_ros.tasks.Task.evaluate_metric`)."""
    return get_task(data.task).evaluate_metric(model, data)


def segmentation_metric(res: Dict[str, Any]) -> Dict[str, Any]:
    """Return the report's segmentation metric: miou, per_class_iou, pixel_acc, mean_acc."""
    return {
        'miou': float(res['miou']),
        'per_class_iou': dict(res['per_class_iou']),
        'pixel_acc': float(res['pixel_acc']),
        'mean_acc': float(res['mean_acc']),
    }


def segment_metric_from_logits(logits: np.ndarray, data: Any) -> Dict[str, Any]:
    """
    Mean IoU of N×C×h×w logits over the validation set.

    Through the runtime decoder (input-image pixels).
    """
    from ..eval.segmentation import SegmentationMeter
    from ..runtime.segmentation import logits_to_labels

    meter = SegmentationMeter(data.labels)
    net = (data.spec.width, data.spec.height)
    for i, lg in enumerate(logits):
        labels = logits_to_labels(
            np.ascontiguousarray(np.asarray(lg, np.float32).transpose(1, 2, 0)),
            data.val.transforms[i],
            net,
        )
        meter.update(data.val.frame_masks[i], labels, what='validation mask {}'.format(i))
    return segmentation_metric(meter.result())


def onnx_outputs(path: Union[str, Path], data: Any, threads: int) -> List[np.ndarray]:
    """Output of an ONNX graph over the evaluation set (batch 1)."""
    from .quantize import run_onnx

    return run_onnx(path, data.eval_inputs(), threads)


def evaluate_outputs(outs: List[np.ndarray], data: Any) -> Dict[str, Any]:
    """
    Return the task metric from ONNX outputs (logits, or detection rows first).

    It is the task's ``Task.evaluate_outputs``.
    """
    return get_task(data.task).evaluate_outputs(outs, data)


def detection_metric_from_rows(outs: List[np.ndarray], data: Any) -> Dict[str, Any]:
    """
    :func:`detection_metric` of decoded detection rows.

    ``outs[0]``: N×K×6 x1 y1 x2 y2 score class, pixels.
    """
    from ..eval.detection import detection_map

    preds = []
    for r in outs[0]:
        keep = r[:, 4] >= 0.01
        preds.append((r[keep, :4], r[keep, 4], r[keep, 5].astype(np.int64)))
    gts = list(zip(data.val.boxes, data.val.labels))
    return detection_metric(detection_map(gts, preds, data.labels), data.labels)

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

"""Prediction and scoring of the models being trained: mAP, top-1, mIoU, ONNX agreement."""

from typing import Any, Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .data import DetectionSet, images_to_tensor, SegmentationSet
from ..eval.detection import detection_map
from ..runtime.bundle import InputSpec


@torch.no_grad()
def predict_detector(
    model: nn.Module, data: DetectionSet, batch_size: int = 32, min_score: float = 0.01
) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detect per image in network pixels: (boxes, scores, labels), score ≥ ``min_score``."""
    model.eval()
    det = getattr(model, 'detector', model)
    out = []
    for i in range(0, len(data.images), batch_size):
        x = images_to_tensor(data.images[i:i + batch_size], data.spec)
        rows = det.decode(det(x)).numpy()
        for r in rows:
            keep = r[:, 4] >= min_score
            out.append((r[keep, :4], r[keep, 4], r[keep, 5].astype(np.int64)))
    return out


def evaluate_detector(
    model: nn.Module, data: DetectionSet, class_names: Sequence[str], min_score: float = 0.01
) -> Dict[str, Any]:
    """COCO mAP@0.5 and mAP@0.5:0.95 (overall and per class) on a detection set."""
    preds = predict_detector(model, data, min_score=min_score)
    gts = list(zip(data.boxes, data.labels))
    if data.ignored is not None:
        gts, preds = drop_ignored(gts, preds, data.ignored, (data.spec.width, data.spec.height))
    return detection_map(gts, preds, class_names)


def drop_ignored(
    gts: Sequence[Tuple[np.ndarray, np.ndarray]],
    preds: Sequence[Tuple[np.ndarray, ...]],
    ignored: Sequence[np.ndarray],
    size: Tuple[int, int],
) -> Tuple[List[Any], List[Any]]:
    """
    Return ground truth and detections without those more than half inside ignored regions.

    ``size`` is the image (w, h) in pixels.

    The rule of the VisDrone-DET toolkit (``dropObjectsInIgr.m``), applied per image before COCO
    scoring.
    """
    from ..data.sources import drop_in_ignored

    out_g, out_p = [], []
    for (gb, gl), pred, ign in zip(gts, preds, ignored):
        kg = drop_in_ignored(gb, ign, size)
        kp = drop_in_ignored(pred[0], ign, size)
        out_g.append((np.asarray(gb).reshape(-1, 4)[kg], np.asarray(gl).reshape(-1)[kg]))
        out_p.append(tuple(np.asarray(a)[kp] for a in pred))
    return out_g, out_p


@torch.no_grad()
def predict_classifier(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits N×C for float32 inputs."""
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        out = model(
            torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], dtype=np.float32))
        )
        out = out[0] if isinstance(out, (tuple, list)) else out
        outs.append(out.float().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def evaluate_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy."""
    logits = predict_classifier(model, x)
    return float((logits.argmax(axis=1) == np.asarray(y)).mean()) if len(y) else 0.0


@torch.no_grad()
def predict_segmenter_logits(
    model: nn.Module, images: np.ndarray, spec: InputSpec, batch_size: int = 16
) -> Iterator[np.ndarray]:
    """Logits (C×h×w float32 at map resolution) per network-size image."""
    model.eval()
    for i in range(0, len(images), batch_size):
        out = model(images_to_tensor(images[i:i + batch_size], spec))
        out = out[0] if isinstance(out, (tuple, list)) else out
        yield from out.float().numpy()


def evaluate_segmenter(
    model: nn.Module, data: SegmentationSet, class_names: Sequence[str], upsample: str = 'linear'
) -> Dict[str, Any]:
    """
    Mean IoU, per-class IoU and pixel accuracy of a segmenter on a set.

    Scored in input-image pixels through the runtime decoder when the set has ``frame_masks``, else
    at the network size (letterbox padding ignored).
    """
    from ..eval.segmentation import SegmentationMeter
    from ..runtime.preprocess import Transform
    from ..runtime.segmentation import logits_to_labels

    meter = SegmentationMeter(class_names)
    spec = data.spec
    net = (spec.width, spec.height)
    for i, logits in enumerate(predict_segmenter_logits(model, data.images, spec)):
        hwc = np.ascontiguousarray(logits.transpose(1, 2, 0))
        if data.frame_masks is not None:
            gt, tf = data.frame_masks[i], data.transforms[i]
        else:
            gt, tf = data.masks[i], Transform(1.0, 1.0, 0.0, 0.0, spec.width, spec.height)
        meter.update(gt, logits_to_labels(hwc, tf, net, upsample), what='sample {} mask'.format(i))
    return meter.result()


def segmenter_onnx_agreement(
    model: nn.Module, onnx_path: Any, images: np.ndarray, spec: InputSpec
) -> float:
    """Return the fraction of logit-map pixels where onnxruntime (CPU) and torch share argmax."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    name = sess.get_inputs()[0].name
    same = total = 0
    for img, ref in zip(images, predict_segmenter_logits(model, images, spec, batch_size=8)):
        x = images_to_tensor(img[None], spec).numpy()
        got = np.asarray(sess.run(None, {name: x})[0])[0]
        a, b = ref.argmax(axis=0), got.argmax(axis=0)
        same += int((a == b).sum())
        total += int(a.size)
    return float(same) / total if total else 1.0

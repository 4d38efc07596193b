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
Decoders: raw network outputs → scores, classes and boxes in network pixels.

- ``classifier``: logits ``1×C`` → top-k (softmax, sigmoid or none).
- ``vit_center``: the project's ViT detector. Its graph extracts peaks itself (max-pool + TopK)
  into ``detections`` ``1×K×6`` rows ``x1, y1, x2, y2, score, class`` in network pixels; when the
  graph also outputs the raw maps (``heatmap``, ``size``, ``offset``, or ``heatmap``, ``ltrb`` for
  the ltrb box head, as every bundle exported by this project does), the peaks are extracted here
  on the host from those maps instead, in float32 (:func:`decode_vit_center_maps`,
  :func:`decode_vit_center_ltrb_maps`), so that an engine which computed the in-graph
  ``MaxPool(sigmoid) == sigmoid`` test at two different precisions (FP16 TensorRT) cannot lose
  detections.
- ``detr``: set predictions (DETR, YOLOS, RT-DETR exports): logits ``1×Q×C'`` and boxes ``1×Q×4``
  normalised ``cx, cy, w, h``; softmax with a trailing no-object class, or sigmoid.
- ``segmenter``: logits ``1×C×h×w`` → label map in input-image pixels, see :mod:`.segmentation`.
"""

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import BundleError, EngineError
from .segmentation import check_segmenter_params


class RawDetections(NamedTuple):
    """Decoded detections in network pixels before the inverse transform."""

    boxes: np.ndarray  # N×4 float32 xyxy
    scores: np.ndarray  # N float32
    classes: np.ndarray  # N int64


def _pick(
    outputs: Dict[str, np.ndarray], names: Sequence[str], index: int, what: str
) -> np.ndarray:
    for n in names:
        if n in outputs:
            return outputs[n]
    values = list(outputs.values())
    if index < len(values):
        return values[index]
    raise EngineError(
        'decoder: the model has no {} output (outputs: {})'.format(what, ', '.join(outputs))
    )


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def decode_classifier(outputs: Dict[str, np.ndarray], params: Dict[str, Any]) -> np.ndarray:
    """Class probabilities (C,) from the first output (logits)."""
    logits = np.asarray(
        _pick(outputs, ('logits', 'output'), 0, 'logits'), dtype=np.float32
    ).reshape(-1)
    act = params.get('activation', 'softmax')
    if act == 'softmax':
        return softmax(logits)
    if act == 'sigmoid':
        return sigmoid(logits)
    return logits


#: Upper clamp of the log-size map before ``exp`` (``ViTCenterDetector.decode``,
#: vitedge_ros/models/vit_detector.py): sizes up to e^8 cells.
SIZE_LOG_CLAMP = 8.0
VIT_CENTER_MAPS = ('heatmap', 'size', 'offset')
#: The raw maps of the ltrb box head (``ViTCenterDetector(box='ltrb')``).
VIT_CENTER_LTRB_MAPS = ('heatmap', 'ltrb')
_BOX3 = np.ones((3, 3), np.uint8)


def max_pool3x3(x: np.ndarray) -> np.ndarray:
    """
    3×3 max filter, stride 1, borders padded with -inf, over the last two axes of ``x`` (C×h×w).

    float32/float64 maps go through ``cv2.dilate`` (a 3×3 box of ones is the 3×3 max; a constant
    -inf border), plane by plane: the same values as the numpy shifts below (a max is exact),
    several times faster per frame.
    """
    if x.dtype in (np.float32, np.float64) and x.ndim >= 2 and x.size:
        planes = np.ascontiguousarray(x).reshape((-1,) + x.shape[-2:])
        out = np.empty_like(planes)
        for i in range(planes.shape[0]):
            cv2.dilate(
                planes[i], _BOX3, dst=out[i], borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf
            )
        return out.reshape(x.shape)
    pad = np.pad(
        x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode='constant', constant_values=-np.inf
    )
    h, w = x.shape[-2], x.shape[-1]
    out = pad[..., 0:h, 0:w].copy()
    for dy in range(3):
        for dx in range(3):
            if dy or dx:
                np.maximum(out, pad[..., dy:dy + h, dx:dx + w], out=out)
    return out


def _peaks(heat: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Peak cells of a C×h×w logit map: flat indices, scores (float32) and classes (int64).

    A cell is a peak of its class where its sigmoid equals the 3×3 max-pool of the sigmoid map;
    score and class are the max / argmax over classes of the peak-masked map. The pooled map and
    the map it is compared with are the same float32 array, so the equality test is exact whatever
    precision the engine ran at. Only cells with a score > 0, sorted by score (stable).
    """
    prob = (1.0 / (1.0 + np.exp(-heat.astype(np.float64)))).astype(np.float32)
    masked = prob * (max_pool3x3(prob) == prob)
    score = masked.max(axis=0).reshape(-1)
    cls = masked.argmax(axis=0).reshape(-1)
    idx = np.nonzero(score > 0)[0]
    idx = idx[np.argsort(-score[idx], kind='stable')]
    return idx, score[idx].astype(np.float32), cls[idx].astype(np.int64)


def _log_exp(x: np.ndarray) -> np.ndarray:
    return np.exp(np.minimum(x.astype(np.float64), SIZE_LOG_CLAMP))


def _map_shapes_error(
    heat: np.ndarray, box: Sequence[np.ndarray], channels: int, names: str
) -> None:
    """Raise EngineError unless ``heat`` is 1×C×h×w and every box map 1×``channels``×h×w."""
    want = (1, channels) + heat.shape[2:] if heat.ndim == 4 else None
    if heat.ndim != 4 or heat.shape[0] != 1 or any(m.shape != want for m in box):
        raise EngineError(
            'vit_center decoder: maps must be heatmap 1×C×h×w and {} 1×{}×h×w, got {}'.format(
                names, channels, ', '.join(str(m.shape) for m in [heat] + list(box))
            )
        )


def decode_vit_center_maps(
    heatmap: np.ndarray, size: np.ndarray, offset: np.ndarray, net_w: int, net_h: int
) -> RawDetections:
    """
    Peak extraction of the ViT centre detector (CenterNet box) from its raw maps, on the host.

    ``heatmap`` 1×C×h×w logits, ``size`` 1×2×h×w (log of box w, h in cells), ``offset`` 1×2×h×w
    logits of the sub-cell centre; ``net_w``×``net_h`` the network input in pixels (stride = net_w
    / w). The same function as ``ViTCenterDetector.decode`` (vitedge_ros/models/vit_detector.py):
    peaks as :func:`_peaks`, ``cx = (x + sigmoid(offset_x)) * stride``, ``w = exp(min(size_w, 8))
    * stride``. Only cells with a score > 0 are returned, sorted by score (the caller thresholds
    and caps them). Boxes in network pixels, float32. Raises EngineError when the maps' shapes
    disagree.
    """
    heat = np.asarray(heatmap, dtype=np.float32)
    sz, off = np.asarray(size, dtype=np.float32), np.asarray(offset, dtype=np.float32)
    _map_shapes_error(heat, (sz, off), 2, 'size and offset')
    h, w = heat.shape[2:]
    stride_x, stride_y = float(net_w) / w, float(net_h) / h
    idx, score, cls = _peaks(heat[0])
    gy, gx = np.divmod(idx, w)
    sz, off = sz[0], off[0]
    ox = 1.0 / (1.0 + np.exp(-off[0].reshape(-1)[idx].astype(np.float64)))
    oy = 1.0 / (1.0 + np.exp(-off[1].reshape(-1)[idx].astype(np.float64)))
    bw = _log_exp(sz[0].reshape(-1)[idx]) * stride_x
    bh = _log_exp(sz[1].reshape(-1)[idx]) * stride_y
    cx, cy = (gx + ox) * stride_x, (gy + oy) * stride_y
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return RawDetections(boxes.astype(np.float32).reshape(-1, 4), score, cls)


def decode_vit_center_ltrb_maps(
    heatmap: np.ndarray, ltrb: np.ndarray, net_w: int, net_h: int
) -> RawDetections:
    """
    Peak extraction of the ViT centre detector with the ltrb (TTFNet) box, on the host.

    ``heatmap`` 1×C×h×w logits, ``ltrb`` 1×4×h×w log distances in cells from each cell centre to
    the box's left, top, right and bottom sides. The same function as ``ViTCenterDetector.decode``
    with ``box='ltrb'``: peaks as :func:`_peaks`, ``x1 = (x + 0.5 - exp(min(l, 8))) * stride``,
    ``y2 = (y + 0.5 + exp(min(b, 8))) * stride`` and so on. Only cells with a score > 0, sorted by
    score. Boxes in network pixels, float32. Raises EngineError when the maps' shapes disagree.
    """
    heat = np.asarray(heatmap, dtype=np.float32)
    dist = np.asarray(ltrb, dtype=np.float32)
    _map_shapes_error(heat, (dist,), 4, 'ltrb')
    h, w = heat.shape[2:]
    stride_x, stride_y = float(net_w) / w, float(net_h) / h
    idx, score, cls = _peaks(heat[0])
    gy, gx = np.divmod(idx, w)
    d = [_log_exp(dist[0, c].reshape(-1)[idx]) for c in range(4)]
    px, py = gx + 0.5, gy + 0.5
    boxes = np.stack(
        [
            (px - d[0]) * stride_x,
            (py - d[1]) * stride_y,
            (px + d[2]) * stride_x,
            (py + d[3]) * stride_y,
        ],
        axis=1,
    )
    return RawDetections(boxes.astype(np.float32).reshape(-1, 4), score, cls)


def decode_vit_center(
    outputs: Dict[str, np.ndarray],
    params: Dict[str, Any],
    net_w: Optional[int] = None,
    net_h: Optional[int] = None,
) -> RawDetections:
    """
    Return the detections of the ViT centre detector, in network pixels.

    With the raw maps among ``outputs`` and the network size given, peaks are extracted on the host
    (:func:`decode_vit_center_maps`); otherwise the rows of the in-graph peak extraction
    (``detections`` 1×K×6: x1, y1, x2, y2, score, class) are used. ``params['peaks']: graph``
    forces the in-graph rows. Raises EngineError on a malformed output.
    """
    on_host = net_w is not None and net_h is not None and params.get('peaks', 'host') != 'graph'
    if on_host and all(k in outputs for k in VIT_CENTER_LTRB_MAPS):
        return decode_vit_center_ltrb_maps(
            outputs['heatmap'], outputs['ltrb'], int(net_w), int(net_h)
        )
    if on_host and all(k in outputs for k in VIT_CENTER_MAPS):
        return decode_vit_center_maps(
            outputs['heatmap'], outputs['size'], outputs['offset'], int(net_w), int(net_h)
        )
    det = np.asarray(_pick(outputs, ('detections',), 0, 'detections'), dtype=np.float32)
    if det.ndim != 3 or det.shape[-1] != 6:
        raise EngineError(
            'vit_center decoder: expected a 1×K×6 output, got shape {}'.format(det.shape)
        )
    det = det[0]
    return RawDetections(det[:, :4].copy(), det[:, 4].copy(), det[:, 5].astype(np.int64))


def decode_detr(
    outputs: Dict[str, np.ndarray], params: Dict[str, Any], net_w: int, net_h: int
) -> RawDetections:
    """Set predictions → best class per query, boxes in network pixels."""
    logits = np.asarray(
        _pick(outputs, ('logits', 'pred_logits', 'scores'), 0, 'logits'), dtype=np.float32
    )
    boxes = np.asarray(_pick(outputs, ('boxes', 'pred_boxes'), 1, 'boxes'), dtype=np.float32)
    if (
        logits.ndim != 3
        or boxes.ndim != 3
        or boxes.shape[-1] != 4
        or logits.shape[1] != boxes.shape[1]
    ):
        raise EngineError(
            'detr decoder: expected logits 1×Q×C and boxes 1×Q×4, got {} and {}'.format(
                logits.shape, boxes.shape
            )
        )
    logits, boxes = logits[0], boxes[0]
    if params.get('activation', 'softmax') == 'softmax':
        prob = softmax(logits)
        if params.get('no_object_class', True):
            prob = prob[:, :-1]
    else:
        prob = sigmoid(logits)
    classes = prob.argmax(axis=1)
    scores = prob[np.arange(prob.shape[0]), classes]
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    if params.get('normalized', True):
        cx, w = cx * net_w, w * net_w
        cy, h = cy * net_h, h * net_h
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return RawDetections(xyxy, scores.astype(np.float32), classes.astype(np.int64))


def filter_detections(
    raw: RawDetections,
    score_threshold: float,
    class_ids: Optional[List[int]],
    nms_iou: Optional[float],
    max_detections: int,
) -> RawDetections:
    """
    Apply the score threshold, the class filter, class-wise NMS and the top-k cut.

    NMS runs when ``nms_iou`` is set; at most ``max_detections`` are kept.
    """
    from .nms import batched_nms

    keep = raw.scores >= score_threshold
    if class_ids is not None:
        keep &= np.isin(raw.classes, np.asarray(class_ids, dtype=np.int64))
    boxes, scores, classes = raw.boxes[keep], raw.scores[keep], raw.classes[keep]
    if nms_iou is not None and boxes.shape[0] > 1:
        idx = batched_nms(boxes, scores, classes, nms_iou)
    else:
        idx = np.argsort(-scores, kind='stable')
    idx = idx[:max_detections]
    return RawDetections(boxes[idx], scores[idx], classes[idx])


def check_decoder_params(decoder: Dict[str, Any], num_labels: int) -> None:
    """Validate the decoder's parameters at bundle load time."""
    for key in ('score_threshold', 'nms_iou'):
        v = decoder.get(key)
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0
        ):
            raise BundleError(
                'bundle.yaml: decoder.{}: expected a number in [0, 1], got {!r}'.format(key, v)
            )
    for key in ('max_detections', 'top_k'):
        v = decoder.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise BundleError(
                'bundle.yaml: decoder.{}: expected a positive integer, got {!r}'.format(key, v)
            )
    peaks = decoder.get('peaks')
    if peaks is not None and peaks not in ('host', 'graph'):
        raise BundleError(
            "bundle.yaml: decoder.peaks: expected 'host' or 'graph', got {!r}".format(peaks)
        )
    act = decoder.get('activation')
    if act is not None and act not in ('softmax', 'sigmoid', 'none'):
        raise BundleError(
            'bundle.yaml: decoder.activation: expected softmax, sigmoid or none, got {!r}'.format(
                act
            )
        )
    if num_labels <= 0:
        raise BundleError('bundle.yaml: labels: empty')
    own_check = DECODER_PARAM_CHECKS.get(decoder.get('type'))
    if own_check is not None:
        own_check(decoder, num_labels)


#: A decoder type's own parameter check, after the common ones of :func:`check_decoder_params`.
DECODER_PARAM_CHECKS: Dict[str, Callable[[Dict[str, Any], int], None]] = {
    'segmenter': check_segmenter_params
}

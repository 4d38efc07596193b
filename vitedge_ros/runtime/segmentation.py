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
Segmentation decoder (``segmenter``).

Network logits → label map in input-image pixels, plus helpers.

The network outputs class logits ``1×C×h×w`` at its map resolution (stride ``W/w`` of the network
input, 4 for the shipped model). The decoder folds the inverse letterbox and the upsampling into
**one** affine
resampling: for every input-image pixel centre ``u + 0.5`` the network coordinate is
``(u + 0.5)·scale + pad`` and the map coordinate ``x_net·w/W − 0.5`` (the pixel-centre convention
of ``torch.nn.functional.interpolate(..., align_corners=False)`` used in training). The padding is
never resampled, so nothing has to be cropped.

``upsample``:

- ``linear`` (default): bilinear resampling of the logits (all classes, one ``cv2.warpAffine``) and
  the argmax per pixel, at the resolution the network saw the image at (the letterboxed content,
  e.g. 320×240 for a 640×480 frame), then a nearest-neighbour copy to input-image pixels. This is
  the interpolation training optimised; resampling C float maps at full frame size and taking the
  argmax there would cost about 15× more on the host for boundaries that move by less than one
  network pixel.
- ``nearest``: the argmax at map resolution, then a nearest-neighbour resampling of the uint8 label
  map: cheapest (one uint8 channel), blocky boundaries (one map cell = ``stride / scale`` input
  pixels).

Why not the argmax in the graph: the ONNX output would be a label map at map resolution, which only
the ``nearest`` path can use, and TensorRT's ArgMax (TopK) on a small map saves little; keeping
logits keeps parity checks continuous and lets the host choose. See docs/SEGMENTATION.md for
measured costs.
"""

import math
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np

from .errors import BundleError, EngineError
from .preprocess import Transform

UPSAMPLE_MODES = ('linear', 'nearest')
#: nearest-neighbour resize with pixel-centre alignment (OpenCV >= 4.1.2), else the classic one
_NEAREST_EXACT = getattr(cv2, 'INTER_NEAREST_EXACT', cv2.INTER_NEAREST)
#: Default side of the centre region (fraction of the image width and height) of the landing-zone
#: check.
CENTER_FRACTION = 0.3


def _logits_hwc(outputs: Dict[str, np.ndarray], num_classes: int) -> np.ndarray:
    names = ('logits', 'output', 'out')
    logits = None
    for n in names:
        if n in outputs:
            logits = outputs[n]
            break
    if logits is None:
        if not outputs:
            raise EngineError('segmenter decoder: the model has no outputs')
        logits = next(iter(outputs.values()))
    arr = np.asarray(logits)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[0] != num_classes:
        raise EngineError(
            'segmenter decoder: expected logits 1×{}×h×w (one map per label), got shape {}'.format(
                num_classes, np.asarray(logits).shape
            )
        )
    return np.ascontiguousarray(arr.transpose(1, 2, 0), dtype=np.float32)


def map_affine(tf: Transform, net_size: Tuple[int, int], map_size: Tuple[int, int]) -> np.ndarray:
    """
    2×3 matrix taking input-image pixel indices to map coordinates (for ``WARP_INVERSE_MAP``).

    ``net_size`` and ``map_size`` are (width, height) of the network input and of the logits.
    """
    kx = map_size[0] / float(net_size[0])
    ky = map_size[1] / float(net_size[1])
    ax, ay = tf.scale_x * kx, tf.scale_y * ky
    bx = (0.5 * tf.scale_x + tf.pad_x) * kx - 0.5
    by = (0.5 * tf.scale_y + tf.pad_y) * ky - 0.5
    return np.array([[ax, 0.0, bx], [0.0, ay, by]], dtype=np.float64)


def _warp(src: np.ndarray, m: np.ndarray, size: Tuple[int, int], interp: int) -> np.ndarray:
    flags = interp | cv2.WARP_INVERSE_MAP
    if src.ndim == 3 and src.shape[2] > 4:
        try:
            return cv2.warpAffine(src, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        except cv2.error:  # pragma: no cover - builds that resample at most 4 channels per call
            pass
        parts = [
            cv2.warpAffine(
                np.ascontiguousarray(src[:, :, i:i + 4]),
                m,
                size,
                flags=flags,
                borderMode=cv2.BORDER_REPLICATE,
            )
            for i in range(0, src.shape[2], 4)
        ]
        parts = [p[:, :, None] if p.ndim == 2 else p for p in parts]
        return np.concatenate(parts, axis=2)
    return cv2.warpAffine(src, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def logits_to_labels(
    logits_hwc: np.ndarray, tf: Transform, net_size: Tuple[int, int], upsample: str = 'linear'
) -> np.ndarray:
    """
    Return the label map (H×W uint8 class ids) in input-image pixels.

    ``logits_hwc`` is h×w×C at the model's map resolution.
    """
    if upsample not in UPSAMPLE_MODES:
        raise BundleError(
            'segmenter decoder: upsample must be one of {}, got {!r}'.format(
                ', '.join(UPSAMPLE_MODES), upsample
            )
        )
    h, w = logits_hwc.shape[:2]
    size = (int(tf.image_width), int(tf.image_height))
    if upsample == 'nearest':
        small = logits_hwc.argmax(axis=2).astype(np.uint8)
        return _warp(small, map_affine(tf, net_size, (w, h)), size, cv2.INTER_NEAREST)
    # work at the resolution the network saw the content at (never above the frame's own)
    work = (
        min(size[0], max(1, int(math.ceil(size[0] * tf.scale_x)))),
        min(size[1], max(1, int(math.ceil(size[1] * tf.scale_y)))),
    )
    wtf = Transform(
        tf.scale_x * size[0] / work[0],
        tf.scale_y * size[1] / work[1],
        tf.pad_x,
        tf.pad_y,
        work[0],
        work[1],
    )
    up = _warp(logits_hwc, map_affine(wtf, net_size, (w, h)), work, cv2.INTER_LINEAR)
    if up.ndim == 2:  # a single class
        return np.zeros((size[1], size[0]), dtype=np.uint8)
    labels = up.argmax(axis=2).astype(np.uint8)
    if work != size:
        labels = cv2.resize(labels, size, interpolation=_NEAREST_EXACT)
    return labels


def decode_segmenter(
    outputs: Dict[str, np.ndarray],
    params: Dict[str, Any],
    tf: Transform,
    net_size: Tuple[int, int],
    num_classes: int,
) -> np.ndarray:
    """Decode one frame's engine outputs to an H×W uint8 label map in input-image pixels."""
    return logits_to_labels(
        _logits_hwc(outputs, num_classes), tf, net_size, str(params.get('upsample', 'linear'))
    )


def check_segmenter_params(decoder: Dict[str, Any], num_labels: int) -> None:
    """Validate the ``segmenter`` decoder's parameters at bundle load time."""
    up = decoder.get('upsample', 'linear')
    if up not in UPSAMPLE_MODES:
        raise BundleError(
            'bundle.yaml: decoder.upsample: expected one of {}, got {!r}'.format(
                ', '.join(UPSAMPLE_MODES), up
            )
        )
    if num_labels > 255:
        raise BundleError(
            'bundle.yaml: labels: a segmenter publishes uint8 class ids, so at most 255 labels '
            '(got {})'.format(num_labels)
        )
    cf = decoder.get('center_fraction')
    if cf is not None and (
        isinstance(cf, bool) or not isinstance(cf, (int, float)) or not 0.0 < cf <= 1.0
    ):
        raise BundleError(
            'bundle.yaml: decoder.center_fraction: expected a number in (0, 1], got {!r}'.format(
                cf
            )
        )


def center_box(
    width: int, height: int, fraction: float = CENTER_FRACTION
) -> Tuple[int, int, int, int]:
    """
    Return ``(x0, y0, x1, y1)`` of the centred region.

    The region covers ``fraction`` of the width and of the height.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError('center fraction must be in (0, 1], got {!r}'.format(fraction))
    cw = max(1, int(round(width * fraction)))
    ch = max(1, int(round(height * fraction)))
    x0 = (width - cw) // 2
    y0 = (height - ch) // 2
    return (x0, y0, x0 + cw, y0 + ch)


def center_fractions(
    labels: np.ndarray, num_classes: int, fraction: float = CENTER_FRACTION
) -> List[float]:
    """
    Return the fraction of each class among the pixels of the centre region (sums to 1).

    This is the landing-zone check.
    """
    h, w = labels.shape[:2]
    x0, y0, x1, y1 = center_box(w, h, fraction)
    region = labels[y0:y1, x0:x1].reshape(-1)
    counts = np.bincount(region.astype(np.int64), minlength=num_classes)[:num_classes]
    total = float(region.size)
    return [float(c) / total for c in counts]

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
Frame preprocessing (resize, colour order, normalisation, NCHW) and the inverse box transform.

The host side of the bundle contract (ARCHITECTURE.md, ``input`` of bundle.yaml): one resize and
one uint8 HWC -> float32 NCHW pass; normalisation here for ``pixels: normalized`` bundles, in the
graph for ``raw``.
"""

import threading
from typing import NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .bundle import InputSpec
from .errors import FrameError

LETTERBOX_PAD = 114  # grey padding, as most detectors are trained with


class Transform(NamedTuple):
    """Maps network-input pixels back to input-image pixels: x_img = (x_net - pad_x) / scale_x."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    image_width: int
    image_height: int

    def boxes_to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Map N×4 xyxy boxes from network pixels to input-image pixels, clipped to the image."""
        out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy()
        out[:, 0::2] = (out[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (out[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, float(self.image_width), out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, float(self.image_height), out=out[:, 1::2])
        return out


def check_frame(image: np.ndarray) -> np.ndarray:
    """
    Check a frame without converting it.

    H×W, H×W×1, H×W×3 or H×W×4 uint8 (any strides); returns it.

    Raises :class:`FrameError` naming the problem (not an array, empty, not uint8, wrong shape or
    channels).
    """
    if not isinstance(image, np.ndarray):
        raise FrameError('frame must be a numpy array, got {}'.format(type(image).__name__))
    if image.size == 0:
        raise FrameError('frame is empty (shape {})'.format(image.shape))
    if image.dtype != np.uint8:
        raise FrameError(
            'frame dtype must be uint8, got {} '
            '(scale 16-bit or float images to 8 bit first)'.format(image.dtype)
        )
    if image.ndim not in (2, 3):
        raise FrameError('frame must be H×W or H×W×C, got shape {}'.format(image.shape))
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise FrameError('frame must have 1, 3 or 4 channels, got {}'.format(image.shape[2]))
    return image


def as_bgr(image: np.ndarray) -> np.ndarray:
    """
    Check a frame and return it as a contiguous H×W×3 uint8 BGR array.

    Accepts H×W and H×W×1 grey, H×W×3 BGR and H×W×4 BGRA; anything else raises :class:`FrameError`.
    """
    check_frame(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(
            np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1])), cv2.COLOR_GRAY2BGR
        )
    if image.shape[2] == 3:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)


FRAME_ORDERS = ('bgr', 'rgb')


def _cv_ready(image: np.ndarray) -> np.ndarray:
    """
    ``image`` as OpenCV can take it without a hidden copy.

    Rows may be padded (ROS ``step``), pixels not.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    ok = (
        image.strides[-1] == 1
        and (image.ndim == 2 or image.strides[1] == image.shape[2])
        and image.strides[0] >= image.strides[1] * image.shape[1]
    )
    return image if ok else np.ascontiguousarray(image)


class Preprocessor:
    """
    Turns a uint8 frame into the 1×3×H×W float32 network input of an :class:`InputSpec`.

    One resize (``spec.interpolation``) of the frame as it is (grey, 3 or 4 channels, rows padded
    or not), then the uint8 HWC -> float32 NCHW conversion straight into the output (``cv2.split``
    into reused planes, one cast per plane), picking the channels in the order the graph takes (the
    channel swap costs nothing there). ``pixels: raw`` bundles stop there (0..255; the graph
    normalises); ``normalized`` ones then get ``x * a + b`` per channel in place (the arithmetic of
    every bundle before raw pixels existed, bit for bit). Letterbox padding is written as pad
    strips only. Thread-safe when each caller passes its own ``out`` (or
    none: a new array per call); the work planes are per thread.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        mean = np.asarray(spec.mean, dtype=np.float32)
        std = np.asarray(spec.std, dtype=np.float32)
        # x_net = (x/255 - mean) / std = x * a + b, per channel in network colour order
        self._a = (1.0 / (255.0 * std)).reshape(3, 1, 1).astype(np.float32)
        self._b = (-mean / std).reshape(3, 1, 1).astype(np.float32)
        pad = np.full((3, 1, 1), LETTERBOX_PAD, np.float32)
        if not spec.raw:
            pad *= self._a
            pad += self._b
        self._pad = pad.reshape(3)
        self.input_order = spec.input_order
        self._local = threading.local()  # the uint8 planes of _split, reused per thread

    def geometry(self, width: int, height: int) -> Tuple[Tuple[int, int], Transform]:
        """Resized size (w, h) and transform for a frame of the given size."""
        spec = self.spec
        if spec.resize == 'stretch':
            sx, sy = spec.width / float(width), spec.height / float(height)
            return (spec.width, spec.height), Transform(sx, sy, 0.0, 0.0, width, height)
        scale = min(spec.width / float(width), spec.height / float(height))
        new_w = max(1, min(spec.width, int(round(width * scale))))
        new_h = max(1, min(spec.height, int(round(height * scale))))
        pad_x = (spec.width - new_w) // 2
        pad_y = (spec.height - new_h) // 2
        return (new_w, new_h), Transform(
            new_w / float(width), new_h / float(height), float(pad_x), float(pad_y), width, height
        )

    def interpolation(self, src_w: int, new_w: int) -> int:
        """
        Return the cv2 flag for resizing a frame of width ``src_w`` to ``new_w``.

        The rule follows ``spec.interpolation``. Enlarging: INTER_LINEAR. Shrinking: ``area`` ->
        INTER_AREA; ``linear`` -> INTER_LINEAR down to half size and INTER_AREA below it, where
        bilinear taps skip whole pixels and alias (measured on 1280×960 -> 448×336: lower person
        precision; docs/EVALUATION.md, "Resize: measured, not assumed").
        """
        if new_w >= src_w:
            return cv2.INTER_LINEAR
        if self.spec.interpolation == 'linear' and 2 * new_w >= src_w:
            return cv2.INTER_LINEAR
        return cv2.INTER_AREA

    def resize(self, image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
        """
        Return ``image`` (any channel count) resized to ``size`` (w, h).

        The bundle's interpolation (:meth:`interpolation`) is used; an image already of that size
        is returned as is.
        """
        h, w = image.shape[:2]
        if (w, h) == tuple(size):
            return image
        return cv2.resize(image, tuple(size), interpolation=self.interpolation(w, size[0]))

    def letterbox(self, image: np.ndarray) -> Tuple[np.ndarray, Transform]:
        """
        Resize (and pad) a BGR frame to the network size, in the model's colour order.

        Returns the H×W×3 uint8 image in ``color`` order and its transform: the image the model is
        trained on (:mod:`vitedge_ros.training`), with the same resize as :meth:`__call__`.
        """
        bgr = as_bgr(image)
        h, w = bgr.shape[:2]
        (new_w, new_h), tf = self.geometry(w, h)
        spec = self.spec
        resized = self.resize(bgr, (new_w, new_h))
        if (new_w, new_h) != (spec.width, spec.height):
            canvas = np.full((spec.height, spec.width, 3), LETTERBOX_PAD, dtype=np.uint8)
            px, py = int(tf.pad_x), int(tf.pad_y)
            canvas[py:py + new_h, px:px + new_w] = resized
            resized = canvas
        if spec.color == 'rgb':
            resized = resized[:, :, ::-1]
        return resized, tf

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """
        Return the 1×3×H×W float32 input, normalised as the model was trained, of an H×W×3 image.

        ``image`` is uint8, in the model's colour order, at the network size.
        """
        chw = image.transpose(2, 0, 1).astype(np.float32)
        chw *= self._a
        chw += self._b
        return chw[None]

    def _split(self, image: np.ndarray) -> Tuple[np.ndarray, ...]:
        """
        Return the channels of an H×W×C uint8 image as C contiguous planes.

        The planes live in buffers reused per thread and size.

        ``cv2.split`` deinterleaves with SIMD into the given planes: with the contiguous casts
        after it, the uint8 HWC -> float32 NCHW conversion measured about 3x faster than one
        strided ``np.copyto`` of the transposed view at 448×336, and it allocates nothing per
        frame.
        """
        key = image.shape
        planes = getattr(self._local, 'planes', None)
        if planes is None or planes[0].shape + (len(planes),) != key:
            planes = [np.empty(key[:2], np.uint8) for _ in range(key[2])]
            self._local.planes = planes
        return tuple(cv2.split(image, planes))

    def __call__(
        self,
        image: np.ndarray,
        order: str = 'bgr',
        out: Optional[np.ndarray] = None,
        source_size: Optional[Tuple[int, int]] = None,
    ) -> Tuple[np.ndarray, Transform]:
        """
        Preprocess one frame; returns (1×3×H×W float32 tensor, transform back to the frame).

        ``image``: uint8 H×W (grey), H×W×1, H×W×3 or H×W×4 (alpha last), channels in ``order``
        (``bgr``: OpenCV, ``bgr8``; ``rgb``: ``rgb8``/``rgba8`` messages); rows may be padded (a
        view of a ROS message with ``step`` > width × channels), nothing is copied before the
        resize. ``out``: a C-contiguous 1×3×H×W float32 array to write into (reused across frames
        by :class:`Pipeline`); default a new one. ``source_size``: (w, h) of the frame ``image``
        was decoded from when it was decoded smaller (JPEG DCT scaling,
        ``cv2.IMREAD_REDUCED_COLOR_2``): the letterbox and the transform are those of the full
        frame, so boxes come back in its pixels. Raises :class:`FrameError` for a bad frame or
        ``order``.
        """
        check_frame(image)
        if order not in FRAME_ORDERS:
            raise FrameError("frame channel order must be 'bgr' or 'rgb', got {!r}".format(order))
        spec = self.spec
        h, w = image.shape[:2]
        if source_size is not None:
            w, h = int(source_size[0]), int(source_size[1])
        (new_w, new_h), tf = self.geometry(w, h)
        resized = self.resize(_cv_ready(image), (new_w, new_h))
        if resized.ndim == 3 and resized.shape[2] == 1:
            resized = resized[:, :, 0]
        if out is None:
            out = np.empty((1, 3, spec.height, spec.width), np.float32)
        elif (
            out.shape != (1, 3, spec.height, spec.width)
            or out.dtype != np.float32
            or not out.flags.c_contiguous
        ):
            raise ValueError(
                'out must be a C-contiguous 1×3×{}×{} float32 array, got {} {}'.format(
                    spec.height, spec.width, out.shape, out.dtype
                )
            )
        px, py = int(tf.pad_x), int(tf.pad_y)
        region = out[0, :, py:py + new_h, px:px + new_w]
        if resized.ndim == 2:  # grey: the same plane in every channel
            planes = (resized,) * 3
        else:
            planes = self._split(resized)
            planes = planes[:3] if self.input_order == order else planes[2::-1]
        for c in range(
            3
        ):  # each uint8 plane cast once into its float32 plane (the channel pick is free here)
            np.copyto(region[c], planes[c], casting='unsafe')
        if not spec.raw:
            region *= self._a
            region += self._b
        if (new_w, new_h) != (spec.width, spec.height):
            pad = self._pad.reshape(3, 1, 1)
            out[0, :, :py, :] = pad
            out[0, :, py + new_h:, :] = pad
            out[0, :, py:py + new_h, :px] = pad
            out[0, :, py:py + new_h, px + new_w:] = pad
        return out, tf

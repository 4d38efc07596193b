"""Frame preprocessing (resize, colour order, normalisation, NCHW) and the inverse box transform."""
from typing import NamedTuple, Tuple

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


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Check a frame and return it as a contiguous H×W×3 uint8 BGR array.

    Accepts H×W and H×W×1 grey, H×W×3 BGR and H×W×4 BGRA; anything else raises :class:`FrameError`.
    """
    if not isinstance(image, np.ndarray):
        raise FrameError('frame must be a numpy array, got {}'.format(type(image).__name__))
    if image.size == 0:
        raise FrameError('frame is empty (shape {})'.format(image.shape))
    if image.dtype != np.uint8:
        raise FrameError('frame dtype must be uint8, got {} (scale 16-bit or float images to 8 bit first)'
                         .format(image.dtype))
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1])),
                            cv2.COLOR_GRAY2BGR)
    if image.ndim != 3:
        raise FrameError('frame must be H×W or H×W×C, got shape {}'.format(image.shape))
    if image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR)
    raise FrameError('frame must have 1, 3 or 4 channels, got {}'.format(image.shape[2]))


class Preprocessor:
    """Turns a BGR uint8 frame into the 1×3×H×W float32 network input of an :class:`InputSpec`."""

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        mean = np.asarray(spec.mean, dtype=np.float32)
        std = np.asarray(spec.std, dtype=np.float32)
        # x_net = (x/255 - mean) / std = x * a + b, per channel in network colour order
        self._a = (1.0 / (255.0 * std)).reshape(3, 1, 1).astype(np.float32)
        self._b = (-mean / std).reshape(3, 1, 1).astype(np.float32)

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
        return (new_w, new_h), Transform(new_w / float(width), new_h / float(height),
                                         float(pad_x), float(pad_y), width, height)

    def letterbox(self, image: np.ndarray) -> Tuple[np.ndarray, Transform]:
        """Resize (and pad) a frame to the network size: H×W×3 uint8 in the network's colour order."""
        bgr = as_bgr(image)
        h, w = bgr.shape[:2]
        (new_w, new_h), tf = self.geometry(w, h)
        spec = self.spec
        if (new_w, new_h) != (w, h):
            interp = cv2.INTER_AREA if new_w < w else cv2.INTER_LINEAR
            resized = cv2.resize(bgr, (new_w, new_h), interpolation=interp)
        else:
            resized = bgr
        if (new_w, new_h) != (spec.width, spec.height):
            canvas = np.full((spec.height, spec.width, 3), LETTERBOX_PAD, dtype=np.uint8)
            px, py = int(tf.pad_x), int(tf.pad_y)
            canvas[py:py + new_h, px:px + new_w] = resized
            resized = canvas
        if spec.color == 'rgb':
            resized = resized[:, :, ::-1]
        return resized, tf

    def normalize(self, image: np.ndarray) -> np.ndarray:
        """H×W×3 uint8 (network colour order, network size) → 1×3×H×W float32."""
        chw = image.transpose(2, 0, 1).astype(np.float32)
        chw *= self._a
        chw += self._b
        return chw[None]

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, Transform]:
        """Preprocess one frame; returns (1×3×H×W float32 tensor, transform back to the frame)."""
        resized, tf = self.letterbox(image)
        return self.normalize(resized), tf

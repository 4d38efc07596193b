"""Conversion between ROS image messages and OpenCV BGR arrays, without ROS.

Every function here is duck-typed: it works on rclpy messages (``data`` is an ``array.array`` or
``bytes``), on rosbags dataclass messages (``data`` is a numpy ``uint8`` array) and on any object
with the same attribute names. No rclpy or cv_bridge import.

Public API (stable; used by the node and by ``tools/eval_bag.py``):

``image_msg_to_bgr(msg, mono16_shift=None) -> np.ndarray``
    sensor_msgs/Image -> contiguous ``uint8`` ``H x W x 3`` BGR.
``compressed_msg_to_bgr(msg) -> np.ndarray``
    sensor_msgs/CompressedImage (jpeg/png) -> ``uint8`` ``H x W x 3`` BGR.
``check_image_layout(msg) -> ImageLayout``
    validates encoding, step and payload size without converting.
``bgr_to_image_fields(img, encoding='bgr8') -> dict``
    fields (height, width, encoding, is_bigendian, step, data as ``bytes``) of a sensor_msgs/Image.
``ImageConversionError(ValueError)``
    ``.encoding`` and ``.reason`` (one of ``REASONS``); the message names both.
``SUPPORTED_ENCODINGS``
    the encodings ``image_msg_to_bgr`` accepts.
"""
from typing import Dict, NamedTuple, Optional, Tuple

import cv2
import numpy as np

__all__ = [
    'ImageConversionError', 'ImageLayout', 'SUPPORTED_ENCODINGS', 'REASONS', 'bgr_to_image_fields',
    'check_image_layout', 'compressed_msg_to_bgr', 'image_msg_to_bgr', 'payload_bytes',
]

#: Short reason keys carried by ImageConversionError (used as counters in diagnostics).
REASONS = ('unsupported_encoding', 'truncated', 'bad_step', 'empty', 'bad_size', 'decode_failed')


class ImageConversionError(ValueError):
    """A frame that cannot be converted; the message names the encoding and the problem."""

    def __init__(self, encoding: str, reason: str, detail: str):
        self.encoding = str(encoding)
        self.reason = reason
        self.detail = detail
        super().__init__('image encoding {!r}: {}'.format(self.encoding, detail))


class _Enc(NamedTuple):
    channels: int
    depth_bytes: int   # bytes per channel sample
    kind: str          # 'bgr', 'rgb', 'bgra', 'rgba', 'mono', 'uyvy', 'yuyv', 'bayer_XXXX'


# Encoding table (names as in sensor_msgs/image_encodings.hpp; aliases as cv_bridge treats them:
# 8UC1 = mono8, 8UC3 = bgr8, 8UC4 = bgra8, 16UC1 = mono16, 16UC3 = bgr16, 16UC4 = bgra16).
_ENCODINGS: Dict[str, _Enc] = {
    'bgr8': _Enc(3, 1, 'bgr'), 'rgb8': _Enc(3, 1, 'rgb'),
    'bgra8': _Enc(4, 1, 'bgra'), 'rgba8': _Enc(4, 1, 'rgba'),
    'mono8': _Enc(1, 1, 'mono'), 'mono16': _Enc(1, 2, 'mono'),
    'bgr16': _Enc(3, 2, 'bgr'), 'rgb16': _Enc(3, 2, 'rgb'),
    'bgra16': _Enc(4, 2, 'bgra'), 'rgba16': _Enc(4, 2, 'rgba'),
    '8uc1': _Enc(1, 1, 'mono'), '8uc3': _Enc(3, 1, 'bgr'), '8uc4': _Enc(4, 1, 'bgra'),
    '16uc1': _Enc(1, 2, 'mono'), '16uc3': _Enc(3, 2, 'bgr'), '16uc4': _Enc(4, 2, 'bgra'),
    # yuv422 is UYVY (U0 Y0 V0 Y1), yuv422_yuy2 is YUYV (Y0 U0 Y1 V0); 2 bytes per pixel.
    'yuv422': _Enc(2, 1, 'uyvy'), 'uyvy': _Enc(2, 1, 'uyvy'),
    'yuv422_yuy2': _Enc(2, 1, 'yuyv'), 'yuyv': _Enc(2, 1, 'yuyv'),
}
for _pattern in ('rggb', 'bggr', 'gbrg', 'grbg'):
    _ENCODINGS['bayer_{}8'.format(_pattern)] = _Enc(1, 1, 'bayer_' + _pattern)
    _ENCODINGS['bayer_{}16'.format(_pattern)] = _Enc(1, 2, 'bayer_' + _pattern)

#: Encodings accepted by image_msg_to_bgr (lower case; matching is case-insensitive).
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(sorted(_ENCODINGS))


def _calibrate_bayer_codes() -> Dict[str, int]:
    """Map each ROS Bayer pattern to the OpenCV code that demosaics it (checked, not assumed).

    OpenCV names Bayer codes after the second row of the pattern and some releases renamed them, so
    the code for each pattern is chosen by demosaicing a small mosaic of a known colour.
    """
    candidates = [cv2.COLOR_BayerBG2BGR, cv2.COLOR_BayerGB2BGR, cv2.COLOR_BayerRG2BGR,
                  cv2.COLOR_BayerGR2BGR]
    value = {'r': 200, 'g': 100, 'b': 30}
    expected = np.array([value['b'], value['g'], value['r']], dtype=np.int32)
    codes = {}
    for pattern in ('rggb', 'bggr', 'gbrg', 'grbg'):
        mosaic = np.zeros((8, 8), np.uint8)
        for idx, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            mosaic[dy::2, dx::2] = value[pattern[idx]]
        best = None
        for code in candidates:
            pixel = cv2.cvtColor(mosaic, code)[4, 4].astype(np.int32)
            err = int(np.abs(pixel - expected).sum())
            if best is None or err < best[0]:
                best = (err, code)
        codes[pattern] = best[1]
    return codes


_BAYER_CODES = _calibrate_bayer_codes()


class ImageLayout(NamedTuple):
    """Validated memory layout of a sensor_msgs/Image."""

    encoding: str        # normalised (lower case) encoding
    height: int
    width: int
    step: int
    row_bytes: int       # width * bytes per pixel (<= step)
    channels: int
    depth_bytes: int
    big_endian: bool


def payload_bytes(data) -> np.ndarray:
    """Return ``data`` (bytes, bytearray, memoryview, array.array, list or numpy array) as flat uint8."""
    if isinstance(data, np.ndarray):
        arr = data if data.dtype == np.uint8 else np.ascontiguousarray(data).view(np.uint8)
        return arr.reshape(-1)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        return np.asarray(bytearray(data), dtype=np.uint8)


def check_image_layout(msg) -> ImageLayout:
    """Validate encoding, size, ``step`` and payload length of an Image message (no conversion).

    Raises:
        ImageConversionError: unsupported encoding, empty image, ``step < width * bytes_per_pixel``,
            odd width for a YUV 4:2:2 encoding, or a payload shorter than ``step * height``.

    """
    encoding = str(getattr(msg, 'encoding', ''))
    spec = _ENCODINGS.get(encoding.strip().lower())
    if spec is None:
        raise ImageConversionError(encoding, 'unsupported_encoding',
                                   'unsupported encoding (supported: {})'.format(
                                       ', '.join(SUPPORTED_ENCODINGS)))
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(encoding, 'empty', 'empty image ({}x{})'.format(width, height))
    row_bytes = width * spec.channels * spec.depth_bytes
    if step < row_bytes:
        raise ImageConversionError(
            encoding, 'bad_step', 'step {} is smaller than width x bytes per pixel = {} x {} = {}'.format(
                step, width, spec.channels * spec.depth_bytes, row_bytes))
    if spec.kind in ('uyvy', 'yuyv') and width % 2:
        raise ImageConversionError(encoding, 'bad_size', 'YUV 4:2:2 needs an even width, got {}'.format(width))
    size = len(payload_bytes(msg.data))
    if size < step * height:
        raise ImageConversionError(
            encoding, 'truncated', 'payload of {} bytes is shorter than step x height = {} x {} = {}'.format(
                size, step, height, step * height))
    return ImageLayout(encoding.strip().lower(), height, width, step, row_bytes, spec.channels,
                       spec.depth_bytes, bool(getattr(msg, 'is_bigendian', 0)))


def _to_8bit(values: np.ndarray, shift: Optional[int]) -> np.ndarray:
    """Scale 16-bit samples to 8 bit by a right shift.

    With ``shift=None`` the shift follows the significant bits of the frame: data whose maximum fits
    in 8 bits is kept, 10/12/14-bit sensors are shifted by 2/4/6 and full 16-bit data by 8.
    """
    if shift is None:
        peak = int(values.max()) if values.size else 0
        shift = max(0, int(peak).bit_length() - 8)
    return (values >> np.uint16(shift)).astype(np.uint8) if shift else values.astype(np.uint8)


def image_msg_to_bgr(msg, mono16_shift: Optional[int] = None) -> np.ndarray:
    """Convert a sensor_msgs/Image (any object with its fields) to a ``uint8`` ``H x W x 3`` BGR array.

    Honours ``step`` (row padding is dropped) and ``is_bigendian`` (16-bit encodings). 16-bit data
    is scaled to 8 bit by ``mono16_shift`` bits (``None``: by the frame's significant bits, see
    ``_to_8bit``). Bayer encodings are demosaiced with OpenCV; ``yuv422`` is UYVY and
    ``yuv422_yuy2`` is YUYV. The result never aliases the message buffer.

    Raises:
        ImageConversionError: see ``check_image_layout``.

    """
    lay = check_image_layout(msg)
    spec = _ENCODINGS[lay.encoding]
    buf = payload_bytes(msg.data)[:lay.step * lay.height]
    rows = buf.reshape(lay.height, lay.step)[:, :lay.row_bytes]
    if spec.depth_bytes == 2:
        dtype = np.dtype('>u2') if lay.big_endian else np.dtype('<u2')
        samples = np.ascontiguousarray(rows).view(dtype).astype(np.uint16)
        pixels = _to_8bit(samples, mono16_shift).reshape(lay.height, lay.width, spec.channels)
    else:
        pixels = rows.reshape(lay.height, lay.width, spec.channels)
    kind = spec.kind
    if kind == 'bgr':
        return np.array(pixels, dtype=np.uint8, order='C', copy=True)
    if kind == 'rgb':
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if kind == 'bgra':
        return np.ascontiguousarray(pixels[:, :, :3])
    if kind == 'rgba':
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    if kind == 'mono':
        return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), cv2.COLOR_GRAY2BGR)
    if kind == 'uyvy':
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2BGR_UYVY)
    if kind == 'yuyv':
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2BGR_YUYV)
    # Bayer: kind == 'bayer_<pattern>'
    return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), _BAYER_CODES[kind[6:]])


def compressed_msg_to_bgr(msg) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png) to a ``uint8`` ``H x W x 3`` BGR array.

    ``format`` may be ``jpeg``, ``png`` or the image_transport form ``"bgr8; jpeg compressed bgr8"``.
    ``compressedDepth`` payloads are rejected.

    Raises:
        ImageConversionError: unsupported format, empty payload or undecodable data.

    """
    fmt = str(getattr(msg, 'format', ''))
    low = fmt.lower()
    if 'compresseddepth' in low:
        raise ImageConversionError(fmt, 'unsupported_encoding', 'compressedDepth images are not supported')
    buf = payload_bytes(msg.data)
    if buf.size == 0:
        raise ImageConversionError(fmt, 'empty', 'empty compressed payload')
    img = cv2.imdecode(np.ascontiguousarray(buf), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageConversionError(fmt, 'decode_failed',
                                   'could not decode {} bytes as jpeg/png'.format(buf.size))
    if img.dtype != np.uint8:
        img = _to_8bit(img.astype(np.uint16), None)
    return img


def bgr_to_image_fields(img: np.ndarray, encoding: str = 'bgr8') -> Dict[str, object]:
    """Fields of a sensor_msgs/Image holding ``img`` (``uint8`` BGR ``H x W x 3`` or gray ``H x W``).

    ``encoding`` is ``bgr8``, ``rgb8`` or ``mono8``. Returns a dict with ``height``, ``width``,
    ``encoding``, ``is_bigendian`` (0), ``step`` and ``data`` (``bytes``). rclpy callers wrap
    ``data`` in ``array.array('B', data)`` for speed; rosbags callers use
    ``np.frombuffer(data, np.uint8)``.
    """
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError('bgr_to_image_fields needs a uint8 image, got {}'.format(img.dtype))
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    gray = img.ndim == 2
    if not gray and (img.ndim != 3 or img.shape[2] != 3):
        raise ValueError('bgr_to_image_fields needs HxW or HxWx3, got shape {}'.format(img.shape))
    if encoding == 'mono8':
        out = img if gray else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif encoding in ('bgr8', 'rgb8'):
        out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if gray else img
        if encoding == 'rgb8':
            out = out[:, :, ::-1]
    else:
        raise ValueError('bgr_to_image_fields: unsupported output encoding {!r}'.format(encoding))
    out = np.ascontiguousarray(out)
    height, width = out.shape[:2]
    channels = 1 if out.ndim == 2 else out.shape[2]
    return {'height': int(height), 'width': int(width), 'encoding': encoding, 'is_bigendian': 0,
            'step': int(width * channels), 'data': out.tobytes()}

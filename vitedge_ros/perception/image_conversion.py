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
Conversion between ROS image messages and OpenCV BGR arrays, without ROS.

Every function here is duck-typed: it works on rclpy messages (``data`` is an ``array.array`` or
``bytes``), on rosbags dataclass messages (``data`` is a numpy ``uint8`` array) and on any object
with the same attribute names. No rclpy or cv_bridge import.

Public API (stable; used by the node and by ``tools/eval_bag.py``):

``image_msg_to_bgr(msg, mono16_shift=None, scale=None) -> np.ndarray``
    sensor_msgs/Image -> contiguous ``uint8`` ``H x W x 3`` BGR.
``image_msg_to_frame(msg, mono16_shift=None, scale=None) -> Frame``
    sensor_msgs/Image -> ``Frame(pixels, order)`` for the frame path: 8-bit bgr/rgb/bgra/rgba/mono
    are a view of the message (no pass over the pixels; ``step`` padding stays in the strides), the
    rest one pass.
``frame_to_bgr(frame) -> np.ndarray``
    a ``Frame`` as contiguous ``H x W x 3`` BGR (the overlay; drivers that take BGR only).
``FrameDecoder(scale, net_size)``
    ``.image(msg)`` / ``.compressed(msg, full=False)`` -> ``Frame`` for one stream (the node's and
    the replay's frame path: views for 8-bit raw images, reduced JPEG decoding for cameras >= 2x
    the network size).
``compressed_msg_to_bgr(msg, mono16_shift=None, scale=None) -> np.ndarray``
    sensor_msgs/CompressedImage (jpeg/png, 8 or 16 bit) -> ``uint8`` ``H x W x 3`` BGR.
``SixteenBitScale(shift=None)``
    the one 16-bit -> 8-bit scale of a camera (a right shift, from a parameter or fixed by the
    first 16-bit frame and then kept); pass the same object for every frame of a stream.
``check_image_layout(msg) -> ImageLayout``
    validates encoding, step and payload size without converting.
``bgr_to_image_fields(img, encoding='bgr8') -> dict``
    fields (height, width, encoding, is_bigendian, step, data as ``bytes``) of a sensor_msgs/Image.
``ImageConversionError(ValueError)``
    ``.encoding`` and ``.reason`` (one of ``REASONS``); the message names both.
``SUPPORTED_ENCODINGS``
    the encodings ``image_msg_to_bgr`` accepts.
"""

import threading
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from ..runtime.errors import VitedgeError

__all__ = [
    'Frame',
    'FrameDecoder',
    'ImageConversionError',
    'ImageLayout',
    'REASONS',
    'SUPPORTED_ENCODINGS',
    'SixteenBitScale',
    'VIEW_ENCODINGS',
    'auto_shift',
    'bgr_to_image_fields',
    'check_image_layout',
    'compressed_msg_to_bgr',
    'decode_jpeg_reduced',
    'frame_to_bgr',
    'image_msg_to_bgr',
    'image_msg_to_frame',
    'is_sixteen_bit',
    'jpeg_reduction',
    'payload_bytes',
]

#: Short reason keys carried by ImageConversionError (used as counters in diagnostics).
REASONS = ('unsupported_encoding', 'truncated', 'bad_step', 'empty', 'bad_size', 'decode_failed')


class ImageConversionError(VitedgeError, ValueError):
    """A frame that cannot be converted; the message names the encoding and the problem."""

    def __init__(self, encoding: str, reason: str, detail: str):
        self.encoding = str(encoding)
        self.reason = reason
        self.detail = detail
        super().__init__('image encoding {!r}: {}'.format(self.encoding, detail))


class _Enc(NamedTuple):
    channels: int
    depth_bytes: int  # bytes per channel sample
    kind: str  # 'bgr', 'rgb', 'bgra', 'rgba', 'mono', 'uyvy', 'yuyv', 'bayer_XXXX'


# Encoding table (names as in sensor_msgs/image_encodings.hpp; aliases as cv_bridge treats them:
# 8UC1 = mono8, 8UC3 = bgr8, 8UC4 = bgra8, 16UC1 = mono16, 16UC3 = bgr16, 16UC4 = bgra16).
_ENCODINGS: Dict[str, _Enc] = {
    'bgr8': _Enc(3, 1, 'bgr'),
    'rgb8': _Enc(3, 1, 'rgb'),
    'bgra8': _Enc(4, 1, 'bgra'),
    'rgba8': _Enc(4, 1, 'rgba'),
    'mono8': _Enc(1, 1, 'mono'),
    'mono16': _Enc(1, 2, 'mono'),
    'bgr16': _Enc(3, 2, 'bgr'),
    'rgb16': _Enc(3, 2, 'rgb'),
    'bgra16': _Enc(4, 2, 'bgra'),
    'rgba16': _Enc(4, 2, 'rgba'),
    '8uc1': _Enc(1, 1, 'mono'),
    '8uc3': _Enc(3, 1, 'bgr'),
    '8uc4': _Enc(4, 1, 'bgra'),
    '16uc1': _Enc(1, 2, 'mono'),
    '16uc3': _Enc(3, 2, 'bgr'),
    '16uc4': _Enc(4, 2, 'bgra'),
    # yuv422 is UYVY (U0 Y0 V0 Y1), yuv422_yuy2 is YUYV (Y0 U0 Y1 V0); 2 bytes per pixel.
    'yuv422': _Enc(2, 1, 'uyvy'),
    'uyvy': _Enc(2, 1, 'uyvy'),
    'yuv422_yuy2': _Enc(2, 1, 'yuyv'),
    'yuyv': _Enc(2, 1, 'yuyv'),
}
for _pattern in ('rggb', 'bggr', 'gbrg', 'grbg'):
    _ENCODINGS['bayer_{}8'.format(_pattern)] = _Enc(1, 1, 'bayer_' + _pattern)
    _ENCODINGS['bayer_{}16'.format(_pattern)] = _Enc(1, 2, 'bayer_' + _pattern)

#: Encodings accepted by image_msg_to_bgr (lower case; matching is case-insensitive).
SUPPORTED_ENCODINGS: Tuple[str, ...] = tuple(sorted(_ENCODINGS))
#: Encodings image_msg_to_frame returns as a view of the message (no pass over the pixels).
VIEW_ENCODINGS: Tuple[str, ...] = tuple(
    sorted(
        k
        for k, v in _ENCODINGS.items()
        if v.depth_bytes == 1 and v.kind in ('bgr', 'rgb', 'bgra', 'rgba', 'mono')
    )
)


def is_sixteen_bit(encoding: str) -> bool:
    """Return True for a supported encoding with 16-bit samples (mono16, 16UC1, ..., bayer_*16)."""
    spec = _ENCODINGS.get(str(encoding).strip().lower())
    return spec is not None and spec.depth_bytes == 2


def _calibrate_bayer_codes() -> Dict[str, int]:
    """
    Map each ROS Bayer pattern to the OpenCV code that demosaics it (checked, not assumed).

    OpenCV names Bayer codes after the second row of the pattern and some releases renamed them, so
    the code for each pattern is chosen by demosaicing a small mosaic of a known colour.
    """
    candidates = [
        cv2.COLOR_BayerBG2BGR,
        cv2.COLOR_BayerGB2BGR,
        cv2.COLOR_BayerRG2BGR,
        cv2.COLOR_BayerGR2BGR,
    ]
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

    encoding: str  # normalised (lower case) encoding
    height: int
    width: int
    step: int
    row_bytes: int  # width * bytes per pixel (<= step)
    channels: int
    depth_bytes: int
    big_endian: bool


def payload_bytes(data) -> np.ndarray:
    """
    Return ``data`` as a flat uint8 array.

    ``data``: bytes, bytearray, memoryview, array.array, list or numpy array.
    """
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
    """
    Validate encoding, size, ``step`` and payload length of an Image message (no conversion).

    Raises
    ------
        ImageConversionError: unsupported encoding, empty image, ``step < width *
            bytes_per_pixel``, odd width for a YUV 4:2:2 encoding, or a payload shorter than ``step
            * height``.

    """
    encoding = str(getattr(msg, 'encoding', ''))
    spec = _ENCODINGS.get(encoding.strip().lower())
    if spec is None:
        raise ImageConversionError(
            encoding,
            'unsupported_encoding',
            'unsupported encoding (supported: {})'.format(', '.join(SUPPORTED_ENCODINGS)),
        )
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(encoding, 'empty', 'empty image ({}x{})'.format(width, height))
    row_bytes = width * spec.channels * spec.depth_bytes
    if step < row_bytes:
        raise ImageConversionError(
            encoding,
            'bad_step',
            'step {} is smaller than width x bytes per pixel = {} x {} = {}'.format(
                step, width, spec.channels * spec.depth_bytes, row_bytes
            ),
        )
    if spec.kind in ('uyvy', 'yuyv') and width % 2:
        raise ImageConversionError(
            encoding, 'bad_size', 'YUV 4:2:2 needs an even width, got {}'.format(width)
        )
    size = len(payload_bytes(msg.data))
    if size < step * height:
        raise ImageConversionError(
            encoding,
            'truncated',
            'payload of {} bytes is shorter than step x height = {} x {} = {}'.format(
                size, step, height, step * height
            ),
        )
    return ImageLayout(
        encoding.strip().lower(),
        height,
        width,
        step,
        row_bytes,
        spec.channels,
        spec.depth_bytes,
        bool(getattr(msg, 'is_bigendian', 0)),
    )


def auto_shift(values: np.ndarray) -> int:
    """
    Right shift (0-8) that brings 16-bit ``values`` to 8 bit, from their peak.

    The significant bits of the peak, rounded up to an even count (camera ADCs are 10, 12, 14 or 16
    bit, so a frame whose peak has 11 significant bits is taken as 12-bit data), minus 8: data
    whose peak fits in 8 bits is not shifted, 10/12/14-bit data by 2/4/6, full 16-bit data by 8.
    """
    peak = int(values.max()) if values.size else 0
    bits = int(peak).bit_length()
    bits += bits % 2
    return min(8, max(0, bits - 8))


def _shift_to_8bit(values: np.ndarray, shift: int) -> np.ndarray:
    """16-bit samples >> ``shift``, saturated at 255 (never wrapped)."""
    out = values >> np.uint16(shift) if shift else values
    return np.minimum(out, 255).astype(np.uint8)


class SixteenBitScale:
    """
    The one 16-bit -> 8-bit scale of a camera: a right shift by ``shift`` bits (0-8).

    The same shift applies to every frame.

    ``shift=None`` (auto) fixes the shift from the first 16-bit frame with a value above 255
    (``auto_shift`` of that frame) and keeps it for every frame after it, so a raw value maps to
    the same 8-bit value in every frame of the camera. Frames before it (all values <= 255, e.g.
    the black frames a camera sends while it starts) pass unshifted: a black frame does not fix a
    shift of 0 for a 12-bit camera. Values above the range saturate at 255. Thread-safe. The raw
    ``Image`` and the ``CompressedImage`` (16-bit PNG) paths use it alike. ``on_fix(shift, peak)``
    is called once when auto fixes the shift.

    Raises
    ------
        ValueError: ``shift`` outside [0, 8].

    """

    def __init__(
        self, shift: Optional[int] = None, on_fix: Optional[Callable[[int, int], None]] = None
    ):
        if shift is not None and not 0 <= int(shift) <= 8:
            raise ValueError(
                '16-bit to 8-bit shift must be in [0, 8] (or None: from the first frame), got '
                '{}'.format(shift)
            )
        self._shift = None if shift is None else int(shift)
        self.auto = shift is None
        self._on_fix = on_fix
        self._lock = threading.Lock()

    @property
    def shift(self) -> Optional[int]:
        """
        Return the shift in use (bits).

        None while auto has seen no 16-bit value above 255 yet (frames pass as is).
        """
        return self._shift

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """``uint16`` samples (any shape) -> ``uint8`` samples of the same shape."""
        shift = self._shift
        if shift is None:
            peak = int(values.max()) if values.size else 0
            if peak <= 255:
                return values.astype(np.uint8)
            fixed_now = False
            with self._lock:
                if self._shift is None:
                    self._shift = auto_shift(values)
                    fixed_now = True
                shift = self._shift
            if fixed_now and self._on_fix is not None:
                self._on_fix(shift, peak)
        return _shift_to_8bit(values, shift)


def _scale_of(mono16_shift: Optional[int], scale: Optional[SixteenBitScale]) -> SixteenBitScale:
    return scale if scale is not None else SixteenBitScale(mono16_shift)


class Frame(NamedTuple):
    """
    A frame as the frame path takes it (``Pipeline(pixels, order, source_size)``).

    ``pixels``: ``uint8`` ``H x W`` (grey), ``H x W x 3`` or ``H x W x 4`` (alpha last), possibly a
    view of a message buffer with padded rows; ``order``: ``'bgr'`` or ``'rgb'``, the order of the
    colour channels; ``source_size``: (w, h) of the camera frame when ``pixels`` was decoded
    smaller (reduced JPEG decoding), else None.
    """

    pixels: np.ndarray
    order: str
    source_size: Optional[Tuple[int, int]] = None


def _message_pixels(
    msg, mono16_shift: Optional[int], scale: Optional[SixteenBitScale]
) -> Tuple[np.ndarray, _Enc]:
    """
    Return the message payload as ``H x W x C`` samples.

    8-bit: a view with ``step`` in its strides.
    """
    lay = check_image_layout(msg)
    spec = _ENCODINGS[lay.encoding]
    buf = payload_bytes(msg.data)[: lay.step * lay.height]
    rows = buf.reshape(lay.height, lay.step)[:, : lay.row_bytes]
    if spec.depth_bytes == 2:
        dtype = np.dtype('>u2') if lay.big_endian else np.dtype('<u2')
        samples = np.ascontiguousarray(rows).view(dtype).astype(np.uint16)
        pixels = _scale_of(mono16_shift, scale)(samples).reshape(
            lay.height, lay.width, spec.channels
        )
    else:
        pixels = rows.reshape(lay.height, lay.width, spec.channels)
    return pixels, spec


def _convert_other(pixels: np.ndarray, kind: str) -> np.ndarray:
    """YUV 4:2:2 and Bayer samples -> contiguous BGR (one OpenCV pass)."""
    if kind == 'uyvy':
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2BGR_UYVY)
    if kind == 'yuyv':
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_YUV2BGR_YUYV)
    # Bayer: kind == 'bayer_<pattern>'
    return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), _BAYER_CODES[kind[6:]])


def image_msg_to_frame(
    msg, mono16_shift: Optional[int] = None, scale: Optional[SixteenBitScale] = None
) -> Frame:
    """
    Return a sensor_msgs/Image as a :class:`Frame`, with at most one pass over its pixels.

    8-bit ``bgr8``, ``rgb8``, ``bgra8``, ``rgba8``, ``mono8`` (and the 8UC aliases) are returned as
    a **view** of the message payload: no copy, no channel swap (``order`` says ``rgb``), no alpha
    drop and no removal of the ``step`` padding (it stays in the row stride; OpenCV's resize reads
    such rows as they are). The view is valid while the message lives and must not be written to.
    16-bit encodings take one pass (the ``scale`` shift to 8 bit), YUV and Bayer one OpenCV
    conversion to BGR. Raises ImageConversionError (see ``check_image_layout``).
    """
    pixels, spec = _message_pixels(msg, mono16_shift, scale)
    kind = spec.kind
    if kind in ('bgr', 'bgra'):
        return Frame(pixels, 'bgr')
    if kind in ('rgb', 'rgba'):
        return Frame(pixels, 'rgb')
    if kind == 'mono':
        return Frame(pixels[:, :, 0], 'bgr')
    return Frame(_convert_other(pixels, kind), 'bgr')


def frame_to_bgr(frame: Frame) -> np.ndarray:
    """
    Return a :class:`Frame` as a new contiguous ``uint8`` ``H x W x 3`` BGR array.

    A plain BGR/grey/BGRA array is accepted too.
    """
    pixels, order = (
        (frame.pixels, frame.order) if isinstance(frame, Frame) else (np.asarray(frame), 'bgr')
    )
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_GRAY2BGR)
    if order == 'rgb':
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.array(pixels[:, :, :3], dtype=np.uint8, order='C', copy=True)


def image_msg_to_bgr(
    msg, mono16_shift: Optional[int] = None, scale: Optional[SixteenBitScale] = None
) -> np.ndarray:
    """
    Convert a sensor_msgs/Image to a ``uint8`` ``H x W x 3`` BGR array.

    Any object with the message's fields will do.
    Honours ``step`` (row padding is dropped) and ``is_bigendian`` (16-bit encodings). 16-bit data
    is scaled to 8 bit by ``scale`` (a camera's ``SixteenBitScale``: give the same one for every
    frame of a stream) or, without it, by ``mono16_shift`` bits (``None``: from this one frame,
    ``auto_shift``). Bayer encodings are demosaiced with OpenCV; ``yuv422`` is UYVY and
    ``yuv422_yuy2`` is YUYV. The result never aliases the message buffer. One pass over the pixels
    for every encoding (the frame path uses :func:`image_msg_to_frame`, which makes none for 8-bit
    BGR/RGB/mono).

    Raises
    ------
        ImageConversionError: see ``check_image_layout``.

    """
    pixels, spec = _message_pixels(msg, mono16_shift, scale)
    kind = spec.kind
    if kind == 'bgr' and spec.depth_bytes == 2:
        return pixels  # already a new contiguous array (the 16-bit shift was the one pass)
    if kind in ('bgr', 'bgra', 'rgb', 'rgba', 'mono'):
        return frame_to_bgr(Frame(pixels, 'rgb' if kind in ('rgb', 'rgba') else 'bgr'))
    return _convert_other(pixels, kind)


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_JPEG_SOI = b'\xff\xd8\xff'
_REDUCED_FLAGS = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def jpeg_reduction(width: int, height: int, net_width: int, net_height: int) -> int:
    """
    Largest libjpeg DCT scale-down (1, 2, 4 or 8) that keeps a frame at least the network size.

    So the frame path's resize still only shrinks (1: decode at full size).

    The resize study (docs/EVALUATION.md, "Resize: measured, not assumed"; figures in
    docs/reports/resize_study.md) measured the factor 2 on 1280x960 frames for a 448x336 network.
    """
    r = 1
    for k in (2, 4, 8):
        if width >= k * net_width and height >= k * net_height:
            r = k
    return r


def decode_jpeg_reduced(msg, reduce: int) -> Optional[np.ndarray]:
    """
    Return a CompressedImage's JPEG payload decoded at 1/``reduce`` size, BGR uint8.

    ``cv2.IMREAD_REDUCED_COLOR_*``: libjpeg scales in the DCT, so the decoder does less work. None
    when the payload is not JPEG (PNG is never reduced: its 16-bit path needs the full samples) or
    does not decode.
    """
    buf = payload_bytes(getattr(msg, 'data', b''))
    if reduce not in _REDUCED_FLAGS or buf[:3].tobytes() != _JPEG_SOI:
        return None
    return cv2.imdecode(np.ascontiguousarray(buf), _REDUCED_FLAGS[reduce])


def compressed_msg_to_bgr(
    msg, mono16_shift: Optional[int] = None, scale: Optional[SixteenBitScale] = None
) -> np.ndarray:
    """
    Decode a sensor_msgs/CompressedImage (jpeg or png) to a ``uint8`` ``H x W x 3`` BGR array.

    ``format`` may be ``jpeg``, ``png`` or the image_transport form ``"bgr8; jpeg compressed
    bgr8"``. PNG payloads are decoded at their own bit depth (``cv2.IMREAD_UNCHANGED``): a 16-bit
    PNG (``mono16; png compressed``, ``16UC1; png compressed``, ``bgr16``/``rgb16`` ones, or a
    plain ``png`` holding 16-bit samples) is brought to 8 bit by the same ``scale`` /
    ``mono16_shift`` rule as the raw ``mono16`` path of ``image_msg_to_bgr``, so both give the same
    image for the same pixels. Colour PNGs hold BGR order (compressed_image_transport encodes
    16-bit colour as ``bgr16``, ros-perception/image_transport_plugins compressed_publisher.cpp);
    an alpha channel is dropped. ``compressedDepth`` payloads are rejected.

    Raises
    ------
        ImageConversionError: unsupported format, empty payload or undecodable data.

    """
    fmt = str(getattr(msg, 'format', ''))
    low = fmt.lower()
    if 'compresseddepth' in low:
        raise ImageConversionError(
            fmt, 'unsupported_encoding', 'compressedDepth images are not supported'
        )
    buf = payload_bytes(msg.data)
    if buf.size == 0:
        raise ImageConversionError(fmt, 'empty', 'empty compressed payload')
    png = buf[: len(_PNG_SIGNATURE)].tobytes() == _PNG_SIGNATURE
    img = cv2.imdecode(
        np.ascontiguousarray(buf), cv2.IMREAD_UNCHANGED if png else cv2.IMREAD_COLOR
    )
    if img is None:
        raise ImageConversionError(
            fmt, 'decode_failed', 'could not decode {} bytes as jpeg/png'.format(buf.size)
        )
    if img.dtype == np.uint16:
        img = _scale_of(mono16_shift, scale)(img)
    elif img.dtype != np.uint8:
        raise ImageConversionError(
            fmt,
            'unsupported_encoding',
            'decoded samples are {}, expected 8 or 16 bit'.format(img.dtype),
        )
    if img.ndim == 2 or img.shape[2] in (1, 2):  # gray (+ alpha)
        gray = img if img.ndim == 2 else img[:, :, 0]
        return cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img[:, :, :3])


def bgr_to_image_fields(img: np.ndarray, encoding: str = 'bgr8') -> Dict[str, object]:
    """
    Fields of a sensor_msgs/Image holding ``img`` (``uint8`` BGR ``H x W x 3`` or gray ``H x W``).

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
    return {
        'height': int(height),
        'width': int(width),
        'encoding': encoding,
        'is_bigendian': 0,
        'step': int(width * channels),
        'data': out.tobytes(),
    }


class FrameDecoder:
    """
    Messages to :class:`Frame` the way the frame path takes them.

    For one camera stream (node and replay alike).

    ``image(msg)``: :func:`image_msg_to_frame` (a view for 8-bit BGR/RGB/mono). ``compressed(msg,
    full=False)``: a JPEG of a camera at least twice ``net_size`` in both directions is decoded at
    1/2 (1/4, 1/8) size (:func:`jpeg_reduction`, the camera size learnt from the last full decode;
    boxes go back to full-frame pixels through ``Frame.source_size``); ``full=True`` (an overlay
    will be drawn on it), PNG and 16-bit payloads, the first frame and any frame whose reduced size
    does not match are decoded at full size. ``scale``: the camera's :class:`SixteenBitScale`.
    ``net_size`` None: never reduce. Not thread-safe: one decoder per stream and worker.
    """

    def __init__(
        self, scale: Optional[SixteenBitScale] = None, net_size: Optional[Tuple[int, int]] = None
    ):
        self.scale = scale if scale is not None else SixteenBitScale()
        self.net_size = net_size
        self.full_size: Optional[Tuple[int, int]] = None
        self.reduce = 1

    def image(self, msg) -> Frame:
        """Return a sensor_msgs/Image as a Frame (see :func:`image_msg_to_frame`)."""
        return image_msg_to_frame(msg, scale=self.scale)

    def compressed(self, msg, full: bool = False) -> Frame:
        """
        Return a sensor_msgs/CompressedImage as a BGR Frame.

        Reduced where the camera allows (see the class).
        """
        if not full and self.reduce > 1 and self.full_size is not None:
            r = self.reduce
            w, h = self.full_size
            img = decode_jpeg_reduced(msg, r)
            if img is not None and img.shape[:2] == (-(-h // r), -(-w // r)):
                return Frame(img, 'bgr', (w, h))
        img = compressed_msg_to_bgr(msg, scale=self.scale)
        if self.net_size is not None:
            h, w = img.shape[:2]
            self.full_size = (int(w), int(h))
            self.reduce = jpeg_reduction(w, h, self.net_size[0], self.net_size[1])
        return Frame(img, 'bgr')

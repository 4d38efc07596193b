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

"""Image conversion on real ROS 2 messages built with the rosbags Humble typestore."""

import array

import cv2
import numpy as np
from plain_msgs import message_types
import pytest
from vitedge_ros.ros.image_conversion import (
    bgr_to_image_fields,
    check_image_layout,
    compressed_msg_to_bgr,
    image_msg_to_bgr,
    ImageConversionError,
    SUPPORTED_ENCODINGS,
)

TYPESTORE, T = message_types()
H, W = 6, 8


def _reference_bgr(h=H, w=W):
    """Return a colourful image with distinct values per pixel and channel."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack(
        [(x * 29 + y * 7) % 256, (x * 13 + y * 31 + 50) % 256, (x * 3 + y * 11 + 100) % 256], -1
    )
    return img.astype(np.uint8)


def _image(encoding, rows, step=None, height=None, width=None, big_endian=0, data=None):
    """sensor_msgs/Image from a (h, row_bytes) uint8 array, padding each row to ``step``."""
    rows = np.asarray(rows, np.uint8)
    h, row_bytes = rows.shape
    step = row_bytes if step is None else step
    padded = np.full((h, step), 0xAB, np.uint8)
    padded[:, :row_bytes] = rows
    payload = padded.reshape(-1) if data is None else np.asarray(data, np.uint8)
    header = T.Header(stamp=T.Time(sec=1, nanosec=2), frame_id='camera_optical')
    return T.Image(
        header=header,
        height=h if height is None else height,
        width=(row_bytes if width is None else width),
        encoding=encoding,
        is_bigendian=big_endian,
        step=step,
        data=payload,
    )


def _msg_of(encoding, img_rows, width, **kw):
    msg = _image(encoding, img_rows, width=width, **kw)
    # round trip through CDR: the conversion must work on what a bag reader returns
    raw = TYPESTORE.serialize_cdr(msg, 'sensor_msgs/msg/Image')
    return TYPESTORE.deserialize_cdr(raw, 'sensor_msgs/msg/Image')


def _rows(pixels):
    return pixels.reshape(pixels.shape[0], -1)


@pytest.mark.parametrize('step_pad', [0, 3, 5])
@pytest.mark.parametrize(
    'encoding,make',
    [
        ('bgr8', lambda ref: ref),
        ('8UC3', lambda ref: ref),
        ('rgb8', lambda ref: ref[:, :, ::-1]),
        ('bgra8', lambda ref: np.dstack([ref, np.full(ref.shape[:2], 77, np.uint8)])),
        ('8UC4', lambda ref: np.dstack([ref, np.full(ref.shape[:2], 77, np.uint8)])),
        ('rgba8', lambda ref: np.dstack([ref[:, :, ::-1], np.full(ref.shape[:2], 77, np.uint8)])),
    ],
)
def test_colour_encodings_exact(encoding, make, step_pad):
    ref = _reference_bgr()
    pixels = make(ref)
    msg = _msg_of(encoding, _rows(pixels), W, step=pixels.shape[1] * pixels.shape[2] + step_pad)
    out = image_msg_to_bgr(msg)
    assert out.dtype == np.uint8 and out.shape == (H, W, 3) and out.flags['C_CONTIGUOUS']
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
@pytest.mark.parametrize('step_pad', [0, 1, 7])
def test_mono8(encoding, step_pad):
    gray = _reference_bgr()[:, :, 1]
    msg = _msg_of(encoding, gray, W, step=W + step_pad)
    out = image_msg_to_bgr(msg)
    assert out.shape == (H, W, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('big_endian', [0, 1])
@pytest.mark.parametrize('step_pad', [0, 2, 3])
def test_mono16_endianness_and_step(encoding, big_endian, step_pad):
    values = ((np.arange(H * W).reshape(H, W) * 1361) % 65536).astype(
        np.uint16
    )  # full 16-bit range
    raw = values.astype('>u2' if big_endian else '<u2').view(np.uint8).reshape(H, 2 * W)
    msg = _msg_of(encoding, raw, W, step=2 * W + step_pad, big_endian=big_endian)
    out = image_msg_to_bgr(msg)
    expected = (values >> 8).astype(np.uint8)  # data uses all 16 bits -> shift by 8
    np.testing.assert_array_equal(out[:, :, 0], expected)
    np.testing.assert_array_equal(out[:, :, 2], expected)


def test_mono16_big_endian_differs_from_little_endian_reading():
    values = np.full((H, W), 0x0102, np.uint16)
    raw = values.astype('>u2').view(np.uint8).reshape(H, 2 * W)
    be = image_msg_to_bgr(_msg_of('mono16', raw, W, big_endian=1), mono16_shift=0)
    le = image_msg_to_bgr(_msg_of('mono16', raw, W, big_endian=0), mono16_shift=8)
    assert (
        int(be[0, 0, 0]) == 255
    )  # 0x0102 = 258 unshifted saturates (never wraps to the low byte)
    assert int(le[0, 0, 0]) == 0x02  # read as 0x0201 -> shifted by 8 gives 0x02
    be8 = image_msg_to_bgr(_msg_of('mono16', raw, W, big_endian=1), mono16_shift=8)
    assert int(be8[0, 0, 0]) == 0x01


def test_mono16_12bit_data_is_scaled_by_its_bit_depth():
    values = np.linspace(0, 4095, H * W).astype(np.uint16).reshape(H, W)  # 12-bit sensor
    raw = values.astype('<u2').view(np.uint8).reshape(H, 2 * W)
    out = image_msg_to_bgr(_msg_of('mono16', raw, W))
    np.testing.assert_array_equal(out[:, :, 0], (values >> 4).astype(np.uint8))
    assert out.max() == 255


def test_bgr16_and_rgba16():
    ref = _reference_bgr().astype(np.uint16) * 257  # full 16-bit
    raw = ref.astype('<u2').view(np.uint8).reshape(H, -1)
    np.testing.assert_array_equal(image_msg_to_bgr(_msg_of('bgr16', raw, W)), _reference_bgr())
    rgba = np.dstack([ref[:, :, ::-1], np.full((H, W), 65535, np.uint16)]).astype('>u2')
    out = image_msg_to_bgr(_msg_of('rgba16', rgba.view(np.uint8).reshape(H, -1), W, big_endian=1))
    np.testing.assert_array_equal(out, _reference_bgr())


def _bt601_yuv(bgr):
    """
    Return the per-pixel BT.601 limited-range Y, U (Cb), V (Cr) of a BGR image.

    That is the camera drivers' YUV.
    """
    b, g, r = (bgr[:, :, i].astype(float) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    return np.stack([y, u, v], -1).round().clip(0, 255).astype(np.uint8)


def _yuv_reference(h=H, w=W):
    # smooth colour so that chroma subsampling is nearly lossless
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (40, 120, 200)
    img[:, w // 2:] = (200, 60, 30)
    return img


@pytest.mark.parametrize('encoding,pack', [('yuv422', 'uyvy'), ('yuv422_yuy2', 'yuyv')])
@pytest.mark.parametrize('step_pad', [0, 4])
def test_yuv422(encoding, pack, step_pad):
    ref = _yuv_reference()
    yuv = _bt601_yuv(ref)
    y, u, v = yuv[:, :, 0], yuv[:, :, 1], yuv[:, :, 2]
    packed = np.zeros((H, W * 2), np.uint8)
    u2 = ((u[:, 0::2].astype(int) + u[:, 1::2]) // 2).astype(np.uint8)
    v2 = ((v[:, 0::2].astype(int) + v[:, 1::2]) // 2).astype(np.uint8)
    if pack == 'uyvy':
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            u2,
            y[:, 0::2],
            v2,
            y[:, 1::2],
        )
    else:
        packed[:, 0::4], packed[:, 1::4], packed[:, 2::4], packed[:, 3::4] = (
            y[:, 0::2],
            u2,
            y[:, 1::2],
            v2,
        )
    out = image_msg_to_bgr(_msg_of(encoding, packed, W, step=2 * W + step_pad))
    assert out.shape == (H, W, 3)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 6


def test_yuv422_swapped_packing_gives_wrong_colours():
    """yuv422 (UYVY) and yuv422_yuy2 (YUYV) are not interchangeable."""
    ref = _yuv_reference()
    yuv = _bt601_yuv(ref)
    packed = np.zeros((H, W * 2), np.uint8)
    packed[:, 0::4], packed[:, 1::4] = yuv[:, 0::2, 1], yuv[:, 0::2, 0]
    packed[:, 2::4], packed[:, 3::4] = yuv[:, 0::2, 2], yuv[:, 1::2, 0]
    good = image_msg_to_bgr(_msg_of('yuv422', packed, W))
    bad = image_msg_to_bgr(_msg_of('yuv422_yuy2', packed, W))
    assert np.abs(good.astype(int) - ref).max() <= 6
    assert np.abs(bad.astype(int) - ref).max() > 40


_BAYER_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _mosaic(bgr, pattern):
    channel = {'b': 0, 'g': 1, 'r': 2}
    m = np.zeros(bgr.shape[:2], bgr.dtype)
    for (dy, dx), letter in zip(_BAYER_OFFSETS, pattern):
        m[dy::2, dx::2] = bgr[dy::2, dx::2, channel[letter]]
    return m


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('step_pad', [0, 3])
def test_bayer8_demosaic_recovers_colour(pattern, step_pad):
    h, w = 12, 16
    ref = np.zeros((h, w, 3), np.uint8)
    ref[:] = (30, 140, 220)  # B, G, R
    msg = _msg_of('bayer_{}8'.format(pattern), _mosaic(ref, pattern), w, step=w + step_pad)
    out = image_msg_to_bgr(msg)
    assert out.shape == (h, w, 3)
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(0), (30, 140, 220), atol=2)


@pytest.mark.parametrize('pattern', ['rggb', 'grbg'])
def test_bayer16_big_endian(pattern):
    h, w = 8, 8
    ref = np.zeros((h, w, 3), np.uint16)
    ref[:] = (30 * 256, 140 * 256, 220 * 256)
    raw = _mosaic(ref, pattern).astype('>u2').view(np.uint8).reshape(h, -1)
    out = image_msg_to_bgr(_msg_of('bayer_{}16'.format(pattern), raw, w, big_endian=1))
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(0), (30, 140, 220), atol=2)


def test_every_supported_encoding_converts():
    for enc in SUPPORTED_ENCODINGS:
        probe = _image(
            enc, np.zeros((2, 1), np.uint8), width=2, step=64, data=np.zeros(128, np.uint8)
        )
        out = image_msg_to_bgr(probe)
        assert out.shape == (2, 2, 3), enc


def test_truncated_payload_names_encoding():
    ref = _reference_bgr()
    full = _rows(ref).reshape(-1)
    msg = _image('bgr8', _rows(ref), width=W, data=full[:-1])
    with pytest.raises(ImageConversionError) as err:
        image_msg_to_bgr(msg)
    assert err.value.reason == 'truncated' and err.value.encoding == 'bgr8'
    assert 'bgr8' in str(err.value) and 'shorter than step x height' in str(err.value)


def test_truncated_padding_of_last_row_is_still_an_error():
    """
    A payload short of step x height bytes is an error.

    Even when only the padding of the last row is missing.
    """
    gray = _reference_bgr()[:, :, 0]
    msg = _image('mono8', gray, width=W, step=W + 4)
    msg.data = msg.data[:-2]
    with pytest.raises(ImageConversionError, match='mono8'):
        image_msg_to_bgr(msg)


def test_step_smaller_than_row_is_an_error():
    msg = _image('rgb8', np.zeros((H, 3 * W), np.uint8), width=W)
    msg.step = 3 * W - 1
    with pytest.raises(ImageConversionError) as err:
        image_msg_to_bgr(msg)
    assert err.value.reason == 'bad_step' and 'rgb8' in str(err.value)


def test_unsupported_encoding_named():
    msg = _image('32FC1', np.zeros((H, 4 * W), np.uint8), width=W)
    with pytest.raises(ImageConversionError) as err:
        image_msg_to_bgr(msg)
    assert err.value.reason == 'unsupported_encoding' and '32FC1' in str(err.value)
    assert isinstance(err.value, ValueError)


def test_odd_width_yuv_and_empty_image():
    with pytest.raises(ImageConversionError, match='yuv422'):
        image_msg_to_bgr(_image('yuv422', np.zeros((2, 6), np.uint8), width=3))
    with pytest.raises(ImageConversionError) as err:
        image_msg_to_bgr(_image('bgr8', np.zeros((0, 3), np.uint8), width=1, height=0))
    assert err.value.reason == 'empty'


def test_rclpy_style_payloads():
    """The conversion accepts rclpy's array.array('B') payloads and bytes."""
    ref = _reference_bgr()
    msg = _image('bgr8', _rows(ref), width=W)
    for data in (
        array.array('B', msg.data.tobytes()),
        msg.data.tobytes(),
        bytearray(msg.data.tobytes()),
        list(msg.data.tolist()),
    ):
        msg.data = data
        np.testing.assert_array_equal(image_msg_to_bgr(msg), ref)


def test_output_does_not_alias_message():
    ref = _reference_bgr()
    msg = _image('bgr8', _rows(ref), width=W)
    out = image_msg_to_bgr(msg)
    out[:] = 0
    np.testing.assert_array_equal(image_msg_to_bgr(msg), ref)


def test_check_layout_reports_geometry():
    lay = check_image_layout(
        _image('mono16', np.zeros((H, 2 * W), np.uint8), width=W, step=2 * W + 6)
    )
    assert (lay.height, lay.width, lay.step, lay.row_bytes, lay.channels, lay.depth_bytes) == (
        H,
        W,
        2 * W + 6,
        2 * W,
        1,
        2,
    )


@pytest.mark.parametrize(
    'ext,fmt', [('.png', 'png'), ('.png', 'bgr8; png compressed bgr8'), ('.jpg', 'jpeg')]
)
def test_compressed_image_round_trip(ext, fmt):
    ref = _yuv_reference(32, 32)
    ok, enc = cv2.imencode(ext, ref)
    assert ok
    msg = T.CompressedImage(
        header=T.Header(stamp=T.Time(sec=0, nanosec=0), frame_id='c'),
        format=fmt,
        data=enc.reshape(-1),
    )
    msg = TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    out = compressed_msg_to_bgr(msg)
    assert out.shape == (32, 32, 3)
    err = np.abs(out.astype(int) - ref)
    if ext == '.png':
        assert err.max() == 0
    else:
        assert err.mean() < 4.0


def test_compressed_garbage_and_depth_rejected():
    hdr = T.Header(stamp=T.Time(sec=0, nanosec=0), frame_id='c')
    bad = T.CompressedImage(header=hdr, format='jpeg', data=np.arange(50, dtype=np.uint8))
    with pytest.raises(ImageConversionError) as err:
        compressed_msg_to_bgr(bad)
    assert err.value.reason == 'decode_failed' and 'jpeg' in str(err.value)
    depth = T.CompressedImage(
        header=hdr, format='16UC1; compressedDepth png', data=np.zeros(4, np.uint8)
    )
    with pytest.raises(ImageConversionError, match='compressedDepth'):
        compressed_msg_to_bgr(depth)


@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'mono8'])
def test_bgr_to_image_fields_round_trip(encoding):
    ref = _reference_bgr()
    fields = bgr_to_image_fields(ref, encoding)
    msg = T.Image(
        header=T.Header(stamp=T.Time(sec=0, nanosec=0), frame_id='c'),
        **dict(fields, data=np.frombuffer(fields['data'], np.uint8)),
    )
    msg = TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    out = image_msg_to_bgr(msg)
    if encoding == 'mono8':
        np.testing.assert_array_equal(out[:, :, 0], cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY))
    else:
        np.testing.assert_array_equal(out, ref)
    with pytest.raises(ValueError):
        bgr_to_image_fields(ref.astype(np.float32))


# --------------------------------------------------------- issue 16: at most one pass over a frame
@pytest.mark.parametrize(
    'encoding, channels, order',
    [
        ('bgr8', 3, 'bgr'),
        ('rgb8', 3, 'rgb'),
        ('bgra8', 4, 'bgr'),
        ('rgba8', 4, 'rgb'),
        ('mono8', 1, 'bgr'),
        ('8UC3', 3, 'bgr'),
    ],
)
@pytest.mark.parametrize('pad', [0, 13])
def test_eight_bit_frames_are_views_of_the_message(encoding, channels, order, pad):
    from vitedge_ros.ros.image_conversion import (
        Frame,
        frame_to_bgr,
        image_msg_to_frame,
        VIEW_ENCODINGS,
    )

    ref = _reference_bgr()
    if channels == 1:
        pix = cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY)
    else:
        pix = ref[:, :, ::-1] if order == 'rgb' else ref
        if channels == 4:
            pix = np.concatenate([pix, np.full((H, W, 1), 99, np.uint8)], axis=2)
    rows = np.ascontiguousarray(pix).reshape(H, -1)
    msg = _image(encoding, rows, step=rows.shape[1] + pad, width=W)
    frame = image_msg_to_frame(msg)
    assert isinstance(frame, Frame) and frame.order == order and encoding.lower() in VIEW_ENCODINGS
    assert np.shares_memory(
        frame.pixels, msg.data
    )  # no pass over the pixels, step padding included
    assert frame.pixels.shape[:2] == (H, W)
    bgr = frame_to_bgr(frame)
    assert np.array_equal(bgr, image_msg_to_bgr(msg)) and not np.shares_memory(bgr, msg.data)
    if channels != 1:
        assert np.array_equal(bgr, ref)


def test_view_of_an_rclpy_style_array_payload_and_bytes():
    from vitedge_ros.ros.image_conversion import image_msg_to_frame

    ref = _reference_bgr()
    for data in (array.array('B', ref.tobytes()), ref.tobytes()):
        msg = _image('bgr8', ref.reshape(H, -1), width=W)
        msg.data = data
        frame = image_msg_to_frame(msg)
        assert np.array_equal(frame.pixels, ref)
        if isinstance(data, array.array):
            assert np.shares_memory(frame.pixels, np.frombuffer(data, np.uint8))


@pytest.mark.parametrize('encoding', ['mono16', 'bgr16', 'yuv422', 'bayer_rggb8'])
def test_other_encodings_take_one_conversion_to_bgr(encoding):
    from vitedge_ros.ros.image_conversion import image_msg_to_frame

    bpp = {'mono16': 2, 'bgr16': 6, 'yuv422': 2, 'bayer_rggb8': 1}[encoding]
    rows = (np.arange(H * W * bpp) % 200).astype(np.uint8).reshape(H, W * bpp)
    msg = _image(encoding, rows, step=W * bpp + 4, width=W)
    frame = image_msg_to_frame(msg, mono16_shift=0)
    assert frame.order == 'bgr' and not np.shares_memory(frame.pixels, msg.data)
    want = image_msg_to_bgr(msg, mono16_shift=0)
    got = (
        frame.pixels if frame.pixels.ndim == 3 else np.repeat(frame.pixels[:, :, None], 3, axis=2)
    )
    assert np.array_equal(got, want)


def test_jpeg_reduction_rule_and_reduced_decode():
    from vitedge_ros.ros.image_conversion import decode_jpeg_reduced, jpeg_reduction

    assert jpeg_reduction(640, 480, 448, 336) == 1
    assert jpeg_reduction(1280, 960, 448, 336) == 2
    assert jpeg_reduction(1280, 960, 320, 240) == 4
    assert (
        jpeg_reduction(1279, 960, 320, 240) == 2
    )  # both sides must keep at least the network size
    img = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    ok, jpg = cv2.imencode('.jpg', img)
    msg = T.CompressedImage(
        header=T.Header(stamp=T.Time(sec=1, nanosec=0), frame_id='c'),
        format='jpeg',
        data=np.frombuffer(jpg.tobytes(), np.uint8),
    )
    half = decode_jpeg_reduced(msg, 2)
    assert half.shape == (48, 64, 3)
    ok, png = cv2.imencode('.png', img)
    msg.data = np.frombuffer(png.tobytes(), np.uint8)
    assert decode_jpeg_reduced(msg, 2) is None  # PNG is never reduced

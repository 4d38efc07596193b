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
16-bit images: 16-bit PNG CompressedImage scaled like raw mono16.

And one 16->8 bit scale per camera.

Issue 14 items 3 and 4.
"""

import threading

import cv2
import numpy as np
import pytest
from vitedge_ros.ros.image_conversion import (
    auto_shift,
    compressed_msg_to_bgr,
    image_msg_to_bgr,
    is_sixteen_bit,
    SixteenBitScale,
)
from vitedge_ros.ros.rosbags_types import rosbags_types
from vitedge_ros.runtime import FrameResult
from vitedge_ros.runtime.errors import FrameError

TYPESTORE, T = rosbags_types()
H, W = 24, 32


def _header(sec=1):
    return T.Header(stamp=T.Time(sec=sec, nanosec=0), frame_id='cam')


def _raw(encoding, values, sec=1, big_endian=0):
    values = np.asarray(values, dtype=np.uint16)
    h, w = values.shape[:2]
    ch = 1 if values.ndim == 2 else values.shape[2]
    data = values.astype('>u2' if big_endian else '<u2').view(np.uint8).reshape(-1)
    return T.Image(
        header=_header(sec),
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=big_endian,
        step=w * ch * 2,
        data=data,
    )


def _png(fmt, values, sec=1):
    ok, buf = cv2.imencode('.png', np.asarray(values, dtype=np.uint16))
    assert ok
    return T.CompressedImage(header=_header(sec), format=fmt, data=buf.reshape(-1))


def _twelve_bit(seed=0, peak=4095):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, peak + 1, size=(H, W)).astype(np.uint16)
    values[0, 0] = peak
    values[1, 1] = 1000
    return values


# ------------------------------------------------------------------------------------------------
# item 3: PNG
@pytest.mark.parametrize('fmt', ['mono16; png compressed', '16UC1; png compressed', 'png'])
def test_16bit_png_equals_the_raw_mono16_path(fmt):
    values = _twelve_bit()
    raw = image_msg_to_bgr(_raw('mono16', values))
    assert raw.max() == 255 and np.array_equal(raw[:, :, 0], (values >> 4).astype(np.uint8))
    msg = TYPESTORE.deserialize_cdr(
        TYPESTORE.serialize_cdr(_png(fmt, values), 'sensor_msgs/msg/CompressedImage'),
        'sensor_msgs/msg/CompressedImage',
    )
    png = compressed_msg_to_bgr(msg)
    assert png.dtype == np.uint8 and png.shape == (H, W, 3)
    assert png.max() == 255  # not 15 (the low byte dropped)
    np.testing.assert_array_equal(png, raw)
    # the same with an explicit shift and with a shared camera scale
    np.testing.assert_array_equal(
        compressed_msg_to_bgr(msg, mono16_shift=2),
        image_msg_to_bgr(_raw('mono16', values), mono16_shift=2),
    )
    scale = SixteenBitScale()
    np.testing.assert_array_equal(compressed_msg_to_bgr(msg, scale=scale), raw)
    assert scale.shift == 4


@pytest.mark.parametrize(
    'encoding,fmt',
    [
        ('bgr16', 'bgr16; png compressed bgr16'),
        ('rgb16', 'rgb16; png compressed bgr16'),
        ('bgr16', 'png'),
    ],
)
def test_16bit_colour_png_equals_the_raw_path(encoding, fmt):
    bgr = np.stack([_twelve_bit(1), _twelve_bit(2), _twelve_bit(3)], axis=-1)
    raw_px = bgr[:, :, ::-1] if encoding == 'rgb16' else bgr
    raw = image_msg_to_bgr(_raw(encoding, raw_px, big_endian=1))
    assert raw.max() == 255
    # compressed_image_transport encodes 16-bit colour as bgr16 PNG whatever the source order
    png = compressed_msg_to_bgr(_png(fmt, bgr))
    np.testing.assert_array_equal(png, raw)
    np.testing.assert_array_equal(png, (bgr >> 4).astype(np.uint8))


def test_16bit_png_with_alpha_and_8bit_png_unchanged():
    bgra = np.dstack(
        [_twelve_bit(4), _twelve_bit(5), _twelve_bit(6), np.full((H, W), 4095, np.uint16)]
    )
    out = compressed_msg_to_bgr(_png('bgra16; png compressed bgra16', bgra))
    np.testing.assert_array_equal(out, (bgra[:, :, :3] >> 4).astype(np.uint8))
    eight = (np.arange(H * W * 3) % 256).astype(np.uint8).reshape(H, W, 3)
    ok, buf = cv2.imencode('.png', eight)
    out = compressed_msg_to_bgr(
        T.CompressedImage(header=_header(), format='png', data=buf.reshape(-1)),
        scale=SixteenBitScale(4),
    )
    np.testing.assert_array_equal(out, eight)  # 8-bit data is never shifted
    gray = eight[:, :, 0].copy()
    ok, buf = cv2.imencode('.png', gray)
    out = compressed_msg_to_bgr(
        T.CompressedImage(header=_header(), format='mono8; png compressed', data=buf.reshape(-1))
    )
    np.testing.assert_array_equal(out, np.dstack([gray] * 3))


# ------------------------------------------------------------------------ item 4: one scale/camera
def _two_frames():
    """
    One 12-bit camera: a bright frame (peak 4095) and a dark one (peak 1500).

    Both with raw 1000 at (1, 1).
    """
    return _twelve_bit(7, 4095), _twelve_bit(8, 1500)


@pytest.mark.parametrize('order', [(0, 1), (1, 0)])
def test_raw_value_maps_to_one_8bit_value_in_every_frame(order):
    frames = _two_frames()
    scale = SixteenBitScale()
    outs = [image_msg_to_bgr(_raw('mono16', frames[i]), scale=scale) for i in order]
    assert (
        outs[0][1, 1, 0] == outs[1][1, 1, 0] == 1000 >> 4 == 62
    )  # not 62 in one and 125 in the other
    assert scale.shift == 4
    for i, out in zip(order, outs):
        np.testing.assert_array_equal(out[:, :, 0], (frames[i] >> 4).astype(np.uint8))
    # the raw and the PNG path share the camera's scale
    png = compressed_msg_to_bgr(_png('mono16; png compressed', frames[1]), scale=scale)
    assert png[1, 1, 0] == 62


def test_explicit_shift_saturates_instead_of_wrapping():
    values = np.array([[0, 1000, 1023, 1024, 4095, 65535]], dtype=np.uint16)
    out = image_msg_to_bgr(_raw('mono16', values), scale=SixteenBitScale(2))[:, :, 0]
    assert out.tolist() == [[0, 250, 255, 255, 255, 255]]
    dark_first = SixteenBitScale()
    image_msg_to_bgr(_raw('mono16', np.array([[0, 300]], dtype=np.uint16)), scale=dark_first)
    assert dark_first.shift == 2  # 9 bits -> a 10-bit camera
    later = image_msg_to_bgr(
        _raw('mono16', np.array([[1000, 4095]], dtype=np.uint16)), scale=dark_first
    )
    assert later[0, :, 0].tolist() == [250, 255]
    with pytest.raises(ValueError, match=r'\[0, 8\]'):
        SixteenBitScale(9)
    # black start-up frames do not fix a shift of 0 for a 12-bit camera
    scale = SixteenBitScale()
    black = image_msg_to_bgr(_raw('mono16', np.zeros((4, 4), np.uint16)), scale=scale)
    assert not black.any() and scale.shift is None
    frame = _twelve_bit(9)
    out = image_msg_to_bgr(_raw('mono16', frame), scale=scale)
    assert scale.shift == 4 and out[1, 1, 0] == 62


def test_auto_shift_rule():
    assert [
        auto_shift(np.array([v], np.uint16))
        for v in (0, 255, 256, 1023, 1500, 4095, 16383, 40000, 65535)
    ] == [0, 0, 2, 2, 4, 4, 6, 8, 8]
    assert is_sixteen_bit('mono16') and is_sixteen_bit('16UC3') and is_sixteen_bit('bayer_rggb16')
    assert (
        not is_sixteen_bit('bgr8')
        and not is_sixteen_bit('bayer_rggb8')
        and not is_sixteen_bit('32FC1')
    )


def test_scale_fixed_once_across_threads():
    scale = SixteenBitScale()
    calls = []
    scale._on_fix = lambda shift, peak: calls.append((shift, peak))
    frames = [_twelve_bit(i, 4095 if i % 2 else 700) for i in range(8)]
    threads = [threading.Thread(target=scale, args=(f,)) for f in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and scale.shift in (2, 4)


class CapturePipeline:
    backend_name = 'capture'
    labels = ['person']

    def __init__(self):
        self.images = []

    def __call__(self, image):
        if image is None or image.ndim != 3 or image.dtype != np.uint8:
            raise FrameError('bad frame')
        self.images.append(image.copy())
        return FrameResult(
            [],
            [],
            {'preprocess': 0.1, 'inference': 0.1, 'postprocess': 0.1, 'total': 0.3},
            (int(image.shape[1]), int(image.shape[0])),
        )


@pytest.mark.parametrize('shift', [-1, 4])
def test_node_core_keeps_one_scale_for_raw_and_compressed(shift):
    from vitedge_ros.ros.core import PerceptionCore, validate_params

    pipe = CapturePipeline()
    logs = []
    core = PerceptionCore(
        pipe,
        validate_params({'mono16_shift': shift}, ['person', 'vehicle', 'obstacle']),
        lambda out: None,
        log=lambda level, text: logs.append((level, text)),
    )
    try:
        bright, dark = _two_frames()
        for msg in (_raw('mono16', dark, 1), _raw('mono16', bright, 2)):
            assert core.on_image(msg)
            core.wait_idle(2.0)
        assert core.on_compressed(_png('mono16; png compressed', dark, 3))
        core.wait_idle(2.0)
    finally:
        core.shutdown()
    assert [int(img[1, 1, 0]) for img in pipe.images] == [62, 62, 62]
    assert core.bit_scale.shift == 4
    fixed = [t for lvl, t in logs if lvl == 'info' and '16-bit' in t]
    assert len(fixed) == (1 if shift == -1 else 0)


def _write_bag(
    path, frames, topic='/cam/image_mono16', compressed_topic='/cam/image_mono16/compressed'
):
    from rosbags.rosbag2 import StoragePlugin, Writer

    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        raw_c = writer.add_connection(topic, 'sensor_msgs/msg/Image', typestore=TYPESTORE)
        png_c = writer.add_connection(
            compressed_topic, 'sensor_msgs/msg/CompressedImage', typestore=TYPESTORE
        )
        for i, values in enumerate(frames):
            t_ns = (100 + i) * 10**9
            writer.write(
                raw_c,
                t_ns,
                TYPESTORE.serialize_cdr(_raw('mono16', values, 100 + i), 'sensor_msgs/msg/Image'),
            )
            writer.write(
                png_c,
                t_ns,
                TYPESTORE.serialize_cdr(
                    _png('16UC1; png compressed', values, 100 + i),
                    'sensor_msgs/msg/CompressedImage',
                ),
            )


def test_eval_bag_replay_keeps_one_scale_and_takes_the_flag(tmp_path):
    from vitedge_ros.replay.cli import build_parser
    from vitedge_ros.replay.driver import replay

    bright, dark = _two_frames()
    bag = tmp_path / 'bag'
    _write_bag(bag, [dark, bright, dark])
    for topic in ('/cam/image_mono16', '/cam/image_mono16/compressed'):
        pipe = CapturePipeline()
        m = replay(bag, None, topic, tmp_path / topic.replace('/', '_'), pipeline=pipe)
        assert [int(img[1, 1, 0]) for img in pipe.images[1:]] == [
            62,
            62,
            62,
        ]  # [0]: the blank warm-up
        assert m['mono16_shift'] == 4 and m['frames_processed'] == 3
    pipe = CapturePipeline()
    m = replay(
        bag, None, '/cam/image_mono16', tmp_path / 'explicit', pipeline=pipe, mono16_shift=2
    )
    assert [int(img[1, 1, 0]) for img in pipe.images[1:]] == [250, 250, 250] and m[
        'mono16_shift'
    ] == 2
    args = build_parser().parse_args(
        ['b', '--bundle', 'd', '--image-topic', 't', '--out', 'o', '--mono16-shift', '4']
    )
    assert args.mono16_shift == 4
    assert (
        build_parser()
        .parse_args(['b', '--bundle', 'd', '--image-topic', 't', '--out', 'o'])
        .mono16_shift
        == -1
    )


def test_eval_bag_cli_refuses_a_bad_shift(tmp_path, capsys):
    from vitedge_ros.replay.cli import main

    bag = tmp_path / 'bag'
    _write_bag(bag, [_twelve_bit()])
    rc = main(
        [
            str(bag),
            '--bundle',
            str(tmp_path / 'none'),
            '--image-topic',
            '/cam/image_mono16',
            '--out',
            str(tmp_path / 'o'),
            '--mono16-shift',
            '9',
            '-q',
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and '--mono16-shift' in err and '[0, 8]' in err

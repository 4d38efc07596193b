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

import numpy as np
import pytest
from vitedge_ros.runtime import FrameError, InputSpec, Pipeline
from vitedge_ros.runtime.nms import batched_nms, box_iou, nms
from vitedge_ros.runtime.preprocess import LETTERBOX_PAD, Preprocessor


def spec(resize='letterbox', color='rgb', w=96, h=64):
    return InputSpec(w, h, color, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), resize)


def test_letterbox_geometry_and_padding():
    pre = Preprocessor(spec())
    img = np.full((100, 100, 3), 255, np.uint8)  # square into 96×64: scale 0.64 → 64×64, pad x 16
    x, tf = pre(img)
    assert x.shape == (1, 3, 64, 96) and x.dtype == np.float32
    assert tf.pad_x == 16 and tf.pad_y == 0
    white = (1.0 - 0.5) / 0.25
    pad = (LETTERBOX_PAD / 255.0 - 0.5) / 0.25
    assert np.allclose(x[0, :, :, 16:80], white, atol=1e-5)
    assert np.allclose(x[0, :, :, :16], pad, atol=1e-5)
    assert np.allclose(x[0, :, :, 80:], pad, atol=1e-5)


def test_inverse_transform_round_trip():
    pre = Preprocessor(spec())
    _, tf = pre(np.zeros((300, 500, 3), np.uint8))
    box_img = np.array([[50, 60, 200, 250]], np.float32)
    box_net = box_img.copy()
    box_net[:, 0::2] = box_net[:, 0::2] * tf.scale_x + tf.pad_x
    box_net[:, 1::2] = box_net[:, 1::2] * tf.scale_y + tf.pad_y
    assert np.allclose(tf.boxes_to_image(box_net), box_img, atol=1e-3)


def test_stretch_maps_corners():
    pre = Preprocessor(spec('stretch'))
    _, tf = pre(np.zeros((128, 48, 3), np.uint8))
    assert np.allclose(tf.boxes_to_image(np.array([[0, 0, 96, 64]])), [[0, 0, 48, 128]])


def test_colour_order_rgb_vs_bgr():
    img = np.zeros((64, 96, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    x_rgb, _ = Preprocessor(spec(color='rgb'))(img)
    x_bgr, _ = Preprocessor(spec(color='bgr'))(img)
    assert x_rgb[0, 0].mean() > 1.5 and x_rgb[0, 2].mean() < -1.5
    assert x_bgr[0, 2].mean() > 1.5 and x_bgr[0, 0].mean() < -1.5


@pytest.mark.parametrize(
    'frame',
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((10, 0), np.uint8),
        np.zeros((8, 8, 2), np.uint8),
        np.zeros((8, 8, 3), np.float32),
        np.zeros((8, 8, 3), np.uint16),
        np.zeros((2, 8, 8, 3), np.uint8),
        [[1, 2], [3, 4]],
    ],
)
def test_bad_frames_raise_clear_errors(tiny_detector_bundle, frame):
    pipe = Pipeline(tiny_detector_bundle, backend='onnxruntime')
    with pytest.raises(FrameError, match='frame'):
        pipe(frame)
    res = pipe(np.zeros((48, 80, 3), np.uint8))  # the next good frame works normally
    assert len(res.detections) > 0


@pytest.mark.parametrize(
    'make',
    [
        lambda rng: rng.integers(0, 255, (61, 83), dtype=np.uint8),  # grey, odd size
        lambda rng: rng.integers(0, 255, (61, 83, 1), dtype=np.uint8),
        lambda rng: rng.integers(0, 255, (61, 83, 4), dtype=np.uint8),  # BGRA
        lambda rng: rng.integers(0, 255, (83, 61, 3), dtype=np.uint8).transpose(
            1, 0, 2
        ),  # non-contiguous
        lambda rng: rng.integers(0, 255, (3, 5, 3), dtype=np.uint8),  # tiny
    ],
)
def test_odd_frames_work(tiny_detector_bundle, make):
    frame = make(np.random.default_rng(0))
    res = Pipeline(tiny_detector_bundle, backend='onnxruntime')(frame)
    h, w = frame.shape[:2]
    assert res.image_size == (w, h)
    for d in res.detections:
        assert 0 <= d.box[0] <= d.box[2] <= w and 0 <= d.box[1] <= d.box[3] <= h


def test_grey_equals_replicated_bgr(tiny_detector_bundle):
    pipe = Pipeline(tiny_detector_bundle, backend='onnxruntime')
    g = np.random.default_rng(1).integers(0, 255, (64, 96), dtype=np.uint8)
    a = pipe(g).detections
    b = pipe(np.repeat(g[:, :, None], 3, axis=2)).detections
    assert [d.box for d in a] == [d.box for d in b]


def test_nms_and_iou():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    assert box_iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(81 / 119, rel=1e-5)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]
    assert sorted(
        batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]), 0.5).tolist()
    ) == [0, 1, 2]


# -------------------------------------------------- issue 16: the frame path at the engine's speed
def _legacy(spec_, image):
    """
    Run the host path every bundle had before raw pixels (main 358a2e5).

    As the benchmark measures it.
    """
    from vitedge_ros.bench.overhead import legacy_preprocess

    return legacy_preprocess(spec_, image)


@pytest.mark.parametrize('color', ['rgb', 'bgr'])
@pytest.mark.parametrize('resize', ['letterbox', 'stretch'])
@pytest.mark.parametrize(
    'shape', [(480, 640, 3), (100, 100, 3), (61, 83), (61, 83, 4), (30, 40, 3)]
)
def test_normalized_bundles_get_exactly_the_old_tensor(color, resize, shape):
    rng = np.random.default_rng(sum(shape))
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    s = spec(resize, color)
    new, tf = Preprocessor(s)(img)
    old = _legacy(s, img)
    assert new.shape == old.shape == (1, 3, 64, 96)
    assert np.array_equal(new, old)  # bit for bit: the same resize, the same float32 arithmetic


def raw(color='rgb', order='bgr', interpolation='area', resize='letterbox'):
    return spec(resize, color)._replace(
        pixels='raw', pixel_order=order, interpolation=interpolation
    )


@pytest.mark.parametrize('order', ['bgr', 'rgb'])
def test_raw_bundles_get_the_resized_pixels_in_their_order(order):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)  # letterboxed to 64×64 at x 16..80
    x, tf = Preprocessor(raw(order=order))(img)
    import cv2

    want = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    if order == 'rgb':
        want = want[:, :, ::-1]
    assert x.dtype == np.float32 and x.shape == (1, 3, 64, 96)
    assert np.array_equal(x[0, :, :, 16:80], want.transpose(2, 0, 1).astype(np.float32))
    assert np.all(x[0, :, :, :16] == LETTERBOX_PAD) and np.all(x[0, :, :, 80:] == LETTERBOX_PAD)
    assert x.max() > 200 and x.min() >= 0  # 0..255, not normalised


def test_frame_order_rgb_equals_bgr_frame():
    rng = np.random.default_rng(4)
    bgr = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    for s in (spec(), spec(color='bgr'), raw(order='bgr'), raw(order='rgb')):
        pre = Preprocessor(s)
        assert np.array_equal(pre(bgr, 'bgr')[0], pre(rgb, 'rgb')[0])
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 7, np.uint8)], axis=2)
        assert np.array_equal(pre(bgr, 'bgr')[0], pre(rgba, 'rgb')[0])


def test_padded_rows_are_read_in_place_and_give_the_same_tensor():
    rng = np.random.default_rng(5)
    padded = rng.integers(
        0, 256, (48, 80 * 3 + 16), dtype=np.uint8
    )  # a ROS Image with step = width*3 + 16
    view = padded[:, :240].reshape(48, 80, 3)
    assert np.shares_memory(view, padded) and not view.flags.c_contiguous
    for s in (spec(), raw(interpolation='linear')):
        pre = Preprocessor(s)
        assert np.array_equal(pre(view)[0], pre(np.ascontiguousarray(view))[0])


def test_out_buffer_is_filled_in_place_and_checked():
    pre = Preprocessor(raw())
    buf = np.full((1, 3, 64, 96), -1.0, np.float32)
    x, _ = pre(np.full((100, 100, 3), 9, np.uint8), out=buf)
    assert x is buf and np.all((buf == 9) | (buf == LETTERBOX_PAD))
    y, _ = pre(
        np.full((64, 96, 3), 200, np.uint8), out=buf
    )  # another geometry: no stale padding left
    assert np.all(y == 200)
    with pytest.raises(ValueError, match='out must be'):
        pre(np.zeros((10, 10, 3), np.uint8), out=np.zeros((1, 3, 64, 95), np.float32))
    a, _ = pre(np.zeros((10, 10, 3), np.uint8))
    b, _ = pre(np.ones((10, 10, 3), np.uint8))
    assert not np.shares_memory(a, b)  # without out, every call gets its own tensor


def test_linear_interpolation_is_the_linear_resize_down_to_half_size():
    import cv2

    img = np.random.default_rng(6).integers(
        0, 256, (96, 144, 3), dtype=np.uint8
    )  # -> 96×64: scale 2/3
    s = raw(order='bgr', interpolation='linear', resize='stretch')
    x, _ = Preprocessor(s)(img)
    want = (
        cv2.resize(img, (96, 64), interpolation=cv2.INTER_LINEAR)
        .transpose(2, 0, 1)
        .astype(np.float32)
    )
    assert np.array_equal(x[0], want)
    area, _ = Preprocessor(s._replace(interpolation='area'))(img)
    assert not np.array_equal(area, x)
    big = np.random.default_rng(7).integers(
        0, 256, (480, 640, 3), dtype=np.uint8
    )  # scale 0.15: area
    y, _ = Preprocessor(s)(big)
    want = (
        cv2.resize(big, (96, 64), interpolation=cv2.INTER_AREA)
        .transpose(2, 0, 1)
        .astype(np.float32)
    )
    assert np.array_equal(y[0], want)
    pre = Preprocessor(s)
    assert (
        pre.interpolation(640, 320) == cv2.INTER_LINEAR
        and pre.interpolation(640, 319) == cv2.INTER_AREA
    )
    assert pre.interpolation(96, 200) == cv2.INTER_LINEAR
    assert Preprocessor(spec()).interpolation(640, 448) == cv2.INTER_AREA


def test_source_size_maps_boxes_to_the_full_frame():
    pre = Preprocessor(spec())
    _full_x, tf_full = pre(np.zeros((200, 300, 3), np.uint8))
    _half_x, tf_half = pre(np.zeros((100, 150, 3), np.uint8), source_size=(300, 200))
    assert tf_half == tf_full
    box = np.array([[10.0, 5.0, 40.0, 30.0]], np.float32)
    assert np.allclose(tf_half.boxes_to_image(box), tf_full.boxes_to_image(box))


def test_bad_order_is_a_frame_error():
    with pytest.raises(FrameError, match='channel order'):
        Preprocessor(spec())(np.zeros((8, 8, 3), np.uint8), order='yuv')


@pytest.mark.parametrize(
    'bad, match',
    [
        ({'pixels': 'float'}, 'input.pixels'),
        ({'pixels': 'raw'}, 'pixel_order'),
        ({'pixels': 'raw', 'pixel_order': 'yuv'}, 'pixel_order'),
        ({'pixel_order': 'bgr'}, 'pixel_order'),
        ({'interpolation': 'cubic'}, 'interpolation'),
    ],
)
def test_bundle_input_keys_are_validated(bad, match):
    from vitedge_ros.runtime import BundleError
    from vitedge_ros.runtime.bundle import parse_input_spec

    raw_input = dict({'width': 96, 'height': 64}, **bad)
    with pytest.raises(BundleError, match=match):
        parse_input_spec(raw_input, 'bundle.yaml: input')


def test_input_spec_yaml_round_trip_keeps_old_bundles_unchanged():
    from vitedge_ros.runtime.bundle import parse_input_spec

    old = spec().to_dict()
    assert set(old) == {
        'width',
        'height',
        'color',
        'mean',
        'std',
        'resize',
    }  # nothing new written for them
    assert parse_input_spec(old) == spec()
    r = raw(interpolation='linear')
    assert r.to_dict()['pixels'] == 'raw' and r.to_dict()['pixel_order'] == 'bgr'
    assert (
        parse_input_spec(r.to_dict()) == r
        and r.input_order == 'bgr'
        and spec().input_order == 'rgb'
    )


def test_raw_twin_bundle_gives_the_same_detections(tiny_detector_bundle, tmp_path):
    """
    The raw-pixel twin of a bundle detects what the original does.

    The twin has the normalisation folded into its graph.
    """
    from vitedge_ros.export.raw_pixels import twin_bundle
    from vitedge_ros.runtime import load_bundle

    twin = twin_bundle(tiny_detector_bundle, tmp_path / 'raw', raw=True, pixel_order='bgr')
    assert (
        twin.input.raw
        and twin.input.pixel_order == 'bgr'
        and load_bundle(twin.path).input == twin.input
    )
    a, b = (
        Pipeline(tiny_detector_bundle, backend='onnxruntime'),
        Pipeline(twin.path, backend='onnxruntime'),
    )
    rng = np.random.default_rng(8)
    for shape in ((64, 96, 3), (120, 160, 3), (61, 83)):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        ra, rb = a(img), b(img)
        assert len(ra.detections) == len(rb.detections) > 0
        for da, db in zip(ra.detections, rb.detections):
            assert da.class_id == db.class_id
            assert abs(da.score - db.score) <= 1e-4 * max(1.0, abs(da.score))
            assert np.allclose(da.box, db.box, atol=1e-3)
    back = twin_bundle(
        twin, tmp_path / 'back', raw=False
    )  # and the normalised twin of a raw bundle
    assert not back.input.raw
    img = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    assert [d.class_id for d in Pipeline(back.path, backend='onnxruntime')(img).detections] == [
        d.class_id for d in a(img).detections
    ]

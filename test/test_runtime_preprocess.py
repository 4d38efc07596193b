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


@pytest.mark.parametrize('frame', [
    np.zeros((0, 0, 3), np.uint8), np.zeros((10, 0), np.uint8), np.zeros((8, 8, 2), np.uint8),
    np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint16), np.zeros((2, 8, 8, 3), np.uint8),
    [[1, 2], [3, 4]],
])
def test_bad_frames_raise_clear_errors(tiny_detector_bundle, frame):
    pipe = Pipeline(tiny_detector_bundle, backend='onnxruntime')
    with pytest.raises(FrameError, match='frame'):
        pipe(frame)
    res = pipe(np.zeros((48, 80, 3), np.uint8))  # the next good frame works normally
    assert len(res.detections) > 0


@pytest.mark.parametrize('make', [
    lambda rng: rng.integers(0, 255, (61, 83), dtype=np.uint8),  # grey, odd size
    lambda rng: rng.integers(0, 255, (61, 83, 1), dtype=np.uint8),
    lambda rng: rng.integers(0, 255, (61, 83, 4), dtype=np.uint8),  # BGRA
    lambda rng: rng.integers(0, 255, (83, 61, 3), dtype=np.uint8).transpose(1, 0, 2),  # non-contiguous
    lambda rng: rng.integers(0, 255, (3, 5, 3), dtype=np.uint8),  # tiny
])
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
    assert sorted(batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]), 0.5).tolist()) == [0, 1, 2]

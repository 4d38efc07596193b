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
from vitedge_ros.runtime.decoders import (
    decode_classifier,
    decode_detr,
    decode_vit_center,
    filter_detections,
)
from vitedge_ros.runtime.errors import EngineError


def test_classifier_softmax_topk():
    p = decode_classifier({'logits': np.array([[0.0, 2.0, 1.0]], np.float32)}, {})
    assert p.argmax() == 1 and p.sum() == pytest.approx(1.0)
    e = np.exp([0.0, 2.0, 1.0])
    assert p[1] == pytest.approx(e[1] / e.sum(), rel=1e-6)


def test_detr_softmax_with_no_object():
    logits = np.array([[[5.0, 0.0, 0.0], [0.0, 0.0, 9.0]]], np.float32)  # 2 classes + no-object
    boxes = np.array([[[0.5, 0.5, 0.2, 0.4], [0.1, 0.1, 0.1, 0.1]]], np.float32)
    raw = decode_detr({'logits': logits, 'boxes': boxes}, {'activation': 'softmax'}, 100, 50)
    assert raw.classes[0] == 0 and raw.scores[0] > 0.98
    assert np.allclose(raw.boxes[0], [40, 15, 60, 35])
    kept = filter_detections(raw, 0.5, None, 0.5, 10)
    assert len(kept.scores) == 1  # the second query is no-object: low class scores


def test_detr_sigmoid_and_class_filter():
    logits = np.array([[[3.0, -3.0], [-3.0, 3.0]]], np.float32)
    boxes = np.array([[[0.5, 0.5, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2]]], np.float32)
    raw = decode_detr(
        {'pred_logits': logits, 'pred_boxes': boxes}, {'activation': 'sigmoid'}, 10, 10
    )
    kept = filter_detections(raw, 0.5, [1], None, 10)
    assert kept.classes.tolist() == [1]


def test_vit_center_rows_and_shape_error():
    rows = np.array([[[1, 2, 3, 4, 0.9, 2], [0, 0, 1, 1, 0.1, 0]]], np.float32)
    raw = decode_vit_center({'detections': rows}, {})
    assert raw.classes.tolist() == [2, 0] and np.allclose(raw.boxes[0], [1, 2, 3, 4])
    with pytest.raises(EngineError, match='1×K×6'):
        decode_vit_center({'detections': np.zeros((1, 5), np.float32)}, {})


def test_filter_threshold_nms_and_cap():
    boxes = np.array(
        [[0, 0, 10, 10], [0, 0, 10, 10.5], [50, 50, 60, 60], [70, 70, 80, 80]], np.float32
    )
    from vitedge_ros.runtime.decoders import RawDetections

    raw = RawDetections(boxes, np.array([0.9, 0.8, 0.7, 0.2], np.float32), np.array([0, 0, 0, 0]))
    out = filter_detections(raw, 0.3, None, 0.5, 10)
    assert out.scores.tolist() == pytest.approx([0.9, 0.7])
    out = filter_detections(raw, 0.0, None, None, 2)
    assert len(out.scores) == 2


def test_max_pool3x3_opencv_path_equals_the_numpy_shifts():
    """
    The cv2.dilate 3×3 max gives exactly what the padded numpy shifts give.

    Issue 16: postprocess per frame.
    """
    from vitedge_ros.runtime import decoders

    rng = np.random.default_rng(11)
    for shape, dtype in (
        ((3, 42, 56), np.float32),
        ((1, 5, 7), np.float64),
        ((6, 9), np.float32),
        ((2, 1, 1), np.float32),
    ):
        x = rng.standard_normal(shape).astype(dtype)
        x.flat[::7] = x.max()  # plateaus: ties must stay ties
        pad = np.pad(
            x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode='constant', constant_values=-np.inf
        )
        h, w = shape[-2:]
        want = np.max(
            np.stack([pad[..., dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]),
            axis=0,
        )
        got = decoders.max_pool3x3(x)
        assert got.dtype == x.dtype and np.array_equal(got, want)

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
Runtime segmenter decoder.

Label maps in input-image pixels (letterbox inverse), helpers, validation.
"""

import numpy as np
import pytest
from vitedge_ros.data.synthetic import SEG_CLASSES
from vitedge_ros.perception.overlay import blend_segmentation, colorize
from vitedge_ros.runtime import FrameResult
from vitedge_ros.runtime.bundle import InputSpec, validate_meta
from vitedge_ros.runtime.decoders import check_decoder_params
from vitedge_ros.runtime.errors import BundleError, EngineError
from vitedge_ros.runtime.preprocess import Preprocessor, Transform
from vitedge_ros.runtime.segmentation import (
    center_box,
    center_fractions,
    decode_segmenter,
    logits_to_labels,
    map_affine,
)

NET = (32, 24)  # network input W, H; logits at stride 4: 8 x 6


def _square_logits(x0, y0, x1, y1, num_classes=2):
    """
    Class 1 wins in map cells [x0, x1) x [y0, y1).

    Symmetric logits: boundaries half-way between cells.
    """
    lg = np.full((num_classes, 6, 8), -5.0, np.float32)
    lg[0] = 5.0
    lg[0, y0:y1, x0:x1] = -5.0
    lg[1, y0:y1, x0:x1] = 5.0
    return lg


@pytest.mark.parametrize('upsample', ['linear', 'nearest'])
def test_known_region_maps_to_known_pixels_through_letterbox(upsample):
    pre = Preprocessor(InputSpec(NET[0], NET[1], 'rgb', (0.0,) * 3, (1.0,) * 3, 'letterbox'))
    _, tf = pre.geometry(64, 32)  # scale 0.5 -> 32x16 image, 4 rows of padding top and bottom
    assert (tf.scale_x, tf.pad_x, tf.pad_y) == (0.5, 0.0, 4.0)
    # map columns 2..3 = network pixels x in [8, 16) = image pixels x in [16, 32)
    labels = decode_segmenter(
        {'logits': _square_logits(2, 0, 4, 6)[None]}, {'upsample': upsample}, tf, NET, 2
    )
    assert labels.shape == (32, 64) and labels.dtype == np.uint8
    expected = np.zeros((32, 64), np.uint8)
    expected[:, 16:32] = 1
    assert np.array_equal(labels, expected)
    # map rows 2..3 = network pixels y in [8, 16) = image rows [8, 24) (the 4 padding rows are
    # skipped)
    labels = decode_segmenter(
        {'logits': _square_logits(0, 2, 8, 4)[None]}, {'upsample': upsample}, tf, NET, 2
    )
    expected = np.zeros((32, 64), np.uint8)
    expected[8:24, :] = 1
    assert np.array_equal(labels, expected)
    # a square: exact in nearest mode; bilinear rounds its corners (by at most 3 px here) but keeps
    # the edges
    labels = decode_segmenter(
        {'logits': _square_logits(2, 2, 4, 4)[None]}, {'upsample': upsample}, tf, NET, 2
    )
    expected = np.zeros((32, 64), np.uint8)
    expected[8:24, 16:32] = 1
    if upsample == 'nearest':
        assert np.array_equal(labels, expected)
    else:
        assert np.array_equal(labels[16], expected[16]) and np.array_equal(
            labels[:, 24], expected[:, 24]
        )
        assert 0 < int((labels != expected).sum()) <= 4 * 6


def test_stretch_and_identity_transforms():
    # identity: network-size frame, every map cell is a 4x4 block
    tf = Transform(1.0, 1.0, 0.0, 0.0, NET[0], NET[1])
    labels = logits_to_labels(_square_logits(1, 0, 3, 2).transpose(1, 2, 0), tf, NET, 'nearest')
    expected = np.zeros((24, 32), np.uint8)
    expected[0:8, 4:12] = 1
    assert np.array_equal(labels, expected)
    # stretch 64x96 (W x H): x scale 0.5, y scale 0.25
    pre = Preprocessor(InputSpec(NET[0], NET[1], 'rgb', (0.0,) * 3, (1.0,) * 3, 'stretch'))
    _, tf = pre.geometry(64, 96)
    labels = logits_to_labels(_square_logits(2, 0, 4, 6).transpose(1, 2, 0), tf, NET, 'linear')
    expected = np.zeros((96, 64), np.uint8)
    expected[:, 16:32] = 1
    assert np.array_equal(labels, expected)
    labels = logits_to_labels(_square_logits(0, 3, 8, 6).transpose(1, 2, 0), tf, NET, 'linear')
    expected = np.zeros((96, 64), np.uint8)
    expected[48:96, :] = 1
    assert np.array_equal(labels, expected)


def test_affine_uses_pixel_centres():
    m = map_affine(Transform(0.5, 0.5, 0.0, 4.0, 64, 32), NET, (8, 6))
    # image pixel 0 centre (0.5) -> network 0.25 -> map 0.0625 - 0.5
    assert m[0, 0] == pytest.approx(0.125) and m[0, 2] == pytest.approx(0.0625 - 0.5)
    assert m[1, 2] == pytest.approx((0.25 + 4.0) / 4 - 0.5)


def test_many_classes_and_errors():
    lg = np.zeros((1, 9, 6, 8), np.float32)
    lg[0, 8, :, 4:] = 3.0
    tf = Transform(1.0, 1.0, 0.0, 0.0, NET[0], NET[1])
    labels = decode_segmenter({'out': lg}, {}, tf, NET, 9)
    assert set(np.unique(labels[:, 18:]).tolist()) == {8} and set(
        np.unique(labels[:, :14]).tolist()
    ) == {0}
    with pytest.raises(
        EngineError,
        match=r'expected logits 1×7×h×w \(one map per label\), got shape \(1, 9, 6, 8\)',
    ):
        decode_segmenter({'logits': lg}, {}, tf, NET, 7)
    with pytest.raises(BundleError, match='upsample must be one of linear, nearest'):
        logits_to_labels(lg[0].transpose(1, 2, 0), tf, NET, 'cubic')


def test_center_fractions_and_colours():
    labels = np.zeros((100, 200), np.uint8)
    labels[:, 100:] = 4
    assert center_box(200, 100, 0.3) == (70, 35, 130, 65)
    fr = center_fractions(labels, 7, 0.3)
    assert (
        fr[0] == pytest.approx(0.5)
        and fr[4] == pytest.approx(0.5)
        and sum(fr) == pytest.approx(1.0)
    )
    assert center_fractions(labels, 7, 1.0)[4] == pytest.approx(0.5)
    with pytest.raises(ValueError, match='center fraction'):
        center_box(10, 10, 0.0)
    col = colorize(labels, SEG_CLASSES)
    assert col.shape == (100, 200, 3) and tuple(col[0, 150]) == (255, 120, 0)
    img = np.full((100, 200, 3), 50, np.uint8)
    out = blend_segmentation(img, labels, SEG_CLASSES)
    assert np.array_equal(out[:, :100], img[:, :100]) and not np.array_equal(
        out[:, 100:], img[:, 100:]
    )


def test_bundle_and_decoder_validation_for_segment(tmp_path):
    meta = {
        'schema_version': 1,
        'name': 's',
        'task': 'segment',
        'input': {'width': 32, 'height': 24},
        'labels': ['a', 'b'],
        'decoder': {'type': 'segmenter'},
    }
    assert validate_meta(meta, tmp_path).task == 'segment'
    with pytest.raises(
        BundleError, match="decoder.type: task 'segment' takes decoder segmenter, got 'vit_center'"
    ):
        validate_meta(dict(meta, decoder={'type': 'vit_center'}), tmp_path)
    with pytest.raises(BundleError, match='decoder.upsample: expected one of linear, nearest'):
        check_decoder_params({'type': 'segmenter', 'upsample': 'bicubic'}, 2)
    with pytest.raises(BundleError, match='at most 255 labels'):
        check_decoder_params({'type': 'segmenter'}, 300)
    check_decoder_params({'type': 'segmenter', 'upsample': 'nearest', 'center_fraction': 0.5}, 7)


def test_frame_result_segmentation_defaults_to_none():
    res = FrameResult([], [], {}, (4, 3))
    assert res.segmentation is None
    assert FrameResult([], [], {}, (4, 3), np.zeros((3, 4), np.uint8)).segmentation.shape == (3, 4)

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
Segmentation metrics on hand-made masks, and clear errors for bad masks.

Bad masks: wrong sizes, class ids or dtypes.
"""

import cv2
import numpy as np
import pytest
from vitedge_ros.data.common import DatasetError
from vitedge_ros.data.masks import SegmentationMaskSet
from vitedge_ros.data.synthetic import generate_scene, SEG_CLASSES
from vitedge_ros.eval.segmentation import (
    check_mask,
    confusion_matrix,
    IGNORE_INDEX,
    label_agreement,
    MaskError,
    segmentation_metrics,
    SegmentationMeter,
)


def test_miou_equals_hand_computed_values():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [IGNORE_INDEX, 0, 1, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 2], [2, 0, 1, 1]], np.uint8)
    cm = confusion_matrix(gt, pred, 4)
    assert cm[0].tolist() == [4, 1, 0, 0] and cm[1].tolist() == [0, 5, 1, 0] and cm.sum() == 11
    m = segmentation_metrics([(gt, pred)], ['a', 'b', 'c', 'd'])
    # a: tp 4, gt 5, pred 4 -> 4/5; b: tp 5, gt 6, pred 6 -> 5/7; c: tp 0, pred 1 -> 0; d: absent
    # -> None
    assert m['per_class_iou']['a'] == pytest.approx(4 / 5)
    assert m['per_class_iou']['b'] == pytest.approx(5 / 7)
    assert m['per_class_iou']['c'] == 0.0
    assert m['per_class_iou']['d'] is None
    assert m['miou'] == pytest.approx((4 / 5 + 5 / 7 + 0.0) / 3)
    assert m['pixel_acc'] == pytest.approx(9 / 11)
    assert m['pixels'] == 11 and m['frames'] == 1
    # c is predicted but absent from the ground truth: counted in miou, left out of miou_present
    assert m['gt_pixels'] == {'a': 5, 'b': 6, 'c': 0, 'd': 0}
    assert m['miou_present'] == pytest.approx((4 / 5 + 5 / 7) / 2)


def test_meter_accumulates_over_frames():
    a = np.zeros((2, 2), np.uint8)
    b = np.ones((2, 2), np.uint8)
    meter = SegmentationMeter(['x', 'y'])
    meter.update(a, a)
    meter.update(b, a)  # all wrong
    r = meter.result()
    assert r['per_class_iou'] == {'x': pytest.approx(4 / 8), 'y': 0.0}
    assert r['miou'] == pytest.approx(0.25) and r['frames'] == 2


def test_perfect_prediction_and_agreement():
    gt = generate_scene(3, 160, 120).mask
    m = segmentation_metrics([(gt, gt.copy())], SEG_CLASSES)
    assert m['miou'] == 1.0 and m['pixel_acc'] == 1.0
    logits = np.random.default_rng(0).standard_normal((1, 7, 6, 8)).astype(np.float32)
    assert label_agreement(logits, logits + 1e-7) == 1.0
    assert label_agreement(gt, gt) == 1.0


def test_bad_masks_give_clear_errors():
    ok = np.zeros((4, 6), np.uint8)
    with pytest.raises(
        MaskError, match=r'gt #0: size 5x4 \(WxH\) does not match the image size 6x4'
    ):
        check_mask(np.zeros((4, 5), np.uint8), 7, (4, 6), what='gt #0')
    with pytest.raises(
        MaskError, match=r'unknown class ids \[9, 12\] \(the model has 7 classes: 0..6\)'
    ):
        check_mask(np.array([[0, 9], [12, 255]], np.uint8), 7)
    with pytest.raises(MaskError, match='integer class ids, got dtype float32'):
        check_mask(ok.astype(np.float32), 7)
    with pytest.raises(MaskError, match='expected an H×W label map'):
        check_mask(np.zeros((4, 6, 3), np.uint8), 7)
    assert check_mask(ok[:, :, None], 7).shape == (4, 6)
    meter = SegmentationMeter(SEG_CLASSES)
    with pytest.raises(MaskError, match='frame 3 gt: size'):
        meter.update(np.zeros((10, 10), np.uint8), np.zeros((12, 10), np.uint8), what='frame 3 gt')
    with pytest.raises(MaskError, match=r'unknown class ids \[7\]'):
        meter.update(np.full((3, 3), 7, np.uint8), np.zeros((3, 3), np.uint8))


def _write_folder(root, image_shape, mask):
    (root / 'images').mkdir(parents=True)
    (root / 'masks').mkdir()
    cv2.imwrite(str(root / 'images' / 'a.png'), np.zeros(image_shape + (3,), np.uint8))
    cv2.imwrite(str(root / 'masks' / 'a.png'), mask)


def test_mask_folder_errors(tmp_path):
    _write_folder(tmp_path / 'size', (8, 10), np.zeros((8, 9), np.uint8))
    with pytest.raises(DatasetError, match=r'mask size 9x8 does not match image a.png size 10x8'):
        SegmentationMaskSet(tmp_path / 'size', 7)[0]
    _write_folder(tmp_path / 'ids', (8, 10), np.full((8, 10), 8, np.uint8))
    with pytest.raises(DatasetError, match=r'class ids \[8\] >= num_classes 7'):
        SegmentationMaskSet(tmp_path / 'ids', 7)[0]
    _write_folder(tmp_path / 'good', (8, 10), np.full((8, 10), 3, np.uint8))
    image, mask = SegmentationMaskSet(tmp_path / 'good', 7)[0]
    assert image.shape == (8, 10, 3) and mask.shape == (8, 10) and int(mask.max()) == 3


@pytest.mark.needs('torch')
def test_training_set_checks_masks():
    from vitedge_ros.runtime.bundle import InputSpec
    from vitedge_ros.training.data import scenes_to_segmentation_set

    spec = InputSpec(32, 24, 'rgb', (0.5,) * 3, (0.25,) * 3, 'letterbox')
    img = np.zeros((30, 40, 3), np.uint8)
    with pytest.raises(MaskError, match='sample 1 mask: size 40x20'):
        scenes_to_segmentation_set(
            [(img, np.zeros((30, 40), np.uint8)), (img, np.zeros((20, 40), np.uint8))],
            spec,
            num_classes=7,
        )
    with pytest.raises(MaskError, match=r'sample 0 mask: unknown class ids \[200\]'):
        scenes_to_segmentation_set([(img, np.full((30, 40), 200, np.uint8))], spec, num_classes=7)
    # letterbox: 40x30 -> 32x24 exactly (no padding); 40x20 -> 32x16 with 4 rows of padding
    # (ignored)
    data = scenes_to_segmentation_set(
        [(np.zeros((20, 40, 3), np.uint8), np.full((20, 40), 2, np.uint8))],
        spec,
        keep_frame_masks=True,
        num_classes=7,
    )
    assert data.masks.shape == (1, 24, 32)
    assert (data.masks[0, :4] == IGNORE_INDEX).all() and (data.masks[0, 4:20] == 2).all()
    assert (data.masks[0, 20:] == IGNORE_INDEX).all()
    assert data.frame_masks[0].shape == (20, 40) and data.transforms[0].pad_y == 4.0


def test_synthetic_masks_match_images_and_seeds():
    a, b = generate_scene(11, 320, 240), generate_scene(11, 320, 240)
    assert a.mask.shape == a.image.shape[:2] and a.mask.dtype == np.uint8
    assert np.array_equal(a.mask, b.mask) and int(a.mask.max()) < len(SEG_CLASSES)


def test_mask_folder_ground_truth_by_stamp(tmp_path):
    from vitedge_ros.eval.segmentation import MaskFolderGroundTruth

    with pytest.raises(MaskError, match='mask folder does not exist'):
        MaskFolderGroundTruth(tmp_path / 'nope', SEG_CLASSES)
    (tmp_path / 'm').mkdir()
    with pytest.raises(MaskError, match=r'expected PNG label maps named <stamp_ns>.png'):
        MaskFolderGroundTruth(tmp_path / 'm', SEG_CLASSES)
    cv2.imwrite(str(tmp_path / 'm' / '1000.png'), np.full((6, 8), 5, np.uint8))
    cv2.imwrite(str(tmp_path / 'm' / '2000.png'), np.full((6, 8), 9, np.uint8))
    cv2.imwrite(str(tmp_path / 'm' / '3000.png'), np.zeros((6, 7), np.uint8))
    gt = MaskFolderGroundTruth(tmp_path / 'm', SEG_CLASSES)
    assert len(gt) == 3 and gt.mask_for(4000, (6, 8)) is None
    assert int(gt.mask_for(1000, (6, 8)).max()) == 5
    with pytest.raises(MaskError, match=r'2000.png: unknown class ids \[9\]'):
        gt.mask_for(2000, (6, 8))
    with pytest.raises(
        MaskError, match=r'3000.png: size 7x6 \(WxH\) does not match the image size 8x6'
    ):
        gt.mask_for(3000, (6, 8))

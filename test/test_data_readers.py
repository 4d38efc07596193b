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
Dataset readers on small files written in tmp_path.

COCO, VisDrone, ImageFolder, mask folders, digits.
"""

import json

import cv2
import numpy as np
import pytest
from vitedge_ros.data import (
    DatasetError,
    digits_as_bgr_images,
    DIGITS_MEAN,
    DIGITS_STD,
    ImageFolderSet,
    load_coco_detection,
    load_digits_split,
    parse_visdrone_annotation,
    SegmentationMaskSet,
    VisDroneDetectionSet,
)


def _img(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------------
# COCO


def _coco(tmp_path, **override):
    (tmp_path / 'imgs').mkdir(exist_ok=True)
    cv2.imwrite(str(tmp_path / 'imgs' / 'a.png'), _img(20, 30, 0))
    cv2.imwrite(str(tmp_path / 'imgs' / 'b.png'), _img(10, 12, 1))
    d = {
        'images': [
            {'id': 7, 'file_name': 'imgs/a.png', 'width': 30, 'height': 20},
            {'id': 9, 'file_name': 'imgs/b.png', 'width': 12, 'height': 10},
        ],
        'categories': [{'id': 5, 'name': 'vehicle'}, {'id': 2, 'name': 'person'}],
        'annotations': [
            {'id': 1, 'image_id': 7, 'category_id': 5, 'bbox': [1, 2, 10, 5], 'iscrowd': 0},
            {'id': 2, 'image_id': 7, 'category_id': 2, 'bbox': [3.5, 4, 2, 6]},
            {'id': 3, 'image_id': 7, 'category_id': 2, 'bbox': [0, 0, 20, 20], 'iscrowd': 1},
            {'id': 4, 'image_id': 7, 'category_id': 2, 'bbox': [5, 5, 0, 3]},
        ],
    }
    d.update(override)
    p = tmp_path / 'ann.json'
    p.write_text(json.dumps(d))
    return p


def test_coco_reader(tmp_path):
    ds = load_coco_detection(_coco(tmp_path))
    assert len(ds) == 2
    assert ds.classes == ['person', 'vehicle'] and ds.category_ids == [
        2,
        5,
    ]  # sorted by id, contiguous
    assert ds.skipped_crowd == 1 and ds.skipped_empty == 1
    img, boxes, labels = ds[0]
    assert np.array_equal(img, _img(20, 30, 0))
    assert boxes.dtype == np.float32 and labels.dtype == np.int64
    assert boxes.tolist() == [[1, 2, 11, 7], [3.5, 4, 5.5, 10]]
    assert labels.tolist() == [1, 0]
    img, boxes, labels = ds[1]
    assert img.shape == (10, 12, 3) and boxes.shape == (0, 4) and labels.shape == (0,)
    assert len(list(ds)) == 2
    # image_dir override
    ds2 = load_coco_detection(_coco(tmp_path), image_dir=tmp_path)
    assert ds2.image_path(0) == str(tmp_path / 'imgs' / 'a.png')


@pytest.mark.parametrize(
    'override, exc, match',
    [
        ({'categories': None}, DatasetError, "'categories' must be a list"),
        (
            {'annotations': [{'image_id': 7, 'category_id': 5}]},
            DatasetError,
            r"annotations\[0\] is missing the key 'bbox'",
        ),
        (
            {'annotations': [{'image_id': 7, 'category_id': 3, 'bbox': [0, 0, 1, 1]}]},
            DatasetError,
            r'annotations\[0\].category_id 3 is not in categories',
        ),
        (
            {'annotations': [{'image_id': 8, 'category_id': 5, 'bbox': [0, 0, 1, 1]}]},
            DatasetError,
            r'annotations\[0\].image_id 8 is not in images',
        ),
        (
            {'annotations': [{'image_id': 7, 'category_id': 5, 'bbox': [0, 0, 1]}]},
            DatasetError,
            r'annotations\[0\].bbox must be 4 numbers',
        ),
        ({'images': [{'id': 1}]}, DatasetError, r"images\[0\] is missing the key 'file_name'"),
        (
            {'images': [{'id': 1, 'file_name': 'nope.png'}], 'annotations': []},
            FileNotFoundError,
            r'file_name .nope.png.: image file not found',
        ),
    ],
)
def test_coco_errors(tmp_path, override, exc, match):
    with pytest.raises(exc, match=match) as info:
        load_coco_detection(_coco(tmp_path, **override))
    assert 'ann.json' in str(info.value)


def test_coco_malformed_files(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(DatasetError, match=r'bad.json: invalid JSON'):
        load_coco_detection(bad)
    bad.write_text(json.dumps({'images': [], 'annotations': []}))
    with pytest.raises(DatasetError, match="missing top-level key 'categories'"):
        load_coco_detection(bad)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        load_coco_detection(tmp_path / 'missing.json')


# ------------------------------------------------------------------------------------------
# VisDrone

VISDRONE_TXT = """\
684,8,273,116,0,0,0,0
10,20,30,40,1,1,0,0
11,21,5,6,1,2,0,1,
50,60,70,80,1,4,1,0
1,2,3,4,1,9,0,2
5,5,5,5,0,4,0,0
7,7,7,7,1,11,0,0
1,1,2,2,1,3,0,0

"""


def _visdrone(tmp_path, text=VISDRONE_TXT):
    root = tmp_path / 'VisDrone2019-DET-val'
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    cv2.imwrite(str(root / 'images' / '0001.jpg'), _img(90, 130, 2))
    (root / 'annotations' / '0001.txt').write_text(text)
    return root


def test_visdrone_parse_mappings(tmp_path):
    root = _visdrone(tmp_path)
    ann = root / 'annotations' / '0001.txt'
    boxes, labels = parse_visdrone_annotation(ann)  # project: person / vehicle
    assert boxes.dtype == np.float32 and labels.dtype == np.int64
    assert boxes.tolist() == [
        [10, 20, 40, 60],
        [11, 21, 16, 27],
        [50, 60, 120, 140],
        [1, 2, 4, 6],
        [1, 1, 3, 3],
    ]
    assert labels.tolist() == [0, 0, 1, 1, 1]
    _, native = parse_visdrone_annotation(ann, 'visdrone')
    assert native.tolist() == [0, 1, 3, 8, 2]  # pedestrian, people, car, bus, bicycle
    b, lab = parse_visdrone_annotation(ann, {1: 0, 2: 0}, classes=['person'])
    assert lab.tolist() == [0, 0] and len(b) == 2
    with pytest.raises(ValueError, match='classes'):
        parse_visdrone_annotation(ann, {1: 0})
    with pytest.raises(ValueError, match='mapping'):
        parse_visdrone_annotation(ann, 'coco')


def test_visdrone_reader(tmp_path):
    ds = VisDroneDetectionSet(_visdrone(tmp_path))
    assert ds.classes == ['person', 'vehicle', 'obstacle'] and len(ds) == 1
    img, boxes, labels = ds[0]
    assert img.shape == (90, 130, 3) and len(boxes) == 5 and labels.tolist() == [0, 0, 1, 1, 1]
    assert (
        VisDroneDetectionSet(tmp_path / 'VisDrone2019-DET-val', mapping='visdrone').classes[0]
        == 'pedestrian'
    )


@pytest.mark.parametrize(
    'line, match',
    [
        ('1,2,3,4,1', 'expected at least 6 comma-separated fields'),
        ('1,2,x,4,1,1,0,0', 'non-numeric field'),
        ('1,2,-3,4,1,1,0,0', 'negative box size'),
        ('1,2,3,4,1,12,0,0', 'object_category 12 outside'),
    ],
)
def test_visdrone_malformed_lines(tmp_path, line, match):
    root = _visdrone(tmp_path, '10,20,30,40,1,1,0,0\n\n' + line + '\n')
    with pytest.raises(DatasetError, match=r'0001\.txt:3: ' + match):
        parse_visdrone_annotation(root / 'annotations' / '0001.txt')


def test_visdrone_missing_annotation(tmp_path):
    root = _visdrone(tmp_path)
    cv2.imwrite(str(root / 'images' / '0002.jpg'), _img(8, 8, 3))
    with pytest.raises(FileNotFoundError, match=r'0002\.jpg.*0002\.txt'):
        VisDroneDetectionSet(root)


# ---------------------------------------------------------------------------------------
# ImageFolder


def test_imagefolder(tmp_path):
    for c, n in (('dog', 2), ('cat', 3)):
        (tmp_path / c).mkdir()
        for i in range(n):
            cv2.imwrite(str(tmp_path / c / f'{i}.png'), _img(6, 7, i))
    cv2.imwrite(str(tmp_path / 'cat' / 'grey.png'), np.full((5, 5), 77, np.uint8))
    (tmp_path / 'cat' / 'notes.txt').write_text('not an image')
    ds = ImageFolderSet(tmp_path)
    assert ds.classes == ['cat', 'dog']
    assert len(ds) == 6 and ds.labels.tolist() == [0, 0, 0, 0, 1, 1]
    img, label = ds[0]
    assert np.array_equal(img, _img(6, 7, 0)) and label == 0
    grey, _ = ds[3]
    assert grey.shape == (5, 5, 3) and (grey == 77).all()
    assert [lab for _, lab in ds] == ds.labels.tolist()


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DatasetError, match='no class subfolders'):
        ImageFolderSet(tmp_path)
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    cv2.imwrite(str(tmp_path / 'a' / 'x.png'), _img(4, 4, 0))
    with pytest.raises(DatasetError, match=r"class folder 'b' has no images"):
        ImageFolderSet(tmp_path)
    (tmp_path / 'b' / 'broken.png').write_bytes(b'not a png')
    ds = ImageFolderSet(tmp_path)
    with pytest.raises(DatasetError, match=r'broken\.png: cannot decode image'):
        ds[1]
    with pytest.raises(FileNotFoundError):
        ImageFolderSet(tmp_path / 'missing')


# ------------------------------------------------------------------------------------- mask
# folders


def _masks(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'masks').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), _img(12, 16, 0))
    cv2.imwrite(str(tmp_path / 'images' / 'b.jpg'), _img(12, 16, 1))
    m = np.zeros((12, 16), np.uint8)
    m[2:5, 3:9] = 2
    m[0, 0] = 255
    cv2.imwrite(str(tmp_path / 'masks' / 'a.png'), m)
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), np.ones((12, 16), np.uint8))
    return m


def test_mask_folder(tmp_path):
    m = _masks(tmp_path)
    ds = SegmentationMaskSet(tmp_path, num_classes=3)
    assert len(ds) == 2 and ds.stems == ['a', 'b']
    img, mask = ds[0]
    assert img.shape == (12, 16, 3) and np.array_equal(mask, m) and mask.dtype == np.uint8
    assert (ds[1][1] == 1).all()
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), cv2.merge([np.ones((12, 16), np.uint8)] * 3))
    assert (ds[1][1] == 1).all()  # grey map saved as 3 equal channels is accepted


def test_mask_folder_errors(tmp_path):
    _masks(tmp_path)
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), np.ones((10, 16), np.uint8))
    ds = SegmentationMaskSet(tmp_path, num_classes=3)
    with pytest.raises(
        DatasetError, match=r'b\.png: mask size 16x10 does not match image b\.jpg size 16x12'
    ):
        ds[1]
    bad = np.zeros((12, 16), np.uint8)
    bad[0, :3] = (7, 9, 255)
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), bad)
    with pytest.raises(DatasetError, match=r'b\.png: class ids \[7, 9\] >= num_classes 3'):
        ds[1]
    with pytest.raises(DatasetError, match=r'class ids \[2\] >= num_classes 2'):
        SegmentationMaskSet(tmp_path, num_classes=2)[0]
    with pytest.raises(DatasetError, match=r'class ids \[2, 255\]'):
        SegmentationMaskSet(tmp_path, num_classes=2, ignore_index=None)[0]
    cv2.imwrite(str(tmp_path / 'masks' / 'b.png'), _img(12, 16, 5))
    with pytest.raises(DatasetError, match='differing channels'):
        ds[1]
    (tmp_path / 'masks' / 'b.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'no mask for image b\.jpg'):
        SegmentationMaskSet(tmp_path, num_classes=3)


# --------------------------------------------------------------------------------------------
# digits


@pytest.fixture(scope='module')
def digits():
    pytest.importorskip('sklearn', reason='needs sklearn (scikit-learn: the digits data set)')
    return load_digits_split(img_size=32, seed=0, test_fraction=0.2)


def test_digits_split(digits):
    x_tr, y_tr, x_te, y_te = digits
    assert x_tr.shape == (len(y_tr), 3, 32, 32) and x_tr.dtype == np.float32
    assert x_te.shape == (len(y_te), 3, 32, 32) and y_te.dtype == np.int64
    assert len(y_tr) + len(y_te) == 1797
    counts = np.bincount(np.concatenate([y_tr, y_te]), minlength=10)
    assert np.array_equal(
        np.bincount(y_te, minlength=10), np.round(counts * 0.2).astype(int)
    )  # stratified
    assert -1.0 <= x_tr.min() and x_tr.max() <= 1.0 and x_tr.min() == -1.0 and x_tr.max() == 1.0
    assert np.array_equal(x_tr[:, 0], x_tr[:, 2])  # grey replicated
    again = load_digits_split(img_size=32, seed=0)
    assert np.array_equal(again[0], x_tr) and np.array_equal(again[3], y_te)
    other = load_digits_split(img_size=16, seed=1, test_fraction=0.5)
    assert other[0].shape[2:] == (16, 16) and not np.array_equal(other[1][:50], y_tr[:50])
    assert abs(len(other[3]) - 1797 / 2) < 10
    # train and test are disjoint: no test image appears in train
    tr_keys = {x.tobytes() for x in x_tr[:, 0]}
    dup = sum(x.tobytes() in tr_keys for x in x_te[:, 0])
    assert dup <= 5  # (a handful of digits are pixel-identical in the source data)


def test_digits_bgr_images_reproduce_training_tensors(digits):
    _, _, x_te, y_te = digits
    imgs, labels = digits_as_bgr_images(split='test')
    assert imgs.shape == (len(y_te), 8, 8, 3) and imgs.dtype == np.uint8
    assert np.array_equal(labels, y_te)
    # what the runtime does: resize the uint8 BGR frame, scale to [0, 1], normalise with mean/std,
    # NCHW
    mean, std = np.array(DIGITS_MEAN, np.float32), np.array(DIGITS_STD, np.float32)
    x = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_LINEAR) for im in imgs])
    x = ((x.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    assert np.abs(x - x_te).max() < 1e-2
    all_imgs, all_labels = digits_as_bgr_images(img_size=32)
    assert all_imgs.shape == (1797, 32, 32, 3) and len(all_labels) == 1797
    with pytest.raises(ValueError, match='split'):
        digits_as_bgr_images(split='val')
    with pytest.raises(ValueError, match='test_fraction'):
        load_digits_split(test_fraction=1.0)

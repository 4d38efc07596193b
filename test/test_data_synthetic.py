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

"""Synthetic aerial scenes: determinism, annotation exactness, camera sequence, COCO export."""

import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from vitedge_ros.data.synthetic import (
    camera_sequence,
    DETECTION_CLASSES,
    DETECTION_SEG_CLASSES,
    generate_scene,
    save_coco_dataset,
    Scene,
    SEG_CLASSES,
    SyntheticDetectionDataset,
    to_coco,
)

PERSON = DETECTION_CLASSES.index('person')
SEG_PERSON = SEG_CLASSES.index('person')


def _iou_matrix(b):
    x1 = np.maximum(b[:, None, 0], b[None, :, 0])
    y1 = np.maximum(b[:, None, 1], b[None, :, 1])
    x2 = np.minimum(b[:, None, 2], b[None, :, 2])
    y2 = np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area[:, None] + area[None, :] - inter)


@pytest.fixture(scope='module')
def scenes():
    return [generate_scene(s) for s in range(40)]


def test_constants():
    assert DETECTION_CLASSES == ('person', 'vehicle', 'obstacle')
    assert SEG_CLASSES == (
        'background',
        'person',
        'vehicle',
        'building',
        'water',
        'road',
        'vegetation',
    )


def test_same_seed_is_byte_identical_and_seeds_differ():
    a, b, c = generate_scene(123), generate_scene(123), generate_scene(124)
    for name in ('image', 'boxes', 'labels', 'mask', 'instances'):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.image.tobytes() == b.image.tobytes()
    assert a.gsd == b.gsd
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.mask, c.mask)


@pytest.mark.parametrize('size', [(320, 240), (200, 150), (640, 480)])
def test_shapes_and_dtypes(size):
    w, h = size
    s = generate_scene(5, w, h)
    assert isinstance(s, Scene)
    assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8
    assert s.mask.shape == (h, w) and s.mask.dtype == np.uint8
    assert s.instances.shape == (h, w) and s.instances.dtype == np.uint16
    assert s.boxes.dtype == np.float32 and s.boxes.shape == (len(s.labels), 4)
    assert s.labels.dtype == np.int64
    assert s.mask.max() < len(SEG_CLASSES)
    assert s.image.std() > 5  # textured, not flat


def test_boxes_exact_and_consistent_with_mask(scenes):
    n_boxes = 0
    for s in scenes:
        h, w = s.mask.shape
        b = s.boxes
        assert ((b[:, 0] >= 0) & (b[:, 1] >= 0) & (b[:, 2] <= w) & (b[:, 3] <= h)).all()
        assert ((b[:, 2] - b[:, 0] >= 2) & (b[:, 3] - b[:, 1] >= 2)).all()
        assert ((s.labels >= 0) & (s.labels < len(DETECTION_CLASSES))).all()
        assert s.instances.max() == len(s.labels)
        for i, (box, lab) in enumerate(zip(b, s.labels)):
            ys, xs = np.nonzero(s.instances == i + 1)
            # the box is the tight box of the object's own pixels (pixel-edge coordinates)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            classes = set(np.unique(s.mask[ys, xs]).tolist())
            assert classes <= set(DETECTION_SEG_CLASSES[int(lab)])
            if lab == PERSON:
                x1, y1, x2, y2 = box.astype(int)
                assert (s.mask[y1:y2, x1:x2] == SEG_PERSON).mean() > 0.25
            n_boxes += 1
        if len(b) > 1:
            iou = _iou_matrix(b)
            np.fill_diagonal(iou, 0)
            assert iou.max() <= 0.3 + 1e-6
    assert n_boxes > 100


def test_person_pixels_are_annotated_and_sized(scenes):
    person_px = orphan = 0
    sizes = []
    for s in scenes:
        pm = s.mask == SEG_PERSON
        person_px += pm.sum()
        orphan += (pm & (s.instances == 0)).sum()
        for box in s.boxes[s.labels == PERSON]:
            sizes.append(max(box[2] - box[0], box[3] - box[1]))
    assert orphan <= 0.05 * person_px
    sizes = np.array(sizes)
    assert len(sizes) > 60
    assert 6 <= sizes.min() and sizes.max() <= 80
    assert 10 <= np.median(sizes) <= 30


def test_requested_counts_and_all_classes_present(scenes):
    assert (generate_scene(3, n_persons=0).labels != PERSON).all()
    s = generate_scene(3, n_persons=6, n_vehicles=0, n_obstacles=0)
    assert 3 <= (s.labels == PERSON).sum() <= 6 and set(s.labels.tolist()) == {PERSON}
    labels = np.concatenate([s.labels for s in scenes])
    assert set(labels.tolist()) == {0, 1, 2}
    seg = set(np.concatenate([np.unique(s.mask) for s in scenes]).tolist())
    assert seg == set(range(len(SEG_CLASSES)))


def test_clutter_with_person_colours_is_not_annotated(scenes):
    # saturated red/orange/yellow/blue pixels (clothing palette) also occur outside persons: decoys
    # exist
    outside = 0
    for s in scenes:
        hsv = cv2.cvtColor(s.image, cv2.COLOR_BGR2HSV)
        saturated = (hsv[..., 1] > 150) & (hsv[..., 2] > 120)
        outside += (saturated & (s.mask == SEG_CLASSES.index('background'))).sum()
    assert outside > 500


def test_generation_is_fast():
    generate_scene(0)
    t = time.perf_counter()
    for seed in range(20):
        generate_scene(seed)
    assert (time.perf_counter() - t) / 20 < 0.1  # measured ~6 ms/scene; generous for loaded CI


def test_dataset_wrapper():
    ds = SyntheticDetectionDataset(5, seed_offset=100, width=160, height=120)
    assert len(ds) == 5
    assert np.array_equal(ds[2].image, generate_scene(102, 160, 120).image)
    assert np.array_equal(ds[-1].boxes, ds[4].boxes)
    with pytest.raises(IndexError, match='out of range'):
        ds[5]


def test_core_does_not_import_torch():
    code = (
        'import sys, vitedge_ros.data, vitedge_ros.data.synthetic; '
        'assert "torch" not in sys.modules'
    )
    subprocess.run([sys.executable, '-c', code], check=True)


def test_to_coco_round_trip(tmp_path, scenes):
    fce = pytest.importorskip('faster_coco_eval')
    sub = scenes[:6]
    d = to_coco(sub)
    assert [c['name'] for c in d['categories']] == list(DETECTION_CLASSES)
    assert [c['id'] for c in d['categories']] == [1, 2, 3]
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(d))
    gt = fce.COCO(str(path))
    assert len(gt.getImgIds()) == 6
    assert len(gt.getAnnIds()) == sum(len(s.labels) for s in sub)
    for img_id, s in zip(sorted(gt.getImgIds()), sub):
        anns = gt.loadAnns(gt.getAnnIds(imgIds=[img_id]))
        got = np.array([a['bbox'] for a in anns], dtype=np.float32).reshape(-1, 4)
        exp = s.boxes.copy()
        exp[:, 2:] -= exp[:, :2]
        assert np.allclose(got, exp)
        assert [a['category_id'] - 1 for a in anns] == s.labels.tolist()
        assert all(a['iscrowd'] == 0 and a['area'] > 0 for a in anns)
    # ground truth scored as detections evaluates to AP = 1
    dets = [
        {
            'image_id': a['image_id'],
            'category_id': a['category_id'],
            'bbox': a['bbox'],
            'score': 1.0,
        }
        for a in d['annotations']
    ]
    ev = fce.COCOeval_faster(gt, gt.loadRes(dets), 'bbox')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='file_names'):
        to_coco(sub, file_names=['a.png'])


def test_to_coco_then_coco_reader(tmp_path, scenes):
    from vitedge_ros.data.coco import load_coco_detection

    sub = scenes[:3]
    names = [f'img_{i}.png' for i in range(3)]
    for n, s in zip(names, sub):
        cv2.imwrite(str(tmp_path / n), s.image)
    (tmp_path / 'ann.json').write_text(json.dumps(to_coco(sub, names)))
    ds = load_coco_detection(tmp_path / 'ann.json')
    assert ds.classes == list(DETECTION_CLASSES)
    for (img, boxes, labels), s in zip(ds, sub):
        assert np.array_equal(img, s.image)
        assert np.allclose(boxes, s.boxes) and np.array_equal(labels, s.labels)


@pytest.fixture(scope='module')
def frames():
    return list(camera_sequence(12, seed=3, width=320, height=240))


def test_camera_sequence_frames(frames):
    assert len(frames) == 12
    persons = []
    for f in frames:
        assert f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8
        assert f.mask.shape == (240, 320) and f.transform.shape == (2, 3)
        b = f.boxes
        assert ((b[:, 0] >= 0) & (b[:, 1] >= 0) & (b[:, 2] <= 320) & (b[:, 3] <= 240)).all()
        assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
        for i, box in enumerate(b):
            ys, xs = np.nonzero(f.instances == i + 1)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        persons.append(int((f.labels == PERSON).sum()))
    assert 2 <= np.mean(persons) <= 8
    assert sum(p > 0 for p in persons) >= 10


def test_camera_sequence_is_continuous(frames):
    h, w = 240, 320
    for a, b in zip(frames[:-1], frames[1:]):
        ma = np.vstack([a.transform, [0, 0, 1]])
        mb = np.vstack([b.transform, [0, 0, 1]])
        rel = (mb @ np.linalg.inv(ma))[:2]  # frame a pixels -> frame b pixels
        shift = np.hypot(*(rel @ [w / 2, h / 2, 1] - [w / 2, h / 2]))
        assert 0.2 < shift < 0.05 * w  # moving, smoothly
        warped = cv2.warpAffine(a.image, rel, (w, h))
        valid = cv2.warpAffine(np.ones((h, w), np.uint8), rel, (w, h))
        valid = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(bool)
        aligned = np.abs(warped.astype(int) - b.image.astype(int))[valid].mean()
        raw = np.abs(a.image.astype(int) - b.image.astype(int)).mean()
        assert aligned < 5.0 and aligned < raw


def test_camera_sequence_deterministic(frames):
    again = list(camera_sequence(2, seed=3, width=320, height=240))
    for x, y in zip(frames[:2], again):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.boxes, y.boxes)
    other = next(camera_sequence(1, seed=4, width=320, height=240))
    assert not np.array_equal(other.image, frames[0].image)


def test_save_coco_dataset_from_a_generator(tmp_path):
    from vitedge_ros.data.coco import load_coco_detection

    path = save_coco_dataset(
        camera_sequence(3, seed=1, width=160, height=120), str(tmp_path / 'seq')
    )
    ds = load_coco_detection(path)
    assert len(ds) == 3 and ds.file_names[0] == 'images/000000.png'
    for (img, boxes, labels), f in zip(ds, camera_sequence(3, seed=1, width=160, height=120)):
        assert np.array_equal(img, f.image)
        assert np.allclose(boxes, f.boxes) and np.array_equal(labels, f.labels)

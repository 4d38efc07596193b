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
COCO detection JSON reader (numpy + OpenCV).

Category ids (any integers) are mapped to contiguous labels ``0..C-1`` in ascending id order;
``classes`` lists the names in that order. Crowd annotations (``iscrowd: 1``) and zero-size boxes
are skipped (crowd boxes are kept apart, see :meth:`CocoDetectionSet.crowd`). Everything is
validated when the file is loaded; errors name the file and the offending field.
"""

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .common import DatasetError, DetectionSample, empty_boxes, PathLike, read_image


def _need(obj: Any, key: str, where: str, path: str, types) -> Any:
    if not isinstance(obj, dict):
        raise DatasetError(f'{path}: {where} must be an object, got {type(obj).__name__}')
    if key not in obj:
        raise DatasetError(f'{path}: {where} is missing the key {key!r}')
    val = obj[key]
    if not isinstance(val, types) or isinstance(val, bool):
        raise DatasetError(f'{path}: {where}.{key} has the wrong type ({type(val).__name__})')
    return val


class CocoDetectionSet:
    """
    A COCO detection dataset: ``len``, indexing and iteration give ``DetectionSample`` tuples.

    ``classes``: category names in label order. ``category_ids``: COCO id of each label.
    ``file_names``: image paths relative to ``image_dir``. ``image_ids``: COCO image ids.
    ``skipped_crowd`` / ``skipped_empty``: counts of annotations that were left out.
    """

    def __init__(
        self, json_path: PathLike, image_dir: Optional[PathLike] = None, check_files: bool = True
    ):
        path = os.fspath(json_path)
        self.json_path = path
        if not os.path.isfile(path):
            raise FileNotFoundError(f'COCO annotation file not found: {path}')
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetError(f'{path}: invalid JSON ({e})') from None
        if not isinstance(data, dict):
            raise DatasetError(
                f'{path}: top level must be an object with images/annotations/categories'
            )
        for key in ('images', 'annotations', 'categories'):
            if key not in data:
                raise DatasetError(f'{path}: missing top-level key {key!r}')
            if not isinstance(data[key], list):
                raise DatasetError(f'{path}: {key!r} must be a list')
        self.image_dir = (
            os.fspath(image_dir)
            if image_dir is not None
            else os.path.dirname(os.path.abspath(path))
        )

        cats = []
        for i, c in enumerate(data['categories']):
            cid = _need(c, 'id', f'categories[{i}]', path, int)
            name = _need(c, 'name', f'categories[{i}]', path, str)
            cats.append((cid, name))
        ids = [c[0] for c in cats]
        if len(set(ids)) != len(ids):
            raise DatasetError(f'{path}: duplicate category ids in categories')
        cats.sort()
        self.category_ids: List[int] = [c[0] for c in cats]
        self.classes: List[str] = [c[1] for c in cats]
        cat_to_label = {cid: k for k, cid in enumerate(self.category_ids)}

        self.image_ids: List[int] = []
        self.file_names: List[str] = []
        self.sizes: List[Tuple[Optional[int], Optional[int]]] = []
        index: Dict[int, int] = {}
        for i, im in enumerate(data['images']):
            iid = _need(im, 'id', f'images[{i}]', path, int)
            name = _need(im, 'file_name', f'images[{i}]', path, str)
            if iid in index:
                raise DatasetError(f'{path}: images[{i}].id {iid} is a duplicate')
            index[iid] = len(self.image_ids)
            self.image_ids.append(iid)
            self.file_names.append(name)
            self.sizes.append((im.get('width'), im.get('height')))

        boxes: List[List[List[float]]] = [[] for _ in self.image_ids]
        labels: List[List[int]] = [[] for _ in self.image_ids]
        crowd: List[List[List[float]]] = [[] for _ in self.image_ids]
        self.skipped_crowd = self.skipped_empty = 0
        for i, a in enumerate(data['annotations']):
            where = f'annotations[{i}]'
            iid = _need(a, 'image_id', where, path, int)
            cid = _need(a, 'category_id', where, path, int)
            bbox = _need(a, 'bbox', where, path, list)
            if iid not in index:
                raise DatasetError(f'{path}: {where}.image_id {iid} is not in images')
            if cid not in cat_to_label:
                raise DatasetError(f'{path}: {where}.category_id {cid} is not in categories')
            if len(bbox) != 4 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox
            ):
                raise DatasetError(
                    f'{path}: {where}.bbox must be 4 numbers [x, y, width, height], got {bbox!r}'
                )
            x, y, bw, bh = (float(v) for v in bbox)
            if bw < 0 or bh < 0 or not np.isfinite([x, y, bw, bh]).all():
                raise DatasetError(
                    f'{path}: {where}.bbox has a negative or non-finite size: {bbox!r}'
                )
            if a.get('iscrowd', 0):
                self.skipped_crowd += 1
                crowd[index[iid]].append([x, y, x + bw, y + bh])
                continue
            if bw == 0 or bh == 0:
                self.skipped_empty += 1
                continue
            k = index[iid]
            boxes[k].append([x, y, x + bw, y + bh])
            labels[k].append(cat_to_label[cid])
        self._boxes = [
            np.asarray(b, dtype=np.float32).reshape(-1, 4) if b else empty_boxes() for b in boxes
        ]
        self._labels = [np.asarray(lab, dtype=np.int64) for lab in labels]
        self._crowd = [
            np.asarray(b, dtype=np.float32).reshape(-1, 4) if b else empty_boxes() for b in crowd
        ]

        if check_files:
            for i, name in enumerate(self.file_names):
                p = self.image_path(i)
                if not os.path.isfile(p):
                    raise FileNotFoundError(
                        f'{path}: images[{i}].file_name {name!r}: image file not found: {p}'
                    )

    def __len__(self) -> int:
        return len(self.image_ids)

    def image_path(self, i: int) -> str:
        """Full path of image ``i``."""
        return os.path.join(self.image_dir, self.file_names[i])

    def targets(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """
        Return the boxes and labels of image ``i`` without reading the image.

        Boxes: N x 4 float32 xyxy (pixels); labels: N int64.
        """
        return self._boxes[i].copy(), self._labels[i].copy()

    def crowd(self, i: int) -> np.ndarray:
        """
        Boxes (Kx4 float32 xyxy) of image ``i``'s crowd annotations (``iscrowd: 1``).

        Regions COCO ignores.
        """
        return self._crowd[i].copy()

    def __getitem__(self, i: int) -> DetectionSample:
        """Read image ``i`` (BGR uint8) with its boxes and labels."""
        if not -len(self) <= i < len(self):
            raise IndexError(f'CocoDetectionSet index {i} out of range [0, {len(self)})')
        i %= len(self)
        boxes, labels = self.targets(i)
        return DetectionSample(read_image(self.image_path(i)), boxes, labels)

    def __iter__(self) -> Iterator[DetectionSample]:
        for i in range(len(self)):
            yield self[i]


def load_coco_detection(
    json_path: PathLike, image_dir: Optional[PathLike] = None, check_files: bool = True
) -> CocoDetectionSet:
    """
    Load a COCO detection JSON.

    Images are looked up in ``image_dir`` (default: the JSON's folder).
    """
    return CocoDetectionSet(json_path, image_dir, check_files)

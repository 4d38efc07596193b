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
VisDrone-DET annotations and dataset folders.

One ``.txt`` per image, one object per line:
``<bbox_left>,<bbox_top>,<bbox_width>,<bbox_height>,<score>,<object_category>,<truncation>,<occlusion>``.
In ground truth ``score`` is 1 for objects that count and 0 for ignored regions; category 0 is
"ignored region". Both are always dropped, as is category 11 ("others") unless a mapping keeps it.

A mapping turns VisDrone categories into labels:

- ``'project'`` (default): the project's ``DETECTION_CLASSES`` (person, vehicle, obstacle):
  pedestrian/people -> person; bicycle, car, van, truck, tricycle, awning-tricycle, bus, motor ->
  vehicle.
- ``'visdrone'``: the ten VisDrone classes 1..10 as labels 0..9 (``VISDRONE_CLASSES[1:11]``).
- a dict ``{category: label}`` with a ``classes`` list: categories not in the dict are dropped.
"""

import os
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .common import (
    DatasetError,
    DetectionSample,
    empty_boxes,
    IMAGE_EXTENSIONS,
    PathLike,
    read_image,
)
from .synthetic import DETECTION_CLASSES

VISDRONE_CLASSES = (
    'ignored',
    'pedestrian',
    'people',
    'bicycle',
    'car',
    'van',
    'truck',
    'tricycle',
    'awning-tricycle',
    'bus',
    'motor',
    'others',
)
#: VisDrone category -> index into DETECTION_CLASSES.
VISDRONE_TO_PROJECT: Dict[int, int] = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 1}
VISDRONE_NATIVE: Dict[int, int] = {c: c - 1 for c in range(1, 11)}

Mapping = Union[str, Dict[int, int]]


def _resolve_mapping(
    mapping: Mapping, classes: Optional[Sequence[str]]
) -> Tuple[Dict[int, int], List[str]]:
    if mapping == 'project':
        return dict(VISDRONE_TO_PROJECT), list(DETECTION_CLASSES)
    if mapping == 'visdrone':
        return dict(VISDRONE_NATIVE), list(VISDRONE_CLASSES[1:11])
    if isinstance(mapping, dict):
        if classes is None:
            raise ValueError('visdrone: a dict mapping needs classes=[...] (the label names)')
        classes = list(classes)
        for cat, lab in mapping.items():
            if not 0 <= int(lab) < len(classes):
                raise ValueError(
                    f'visdrone: mapping {cat} -> {lab} is outside classes (0..{len(classes) - 1})'
                )
        return {int(k): int(v) for k, v in mapping.items()}, classes
    raise ValueError(f"visdrone: mapping must be 'project', 'visdrone' or a dict, got {mapping!r}")


def read_visdrone_objects(path: PathLike) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Every line of one VisDrone-DET annotation file, unfiltered.

    Returns (Nx4 float32 xyxy boxes, N int64 ``object_category`` 0..11, N int64 ``score``);
    zero-size boxes are left out. Raises ``DatasetError`` naming the file and line for malformed
    lines.
    """
    path = os.fspath(path)
    rows: List[List[float]] = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            fields = [t.strip() for t in text.rstrip(',').split(',')]
            if len(fields) < 6:
                raise DatasetError(
                    f'{path}:{lineno}: expected at least 6 comma-separated fields '
                    f'(left,top,width,height,score,category,...), got {len(fields)}: {text!r}'
                )
            try:
                vals = [int(float(t)) if i >= 4 else float(t) for i, t in enumerate(fields[:8])]
            except ValueError:
                raise DatasetError(f'{path}:{lineno}: non-numeric field in {text!r}') from None
            left, top, bw, bh, score, cat = vals[:6]
            if bw < 0 or bh < 0:
                raise DatasetError(f'{path}:{lineno}: negative box size in {text!r}')
            if not 0 <= cat < len(VISDRONE_CLASSES):
                raise DatasetError(
                    f'{path}:{lineno}: object_category {cat} outside '
                    f'0..{len(VISDRONE_CLASSES) - 1}'
                )
            if bw == 0 or bh == 0:
                continue
            rows.append([left, top, left + bw, top + bh, cat, score])
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    return arr[:, :4].astype(np.float32), arr[:, 4].astype(np.int64), arr[:, 5].astype(np.int64)


def parse_visdrone_annotation(
    path: PathLike, mapping: Mapping = 'project', classes: Optional[Sequence[str]] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Read one VisDrone-DET annotation file into (Nx4 float32 xyxy boxes, N int64 labels).

    Raises ``DatasetError`` naming the file and line for malformed lines.
    """
    table, _ = _resolve_mapping(mapping, classes)
    boxes, cats, scores = read_visdrone_objects(path)
    keep = np.asarray(
        [c != 0 and s != 0 and int(c) in table for c, s in zip(cats, scores)], dtype=bool
    )
    if not keep.any():
        return empty_boxes(), np.zeros(0, dtype=np.int64)
    return boxes[keep], np.asarray([table[int(c)] for c in cats[keep]], dtype=np.int64)


class VisDroneDetectionSet:
    """
    A VisDrone-DET split folder (``images/`` + ``annotations/``, same file stems).

    Indexing and iteration give ``DetectionSample`` tuples; ``classes`` are the label names of the
    mapping. Every image must have an annotation file (``FileNotFoundError`` naming it otherwise);
    annotation files are parsed when first needed.
    """

    def __init__(
        self,
        root: PathLike,
        mapping: Mapping = 'project',
        classes: Optional[Sequence[str]] = None,
        images_dir: str = 'images',
        annotations_dir: str = 'annotations',
    ):
        self.root = os.fspath(root)
        self._table, self.classes = _resolve_mapping(mapping, classes)
        self.mapping = mapping
        self.images_dir = os.path.join(self.root, images_dir)
        self.annotations_dir = os.path.join(self.root, annotations_dir)
        for d in (self.images_dir, self.annotations_dir):
            if not os.path.isdir(d):
                raise FileNotFoundError(f'VisDrone folder not found: {d}')
        names = sorted(
            n for n in os.listdir(self.images_dir) if n.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not names:
            raise DatasetError(f'{self.images_dir}: no images ({", ".join(IMAGE_EXTENSIONS)})')
        self.file_names: List[str] = names
        for n in names:
            ann = self._ann_for(n)
            if not os.path.isfile(ann):
                raise FileNotFoundError(f'VisDrone annotation file not found for image {n}: {ann}')
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    def _ann_for(self, name: str) -> str:
        return os.path.join(self.annotations_dir, os.path.splitext(name)[0] + '.txt')

    def __len__(self) -> int:
        return len(self.file_names)

    def image_path(self, i: int) -> str:
        """Full path of image ``i``."""
        return os.path.join(self.images_dir, self.file_names[i])

    def annotation_path(self, i: int) -> str:
        """Full path of the annotation file of image ``i``."""
        return self._ann_for(self.file_names[i])

    def targets(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """
        Return the boxes and labels of image ``i`` without reading the image.

        Boxes: N x 4 float32 xyxy (pixels); labels: N int64.
        """
        if i not in self._cache:
            self._cache[i] = parse_visdrone_annotation(
                self.annotation_path(i), self._table, self.classes
            )
        b, lab = self._cache[i]
        return b.copy(), lab.copy()

    def __getitem__(self, i: int) -> DetectionSample:
        """Read image ``i`` (BGR uint8) with its boxes and labels."""
        if not -len(self) <= i < len(self):
            raise IndexError(f'VisDroneDetectionSet index {i} out of range [0, {len(self)})')
        i %= len(self)
        boxes, labels = self.targets(i)
        return DetectionSample(read_image(self.image_path(i)), boxes, labels)

    def __iter__(self) -> Iterator[DetectionSample]:
        for i in range(len(self)):
            yield self[i]

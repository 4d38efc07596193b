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
Segmentation mask-folder reader: ``root/images/<stem>.png|jpg`` + ``root/masks/<stem>.png``.

Masks are single-channel PNG label maps whose pixel values are class ids (8- or 16-bit). A
3-channel PNG is accepted only when its channels are equal (a grey map saved as RGB);
colour-palette masks are rejected. Each mask is checked when read: same size as its image, ids ``<
num_classes`` (``ignore_index`` allowed).
"""

import os
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .common import DatasetError, IMAGE_EXTENSIONS, PathLike, read_image


def read_label_map(path: PathLike) -> np.ndarray:
    """Read a PNG label map as an HxW uint8/uint16 array; ``DatasetError`` if it is not one."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'mask file not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)
    m = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if m is None:
        raise DatasetError(f'{path}: cannot decode mask image')
    if m.ndim == 3:
        if not (m[..., :3] == m[..., :1]).all():
            raise DatasetError(
                f'{path}: mask has {m.shape[2]} differing channels; expected a single-channel '
                'label map of class ids (colour/palette masks are not supported)'
            )
        m = np.ascontiguousarray(m[..., 0])
    if m.dtype not in (np.uint8, np.uint16):
        raise DatasetError(f'{path}: mask dtype {m.dtype} is not 8- or 16-bit unsigned')
    return m


class SegmentationMaskSet:
    """
    Samples ``(image BGR uint8 HxWx3, mask HxW uint8/uint16 class ids)`` from a mask-folder layout.

    ``classes``: ``class_names`` if given, else ``['0', '1', ...]``. ``stems``: sorted sample
    names.
    """

    def __init__(
        self,
        root: PathLike,
        num_classes: int,
        images_dir: str = 'images',
        masks_dir: str = 'masks',
        ignore_index: Optional[int] = 255,
        class_names: Optional[Sequence[str]] = None,
    ):
        if num_classes < 1:
            raise ValueError(f'SegmentationMaskSet: num_classes must be >= 1, got {num_classes}')
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f'SegmentationMaskSet: {len(class_names)} class_names for '
                f'num_classes={num_classes}'
            )
        self.root = os.fspath(root)
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.classes: List[str] = (
            list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        )
        self.images_dir = os.path.join(self.root, images_dir)
        self.masks_dir = os.path.join(self.root, masks_dir)
        for d in (self.images_dir, self.masks_dir):
            if not os.path.isdir(d):
                raise FileNotFoundError(f'segmentation folder not found: {d}')
        names = sorted(
            n
            for n in os.listdir(self.images_dir)
            if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith('.')
        )
        if not names:
            raise DatasetError(f'{self.images_dir}: no images ({", ".join(IMAGE_EXTENSIONS)})')
        stems = [os.path.splitext(n)[0] for n in names]
        if len(set(stems)) != len(stems):
            dup = sorted({s for s in stems if stems.count(s) > 1})
            raise DatasetError(f'{self.images_dir}: several images share a stem: {dup}')
        self.image_files: List[str] = names
        self.stems: List[str] = stems
        for i, n in enumerate(names):
            mp = self.mask_path(i)
            if not os.path.isfile(mp):
                raise FileNotFoundError(f'no mask for image {n}: expected {mp}')

    def __len__(self) -> int:
        return len(self.stems)

    def image_path(self, i: int) -> str:
        """Full path of image ``i``."""
        return os.path.join(self.images_dir, self.image_files[i])

    def mask_path(self, i: int) -> str:
        """Full path of mask ``i``."""
        return os.path.join(self.masks_dir, self.stems[i] + '.png')

    def __getitem__(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """Read sample ``i`` and validate its mask (size, class ids)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f'SegmentationMaskSet index {i} out of range [0, {len(self)})')
        image = read_image(self.image_path(i))
        mpath = self.mask_path(i)
        mask = read_label_map(mpath)
        if mask.shape != image.shape[:2]:
            raise DatasetError(
                f'{mpath}: mask size {mask.shape[1]}x{mask.shape[0]} does not match image '
                f'{self.image_files[i]} size {image.shape[1]}x{image.shape[0]} (WxH)'
            )
        ids = np.unique(mask)
        bad = ids[ids >= self.num_classes]
        if self.ignore_index is not None:
            bad = bad[bad != self.ignore_index]
        if bad.size:
            raise DatasetError(
                f'{mpath}: class ids {bad.tolist()} >= num_classes {self.num_classes}'
                + (
                    f' (ignore_index {self.ignore_index} is allowed)'
                    if self.ignore_index is not None
                    else ''
                )
            )
        return image, mask

    def __iter__(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

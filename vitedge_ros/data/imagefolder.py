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
ImageFolder classification reader.

``root/<class name>/<image>``; classes are the sorted folder names.
"""

import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .common import DatasetError, IMAGE_EXTENSIONS, PathLike, read_image


class ImageFolderSet:
    """
    Classification samples ``(image BGR uint8, label int)`` from class subfolders.

    ``classes``: sorted subfolder names (label = index). ``samples``: ``(path, label)`` in sorted
    order. Raises ``DatasetError`` when the root has no class folders or a class folder holds no
    images.
    """

    def __init__(
        self,
        root: PathLike,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        classes: Optional[Sequence[str]] = None,
    ):
        self.root = os.fspath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f'ImageFolder root not found: {self.root}')
        exts = tuple(e.lower() for e in extensions)
        found = sorted(
            d
            for d in os.listdir(self.root)
            if os.path.isdir(os.path.join(self.root, d)) and not d.startswith('.')
        )
        if classes is None:
            if not found:
                raise DatasetError(
                    f'{self.root}: no class subfolders (expected root/<class>/<image>)'
                )
            classes = found
        else:
            missing = [c for c in classes if c not in found]
            if missing:
                raise DatasetError(f'{self.root}: class folders not found: {missing}')
        self.classes: List[str] = list(classes)
        self.samples: List[Tuple[str, int]] = []
        for label, c in enumerate(self.classes):
            d = os.path.join(self.root, c)
            files = []
            for dirpath, dirnames, filenames in os.walk(d, followlinks=True):
                dirnames[:] = sorted(n for n in dirnames if not n.startswith('.'))
                files += [
                    os.path.join(dirpath, f)
                    for f in filenames
                    if f.lower().endswith(exts) and not f.startswith('.')
                ]
            if not files:
                raise DatasetError(f'{d}: class folder {c!r} has no images ({", ".join(exts)})')
            self.samples += [(p, label) for p in sorted(files)]

    @property
    def labels(self) -> np.ndarray:
        """Labels of all samples (int64), without reading images."""
        return np.asarray([lab for _, lab in self.samples], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, int]:
        """Read sample ``i``: (HxWx3 uint8 BGR image, label)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f'ImageFolderSet index {i} out of range [0, {len(self)})')
        path, label = self.samples[i]
        return read_image(path), label

    def __iter__(self) -> Iterator[Tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self[i]

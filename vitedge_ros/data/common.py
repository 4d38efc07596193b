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

"""Shared pieces of the dataset readers: the error type, the sample tuple, image reading."""

import os
from typing import NamedTuple, Union

import cv2
import numpy as np

from ..runtime.errors import VitedgeError

PathLike = Union[str, 'os.PathLike[str]']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


class DatasetError(VitedgeError, ValueError):
    """
    A dataset file is malformed or inconsistent.

    The message names the file (and line or field).
    """


class DetectionSample(NamedTuple):
    """One detection sample: BGR uint8 image, Nx4 float32 xyxy boxes (pixels), N int64 labels."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 BGR (grey and alpha images are converted)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'image file not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)  # works with non-ASCII paths, unlike cv2.imread
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise DatasetError(f'{path}: cannot decode image (corrupt or unsupported format)')
    return img


def empty_boxes() -> np.ndarray:
    """Return a 0x4 float32 box array."""
    return np.zeros((0, 4), dtype=np.float32)

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
scikit-learn's digits (1797 real 8x8 handwritten digits, shipped with scikit-learn: no download).

The exact preprocessing, so that a bundle.yaml can reproduce it on the runtime side
``input: {color: bgr|rgb, mean: DIGITS_MEAN, std: DIGITS_STD, resize: stretch}`` on
``digits_as_bgr_images``:

1. uint8 image: ``round(value * 255 / 16)`` (sklearn values are 0..16), grey replicated to 3
   channels;
2. ``cv2.resize(img, (S, S), interpolation=cv2.INTER_LINEAR)`` on the uint8 image;
3. ``x = img / 255`` then ``(x - DIGITS_MEAN) / DIGITS_STD`` per channel, i.e. ``(x - 0.5) / 0.5``.

The train/test split is stratified per class and deterministic for a given seed.
scikit-learn is imported only when the data are loaded.
"""

from typing import Optional, Tuple

import cv2
import numpy as np

DIGITS_MEAN = (0.5, 0.5, 0.5)
DIGITS_STD = (0.5, 0.5, 0.5)
DIGITS_CLASSES = tuple(str(i) for i in range(10))
DIGITS_NATIVE_SIZE = 8


def _raw() -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # lazy: the runtime does not need scikit-learn

    d = load_digits()
    u8 = np.round(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return u8, d.target.astype(np.int64)


def split_indices(
    labels: np.ndarray, seed: int = 0, test_fraction: float = 0.2
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Stratified deterministic split.

    Per class, ``round(n_c * test_fraction)`` samples go to test.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}')
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _resize(u8: np.ndarray, img_size: Optional[int]) -> np.ndarray:
    """N x 8 x 8 uint8 -> N x S x S x 3 uint8 (BGR = grey replicated)."""
    if img_size is None or img_size == u8.shape[1]:
        out = u8
    else:
        if img_size < 1:
            raise ValueError(f'img_size must be >= 1, got {img_size}')
        out = np.stack(
            [cv2.resize(im, (img_size, img_size), interpolation=cv2.INTER_LINEAR) for im in u8]
        )
    return np.repeat(out[..., None], 3, axis=-1)


def digits_as_bgr_images(
    img_size: Optional[int] = None,
    split: Optional[str] = None,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Digits as uint8 BGR images (N x S x S x 3, S = 8 unless ``img_size``) and int64 labels.

    ``split``: ``None`` (all 1797, dataset order), ``'train'`` or ``'test'`` (same samples and
    order as ``load_digits_split`` with the same seed/test_fraction). Feeding these to a runtime
    that resizes to ``img_size`` and normalises with ``DIGITS_MEAN``/``DIGITS_STD`` reproduces
    ``load_digits_split``.
    """
    u8, y = _raw()
    if split is not None:
        if split not in ('train', 'test'):
            raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
        tr, te = split_indices(y, seed, test_fraction)
        idx = tr if split == 'train' else te
        u8, y = u8[idx], y[idx]
    return _resize(u8, img_size), y


def normalize(images: np.ndarray) -> np.ndarray:
    """
    Normalise N x S x S x 3 uint8 images to N x 3 x S x S float32.

    Per channel: ``(x / 255 - DIGITS_MEAN) / DIGITS_STD``.
    """
    x = images.astype(np.float32) / np.float32(255.0)
    x = (x - np.asarray(DIGITS_MEAN, dtype=np.float32)) / np.asarray(DIGITS_STD, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def load_digits_split(
    img_size: int = 32, seed: int = 0, test_fraction: float = 0.2
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """
    Return ``(x_train, y_train, x_test, y_test)``.

    Float32 N x 3 x S x S in [-1, 1], int64 labels.
    """
    u8, y = _raw()
    tr, te = split_indices(y, seed, test_fraction)
    imgs = _resize(u8, img_size)
    return normalize(imgs[tr]), y[tr], normalize(imgs[te]), y[te]

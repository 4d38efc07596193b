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
Real photo textures for the synthetic aerial world, and the held-out real photos nobody trains on.

The shipped detector was trained on procedural ground only and fired on real texture (gravel,
grass, bricks: issue 13). This module gives the generator real photographs to lay under its objects
and to show alone (negatives), and keeps a disjoint set of real no-person photos aside for
measuring false persons.

Sources are the sample photographs that installed packages ship offline (no download):

- scikit-image 0.26 ``skimage.data`` (grass, gravel, brick, moon, rocket, coffee, chelsea, the
  motorcycle stereo pair, coins, hubble_deep_field, retina, immunohistochemistry, cell, text,
  clock; camera and astronaut show a person),
- scikit-learn ``sklearn.datasets.load_sample_image`` (china.jpg, flower.jpg),
- matplotlib ``cbook.get_sample_data`` (grace_hopper.jpg: a person).

Every photo is listed once in :data:`PHOTOS` with whether a person is visible in it (checked by eye
on the files of those versions). A photo with a person is never a texture or a negative.

The split (by source id and region of the photo, fractions of its width and height; checked by
:func:`check_splits`):

- **held out whole** (never read by training): ``sklearn/flower`` and ``skimage/rocket`` (outdoor
  photos);
- **held out by region**: the right 40 % (x 0.60-1.00) of ``skimage/grass``, ``skimage/gravel``,
  ``skimage/brick``, ``skimage/moon`` and ``sklearn/china``; training reads only their left 55 %
  (x 0.00-0.55), so a 5 % strip of each is in neither set;
- **training only**: the rest of the no-person photos, whole.

Training crops are taken inside a region *before* any rotation or scaling (:func:`sample_texture`),
so no pixel of a held-out region can reach a training scene. The region split is the weaker of the
two held-out kinds (same material, different pixels); evaluation reports the two kinds apart.
"""

import functools
import math
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

Box = Tuple[float, float, float, float]


class Photo(NamedTuple):
    """One offline sample photograph: ``id`` is ``'<package>/<name>'``."""

    id: str  # noqa: A003 - the public field name (photo ids in configs, tests and the model card)
    persons: bool  # a person is visible: never a texture nor a negative
    outdoor: bool
    description: str


class Region(NamedTuple):
    """Part of a photo: ``box`` = (x0, y0, x1, y1) as fractions of its width and height."""

    source: str
    box: Box


class Texture(NamedTuple):
    """A texture laid over a scene: ``image`` HxWx3 uint8 BGR, the photo region it came from."""

    image: np.ndarray
    region: Region


PHOTOS: Dict[str, Photo] = {
    p.id: p
    for p in (
        Photo('skimage/grass', False, True, 'grass seen from above (grey)'),
        Photo('skimage/gravel', False, True, 'gravel seen from above (grey)'),
        Photo('skimage/brick', False, True, 'brick wall / paving (grey)'),
        Photo('skimage/moon', False, True, 'lunar surface with craters (grey)'),
        Photo('skimage/rocket', False, True, 'rocket and towers on a launch pad at dusk'),
        Photo('sklearn/china', False, True, 'pagoda, trees, lake and far shore'),
        Photo('sklearn/flower', False, True, 'dahlia and garden foliage'),
        Photo('skimage/coffee', False, False, 'cup of coffee on a wooden table'),
        Photo('skimage/chelsea', False, False, 'a cat'),
        Photo('skimage/motorcycle_left', False, False, 'motorcycle in a garage (stereo left)'),
        Photo('skimage/motorcycle_right', False, False, 'motorcycle in a garage (stereo right)'),
        Photo('skimage/coins', False, False, 'coins on a table (grey)'),
        Photo('skimage/hubble_deep_field', False, False, 'galaxies on black'),
        Photo('skimage/retina', False, False, 'retina fundus photograph'),
        Photo('skimage/immunohistochemistry', False, False, 'stained tissue, microscope'),
        Photo('skimage/cell', False, False, 'a cell, microscope (grey)'),
        Photo('skimage/text', False, False, 'handwriting on paper (grey)'),
        Photo('skimage/clock', False, False, 'a clock with motion blur (grey)'),
        Photo('skimage/camera', True, True, 'the cameraman: a person'),
        Photo('skimage/astronaut', True, False, 'an astronaut: a person'),
        Photo('matplotlib/grace_hopper', True, False, 'Grace Hopper: a person'),
    )
}

_TRAIN_PART: Box = (0.0, 0.0, 0.55, 1.0)
_HELD_PART: Box = (0.60, 0.0, 1.0, 1.0)
_WHOLE: Box = (0.0, 0.0, 1.0, 1.0)
_SPLIT_BY_REGION = (
    'skimage/grass',
    'skimage/gravel',
    'skimage/brick',
    'skimage/moon',
    'sklearn/china',
)
_HELD_WHOLE = ('sklearn/flower', 'skimage/rocket')

#: Held-out regions: never read by training code (see the module docstring).
HELDOUT_REGIONS: Tuple[Region, ...] = tuple(Region(s, _WHOLE) for s in _HELD_WHOLE) + tuple(
    Region(s, _HELD_PART) for s in _SPLIT_BY_REGION
)
#: Regions that training textures and negatives are cut from.
TRAIN_REGIONS: Tuple[Region, ...] = tuple(
    Region(s, _TRAIN_PART) for s in _SPLIT_BY_REGION
) + tuple(
    Region(p.id, _WHOLE)
    for p in PHOTOS.values()
    if not p.persons and p.id not in _SPLIT_BY_REGION and p.id not in _HELD_WHOLE
)
#: Ground-like textures are drawn this many times more often than the other training regions.
_GROUND_WEIGHT = 3.0
_GROUND_SOURCES = ('skimage/grass', 'skimage/gravel', 'skimage/brick', 'skimage/moon')
# Tints for grey photos (BGR): grass, dry grass, soil, sand, stone, asphalt, moss.
_TINTS = (
    (60, 140, 90),
    (80, 160, 175),
    (70, 110, 150),
    (140, 185, 205),
    (150, 150, 150),
    (105, 100, 98),
    (70, 120, 100),
)


def _overlap(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def check_splits(
    train: Sequence[Region] = TRAIN_REGIONS, heldout: Sequence[Region] = HELDOUT_REGIONS
) -> None:
    """
    Raise ``ValueError`` for a region of a photo with a person, an unknown photo or a bad box.

    Also raised when a training region overlaps a held-out region of the same photo.
    """
    for r in tuple(train) + tuple(heldout):
        if r.source not in PHOTOS:
            raise ValueError('texture region: unknown photo {!r}'.format(r.source))
        if PHOTOS[r.source].persons:
            raise ValueError(
                'texture region: {} shows a person and cannot be a negative'.format(r.source)
            )
        x0, y0, x1, y1 = r.box
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(
                'texture region: {} box {} is not inside [0, 1]'.format(r.source, r.box)
            )
    for t in train:
        for h in heldout:
            if t.source == h.source and _overlap(t.box, h.box):
                raise ValueError(
                    'texture split: training region {} overlaps held-out region {} of {}'.format(
                        t.box, h.box, t.source
                    )
                )


def _loader(photo_id: str) -> Callable[[], np.ndarray]:
    package, name = photo_id.split('/', 1)
    if package == 'sklearn':
        from sklearn.datasets import load_sample_image

        return lambda: load_sample_image(name + '.jpg')
    if package == 'matplotlib':
        import matplotlib.cbook
        import matplotlib.image

        return lambda: matplotlib.image.imread(matplotlib.cbook.get_sample_data(name + '.jpg'))
    import skimage.data

    if name.startswith('motorcycle_'):
        side = 0 if name.endswith('left') else 1
        return lambda: skimage.data.stereo_motorcycle()[side]
    return getattr(skimage.data, name)


@functools.lru_cache(maxsize=None)
def _photo(photo_id: str) -> np.ndarray:
    img = np.asarray(_loader(photo_id)())
    if img.dtype != np.uint8:
        img = np.clip(np.round(img * (255.0 if img.max() <= 1.0 else 1.0)), 0, 255).astype(
            np.uint8
        )
    if img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)
    img.setflags(write=False)
    return img


def load_photo(photo_id: str) -> np.ndarray:
    """
    Return the photo as uint8, HxW (grey sources) or HxWx3 BGR; read-only (cached per process).

    Raises ``KeyError`` for an id not in :data:`PHOTOS`.
    """
    if photo_id not in PHOTOS:
        raise KeyError('unknown photo {!r} (known: {})'.format(photo_id, ', '.join(PHOTOS)))
    return _photo(photo_id)


def region_pixels(region: Region) -> np.ndarray:
    """Return the pixels of ``region`` (a view of the cached photo: do not write to it)."""
    img = load_photo(region.source)
    h, w = img.shape[:2]
    x0, y0, x1, y1 = region.box
    return img[int(round(y0 * h)):int(round(y1 * h)), int(round(x0 * w)):int(round(x1 * w))]


def _recolour(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """
    Tint grey photos, jitter hue/saturation of colour ones, then contrast.

    Brightness and blur.
    """
    if img.ndim == 2:
        g = img.astype(np.float32)
        tint = np.array(_TINTS[int(rng.integers(len(_TINTS)))], np.float32) + rng.uniform(
            -20, 20, 3
        )
        tinted = g[..., None] * (tint / max(1.0, float(g.mean())))
        k = rng.uniform(0.3, 1.0)
        out = (1 - k) * g[..., None] + k * tinted
    else:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 0] = np.mod(hsv[..., 0] + rng.uniform(-12, 12), 180.0)
        hsv[..., 1] *= 0.0 if rng.random() < 0.15 else rng.uniform(0.5, 1.3)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(
            np.float32
        )
    mean = out.reshape(-1, 3).mean(0)
    out = (out - mean) * rng.uniform(0.6, 1.3) + mean * rng.uniform(0.7, 1.2)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    return out


def _pick_region(rng: np.random.Generator, regions: Sequence[Region]) -> Region:
    w = np.array([_GROUND_WEIGHT if r.source in _GROUND_SOURCES else 1.0 for r in regions])
    return regions[int(rng.choice(len(regions), p=w / w.sum()))]


def sample_texture(
    rng: np.random.Generator,
    width: int,
    height: int,
    regions: Sequence[Region] = TRAIN_REGIONS,
    scale_range: Tuple[float, float] = (0.4, 2.5),
) -> Texture:
    """
    Return a ``width`` x ``height`` BGR texture cut from a random region of ``regions``.

    ``regions`` defaults to the training regions only.
    The region is cropped first; the crop is then scaled by a log-uniform factor in ``scale_range``
    (scene pixels per photo pixel), rotated by a uniform angle, shifted at random and mirror-tiled
    to fill the scene (``cv2.warpAffine`` with ``BORDER_REFLECT_101``), then recoloured
    (:func:`_recolour`). All randomness comes from ``rng``. Raises ``ValueError`` for an empty
    ``regions`` or a size < 1.
    """
    if not regions:
        raise ValueError('sample_texture: no regions to sample from')
    if width < 1 or height < 1:
        raise ValueError('sample_texture: size must be >= 1, got {}x{}'.format(width, height))
    region = _pick_region(rng, regions)
    src = region_pixels(region)
    sh, sw = src.shape[:2]
    s = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    th = rng.uniform(0, 2 * math.pi)
    c, si = math.cos(th) / s, math.sin(th) / s
    a = np.array([[c, -si], [si, c]])  # scene pixel -> photo pixel
    centre = np.array([rng.uniform(0, sw), rng.uniform(0, sh)])
    m = np.zeros((2, 3))
    m[:, :2] = a
    m[:, 2] = centre - a @ np.array([width / 2.0, height / 2.0])
    img = cv2.warpAffine(
        np.ascontiguousarray(src),
        m,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return Texture(np.ascontiguousarray(_recolour(rng, np.ascontiguousarray(img))), region)


#: Frame sizes of the held-out evaluation (width, height).
HELDOUT_SIZES: Tuple[Tuple[int, int], ...] = ((640, 480), (1280, 720))


def _cover(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize so the image covers width x height, keeping its aspect ratio, and crop the centre."""
    h, w = img.shape[:2]
    s = max(width / w, height / h)
    nw, nh = max(width, int(math.ceil(w * s))), max(height, int(math.ceil(h * s)))
    big = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    x0, y0 = (nw - width) // 2, (nh - height) // 2
    return np.ascontiguousarray(big[y0:y0 + height, x0:x0 + width])


#: Fixed tints (BGR) that grey held-out regions are also shown in: dry grass / sand, and soil.
HELDOUT_TINTS: Tuple[Tuple[str, Tuple[int, int, int]], ...] = (
    ('sand', (120, 170, 190)),
    ('soil', (80, 115, 140)),
)


def _tint(grey: np.ndarray, colour: Tuple[int, int, int]) -> np.ndarray:
    g = grey.astype(np.float32)
    return np.clip(
        g[..., None] * (np.array(colour, np.float32) / max(1.0, float(g.mean()))), 0, 255
    ).astype(np.uint8)


def _native(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Return the image at 1:1 scale, centred and mirror-tiled to width x height."""
    h, w = img.shape[:2]
    m = np.float32([[1, 0, (w - width) / 2.0], [0, 1, (h - height) / 2.0]])
    return cv2.warpAffine(
        np.ascontiguousarray(img),
        m,
        (width, height),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def heldout_negative_frames(
    sizes: Sequence[Tuple[int, int]] = HELDOUT_SIZES, regions: Sequence[Region] = HELDOUT_REGIONS
) -> List[Tuple[str, str, np.ndarray]]:
    """
    Real no-person frames for evaluation.

    ``(name, kind, BGR image)`` per region, view, colouring and size.

    Three views of each held-out region at each ``(width, height)`` in ``sizes``: ``full`` (the
    region resized to cover the frame, centre crop), ``zoom2`` (its central half, likewise) and
    ``native`` (1:1 pixels, mirror-tiled to fill the frame). ``kind`` is ``held-out photo`` for
    photos held out whole and ``held-out region`` for the held-out part of a photo whose other part
    trains. Grey photos are shown grey and also tinted with each of :data:`HELDOUT_TINTS` (kind
    ``held-out region, tinted``): grey gravel or grass hardly looks like the ground a drone sees,
    tinted it does. Names look like ``skimage/gravel[0.6-1.0]+sand@zoom2@1280x720``. Deterministic
    (no randomness).
    """
    check_splits(TRAIN_REGIONS, regions)
    out = []
    for r in regions:
        px = np.ascontiguousarray(region_pixels(r))
        whole = r.box == _WHOLE
        kind = 'held-out photo' if whole else 'held-out region'
        tag = r.source if whole else '{}[{:.1f}-{:.1f}]'.format(r.source, r.box[0], r.box[2])
        colourings = [('', kind, px if px.ndim == 3 else cv2.cvtColor(px, cv2.COLOR_GRAY2BGR))]
        if px.ndim == 2:
            colourings += [
                ('+' + name, kind + ', tinted', _tint(px, col)) for name, col in HELDOUT_TINTS
            ]
        for suffix, k, img in colourings:
            h, w = img.shape[:2]
            half = img[h // 4:h - h // 4, w // 4:w - w // 4]
            for fw, fh in sizes:
                fw, fh = int(fw), int(fh)
                for view, frame in (
                    ('full', _cover(img, fw, fh)),
                    ('zoom2', _cover(half, fw, fh)),
                    ('native', _native(img, fw, fh)),
                ):
                    out.append(('{}{}@{}@{}x{}'.format(tag, suffix, view, fw, fh), k, frame))
    return out


def training_sources(regions: Optional[Sequence[Region]] = None) -> List[str]:
    """Sorted photo ids that training may read (``TRAIN_REGIONS`` unless given)."""
    return sorted({r.source for r in (TRAIN_REGIONS if regions is None else regions)})

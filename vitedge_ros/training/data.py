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
The one data builder of tools/train.py and the compression recipes, and the sets it makes.

Training configs and recipes name a ``data`` entry's fields alike (the vocabulary of
:data:`vitedge_ros.training.config.DATA_RENAMED`): a ``synthetic-aerial`` entry has ``train_size``
/ ``val_size`` scenes of ``width`` x ``height`` pixels, seeds ``seed ..`` / ``val_seed ..``,
optional ``flights`` and real photo texture fractions. Each tool's schema fills its own defaults
(training configs: 2000 / 200 scenes, ``val_seed`` 1000000; recipes: ``val_seed`` 100000, sizes
given here as ``default_sizes``), then :func:`build_detection`, :func:`build_segmentation`,
:func:`build_classification` and :func:`data_labels` make the data; :func:`recipe_data` adds the
recipes' input-size defaults. The same entry and seeds give the same arrays from either tool
(test_training_data.py).

Detectors train on letterboxed uint8 images made with the runtime's own :class:`Preprocessor`, so
the network sees exactly what it will see on the drone.
"""

import logging
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
)

import numpy as np
import torch

from ..runtime.bundle import InputSpec
from ..runtime.preprocess import Preprocessor
from ..tasks import get_task

LOG = logging.getLogger(__name__)


class DetectionSet(NamedTuple):
    """
    Detection samples at network size.

    Uint8 images (network colour order) and boxes in network pixels.

    ``ignored`` (optional, each K×4 xyxy): regions that are neither objects nor background (no
    heatmap loss in training; detections and ground truth more than half inside are dropped before
    scoring).
    """

    images: np.ndarray  # N×H×W×3 uint8
    boxes: List[np.ndarray]  # each M×4 float32 xyxy
    labels: List[np.ndarray]  # each M int64
    spec: InputSpec
    ignored: Optional[List[np.ndarray]] = None


def scenes_to_detection_set(scenes: Sequence[Any], spec: InputSpec) -> DetectionSet:
    """Letterbox scenes (objects with ``image``, ``boxes``, ``labels``) to the network input."""
    pre = Preprocessor(spec)
    images, boxes, labels = [], [], []
    for sc in scenes:
        img, tf = pre.letterbox(sc.image)
        b = np.asarray(sc.boxes, np.float32).reshape(-1, 4).copy()
        b[:, 0::2] = b[:, 0::2] * tf.scale_x + tf.pad_x
        b[:, 1::2] = b[:, 1::2] * tf.scale_y + tf.pad_y
        images.append(np.ascontiguousarray(img))
        boxes.append(b)
        labels.append(np.asarray(sc.labels, np.int64).reshape(-1))
    return DetectionSet(np.stack(images), boxes, labels, spec)


def detection_scenes(
    n: int,
    seed: int,
    width: int = 640,
    height: int = 480,
    flights: Optional[Dict[str, Any]] = None,
    real_backgrounds: float = 0.0,
    real_negatives: float = 0.0,
) -> Iterator[Any]:
    """
    Return the generated scenes of :func:`make_detection_set`, one at a time.

    Scenes are at scene size (not letterboxed).

    Yields ``Scene`` objects (``image`` BGR uint8 height x width x 3, ``boxes`` M x 4 xyxy scene
    pixels, ``labels`` M): the ``n`` single scenes (seeds ``seed .. seed+n-1``, the last ``round(n
    * real_negatives)`` real texture negatives with no object), then the kept flight frames
    (:func:`flight_scenes`). For consumers that cannot hold a whole set in memory (the peer
    benchmark writes them to disk). Raises ``ValueError`` for a fraction outside [0, 1].
    """
    from ..data.synthetic import generate_scene, generate_texture_negative

    for key, v in (('real_backgrounds', real_backgrounds), ('real_negatives', real_negatives)):
        if not 0.0 <= v <= 1.0:
            raise ValueError('{} must be in [0, 1], got {}'.format(key, v))
    n_neg = int(round(n * real_negatives))
    for i in range(n):
        if i < n - n_neg:
            yield generate_scene(
                seed + i, width=width, height=height, real_background=real_backgrounds
            )
        else:
            yield generate_texture_negative(seed + i, width=width, height=height)
    if flights:
        yield from flight_scenes(width=width, height=height, **flights)


def make_detection_set(
    n: int,
    seed: int,
    spec: InputSpec,
    width: int = 640,
    height: int = 480,
    flights: Optional[Dict[str, Any]] = None,
    real_backgrounds: float = 0.0,
    real_negatives: float = 0.0,
) -> DetectionSet:
    """
    Generate ``n`` synthetic aerial scenes (seeds ``seed .. seed+n-1``) at the network input.

    ``real_backgrounds`` (0-1): probability that a scene's bare ground is a real photo texture
    (``generate_scene(real_background=...)``; boxes do not change). ``real_negatives`` (0-1): the
    fraction of the ``n`` scenes, the last ``round(n * real_negatives)`` seeds, that are real photo
    texture alone with no objects (``generate_texture_negative``). Both read training photos only
    (:data:`vitedge_ros.data.textures.TRAIN_REGIONS`). ``flights`` ({count, frames, seed, every,
    real_backgrounds}) appends frames of generated drone flights
    (:func:`make_flight_detection_set`). Raises ``ValueError`` for a fraction outside [0, 1].
    """
    scenes = detection_scenes(
        n,
        seed,
        width,
        height,
        flights=flights,
        real_backgrounds=real_backgrounds,
        real_negatives=real_negatives,
    )
    return scenes_to_detection_set(scenes, spec)


def flight_scenes(
    count: int,
    frames: int,
    seed: int,
    every: int = 1,
    width: int = 640,
    height: int = 480,
    real_backgrounds: float = 0.0,
) -> Iterator[Any]:
    """
    Return the kept frames of :func:`make_flight_detection_set`, one at a time.

    Frames are at scene size (not letterboxed).

    Raises ``ValueError`` when count, frames or every is below 1.
    """
    from ..data.synthetic import camera_sequence

    if count < 1 or frames < 1 or every < 1:
        raise ValueError(
            'flights: count, frames and every must be >= 1, got {}, {}, {}'.format(
                count, frames, every
            )
        )
    for k in range(count):
        flight = camera_sequence(
            frames, seed=seed + k, width=width, height=height, real_background=real_backgrounds
        )
        for i, sc in enumerate(flight):
            if i % every == 0:
                yield sc


def make_flight_detection_set(
    count: int,
    frames: int,
    seed: int,
    spec: InputSpec,
    every: int = 1,
    width: int = 640,
    height: int = 480,
    real_backgrounds: float = 0.0,
) -> DetectionSet:
    """
    Frames of ``count`` generated drone flights.

    ``camera_sequence`` seeds ``seed .. seed+count-1``.

    Every ``every``-th of ``frames`` frames is kept: neighbouring frames are nearly identical.
    Flight frames add what single scenes lack: resampling blur from the moving camera, sensor noise
    and objects cut by the frame edge. ``real_backgrounds``: probability that a flight's world has
    real photo texture for bare ground (``camera_sequence(real_background=...)``).
    """
    return scenes_to_detection_set(
        flight_scenes(count, frames, seed, every, width, height, real_backgrounds), spec
    )


def concat_detection_sets(a: DetectionSet, b: DetectionSet) -> DetectionSet:
    """Both sets in one (same input spec)."""
    if a.spec != b.spec:
        raise ValueError(
            'concat_detection_sets: input specs differ: {} vs {}'.format(a.spec, b.spec)
        )
    ignored = None
    if a.ignored is not None or b.ignored is not None:
        ignored = _ignored_or_empty(a) + _ignored_or_empty(b)
    return DetectionSet(
        np.concatenate([a.images, b.images]),
        list(a.boxes) + list(b.boxes),
        list(a.labels) + list(b.labels),
        a.spec,
        ignored,
    )


def _ignored_or_empty(data: DetectionSet) -> List[np.ndarray]:
    if data.ignored is not None:
        return list(data.ignored)
    return [np.zeros((0, 4), np.float32) for _ in data.boxes]


class DetectionData(NamedTuple):
    """
    Training and validation data of a ``data`` entry with real sources or a mix.

    The sources are those of :mod:`vitedge_ros.data.sources`.
    """

    train: Any  # DetectionSampler: fresh crops each epoch
    val: DetectionSet  # the first item's validation set, letterboxed whole frames
    labels: List[str]
    val_from: str  # key path of the item validation comes from


SyntheticFn = Callable[[Dict[str, Any], str], DetectionSet]


def is_real_detection_data(data: Dict[str, Any]) -> bool:
    """Return True for ``data`` entries :func:`make_detection_data` reads (mix, coco, visdrone)."""
    from ..data.sources import DETECTION_SOURCES

    return 'mix' in data or data.get('name') in DETECTION_SOURCES


def detection_data_classes(data: Dict[str, Any], path: str = 'data') -> List[str]:
    """
    Return the label names of a detection ``data`` entry, read without any image.

    Every mix item must agree.
    """
    from ..data.sources import check_same_classes, detection_classes

    items = data['mix'] if 'mix' in data else [data]
    wheres = ['{}.mix[{}]'.format(path, k) for k in range(len(items))] if 'mix' in data else [path]
    return check_same_classes([(w, detection_classes(it, w)) for w, it in zip(wheres, items)])


def make_detection_data(
    data: Dict[str, Any],
    spec: InputSpec,
    synthetic: SyntheticFn,
    epoch_size: Optional[int] = None,
    val_limit: Optional[int] = None,
    path: str = 'data',
) -> DetectionData:
    """
    Open the sources of a validated detection ``data`` entry (one real source or a ``mix``).

    ``synthetic(item, split)`` makes the caller's synthetic-aerial scenes for a mix item (training
    configs and recipes name their keys differently). Errors name the key path
    (``data.mix[1].root``).
    """
    from ..data.sources import (
        DetectionSampler,
        letterbox_source,
        open_detection_source,
        PreparedSource,
    )

    labels = detection_data_classes(data, path)
    items = data['mix'] if 'mix' in data else [data]
    wheres = ['{}.mix[{}]'.format(path, k) for k in range(len(items))] if 'mix' in data else [path]
    sources, weights = [], []
    for item, where in zip(items, wheres):
        if item['name'] == 'synthetic-aerial':
            scenes = synthetic(item, 'train')
            sources.append(
                PreparedSource(
                    scenes.images, scenes.boxes, scenes.labels, labels, scenes.ignored, where
                )
            )
        else:
            sources.append(open_detection_source(item, 'train', where))
        weights.append(float(item.get('weight', 1.0)))
    first, where = items[0], wheres[0]
    if first['name'] == 'synthetic-aerial':
        val = synthetic(first, 'val')
    else:
        images, boxes, lab, ignored, _ = letterbox_source(
            open_detection_source(first, 'val', where), spec, val_limit
        )
        val = DetectionSet(images, boxes, lab, spec, ignored)
    return DetectionData(DetectionSampler(spec, sources, weights, epoch_size), val, labels, where)


def sample_detection_set(sampler: Any, n: int, seed: int) -> DetectionSet:
    """
    Return ``n`` samples of a :class:`DetectionSampler`, drawn once.

    The crops are fixed, e.g. for calibration.
    """
    images, boxes, labels, ignored = sampler.batch(n, np.random.default_rng(seed))
    return DetectionSet(images, boxes, labels, sampler.spec, ignored)


def _normalizer(spec: InputSpec) -> Tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def images_to_tensor(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """N×H×W×3 uint8 → normalised N×3×H×W float32 (same arithmetic as the runtime)."""
    mean, std = _normalizer(spec)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - mean) / std


class SegmentationSet(NamedTuple):
    """
    Segmentation samples at network size, and (optionally) the masks in input-image pixels.

    ``masks`` carry ``IGNORE_INDEX`` (255) on letterbox padding. ``frame_masks`` + ``transforms``
    let the evaluation score label maps in input-image pixels, as the runtime decoder produces
    them.
    """

    images: np.ndarray  # N×H×W×3 uint8, network colour order
    masks: np.ndarray  # N×H×W uint8 class ids
    spec: InputSpec
    frame_masks: Optional[List[np.ndarray]] = None  # each h×w uint8, input-image pixels
    transforms: Optional[List[Any]] = None  # runtime Transform per sample


def letterbox_mask(mask: np.ndarray, pre: Preprocessor) -> np.ndarray:
    """
    Return a label map through the same geometry as its image.

    Resampling is nearest neighbour; the padding is 255.
    """
    import cv2

    from ..eval.segmentation import IGNORE_INDEX

    h, w = mask.shape[:2]
    (new_w, new_h), tf = pre.geometry(w, h)
    m = (
        mask
        if (new_w, new_h) == (w, h)
        else cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    )
    spec = pre.spec
    if (new_w, new_h) != (spec.width, spec.height):
        canvas = np.full((spec.height, spec.width), IGNORE_INDEX, dtype=np.uint8)
        px, py = int(tf.pad_x), int(tf.pad_y)
        canvas[py:py + new_h, px:px + new_w] = m
        m = canvas
    return np.ascontiguousarray(m.astype(np.uint8))


def scenes_to_segmentation_set(
    samples: Iterable[Any],
    spec: InputSpec,
    keep_frame_masks: bool = False,
    num_classes: Optional[int] = None,
) -> SegmentationSet:
    """
    Letterbox ``(image, mask)`` pairs or scenes (``.image``, ``.mask``) to the network input.

    With ``num_classes`` every mask is checked (size, class ids) with a clear error first.
    """
    from ..eval.segmentation import check_mask

    pre = Preprocessor(spec)
    images, masks, frames, tfs = [], [], [], []
    for i, s in enumerate(samples):
        image, mask = (s.image, s.mask) if hasattr(s, 'mask') else (s[0], s[1])
        if num_classes is not None:
            mask = check_mask(
                mask, num_classes, tuple(image.shape[:2]), what='sample {} mask'.format(i)
            )
        img, tf = pre.letterbox(image)
        images.append(np.ascontiguousarray(img))
        masks.append(letterbox_mask(np.asarray(mask, np.uint8), pre))
        if keep_frame_masks:
            frames.append(np.asarray(mask, np.uint8))
            tfs.append(tf)
    shape = (0, spec.height, spec.width)
    return SegmentationSet(
        np.stack(images) if images else np.zeros(shape + (3,), np.uint8),
        np.stack(masks) if masks else np.zeros(shape, np.uint8),
        spec,
        frames if keep_frame_masks else None,
        tfs if keep_frame_masks else None,
    )


def _seg_cache_path(
    cache_dir: Any,
    n: int,
    seed: int,
    spec: InputSpec,
    width: int,
    height: int,
    keep_frame_masks: bool,
) -> Any:
    import hashlib
    from pathlib import Path

    key = repr((n, seed, spec.to_dict(), width, height, keep_frame_masks, 'synthetic-v1'))
    return Path(cache_dir) / 'seg_{}_{}_{}x{}_{}.npz'.format(
        n, seed, width, height, hashlib.sha1(key.encode()).hexdigest()[:10]
    )


def make_segmentation_set(
    n: int,
    seed: int,
    spec: InputSpec,
    width: int = 640,
    height: int = 480,
    keep_frame_masks: bool = False,
    cache_dir: Any = None,
) -> SegmentationSet:
    """
    ``n`` synthetic aerial scenes (seeds ``seed ..``) with their masks, at the network input.

    With ``cache_dir`` the set is stored there once (``.npz``) and read back on later calls.
    """
    from ..data.synthetic import generate_scene

    path = (
        _seg_cache_path(cache_dir, n, seed, spec, width, height, keep_frame_masks)
        if cache_dir
        else None
    )
    if path is not None and path.is_file():
        z = np.load(str(path))
        frames = list(z['frame_masks']) if keep_frame_masks else None
        tfs = None
        if keep_frame_masks:
            pre = Preprocessor(spec)
            tfs = [pre.geometry(m.shape[1], m.shape[0])[1] for m in frames]
        return SegmentationSet(z['images'], z['masks'], spec, frames, tfs)
    data = scenes_to_segmentation_set(
        (generate_scene(seed + i, width=width, height=height) for i in range(n)),
        spec,
        keep_frame_masks,
    )
    if path is not None:
        import io

        from ..runtime.bundle import atomic_write_bytes

        buf = io.BytesIO()
        arrays = {'images': data.images, 'masks': data.masks}
        if keep_frame_masks:
            arrays['frame_masks'] = np.stack(data.frame_masks)
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    return data


# --- the one builder
# ------------------------------------------------------------------------------------------

#: Scenes of a synthetic-aerial entry whose ``train_size`` / ``val_size`` is null (the recipes'
#: defaults;
#: training configs fill 2000 / 200 in their schema).
RECIPE_SIZES = (512, 128)


def synthetic_detection(
    spec: InputSpec, default_sizes: Tuple[int, int] = RECIPE_SIZES
) -> SyntheticFn:
    """
    Synthetic-aerial scenes of a validated entry (or mix item): ``make(item, 'train' | 'val')``.

    ``train``: ``train_size`` scenes (seeds ``seed ..``; the last ``real_negatives`` fraction real
    photo texture alone, ``real_backgrounds`` of them on real photo ground) plus the frames of
    ``flights``; ``val``: ``val_size`` scenes (seeds ``val_seed ..``); all ``width`` x ``height``
    pixels, letterboxed to ``spec``. A null size takes ``default_sizes`` (train, val).
    """

    def make(d: Dict[str, Any], split: str) -> DetectionSet:
        if split == 'train':
            return make_detection_set(
                d.get('train_size') or default_sizes[0],
                d['seed'],
                spec,
                d['width'],
                d['height'],
                flights=d.get('flights'),
                real_backgrounds=d.get('real_backgrounds', 0.0),
                real_negatives=d.get('real_negatives', 0.0),
            )
        return make_detection_set(
            d.get('val_size') or default_sizes[1], d['val_seed'], spec, d['width'], d['height']
        )

    return make


def build_detection(
    d: Dict[str, Any],
    spec: InputSpec,
    default_sizes: Tuple[int, int] = RECIPE_SIZES,
    epoch_size: Optional[int] = None,
    val_limit: Optional[int] = None,
) -> DetectionData:
    """
    Training and validation data of a validated detection ``data`` entry.

    Synthetic-aerial: ``train`` is a :class:`DetectionSet` (:func:`synthetic_detection`). A real
    source or a ``mix``: ``train`` is a :class:`vitedge_ros.data.sources.DetectionSampler` of
    ``epoch_size`` fresh samples per epoch, ``val`` the first item's validation images (at most
    ``val_limit``), letterboxed whole. Raises ``DataConfigError`` / ``DatasetError`` naming the key
    path or file.
    """
    make = synthetic_detection(spec, default_sizes)
    if not is_real_detection_data(d):
        from ..data.synthetic import DETECTION_CLASSES

        LOG.info('generating synthetic scenes')
        return DetectionData(make(d, 'train'), make(d, 'val'), list(DETECTION_CLASSES), 'data')
    data = make_detection_data(d, spec, make, epoch_size=epoch_size, val_limit=val_limit)
    LOG.info(
        'training on %s (%d samples per epoch, crops where the source says so); validating on %d '
        'images '
        'of %s, letterboxed whole as the runtime does',
        ' + '.join(
            '{} ({} images, weight {:.3g})'.format(s.where, len(s), p)
            for s, p in zip(data.train.sources, data.train.probabilities)
        ),
        len(data.train),
        len(data.val.images),
        data.val_from,
    )
    return data


def flight_validation(d: Dict[str, Any], spec: InputSpec) -> Optional[DetectionSet]:
    """
    Return the frames of a training config's ``val_flights`` (None without them).

    Frames are ``width`` x ``height`` pixels.
    """
    if not d.get('val_flights'):
        return None
    return make_flight_detection_set(
        spec=spec, width=d['width'], height=d['height'], **d['val_flights']
    )


SegmentationData = Tuple[SegmentationSet, SegmentationSet, List[str]]


def build_segmentation(
    d: Dict[str, Any], spec: InputSpec, default_sizes: Tuple[int, int] = RECIPE_SIZES
) -> SegmentationData:
    """
    Training and validation :class:`SegmentationSet` and the class names of a ``data`` entry.

    ``masks``: image + label-map folders ``root`` / ``val_root`` with ``classes``;
    synthetic-aerial: ``train_size`` / ``val_size`` generated scenes (seeds ``seed ..`` /
    ``val_seed ..``, ``width`` x ``height``, cached as .npz in ``cache_dir`` when given).
    Validation keeps masks in input-image pixels.
    """
    if d['name'] == 'masks':
        from ..data.masks import SegmentationMaskSet

        labels = [str(c) for c in d['classes']]
        train = SegmentationMaskSet(d['root'], len(labels), class_names=labels)
        val = SegmentationMaskSet(d['val_root'], len(labels), class_names=labels)
        return (
            scenes_to_segmentation_set(train, spec, num_classes=len(labels)),
            scenes_to_segmentation_set(val, spec, keep_frame_masks=True, num_classes=len(labels)),
            labels,
        )
    from ..data.synthetic import SEG_CLASSES

    cache = d.get('cache_dir')
    train = make_segmentation_set(
        d.get('train_size') or default_sizes[0],
        d['seed'],
        spec,
        d['width'],
        d['height'],
        cache_dir=cache,
    )
    val = make_segmentation_set(
        d.get('val_size') or default_sizes[1],
        d['val_seed'],
        spec,
        d['width'],
        d['height'],
        keep_frame_masks=True,
        cache_dir=cache,
    )
    return train, val, list(SEG_CLASSES)


ArraySplit = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def build_classification(
    d: Dict[str, Any], spec: InputSpec, img_size: int = 32
) -> Tuple[ArraySplit, List[str]]:
    """
    Return ``(x_train, y_train, x_val, y_val)`` and the class names of a classification set.

    Images are N×3×H×W float32, normalised. digits: scikit-learn's digits at ``img_size`` pixels,
    a seeded ``test_fraction`` holdout; imagefolder: through the runtime preprocessing of
    ``spec``. ``train_size`` / ``val_size``, when set, keep the first so many of each split.
    Raises ``DataConfigError`` / ``DatasetError``.
    """
    if d['name'] == 'digits':
        from ..data.digits import DIGITS_CLASSES, load_digits_split

        xtr, ytr, xte, yte = load_digits_split(
            img_size=int(img_size),
            seed=d.get('seed', 0),
            test_fraction=d.get('test_fraction', 0.2),
        )
        labels = list(DIGITS_CLASSES)
    else:
        from ..data.sources import imagefolder_arrays

        (xtr, ytr, xte, yte), labels = imagefolder_arrays(d, spec)
    n_tr, n_te = d.get('train_size'), d.get('val_size')
    return (xtr[:n_tr], ytr[:n_tr], xte[:n_te], yte[:n_te]), labels


def data_labels(d: Dict[str, Any], task: str) -> List[str]:
    """
    Return the label names of a validated ``data`` entry for ``task``.

    They are read before any work (no image decoded).

    Raises ``DataConfigError`` / ``DatasetError`` (a mix whose items disagree, an unreadable COCO
    JSON).
    """
    return get_task(task).data_labels(d)


# --- recipes: input-size defaults (recipes have no ``input`` key)
# ----------------------------------------------

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # timm's defaults


class TaskData(NamedTuple):
    """
    A recipe's data; unused fields are None.

    Detection / segmentation sets (``train``, ``val``, and ``sampler`` of fresh crops for real
    detection data) or classification arrays (``x_train`` .. ``y_test``).
    """

    task: str
    spec: InputSpec
    labels: List[str]
    train: Any = None
    val: Any = None
    sampler: Any = None
    x_train: Optional[np.ndarray] = None
    y_train: Optional[np.ndarray] = None
    x_test: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None


def _square_spec(size: Any, mean: Sequence[float], std: Sequence[float], resize: str) -> InputSpec:
    h, w = (size, size) if isinstance(size, int) else size
    return InputSpec(int(w), int(h), 'rgb', mean, std, resize)


def letterbox_recipe_spec(recipe: Dict[str, Any], default: Any) -> InputSpec:
    """
    Return the letterboxed input spec of a recipe (mean 0.5, std 0.25).

    Its size is ``data.img_size`` or ``model.img_size`` (height, width), else ``default``.
    """
    d = recipe['data']
    return _square_spec(
        d['img_size'] or recipe['model']['img_size'] or default,
        (0.5,) * 3,
        (0.25,) * 3,
        'letterbox',
    )


def classification_recipe_spec(recipe: Dict[str, Any]) -> InputSpec:
    """
    Classification input.

    Imagefolder 224 (stretched, timm's ImageNet normalisation), digits 32.
    """
    d = recipe['data']
    if d['name'] == 'imagefolder':
        return _square_spec(
            d['img_size'] or recipe['model']['img_size'] or 224,
            IMAGENET_MEAN,
            IMAGENET_STD,
            'stretch',
        )
    from ..data.digits import DIGITS_MEAN, DIGITS_STD

    size = d['img_size'] or recipe['model']['img_size'] or 32
    size = size[0] if isinstance(size, list) else size
    return _square_spec(int(size), DIGITS_MEAN, DIGITS_STD, 'stretch')


def recipe_spec(recipe: Dict[str, Any], task: str) -> InputSpec:
    """
    Return the input of a recipe model without a checkpoint.

    The task decides (:meth:`vitedge_ros.tasks.Task.recipe_spec`).

    ``data.img_size`` or ``model.img_size`` (height, width) or the task's default: detect 192x256,
    segment 240x320 (letterboxed, mean 0.5, std 0.25), imagefolder 224 (stretched, timm's ImageNet
    normalisation), digits 32.
    """
    return get_task(task).recipe_spec(recipe)


def segmentation_recipe_data(
    recipe: Dict[str, Any], spec: InputSpec, labels: Optional[List[str]]
) -> TaskData:
    """Return a segmentation recipe's scenes or masks (:func:`build_segmentation`)."""
    train, val, seg_labels = build_segmentation(recipe['data'], spec)
    return TaskData('segment', spec, labels or seg_labels, train=train, val=val)


def detection_recipe_data(
    recipe: Dict[str, Any], spec: InputSpec, labels: Optional[List[str]]
) -> TaskData:
    """
    Return a detection recipe's data.

    Real data: ``train_size`` crops drawn once and a sampler of fresh ones.
    """
    d = recipe['data']
    if is_real_detection_data(d):
        n = d['train_size'] or RECIPE_SIZES[0]
        dd = build_detection(d, spec, epoch_size=n, val_limit=d['val_size'])
        train = sample_detection_set(dd.train, n, recipe['seed'])
        return TaskData(
            'detect', spec, labels or dd.labels, train=train, val=dd.val, sampler=dd.train
        )
    dd = build_detection(d, spec)
    return TaskData('detect', spec, labels or dd.labels, train=dd.train, val=dd.val)


def classification_recipe_data(
    recipe: Dict[str, Any], spec: InputSpec, labels: Optional[List[str]]
) -> TaskData:
    """Return a classification recipe's arrays (:func:`build_classification`)."""
    d = recipe['data']
    size = d['img_size'] or recipe['model']['img_size'] or 32
    (xtr, ytr, xte, yte), classes = build_classification(
        d, spec, size[0] if isinstance(size, list) else size
    )
    return TaskData(
        'classify', spec, labels or classes, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte
    )


def recipe_data(
    recipe: Dict[str, Any],
    spec: Optional[InputSpec],
    labels: Optional[List[str]],
    task: Optional[str] = None,
) -> TaskData:
    """
    Return a validated recipe's data through the one builder; ``spec`` None: :func:`recipe_spec`.

    Real detection data (COCO / VisDrone / a mix): ``train_size`` [512] crops drawn once with the
    recipe's ``seed`` (pruning, calibration) as ``train`` and a sampler of as many fresh ones per
    epoch as ``sampler`` (fine-tuning); ``val_size`` caps the validation images. ``labels``: the
    class names the model was checked against (:func:`data_labels` when None). The task decides
    (:meth:`vitedge_ros.tasks.Task.recipe_data`).
    """
    task = task or recipe['model']['task']
    return get_task(task).recipe_data(recipe, spec or recipe_spec(recipe, task), labels)


def detection_training_data(cfg: Dict[str, Any], spec: InputSpec, labels: List[str]) -> TaskData:
    """
    Return a detection training config's sets.

    ``data.epoch_size`` fresh crops per epoch for real data.
    """
    built = build_detection(cfg['data'], spec, epoch_size=cfg['data'].get('epoch_size'))
    return TaskData('detect', spec, labels, train=built.train, val=built.val)


def segmentation_training_data(
    cfg: Dict[str, Any], spec: InputSpec, labels: List[str]
) -> TaskData:
    """Return a segmentation training config's sets and labels."""
    LOG.info('preparing segmentation data')
    train, val, labels = build_segmentation(cfg['data'], spec)
    return TaskData('segment', spec, labels, train=train, val=val)


def classification_training_data(
    cfg: Dict[str, Any], spec: InputSpec, labels: List[str]
) -> TaskData:
    """Return a classification training config's arrays and classes (``data.img_size`` or 32)."""
    (xtr, ytr, xte, yte), labels = build_classification(
        cfg['data'], spec, cfg['data'].get('img_size') or 32
    )
    return TaskData('classify', spec, labels, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)

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
The ``data:`` key of training configs and compression recipes.

Validation, real sources, crops and mixes.

The contract (docs/ARCHITECTURE.md, "Data sources")::

    data: {name: synthetic-aerial, ...}                                   # the generator
    data: {name: coco, images: DIR, annotations: FILE, val_annotations: FILE}
    data: {name: visdrone, root: DIR, val_root: DIR, label_map: {pedestrian: person, car: vehicle}}
    data: {name: imagefolder, root: DIR, val_root: DIR}                   # classifiers
    data: {name: digits}
    data: {mix: [{name: visdrone, root: DIR, weight: 3}, {name: synthetic-aerial, weight: 1}]}

Real detection sources (``coco``, ``visdrone``) give, per image, *positives* (boxes with labels
mapped to the bundle's label names by ``label_map``) and *ignored regions*: boxes that are neither
positives nor background. For VisDrone-DET these are its ignored regions (category 0), lines with
score 0 and "others" (category 11); for COCO the crowd annotations (``iscrowd: 1``). Categories
that ``label_map`` leaves out are background (``unmapped: background``, the default: a person
detector must learn that a motorbike is not a person) or ignored regions (``unmapped: ignore``).
Training masks the heatmap's negative loss inside ignored regions; validation drops detections and
ground truth lying more than half inside them, as the VisDrone-DET toolkit does
(``dropObjectsInIgr.m`` of VisDrone2018-DET-toolkit; COCO itself ignores detections matched to
crowd boxes).

Large frames are trained on random crops (``crop: true``, VisDrone's default): a window of
``crop_scale`` × the network input (a factor drawn log-uniformly from ``[lo, hi]``; ``[1, 1]``
keeps native pixels) is cut at a random place (half the time around a random object) and resized to
the network input. Boxes are clipped to the window; a clipped box is kept when it is more than 2
network pixels wide and high and keeps more than 10 % of its area (the ``box_candidates`` rule of
YOLOv5, utils/augmentations.py), otherwise it becomes an ignored region (a remnant is neither a
positive nor background). Without crops an image is letterboxed whole, as the runtime does.
Validation always letterboxes whole images (what
:class:`vitedge_ros.runtime.preprocess.Preprocessor` does on the drone), so pick ``crop_scale``
near the ratio frame size / network size of the frames the drone will see.

A ``mix`` draws every training sample from one of its items with probability ``weight /
sum(weights)``, then a uniformly random image of that item. Every item must give the same label
names. Validation uses the first item that has a validation set.

Nothing here imports torch.
"""

import logging
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .common import DatasetError, empty_boxes, read_image
from .synthetic import DETECTION_CLASSES
from .visdrone import VISDRONE_CLASSES
from ..runtime.bundle import InputSpec
from ..runtime.errors import VitedgeError
from ..runtime.preprocess import LETTERBOX_PAD, Preprocessor
from ..schema import (
    boolean,
    Checker,
    choice,
    fail,
    integer,
    is_number,
    mapping,
    num,
    SchemaError,
    string,
)
from ..tasks import get_task, UnknownTaskError

LOG = logging.getLogger(__name__)

#: The default VisDrone label map (category name -> bundle label); other categories are
#: ``unmapped``.
VISDRONE_DEFAULT_MAP = {
    'pedestrian': 'person',
    'people': 'person',
    'car': 'vehicle',
    'van': 'vehicle',
    'truck': 'vehicle',
    'bus': 'vehicle',
}
VISDRONE_NEVER_POSITIVE = ('ignored', 'others')
DETECTION_SOURCES = ('coco', 'visdrone')
MIN_BOX_PX = 2.0  # YOLOv5 box_candidates: wh_thr
MIN_AREA_KEPT = 0.1  # YOLOv5 box_candidates: area_thr
FOCUS_PROBABILITY = 0.5  # crops placed around a random object


class DataConfigError(VitedgeError, ValueError):
    """
    An invalid ``data`` entry.

    The message starts with the path of the bad key (``data.mix[1].root``).
    """


def _err(path: str, msg: str) -> DataConfigError:
    return DataConfigError('{}: {}'.format(path, msg))


# the field checkers: the one config language (vitedge_ros.schema); check_data turns their errors
# into
# DataConfigError
TEXT = string
FLAG = boolean
POSITIVE = num(0, lo_open=True)
SEED = integer(0)
FRACTION = num(0, 1, True, True)
UNMAPPED = choice('background', 'ignore')


def NAMES(v: Any, path: str) -> List[str]:  # noqa: N802 - a checker like the ones above
    """Return a non-empty list of distinct non-empty strings (class names)."""
    if not (
        isinstance(v, list)
        and v
        and all(isinstance(s, str) and s for s in v)
        and len(set(v)) == len(v)
    ):
        raise fail(path, 'expected a non-empty list of distinct strings, got {!r}'.format(v))
    return list(v)


def SCALE(v: Any, path: str) -> List[float]:  # noqa: N802 - a checker like the ones above
    """``[lo, hi]`` with ``0 < lo <= hi`` (the crop scale range)."""
    if not (
        isinstance(v, list)
        and len(v) == 2
        and all(is_number(s) and s > 0 for s in v)
        and v[0] <= v[1]
    ):
        raise fail(path, 'expected [lo, hi] with 0 < lo <= hi, got {!r}'.format(v))
    return list(v)


def _label_map(v: Any, path: str) -> Dict[str, str]:
    if not isinstance(v, dict) or not v:
        raise _err(
            path,
            'expected a non-empty mapping {{dataset category name: label}}, got {!r}'.format(v),
        )
    for k, lab in v.items():
        if not isinstance(k, str) or not isinstance(lab, str) or not lab:
            raise _err(
                '{}.{}'.format(path, k), 'expected a label name (string), got {!r}'.format(lab)
            )
    return dict(v)


def _fields(
    v: Any, path: str, fields: Dict[str, Tuple[Checker, Any]], required: Sequence[str]
) -> Dict[str, Any]:
    """:func:`vitedge_ros.schema.mapping`, where a null value takes the key's default."""
    if isinstance(v, dict):
        v = {k: x for k, x in v.items() if x is not None or k in required}
    return mapping(fields, tuple(required))(v, path)


_SPLIT = {'seed': (SEED, 0), 'test_fraction': (FRACTION, 0.2)}
_DETECT = dict(
    _SPLIT, label_map=(_label_map, None), classes=(NAMES, None), crop_scale=(SCALE, [1.0, 1.0])
)
SOURCE_FIELDS: Dict[str, Dict[str, Tuple[Checker, Any]]] = {
    'coco': dict(
        _DETECT,
        name=(TEXT, 'coco'),
        images=(TEXT, None),
        annotations=(TEXT, None),
        val_annotations=(TEXT, None),
        val_images=(TEXT, None),
        unmapped=(UNMAPPED, 'background'),
        crop=(FLAG, False),
    ),
    'visdrone': dict(
        _DETECT,
        name=(TEXT, 'visdrone'),
        root=(TEXT, None),
        val_root=(TEXT, None),
        unmapped=(UNMAPPED, 'background'),
        crop=(FLAG, True),
    ),
    'imagefolder': dict(
        _SPLIT, name=(TEXT, 'imagefolder'), root=(TEXT, None), val_root=(TEXT, None)
    ),
}
SOURCE_REQUIRED = {
    'coco': ('images', 'annotations'),
    'visdrone': ('root',),
    'imagefolder': ('root',),
}


def _check_source(
    v: Any,
    path: str,
    builtin: Dict[str, Checker],
    extra: Dict[str, Tuple[Checker, Any]],
    in_mix: bool,
) -> Dict[str, Any]:
    if not isinstance(v, dict):
        raise _err(path, 'expected a mapping, got {!r}'.format(v))
    if 'name' not in v:
        raise _err(path + '.name', 'required key is missing')
    name = v['name']
    known = sorted(set(SOURCE_FIELDS) | set(builtin))
    if name not in known:
        raise _err(path + '.name', 'expected one of {}, got {!r}'.format(', '.join(known), name))
    body = dict(v)
    weight = POSITIVE(body.pop('weight'), path + '.weight') if in_mix and 'weight' in body else 1.0
    if name in SOURCE_FIELDS:
        out = _fields(body, path, dict(SOURCE_FIELDS[name], **extra), SOURCE_REQUIRED[name])
        if name == 'visdrone':
            out['label_map'] = _visdrone_map(out['label_map'], path + '.label_map')
    else:
        out = builtin[name](body, path)
    if in_mix:
        out['weight'] = float(weight)
    return out


def _visdrone_map(v: Optional[Dict[str, str]], path: str) -> Dict[str, str]:
    if v is None:
        return dict(VISDRONE_DEFAULT_MAP)
    for k in v:
        if k in VISDRONE_NEVER_POSITIVE:
            raise _err(
                '{}.{}'.format(path, k),
                'VisDrone {!r} boxes are never positives (they are ignored)'.format(k),
            )
        if k not in VISDRONE_CLASSES:
            raise _err(
                '{}.{}'.format(path, k),
                'not a VisDrone category (known: {})'.format(
                    ', '.join(c for c in VISDRONE_CLASSES if c not in VISDRONE_NEVER_POSITIVE)
                ),
            )
    return v


def check_data(
    raw: Any,
    path: str = 'data',
    builtin: Optional[Dict[str, Checker]] = None,
    extra: Optional[Dict[str, Tuple[Checker, Any]]] = None,
) -> Dict[str, Any]:
    """
    Validate and normalise a ``data`` entry (defaults filled in); raises :class:`DataConfigError`.

    ``builtin`` maps the caller's own source names (``synthetic-aerial``, ``digits``, ``masks``) to
    checkers ``(value, path) -> value``; ``extra`` are caller keys allowed beside ``name`` or
    ``mix`` (``{key: (checker, default)}``, e.g. a recipe's ``train_size``).
    """
    try:
        return _check_data(raw, path, dict(builtin or {}), dict(extra or {}))
    except SchemaError as exc:
        raise DataConfigError(str(exc)) from None


def _check_data(
    raw: Any, path: str, builtin: Dict[str, Checker], extra: Dict[str, Tuple[Checker, Any]]
) -> Dict[str, Any]:
    if isinstance(raw, dict) and 'mix' in raw:
        for k in raw:
            if k != 'mix' and k not in extra:
                raise _err(
                    '{}.{}'.format(path, k),
                    'unknown key beside mix (known: {})'.format(', '.join(['mix'] + list(extra))),
                )
        items = raw['mix']
        if not isinstance(items, list) or not items:
            raise _err(
                path + '.mix', 'expected a non-empty list of sources, got {!r}'.format(items)
            )
        out = _fields({k: v for k, v in raw.items() if k != 'mix'}, path, extra, ())
        out['mix'] = [
            _check_source(item, '{}.mix[{}]'.format(path, i), builtin, {}, True)
            for i, item in enumerate(items)
        ]
        for i, item in enumerate(out['mix']):
            if item['name'] not in DETECTION_SOURCES and item['name'] != 'synthetic-aerial':
                raise _err(
                    '{}.mix[{}].name'.format(path, i),
                    'a mix holds detection sources ({}, synthetic-aerial), got {!r}'.format(
                        ', '.join(DETECTION_SOURCES), item['name']
                    ),
                )
        return out
    if isinstance(raw, dict) and raw.get('name') in SOURCE_FIELDS:
        return _check_source(raw, path, builtin, extra, False)
    return _check_source(raw, path, builtin, {}, False)


def source_names(data: Dict[str, Any]) -> List[str]:
    """Return the source names of a validated ``data`` entry (the items of a mix, in order)."""
    return [item['name'] for item in data['mix']] if 'mix' in data else [data['name']]


def check_task(
    data: Dict[str, Any], task: str, allowed: Dict[str, Sequence[str]], path: str = 'data'
) -> None:
    """
    Raise :class:`DataConfigError` when the configured data does not fit ``task``.

    The error's path is ``data.name`` or ``data.mix``.
    ``allowed`` maps a task to the source names it reads; a mix is data for the tasks whose object
    says so (:attr:`vitedge_ros.tasks.Task.reads_mixes`: detection). An unknown task is a
    DataConfigError too.
    """
    try:
        t = get_task(task)
    except UnknownTaskError as exc:
        raise _err(path, str(exc)) from None
    ok = allowed.get(task, ())
    if 'mix' in data:
        if not t.reads_mixes:
            raise _err(
                path + '.mix', 'a mix holds detection sources; model task is {!r}'.format(task)
            )
        return
    if data['name'] not in ok:
        raise _err(
            path + '.name',
            '{!r} is not data for task {}: {} (here: {})'.format(
                data['name'], task, t.data_hint, ', '.join(ok)
            ),
        )


# --- real detection sources
# -----------------------------------------------------------------------------------


def _split(n: int, item: Dict[str, Any], split: str, own_val: bool) -> List[int]:
    """
    Return the indices of ``split``.

    All of them with a separate validation set, else a seeded ``test_fraction`` holdout.
    """
    if own_val:
        return list(range(n))
    order = np.random.default_rng(item['seed']).permutation(n)
    n_val = max(1, int(round(n * item['test_fraction']))) if n > 1 else 0
    idx = order[:n_val] if split == 'val' else order[n_val:]
    return sorted(int(i) for i in idx)


def _mapped_classes(
    label_map: Dict[str, str], classes: Optional[List[str]], path: str
) -> List[str]:
    targets = list(dict.fromkeys(label_map.values()))
    if classes is not None:
        for k, v in label_map.items():
            if v not in classes:
                raise _err(
                    '{}.label_map.{}'.format(path, k),
                    'label {!r} is not in {}.classes {}'.format(v, path, classes),
                )
        return list(classes)
    return list(DETECTION_CLASSES) if set(targets) <= set(DETECTION_CLASSES) else targets


class LabelledSource:
    """
    Base of the real detection sources: raw frames (BGR), positives and ignored regions per image.

    ``classes``: label names. ``crop`` / ``crop_scale``: how training samples are cut (module
    docstring).
    """

    kind = ''
    ds: Any = None  # the reader (CocoDetectionSet, VisDroneDetectionSet)

    def __init__(
        self, item: Dict[str, Any], split: str, classes: List[str], has_val: bool, where: str
    ) -> None:
        self.classes = list(classes)
        self.indices = _split(len(self.ds), item, split, has_val)
        self.unmapped_ignored = item['unmapped'] == 'ignore'
        self.crop = bool(item['crop'])
        self.crop_scale = (float(item['crop_scale'][0]), float(item['crop_scale'][1]))
        self.where = where

    def __len__(self) -> int:
        return len(self.indices)

    def image(self, i: int) -> np.ndarray:
        """
        Frame ``i`` of this split, BGR uint8.

        ``DatasetError`` / ``FileNotFoundError`` when unreadable.
        """
        return read_image(self._path(self.indices[i]))

    def targets(self, i: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Return ``(positives, labels, ignored regions)`` of item ``i`` in frame pixels.

        Positives: N x 4 float32 xyxy; labels: N int64; ignored regions: K x 4 float32 xyxy.
        """
        return self._targets(self.indices[i])

    def _path(self, k: int) -> str:
        return self.ds.image_path(k)

    def _targets(
        self, k: int
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class CocoSource(LabelledSource):
    """A COCO instances JSON + image folder; ``label_map`` maps category names to labels."""

    kind = 'coco'

    def __init__(self, item: Dict[str, Any], split: str, path: str = 'data') -> None:
        from .coco import CocoDetectionSet

        ann, images = item['annotations'], item['images']
        own_val = split == 'val' and item['val_annotations']
        if own_val:
            ann, images = item['val_annotations'], item['val_images'] or item['images']
        where = '{}.{}'.format(path, 'val_annotations' if own_val else 'annotations')
        try:
            self.ds = CocoDetectionSet(ann, images)
        except (DatasetError, FileNotFoundError) as exc:
            raise _err(where, str(exc)) from None
        names = self.ds.classes
        if item['label_map'] is None:
            classes = list(item['classes'] or names)
            if item['classes'] is not None and item['classes'] != names:
                raise _err(
                    path + '.classes',
                    '{} differs from the categories of {}: {} (give a label_map)'.format(
                        item['classes'], ann, names
                    ),
                )
            table = {k: k for k in range(len(names))}
        else:
            for k in item['label_map']:
                if k not in names:
                    raise _err(
                        '{}.label_map.{}'.format(path, k),
                        'no such category in {} (categories: {})'.format(ann, ', '.join(names)),
                    )
            classes = _mapped_classes(item['label_map'], item['classes'], path)
            table = {
                k: classes.index(item['label_map'][n])
                for k, n in enumerate(names)
                if n in item['label_map']
            }
        self.table = table
        super().__init__(item, split, classes, bool(item['val_annotations']), where)

    def _targets(self, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        boxes, labels = self.ds.targets(k)
        mapped = np.asarray([int(lab) in self.table for lab in labels], dtype=bool)
        ignored = [self.ds.crowd(k)]
        if self.unmapped_ignored:
            ignored.append(boxes[~mapped])
        out_labels = np.asarray([self.table[int(lab)] for lab in labels[mapped]], dtype=np.int64)
        return boxes[mapped], out_labels, np.concatenate(ignored).astype(np.float32).reshape(-1, 4)


class VisDroneSource(LabelledSource):
    """
    A VisDrone-DET split folder (``images/`` + ``annotations/``).

    ``label_map`` maps category names.
    """

    kind = 'visdrone'

    def __init__(self, item: Dict[str, Any], split: str, path: str = 'data') -> None:
        from .visdrone import VisDroneDetectionSet

        own_val = split == 'val' and item['val_root']
        root = item['val_root'] if own_val else item['root']
        where = '{}.{}'.format(path, 'val_root' if own_val else 'root')
        try:
            self.ds = VisDroneDetectionSet(root, mapping='visdrone')
        except (DatasetError, FileNotFoundError) as exc:
            raise _err(where, str(exc)) from None
        classes = _mapped_classes(item['label_map'], item['classes'], path)
        self.table = {
            VISDRONE_CLASSES.index(n): classes.index(lab) for n, lab in item['label_map'].items()
        }
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        super().__init__(item, split, classes, bool(item['val_root']), where)

    def _targets(self, k: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        if k not in self._cache:
            from .visdrone import read_visdrone_objects

            boxes, cats, scores = read_visdrone_objects(self.ds.annotation_path(k))
            pos = np.asarray(
                [s != 0 and int(c) in self.table for c, s in zip(cats, scores)], dtype=bool
            )
            never = (cats == 0) | (cats == VISDRONE_CLASSES.index('others')) | (scores == 0)
            ign = never | (~pos if self.unmapped_ignored else np.zeros_like(pos))
            labels = np.asarray([self.table[int(c)] for c in cats[pos]], dtype=np.int64)
            self._cache[k] = (boxes[pos], labels, boxes[ign & ~pos].reshape(-1, 4))
        b, lab, ign_b = self._cache[k]
        return b.copy(), lab.copy(), ign_b.copy()


def open_detection_source(item: Dict[str, Any], split: str, path: str = 'data') -> LabelledSource:
    """
    Return the ``split`` ('train' or 'val') of a validated coco/visdrone item.

    Errors name ``path``'s keys.
    """
    if item['name'] == 'coco':
        return CocoSource(item, split, path)
    if item['name'] == 'visdrone':
        return VisDroneSource(item, split, path)
    raise _err(path + '.name', 'not a real detection source: {!r}'.format(item['name']))


def detection_classes(item: Dict[str, Any], path: str = 'data') -> List[str]:
    """
    Label names a detection item gives.

    Without reading any image (COCO: the JSON's categories).
    """
    if item['name'] == 'visdrone':
        return _mapped_classes(item['label_map'], item['classes'], path)
    if item['name'] == 'coco':
        if item['label_map'] is not None:
            return _mapped_classes(item['label_map'], item['classes'], path)
        return CocoSource(item, 'train', path).classes
    return list(DETECTION_CLASSES)


def classification_classes(item: Dict[str, Any], path: str = 'data') -> List[str]:
    """
    Class names of a classification item.

    ImageFolder: its sorted subfolders; digits: '0'..'9'.
    """
    if item['name'] == 'imagefolder':
        from .imagefolder import ImageFolderSet

        try:
            return list(ImageFolderSet(item['root']).classes)
        except (DatasetError, FileNotFoundError) as exc:
            raise _err(path + '.root', str(exc)) from None
    from .digits import DIGITS_CLASSES

    return list(DIGITS_CLASSES)


def imagefolder_arrays(
    item: Dict[str, Any], spec: InputSpec, path: str = 'data'
) -> Tuple[Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], List[str]]:
    """
    Return an ImageFolder item as normalised arrays and its class names.

    The arrays are ``(x_train, y_train, x_val, y_val)``.
    Images go through the runtime :class:`Preprocessor` (N×3×H×W float32); validation from
    ``val_root`` (same class folders) or a seeded ``test_fraction`` holdout. Unreadable images are
    counted, logged and skipped.
    """
    from .digits import split_indices
    from .imagefolder import ImageFolderSet

    pre = Preprocessor(spec)

    def arrays(ds: ImageFolderSet) -> Tuple[np.ndarray, np.ndarray]:
        xs, ys, bad = [], [], 0
        for p, label in ds.samples:
            try:
                xs.append(pre(read_image(p))[0])
            except (DatasetError, FileNotFoundError) as exc:
                bad += 1
                LOG.warning('skipped unreadable image (%d so far): %s', bad, exc)
                continue
            ys.append(label)
        x = np.concatenate(xs) if xs else np.zeros((0, 3, spec.height, spec.width), np.float32)
        return x.astype(np.float32), np.asarray(ys, dtype=np.int64)

    def open_folder(key: str, classes: Optional[List[str]] = None) -> ImageFolderSet:
        try:
            return ImageFolderSet(item[key], classes=classes)
        except (DatasetError, FileNotFoundError) as exc:
            raise _err('{}.{}'.format(path, key), str(exc)) from None

    train = open_folder('root')
    x, y = arrays(train)
    if item['val_root']:
        x_te, y_te = arrays(open_folder('val_root', list(train.classes)))
        return (x, y, x_te, y_te), list(train.classes)
    tr, te = split_indices(y, seed=item['seed'], test_fraction=item['test_fraction'])
    return (x[tr], y[tr], x[te], y[te]), list(train.classes)


# --- crops and letterboxing
# -----------------------------------------------------------------------------------


def _clip_and_keep(
    boxes: np.ndarray, x0: float, y0: float, w: float, h: float, tf: Any
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Boxes shifted into a w×h window at (x0, y0), clipped.

    Mapped to the network by the letterbox ``tf``.

    Returns (boxes, kept mask, visible-remnant mask) by YOLOv5's ``box_candidates`` rule.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4) - np.array([x0, y0, x0, y0])
    area0 = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    c = b.copy()
    c[:, 0::2] = np.clip(c[:, 0::2], 0, w)
    c[:, 1::2] = np.clip(c[:, 1::2], 0, h)
    cw, ch = c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]
    visible = (cw > 0) & (ch > 0)
    kept = (
        visible
        & (cw * tf.scale_x > MIN_BOX_PX)
        & (ch * tf.scale_y > MIN_BOX_PX)
        & (cw * ch > MIN_AREA_KEPT * area0)
    )
    c[:, 0::2] = c[:, 0::2] * tf.scale_x + tf.pad_x
    c[:, 1::2] = c[:, 1::2] * tf.scale_y + tf.pad_y
    return c.astype(np.float32), kept, visible & ~kept


def crop_sample(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    ignored: np.ndarray,
    pre: Preprocessor,
    scale: float,
    rng: np.random.Generator,
    focus: bool = False,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """
    Return a random window of ``scale`` × the network size, resized to the network input.

    ``image`` BGR uint8 H×W×3; boxes xyxy in its pixels. ``focus``: place the window so that it
    holds the centre of a random positive. Outside the frame the window is filled with the
    letterbox grey. Returns (network-size image in the network colour order, boxes, labels, ignored
    regions) in network pixels; clipped remnants too small to keep become ignored regions.
    """
    spec = pre.spec
    fh, fw = image.shape[:2]
    cw, ch = max(1, int(round(spec.width * scale))), max(1, int(round(spec.height * scale)))

    def place(size: int, frame: int, centre: Optional[float]) -> int:
        lo, hi = min(0, frame - size), max(0, frame - size)
        if centre is not None:
            lo, hi = max(lo, int(math.ceil(centre - size + 1))), min(hi, int(centre))
            if lo > hi:
                lo = hi = min(
                    max(int(centre - size / 2), min(0, frame - size)), max(0, frame - size)
                )
        return int(rng.integers(lo, hi + 1))

    cx = cy = None
    if focus and len(boxes):
        b = boxes[int(rng.integers(len(boxes)))]
        cx, cy = float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2
    x0, y0 = place(cw, fw, cx), place(ch, fh, cy)
    window = np.full((ch, cw, 3), LETTERBOX_PAD, dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(fw, x0 + cw), min(fh, y0 + ch)
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    net, tf = pre.letterbox(
        window
    )  # the window has the network's aspect: a plain resize, up to rounding
    out_b, kept, remnant = _clip_and_keep(boxes, x0, y0, cw, ch, tf)
    ign_b, ign_kept, ign_remnant = _clip_and_keep(ignored, x0, y0, cw, ch, tf)
    ign_all = np.concatenate([ign_b[ign_kept | ign_remnant], out_b[remnant]]).reshape(-1, 4)
    return (
        net,
        out_b[kept],
        np.asarray(labels, np.int64).reshape(-1)[kept],
        ign_all.astype(np.float32),
    )


def letterbox_sample(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    ignored: np.ndarray,
    pre: Preprocessor,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """
    Return a whole frame letterboxed to the network input, as the runtime does.

    Boxes to network pixels.
    """
    net, tf = pre.letterbox(image)

    def move(b: np.ndarray) -> np.ndarray:
        b = np.asarray(b, np.float32).reshape(-1, 4).copy()
        b[:, 0::2] = b[:, 0::2] * tf.scale_x + tf.pad_x
        b[:, 1::2] = b[:, 1::2] * tf.scale_y + tf.pad_y
        return b

    return net, move(boxes), np.asarray(labels, np.int64).reshape(-1), move(ignored)


Sample = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Batch = Tuple[np.ndarray, List[np.ndarray], List[np.ndarray], List[np.ndarray]]


class PreparedSource:
    """
    Samples already at the network input (e.g. synthetic scenes).

    Images in the network colour order.
    """

    crop = False

    def __init__(
        self,
        images: np.ndarray,
        boxes: Sequence[np.ndarray],
        labels: Sequence[np.ndarray],
        classes: Sequence[str],
        ignored: Optional[Sequence[np.ndarray]] = None,
        where: str = 'prepared',
    ) -> None:
        self.images, self.boxes, self.labels = images, list(boxes), list(labels)
        self.ignored = (
            list(ignored) if ignored is not None else [empty_boxes() for _ in self.boxes]
        )
        self.classes = list(classes)
        self.where = where

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, i: int, pre: Preprocessor, rng: np.random.Generator) -> Sample:
        """Sample ``i`` as stored."""
        return self.images[i], self.boxes[i].copy(), self.labels[i].copy(), self.ignored[i].copy()


def draw_sample(src: Any, i: int, pre: Preprocessor, rng: np.random.Generator) -> Sample:
    """Sample ``i`` of a source at the network input: a random crop or the letterboxed frame."""
    if isinstance(src, PreparedSource):
        return src.sample(i, pre, rng)
    image = src.image(i)
    boxes, labels, ignored = src.targets(i)
    if not src.crop:
        return letterbox_sample(image, boxes, labels, ignored, pre)
    lo, hi = src.crop_scale
    scale = float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) if hi > lo else lo
    return crop_sample(
        image, boxes, labels, ignored, pre, scale, rng, focus=rng.random() < FOCUS_PROBABILITY
    )


class DetectionSampler:
    """
    Training samples drawn on the fly from weighted sources (one source: weight 1).

    ``len`` is the epoch size. :meth:`batch` gives ``n`` fresh samples: a source chosen with
    probability ``weight / sum(weights)``, a uniformly random image of it, a random crop (or
    letterbox) at the network input. Unreadable frames are counted (``skipped``), logged once and
    never drawn again.
    """

    def __init__(
        self,
        spec: InputSpec,
        sources: Sequence[Any],
        weights: Sequence[float],
        epoch_size: Optional[int] = None,
    ) -> None:
        if not sources or len(sources) != len(weights):
            raise ValueError(
                'DetectionSampler: one weight per source, got {} sources and {} weights'.format(
                    len(sources), len(weights)
                )
            )
        for s in sources:
            if len(s) == 0:
                raise DatasetError('{}: no images in this split'.format(s.where))
        self.spec = spec
        self.pre = Preprocessor(spec)
        self.sources = list(sources)
        w = np.asarray(weights, dtype=np.float64)
        self.probabilities = w / w.sum()
        self.epoch_size = int(epoch_size or sum(len(s) for s in self.sources))
        self.classes = list(self.sources[0].classes)
        self.bad: set = set()
        self.skipped = 0

    def __len__(self) -> int:
        return self.epoch_size

    def draw(self, rng: np.random.Generator) -> Tuple[int, int]:
        """(source index, image index) of one sample."""
        k = int(rng.choice(len(self.sources), p=self.probabilities))
        return k, int(rng.integers(len(self.sources[k])))

    def sample(self, rng: np.random.Generator, tries: int = 100) -> Sample:
        """Draw one training sample: (network image, boxes, labels, ignored regions)."""
        for _ in range(tries):
            k, i = self.draw(rng)
            if (k, i) in self.bad:
                continue
            try:
                return draw_sample(self.sources[k], i, self.pre, rng)
            except (DatasetError, FileNotFoundError) as exc:
                self.bad.add((k, i))
                self.skipped += 1
                LOG.warning('skipped an unreadable frame (%d so far): %s', self.skipped, exc)
        raise DatasetError(
            '{}: {} draws in a row gave unreadable frames'.format(self.sources[0].where, tries)
        )

    def batch(self, n: int, rng: np.random.Generator) -> 'Batch':
        """
        Draw ``n`` samples as one batch in network pixels.

        The batch holds N×H×W×3 uint8 images, boxes, labels and ignored regions.
        """
        parts = [self.sample(rng) for _ in range(n)]
        return (
            np.stack([np.ascontiguousarray(p[0]) for p in parts]),
            [p[1] for p in parts],
            [p[2] for p in parts],
            [p[3] for p in parts],
        )


def letterbox_source(
    src: LabelledSource, spec: InputSpec, limit: Optional[int] = None
) -> Tuple[
    np.ndarray, List[np.ndarray], List[np.ndarray], List[np.ndarray], List[Tuple[int, int]]
]:
    """
    Every frame of a source letterboxed to the network input (validation).

    Unreadable frames skipped.

    Returns (images, boxes, labels, ignored regions, frame sizes (w, h)), boxes in network pixels.
    """
    pre = Preprocessor(spec)
    out: List[Sample] = []
    sizes: List[Tuple[int, int]] = []
    bad = 0
    n = len(src) if limit is None else min(limit, len(src))
    for i in range(n):
        try:
            image = src.image(i)
        except (DatasetError, FileNotFoundError) as exc:
            bad += 1
            LOG.warning('validation: skipped an unreadable frame (%d so far): %s', bad, exc)
            continue
        out.append(letterbox_sample(image, *src.targets(i), pre=pre))
        sizes.append((int(image.shape[1]), int(image.shape[0])))
    if not out:
        raise DatasetError('{}: no readable validation images'.format(src.where))
    return (
        np.stack([np.ascontiguousarray(o[0]) for o in out]),
        [o[1] for o in out],
        [o[2] for o in out],
        [o[3] for o in out],
        sizes,
    )


def drop_in_ignored(
    boxes: np.ndarray, ignored: np.ndarray, size: Tuple[int, int], fraction: float = 0.5
) -> np.ndarray:
    """
    Mask of boxes to keep.

    False for those with more than ``fraction`` of their area in ignored regions.

    The union of the regions is rasterised on the ``size`` (w, h) grid, as the VisDrone-DET
    toolkit's ``dropObjectsInIgr.m`` does (an integral image over the ignore map; threshold 0.5).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ignored = np.asarray(ignored, np.float64).reshape(-1, 4)
    if not len(boxes) or not len(ignored):
        return np.ones(len(boxes), dtype=bool)
    w, h = int(size[0]), int(size[1])
    mask = np.zeros((h + 1, w + 1), np.float64)
    for x1, y1, x2, y2 in np.clip(np.round(ignored), 0, [w, h, w, h]).astype(int):
        mask[y1 + 1:y2 + 1, x1 + 1:x2 + 1] = 1.0
    integral = mask.cumsum(0).cumsum(1)
    b = np.clip(np.round(boxes), 0, [w, h, w, h]).astype(int)
    inside = (
        integral[b[:, 3], b[:, 2]]
        - integral[b[:, 1], b[:, 2]]
        - integral[b[:, 3], b[:, 0]]
        + integral[b[:, 1], b[:, 0]]
    )
    area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1)
    return inside / area <= fraction


def check_same_classes(named: Sequence[Tuple[str, Sequence[str]]]) -> List[str]:
    """
    Return the common label names of several sources.

    Raises :class:`DataConfigError` naming both when two differ.
    """
    first_where, first = named[0]
    for where, classes in named[1:]:
        if list(classes) != list(first):
            raise _err(
                where,
                'gives labels {} but {} gives {} (align them with label_map / classes)'.format(
                    list(classes), first_where, list(first)
                ),
            )
    return list(first)


def check_model_classes(
    model_labels: Optional[Sequence[str]],
    model_where: str,
    data_labels: Sequence[str],
    data_where: str,
    num_classes: Optional[int] = None,
) -> None:
    """
    Fail before any work when a model's classes and the data's differ, naming both.

    ``model_labels``: a checkpoint's label names (or None for a new model of ``num_classes``
    outputs).
    """
    data_labels = list(data_labels)
    if model_labels is not None:
        if list(model_labels) != data_labels:
            raise _err(
                data_where,
                'class mismatch: {} has {} classes {} but the data has {} classes {}'.format(
                    model_where,
                    len(model_labels),
                    list(model_labels),
                    len(data_labels),
                    data_labels,
                ),
            )
    elif num_classes is not None and int(num_classes) != len(data_labels):
        raise _err(
            data_where,
            'class mismatch: {} is {} but the data has {} classes {}'.format(
                model_where, num_classes, len(data_labels), data_labels
            ),
        )


__all__ = [
    'DataConfigError',
    'check_data',
    'check_task',
    'source_names',
    'open_detection_source',
    'detection_classes',
    'classification_classes',
    'imagefolder_arrays',
    'LabelledSource',
    'CocoSource',
    'VisDroneSource',
    'PreparedSource',
    'DetectionSampler',
    'crop_sample',
    'letterbox_sample',
    'draw_sample',
    'letterbox_source',
    'drop_in_ignored',
    'check_same_classes',
    'check_model_classes',
    'VISDRONE_DEFAULT_MAP',
]

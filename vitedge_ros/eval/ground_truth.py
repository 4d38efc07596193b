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
Detection ground truth in the bundle's labels.

It is read from COCO JSON, a VisDrone-DET folder or box records.

Used by ``tools/evaluate.py`` (an annotated image folder) and ``tools/eval_bag.py`` (a recorded
flight): both read ground truth here and score it with :meth:`DetectionTruth.evaluate`, so the two
tools apply one set of rules.

Formats (:func:`load_detection_truth` picks one from the path):

* **COCO instances JSON** (a ``.json`` file): ``images`` (``id``, ``file_name``, optional
  ``width``, ``height`` and, for bags, ``stamp_ns``: the image header stamp in ns), ``annotations``
  (``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]`` pixels, optional ``iscrowd``),
  ``categories`` (``id``, ``name``). Crowd annotations stay crowd regions (COCO's rule: a detection
  on one is neither a true nor a false positive; pycocotools ``cocoeval.py``, faster-coco-eval the
  same).
* **VisDrone-DET annotations** (a folder of ``<image stem>.txt``; for bags ``<stamp_ns>.txt`` or
  one file per frame in name order): ``left,top,width,height,score,category,truncation,occlusion``
  per object. Ignored regions (category 0, or ground-truth score 0) and ``others`` (category 11,
  never a positive, as in the training sources) are honoured as the VisDrone-DET toolkit does
  (``utils/dropObjectsInIgr.m`` and ``dropObjects.m`` of
  https://github.com/VisDrone/VisDrone2018-DET-toolkit): ground-truth boxes and detections with
  more than half their area inside the union of an image's ignored regions are removed before
  scoring (``vitedge_ros.data.sources.drop_in_ignored``, the rule training validation applies).
* **records** (:func:`truth_from_records`): boxes read from a vision_msgs Detection2DArray topic.

Category names are mapped to the bundle's labels by a **label map** (``{ground-truth name: bundle
label}``; the value ``ignore`` makes that category an ignored region). A name equal to a bundle
label maps to itself. :data:`DEFAULT_LABEL_MAP` is the training sources' VisDrone default:
pedestrian/people to person, car/van/truck/bus to vehicle. Categories that map to no bundle label
are left out of the evaluation (they are background, as ``unmapped: background`` in training) and
reported (``gt_labels_not_in_bundle``).

Scoring: COCO mAP@0.5 and mAP@0.5:0.95 overall and per class with faster-coco-eval
(:func:`vitedge_ros.eval.detection.coco_evaluate`); the exact COCO input (ground truth after the
label map and the ignored-region rule, and the detections) is returned so that callers write it for
re-evaluation.
"""

from collections import Counter, OrderedDict
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..data.sources import drop_in_ignored, VISDRONE_DEFAULT_MAP, VISDRONE_NEVER_POSITIVE
from ..runtime.errors import VitedgeError

__all__ = [
    'DEFAULT_LABEL_MAP',
    'DetectionTruth',
    'GroundTruthError',
    'IGNORE',
    'coco_image_stamp',
    'describe_label_map',
    'load_coco_truth',
    'load_detection_truth',
    'load_visdrone_truth',
    'outside_ignored',
    'parse_label_map',
    'truth_from_records',
]

IGNORE = 'ignore'
#: Ground-truth category name -> bundle label (or ``ignore``): the training sources' VisDrone
#: default
#: (``vitedge_ros.data.sources.VISDRONE_DEFAULT_MAP``); names equal to a bundle label map to
#: themselves.
DEFAULT_LABEL_MAP = OrderedDict(sorted(VISDRONE_DEFAULT_MAP.items()))


class GroundTruthError(VitedgeError, ValueError):
    """
    Ground truth that cannot be read or used.

    The message names the file or topic and the problem.
    """


def coco_image_stamp(image: Mapping[str, Any]) -> Optional[int]:
    """
    Header stamp (ns) of a COCO image entry.

    ``stamp_ns``, else an integer ``file_name`` stem, else None.
    """
    if 'stamp_ns' in image:
        try:
            return int(image['stamp_ns'])
        except (TypeError, ValueError):
            return None
    stem = Path(str(image.get('file_name', ''))).stem
    return int(stem) if stem.isdigit() else None


def parse_label_map(
    spec: Union[None, str, Mapping[str, Any]], labels: Optional[Sequence[str]] = None
) -> Dict[str, str]:
    """
    Turn a label-map spec into ``{ground-truth name: bundle label or 'ignore'}``.

    Args
    ----
        spec: None (:data:`DEFAULT_LABEL_MAP`), a mapping, a YAML/JSON file holding one, or the
            text ``"pedestrian=person,people=person,car=vehicle"`` (``:`` works as well as ``=``).
        labels: the bundle's labels; when given, every target must be one of them or ``ignore``.

    Raises
    ------
        GroundTruthError: a malformed spec or a target that is not a bundle label.

    """
    if spec is None:
        return dict(DEFAULT_LABEL_MAP)
    if isinstance(spec, str):
        text = spec.strip()
        if os.path.isfile(text):
            import yaml

            try:
                loaded = yaml.safe_load(Path(text).read_text(encoding='utf-8'))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise GroundTruthError(
                    '--label-map {}: cannot read it: {}'.format(
                        text, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    )
                ) from None
            if not isinstance(loaded, dict):
                raise GroundTruthError(
                    '--label-map {}: expected a mapping of ground-truth names to bundle '
                    'labels'.format(text)
                )
            spec = loaded
        else:
            pairs: Dict[str, Any] = OrderedDict()
            for item in (t.strip() for t in text.split(',')):
                if not item:
                    continue
                sep = '=' if '=' in item else ':'
                key, _, value = item.partition(sep)
                if not _ or not key.strip() or not value.strip():
                    raise GroundTruthError(
                        '--label-map: {!r} is not NAME=LABEL (e.g. '
                        '"pedestrian=person,car=vehicle,others=ignore")'.format(item)
                    )
                pairs[key.strip()] = value.strip()
            if not pairs:
                raise GroundTruthError('--label-map: empty (give NAME=LABEL pairs or a YAML file)')
            spec = pairs
    if not isinstance(spec, Mapping):
        raise GroundTruthError(
            '--label-map: expected a mapping, got {}'.format(type(spec).__name__)
        )
    out: Dict[str, str] = OrderedDict()
    for key, value in spec.items():
        if not isinstance(value, str) or not str(key):
            raise GroundTruthError(
                '--label-map: {!r}: {!r} is not a label name'.format(key, value)
            )
        if labels is not None and value != IGNORE and value not in labels:
            raise GroundTruthError(
                '--label-map: {} -> {}: {!r} is not a label of the bundle ({})'.format(
                    key, value, value, ', '.join(labels)
                )
            )
        out[str(key)] = value
    return out


def describe_label_map(label_map: Mapping[str, str]) -> str:
    """``a->b, c->ignore`` for messages and reports."""
    return ', '.join('{}->{}'.format(k, v) for k, v in label_map.items())


def _target(name: str, labels: Sequence[str], label_map: Mapping[str, str]) -> Optional[str]:
    """Bundle label (or IGNORE) of a ground-truth category name; None when it is not evaluated."""
    if name in label_map:
        target = label_map[name]
        return target if target == IGNORE or target in labels else None
    return name if name in labels else None


def outside_ignored(boxes_xywh: Any, regions_xywh: Any, width: int, height: int) -> np.ndarray:
    """
    Return the boolean mask of the boxes kept by the VisDrone-DET ignored-region rule.

    ``boxes_xywh`` and ``regions_xywh`` are ``[x, y, w, h]`` in pixels.

    A box is dropped when more than half its area lies inside the union of the ignored regions,
    rasterised on the ``width`` x ``height`` grid: ``vitedge_ros.data.sources.drop_in_ignored``,
    the rule training validation uses (``utils/dropObjectsInIgr.m`` of
    https://github.com/VisDrone/VisDrone2018-DET-toolkit).
    """

    def xyxy(b: Any) -> np.ndarray:
        b = np.asarray(b, np.float64).reshape(-1, 4)
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)

    return drop_in_ignored(xyxy(boxes_xywh), xyxy(regions_xywh), (int(width), int(height)))


class DetectionTruth:
    """
    Ground truth of a set of images (or frames) in the bundle's labels, ready for COCO scoring.

    Attributes
    ----------
        images: image entries in source order (``id``, ``file_name``, ``width``/``height`` or None,
            and where known ``stamp_ns`` / ``log_time_ns``).
        annotations: COCO annotations whose ``category_id`` is the bundle label index + 1.
        ignore: image id -> ignored regions ``[[x, y, w, h], ...]`` (VisDrone rule).
        labels: the bundle's labels (the COCO categories, in order).
        source: what was read (file, folder or topic), for messages and reports.
        fmt: ``coco``, ``visdrone`` or ``topic``.
        not_evaluated: ground-truth category name -> number of boxes left out (no bundle label).
        label_map: the map applied.
        extra: more facts about the source, added to every evaluation result.

    """

    def __init__(
        self,
        images: List[Dict[str, Any]],
        annotations: List[Dict[str, Any]],
        ignore: Dict[int, List[List[float]]],
        labels: Sequence[str],
        source: str,
        fmt: str,
        not_evaluated: Mapping[str, int],
        label_map: Mapping[str, str],
        mapped: Sequence[str],
    ) -> None:
        self.images = images
        self.annotations = annotations
        self.ignore = ignore
        self.labels = list(labels)
        self.source = source
        self.fmt = fmt
        self.not_evaluated = dict(not_evaluated)
        self.label_map = dict(label_map)
        self.mapped = sorted(set(mapped))
        self.extra: Dict[str, Any] = {}
        self.by_id = {int(im['id']): im for im in images}
        self._anns: Dict[int, List[Dict[str, Any]]] = {}
        for ann in annotations:
            self._anns.setdefault(int(ann['image_id']), []).append(ann)

    def __len__(self) -> int:
        return len(self.images)

    def annotations_of(self, image_id: int) -> List[Dict[str, Any]]:
        """COCO annotations (bundle categories) of one image."""
        return list(self._anns.get(int(image_id), []))

    def categories(self) -> List[Dict[str, Any]]:
        """COCO categories: the bundle's labels, ids from 1."""
        return [{'id': i + 1, 'name': n} for i, n in enumerate(self.labels)]

    def evaluate(
        self,
        pairs: Sequence[Tuple[int, Tuple[int, int], Sequence[Any]]],
        info: Optional[Mapping[str, Any]] = None,
        curves: bool = False,
    ) -> Tuple[Dict[str, Any], Dict[str, Any], List[Dict[str, Any]]]:
        """
        Score detections of some images against their ground truth with faster-coco-eval.

        Args
        ----
            pairs: ``(image_id, (width, height), detections)`` per evaluated image (each id once);
                detections have ``label``, ``score`` and ``box`` (xyxy pixels).
            info: extra ``info`` of the COCO ground truth written for re-evaluation.
            curves: also return precision-recall curves at IoU 0.5 (``pr_curves``).

        Returns
        -------
            ``(result, gt_coco, dets_coco)``: metrics (``map50``, ``map50_95``, ``per_class`` and
            counts), the COCO ground truth and the COCO detections actually scored (ignored regions
            applied).

        """
        from .detection import coco_evaluate

        images: List[Dict[str, Any]] = []
        anns: List[Dict[str, Any]] = []
        dets: List[Dict[str, Any]] = []
        seen = set()
        dropped_gt = dropped_det = 0
        index = {n: i for i, n in enumerate(self.labels)}
        for img_id, size, detections in pairs:
            img_id = int(img_id)
            if img_id in seen:
                raise GroundTruthError(
                    'ground truth {}: image id {} evaluated twice'.format(self.source, img_id)
                )
            seen.add(img_id)
            entry = {k: v for k, v in self.by_id[img_id].items() if v is not None}
            entry['width'], entry['height'] = (
                int(entry.get('width') or size[0]),
                int(entry.get('height') or size[1]),
            )
            images.append(entry)
            gt = self.annotations_of(img_id)
            cand = []
            for det in detections:
                cat = index.get(str(det.label))
                if cat is None:
                    continue
                x1, y1, x2, y2 = (float(v) for v in det.box)
                cand.append(
                    {
                        'image_id': img_id,
                        'category_id': cat + 1,
                        'score': float(det.score),
                        'bbox': [x1, y1, x2 - x1, y2 - y1],
                    }
                )
            regions = self.ignore.get(img_id)
            if regions:
                keep = outside_ignored(
                    [a['bbox'] for a in gt], regions, entry['width'], entry['height']
                )
                dropped_gt += int((~keep).sum())
                gt = [a for a, k in zip(gt, keep) if k]
                keep = outside_ignored(
                    [d['bbox'] for d in cand], regions, entry['width'], entry['height']
                )
                dropped_det += int((~keep).sum())
                cand = [d for d, k in zip(cand, keep) if k]
            anns.extend(gt)
            dets.extend(cand)
        anns = [dict(a, id=i + 1) for i, a in enumerate(anns)]
        gt_coco = {
            'info': dict(
                info or {}, vitedge_gt_source=self.source, vitedge_label_map=self.label_map
            ),
            'images': images,
            'annotations': anns,
            'categories': self.categories(),
        }
        result: Dict[str, Any] = {'map50': 0.0, 'map50_95': 0.0, 'per_class': {}}
        if images:
            import copy

            result = coco_evaluate(copy.deepcopy(gt_coco), copy.deepcopy(dets), curves=curves)
        result.update(
            {
                'gt_source': self.source,
                'gt_format': self.fmt,
                'images_total': len(self.images),
                'images_evaluated': len(images),
                'annotations_evaluated': len(anns),
                'labels_not_in_gt': [n for n in self.labels if n not in self.mapped],
                'gt_labels_not_in_bundle': sorted(self.not_evaluated),
                'gt_boxes_not_evaluated': dict(sorted(self.not_evaluated.items())),
                'ignored_regions': int(
                    sum(len(self.ignore.get(int(im['id']), [])) for im in images)
                ),
                'gt_in_ignored_regions': dropped_gt,
                'detections_in_ignored_regions': dropped_det,
            }
        )
        result.update(self.extra)
        return result, gt_coco, dets


class _TruthBuilder:
    """Annotations, ignored regions and left-out boxes collected by the readers."""

    def __init__(self, labels: Sequence[str], label_map: Mapping[str, str]) -> None:
        self.labels = list(labels)
        self.label_map = label_map
        self.anns: List[Dict[str, Any]] = []
        self.ignore: Dict[int, List[List[float]]] = {}
        self.skipped: Counter = Counter()
        self.mapped: List[str] = []

    def add(self, img_id: int, name: str, bbox: Sequence[float], crowd: bool = False) -> None:
        """
        Add one box (xywh pixels) of category ``name`` to image ``img_id``.

        The category goes through the label map.
        """
        target = _target(name, self.labels, self.label_map)
        x, y, w, h = (float(v) for v in bbox)
        if target is None:
            self.skipped[name] += 1
        elif target == IGNORE:
            self.ignore.setdefault(img_id, []).append([x, y, w, h])
        else:
            self.mapped.append(target)
            self.anns.append(
                {
                    'id': len(self.anns) + 1,
                    'image_id': img_id,
                    'category_id': self.labels.index(target) + 1,
                    'bbox': [x, y, w, h],
                    'area': w * h,
                    'iscrowd': 1 if crowd else 0,
                }
            )

    def truth(self, images: List[Dict[str, Any]], source: str, fmt: str) -> DetectionTruth:
        """Return the DetectionTruth of ``images`` with what was collected."""
        return DetectionTruth(
            images,
            self.anns,
            self.ignore,
            self.labels,
            source,
            fmt,
            self.skipped,
            self.label_map,
            self.mapped,
        )


def _need_list(data: Mapping[str, Any], key: str, path: str) -> List[Any]:
    if not isinstance(data.get(key), list):
        what = (
            'missing COCO list {!r}'.format(key)
            if key not in data
            else 'COCO {!r} must be a list, got {}'.format(key, type(data[key]).__name__)
        )
        raise GroundTruthError(
            'ground truth {}: {} (a COCO instances JSON has images, annotations and '
            'categories lists)'.format(path, what)
        )
    return data[key]


def load_coco_truth(
    path: Union[str, Path], labels: Sequence[str], label_map: Optional[Mapping[str, str]] = None
) -> DetectionTruth:
    """
    Read a COCO instances JSON as ground truth in the bundle's labels (see the module docstring).

    Raises
    ------
        GroundTruthError: unreadable or malformed file (the message names the file and the entry).

    """
    p = Path(path)
    lmap = dict(DEFAULT_LABEL_MAP if label_map is None else label_map)
    try:
        text = p.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise GroundTruthError('cannot read ground truth {}: {}'.format(p, exc)) from None
    if not text.strip():
        raise GroundTruthError(
            'cannot read ground truth {}: the file is empty (expected a COCO instances '
            'JSON)'.format(p)
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GroundTruthError(
            'cannot read ground truth {}: not valid JSON: {}'.format(p, exc)
        ) from None
    if not isinstance(data, dict):
        raise GroundTruthError(
            'ground truth {}: not a COCO instances JSON (top level is a {})'.format(
                p, type(data).__name__
            )
        )
    cats: Dict[int, str] = {}
    for i, c in enumerate(_need_list(data, 'categories', str(p))):
        if not isinstance(c, dict) or not isinstance(c.get('id'), int) or 'name' not in c:
            raise GroundTruthError(
                'ground truth {}: categories[{}] needs an integer "id" and a "name"'.format(p, i)
            )
        cats[int(c['id'])] = str(c['name'])
    images: List[Dict[str, Any]] = []
    ids = set()
    for i, im in enumerate(_need_list(data, 'images', str(p))):
        if (
            not isinstance(im, dict)
            or not isinstance(im.get('id'), int)
            or isinstance(im.get('id'), bool)
        ):
            raise GroundTruthError(
                'ground truth {}: images[{}] needs an integer "id"'.format(p, i)
            )
        if im['id'] in ids:
            raise GroundTruthError(
                'ground truth {}: images[{}].id {} is a duplicate'.format(p, i, im['id'])
            )
        ids.add(im['id'])
        entry = {
            'id': int(im['id']),
            'file_name': str(im.get('file_name', '')),
            'width': im.get('width'),
            'height': im.get('height'),
            'stamp_ns': coco_image_stamp(im),
        }
        if 'log_time_ns' in im:
            entry['log_time_ns'] = im['log_time_ns']
        images.append(entry)
    b = _TruthBuilder(labels, lmap)
    for i, a in enumerate(_need_list(data, 'annotations', str(p))):
        where = 'annotations[{}]'.format(i)
        if not isinstance(a, dict):
            raise GroundTruthError('ground truth {}: {} is not an object'.format(p, where))
        bbox = a.get('bbox')
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise GroundTruthError(
                'ground truth {}: {}.bbox must be 4 numbers [x, y, width, height], '
                'got {!r}'.format(p, where, bbox)
            )
        if a.get('image_id') not in ids:
            raise GroundTruthError(
                'ground truth {}: {}.image_id {!r} is not in images'.format(
                    p, where, a.get('image_id')
                )
            )
        if a.get('category_id') not in cats:
            raise GroundTruthError(
                'ground truth {}: {}.category_id {!r} is not in categories'.format(
                    p, where, a.get('category_id')
                )
            )
        if not np.isfinite(bbox).all() or bbox[2] < 0 or bbox[3] < 0:
            raise GroundTruthError(
                'ground truth {}: {}.bbox has a negative or non-finite size: {!r}'.format(
                    p, where, bbox
                )
            )
        b.add(int(a['image_id']), cats[a['category_id']], bbox, crowd=bool(a.get('iscrowd', 0)))
    return b.truth(images, str(p), 'coco')


def load_visdrone_truth(
    folder: Union[str, Path],
    labels: Sequence[str],
    label_map: Optional[Mapping[str, str]] = None,
    image_names: Optional[Sequence[str]] = None,
) -> DetectionTruth:
    """
    Read a folder of VisDrone-DET annotation files as ground truth in the bundle's labels.

    Args
    ----
        folder: the ``annotations`` folder (``<stem>.txt`` per image).
        labels: the bundle's labels.
        label_map: VisDrone category name -> bundle label or ``ignore`` (default
            :data:`DEFAULT_LABEL_MAP`).
        image_names: image file names to pair with ``<stem>.txt`` (an evaluated image folder);
            None: one image per ``.txt`` in name order, ``file_name`` the stem (a stamp in ns for
            bags).

    Raises
    ------
        GroundTruthError: missing files or malformed lines (the message names the file and line).

    """
    from ..data.common import DatasetError
    from ..data.visdrone import read_visdrone_objects, VISDRONE_CLASSES

    root = Path(folder)
    lmap = dict(DEFAULT_LABEL_MAP if label_map is None else label_map)
    if image_names is None:
        txts = (
            sorted(f for f in root.iterdir() if f.suffix.lower() == '.txt')
            if root.is_dir()
            else []
        )
        if not txts:
            raise GroundTruthError(
                'ground truth {}: no VisDrone-DET annotation files (*.txt) in this folder'.format(
                    root
                )
            )
        names = [f.stem for f in txts]
    else:
        names = list(image_names)
    images: List[Dict[str, Any]] = []
    b = _TruthBuilder(labels, lmap)
    for i, name in enumerate(names):
        stem = Path(name).stem
        ann = root / (stem + '.txt')
        if not ann.is_file():
            raise GroundTruthError(
                'ground truth {}: no annotation file {} for image {}'.format(root, ann.name, name)
            )
        try:
            boxes, cats, scores = read_visdrone_objects(ann)
        except (OSError, UnicodeDecodeError, DatasetError) as exc:
            raise GroundTruthError(
                'ground truth {}'.format(exc)
                if isinstance(exc, DatasetError)
                else 'cannot read ground truth {}: {}'.format(ann, exc)
            ) from None
        img_id = i + 1
        images.append(
            {
                'id': img_id,
                'file_name': name,
                'width': None,
                'height': None,
                'stamp_ns': int(stem) if stem.isdigit() else None,
            }
        )
        for (x1, y1, x2, y2), cat, score in zip(boxes.tolist(), cats.tolist(), scores.tolist()):
            name = VISDRONE_CLASSES[int(cat)]
            if score == 0 or name in VISDRONE_NEVER_POSITIVE:
                b.ignore.setdefault(img_id, []).append([x1, y1, x2 - x1, y2 - y1])
            else:
                b.add(img_id, name, [x1, y1, x2 - x1, y2 - y1])
    return b.truth(images, str(root), 'visdrone')


def truth_from_records(
    records: Sequence[
        Tuple[Optional[int], Optional[int], Sequence[Tuple[str, float, float, float, float]]]
    ],
    labels: Sequence[str],
    source: str,
    label_map: Optional[Mapping[str, str]] = None,
) -> DetectionTruth:
    """
    Build the ground truth from per-frame box records, one image per record in the given order.

    Args
    ----
        records: ``(stamp_ns, log_time_ns, boxes)`` per frame; a box is ``(class, cx, cy, width,
            height)`` in pixels, ``class`` a name or the index of a bundle label as text.
        labels: the bundle's labels.
        source: what the records came from (e.g. ``topic /ground_truth/detections``).
        label_map: name -> bundle label or ``ignore`` (default :data:`DEFAULT_LABEL_MAP`).

    Returns
    -------
        The records as a :class:`DetectionTruth` (COCO images and annotations).

    """
    lmap = dict(DEFAULT_LABEL_MAP if label_map is None else label_map)
    images: List[Dict[str, Any]] = []
    b = _TruthBuilder(labels, lmap)
    for i, (stamp, log_ns, boxes) in enumerate(records):
        img_id = i + 1
        images.append(
            {
                'id': img_id,
                'file_name': '{}.png'.format(stamp if stamp is not None else img_id),
                'width': None,
                'height': None,
                'stamp_ns': stamp,
                'log_time_ns': log_ns,
            }
        )
        for name, cx, cy, w, h in boxes:
            name = str(name)
            if (
                name.isdigit()
                and name not in labels
                and name not in lmap
                and int(name) < len(labels)
            ):
                name = labels[int(name)]
            b.add(img_id, name, [cx - w / 2.0, cy - h / 2.0, w, h])
    return b.truth(images, source, 'topic')


def load_detection_truth(
    path: Union[str, Path],
    labels: Sequence[str],
    label_map: Optional[Mapping[str, str]] = None,
    image_names: Optional[Sequence[str]] = None,
    what: str = '--gt',
) -> DetectionTruth:
    """
    Read detection ground truth in any supported format, chosen from the path.

    A ``.json`` file is COCO; a folder of ``.txt`` files is VisDrone-DET. Anything else is refused
    with one line that says what to give instead.

    Raises
    ------
        GroundTruthError: the path is missing, of another kind, or its content is malformed.

    """
    p = Path(path)
    if not p.exists():
        raise GroundTruthError('{} {}: no such file or folder'.format(what, p))
    if p.is_dir():
        kinds = Counter(f.suffix.lower() for f in p.iterdir() if f.is_file())
        if kinds.get('.txt'):
            return load_visdrone_truth(p, labels, label_map, image_names)
        if kinds.get('.json') == 1:
            only = next(f for f in p.iterdir() if f.suffix.lower() == '.json')
            return load_coco_truth(only, labels, label_map)
        if kinds.get('.png'):
            raise GroundTruthError(
                '{} {}: a folder of masks is ground truth for segmentation bundles (PNG label '
                'maps); give a detector a COCO JSON file or a folder of VisDrone-DET .txt '
                'files'.format(what, p)
            )
        raise GroundTruthError(
            '{} {}: folder without ground truth: expected VisDrone-DET annotation files '
            '(*.txt), or give a COCO instances JSON file'.format(what, p)
        )
    suffix = p.suffix.lower()
    if suffix == '.json':
        return load_coco_truth(p, labels, label_map)
    if suffix == '.txt':
        raise GroundTruthError(
            '{} {}: one VisDrone-DET annotation file; give the folder that holds one .txt per '
            'image ({})'.format(what, p, p.parent)
        )
    raise GroundTruthError(
        '{} {}: unknown ground-truth format {!r}: give a COCO instances JSON (.json) or a folder '
        'of VisDrone-DET annotations (.txt)'.format(what, p, suffix or 'without extension')
    )

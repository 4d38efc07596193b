"""Ground truth for bag replay, keyed by the image header stamp, and its COCO evaluation.

Two sources:

* a COCO JSON file whose ``images`` entries carry ``stamp_ns`` — the image header stamp in integer
  nanoseconds (``sec * 1000000000 + nanosec``). Entries without ``stamp_ns`` may instead have a
  ``file_name`` whose stem is that integer (``"1700000000100000000.png"``). Categories are matched to the
  bundle's labels by ``name``. ``tools/make_bag.py`` writes exactly this format.
* a vision_msgs/Detection2DArray topic in the bag (``--gt-topic``): one message per frame with the
  frame's header stamp, each Detection2D's best hypothesis ``class_id`` the class name (or its index in
  the bundle's labels), ``bbox`` centre/size in image pixels.

``GroundTruth.evaluate(...)`` builds the COCO dicts for the frames that were processed and runs
``vitedge_ros.eval.detection.coco_evaluate`` (faster-coco-eval); the caller writes both dicts to JSON so
anyone can re-run the evaluator on exactly the same input.
"""
import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .bag_io import BagReplayError, stamp_ns
from .detection import coco_evaluate

__all__ = ['GroundTruth', 'coco_image_stamp', 'load_coco_gt', 'gt_from_messages']


def coco_image_stamp(image: Dict[str, Any]) -> Optional[int]:
    """Header stamp (ns) of a COCO image entry: ``stamp_ns``, else an integer ``file_name`` stem."""
    if 'stamp_ns' in image:
        try:
            return int(image['stamp_ns'])
        except (TypeError, ValueError):
            return None
    stem = Path(str(image.get('file_name', ''))).stem
    return int(stem) if stem.isdigit() else None


class GroundTruth:
    """COCO ground truth (``images`` carry ``stamp_ns``), with lookup by stamp."""

    def __init__(self, coco: Dict[str, Any], source: str) -> None:
        self.coco = coco
        self.source = source
        self.by_stamp: Dict[int, Dict[str, Any]] = {}
        for img in coco['images']:
            stamp = coco_image_stamp(img)
            if stamp is None:
                raise BagReplayError('ground truth {}: image id {} has no "stamp_ns" (the header stamp in ns) '
                                     'and its file_name {!r} is not a stamp'.format(
                                         source, img.get('id'), img.get('file_name')))
            if stamp in self.by_stamp:
                raise BagReplayError('ground truth {}: two images with stamp_ns {}'.format(source, stamp))
            self.by_stamp[stamp] = img
        self.category_ids = {str(c['name']): int(c['id']) for c in coco['categories']}

    def __len__(self) -> int:
        return len(self.by_stamp)

    def evaluate(self, frames: Sequence[Tuple[int, Tuple[int, int], Sequence[Any]]],
                 labels: Sequence[str]) -> Tuple[Dict[str, Any], Dict[str, Any], List[Dict[str, Any]]]:
        """Evaluate detections of processed frames against the ground truth of those frames.

        Args:
            frames: ``(stamp_ns, (width, height), detections)`` per processed frame; detections have
                ``label``, ``score``, ``box`` (xyxy pixels).
            labels: the bundle's class names.

        Returns:
            ``(result, gt_subset, dets)``: the metrics (``map50``, ``map50_95``, ``per_class`` and counts),
            the COCO ground truth restricted to the evaluated frames, and the COCO detections.

        """
        images, seen = [], set()
        dets: List[Dict[str, Any]] = []
        without_gt = 0
        for stamp, size, detections in frames:
            img = self.by_stamp.get(int(stamp))
            if img is None:
                without_gt += 1
                continue
            if img['id'] in seen:
                continue
            seen.add(img['id'])
            entry = dict(img)
            entry.setdefault('width', int(size[0]))
            entry.setdefault('height', int(size[1]))
            images.append(entry)
            for det in detections:
                cat = self.category_ids.get(str(det.label))
                if cat is None:
                    continue
                x1, y1, x2, y2 = (float(v) for v in det.box)
                dets.append({'image_id': img['id'], 'category_id': cat, 'score': float(det.score),
                             'bbox': [x1, y1, x2 - x1, y2 - y1]})
        anns = [a for a in self.coco['annotations'] if a['image_id'] in seen]
        gt_subset = {'info': dict(self.coco.get('info') or {}, vitedge_subset='images of processed frames'),
                     'images': images, 'annotations': anns, 'categories': self.coco['categories']}
        result: Dict[str, Any] = {'map50': 0.0, 'map50_95': 0.0, 'per_class': {}}
        if images:
            result = coco_evaluate(copy.deepcopy(gt_subset), copy.deepcopy(dets))
        missing = sorted(set(labels) - set(self.category_ids))
        result.update({
            'gt_source': self.source, 'images_total': len(self.by_stamp), 'images_evaluated': len(images),
            'frames_without_gt': without_gt, 'annotations_evaluated': len(anns),
            'labels_not_in_gt': missing,
            'gt_labels_not_in_bundle': sorted(set(self.category_ids) - set(labels)),
        })
        return result, gt_subset, dets


def load_coco_gt(path: Union[str, Path]) -> GroundTruth:
    """Read a COCO ground-truth JSON keyed by header stamp (see the module docstring).

    Raises:
        BagReplayError: unreadable file, missing keys, or images without a stamp.

    """
    p = Path(path)
    try:
        coco = json.loads(p.read_text(encoding='utf-8'))
    except (OSError, ValueError) as exc:
        raise BagReplayError('cannot read ground truth {}: {}'.format(p, exc)) from exc
    if not isinstance(coco, dict):
        raise BagReplayError('ground truth {}: not a COCO dict'.format(p))
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(coco.get(key), list):
            raise BagReplayError('ground truth {}: missing COCO list {!r}'.format(p, key))
    return GroundTruth(coco, str(p))


def gt_from_messages(msgs: Sequence[Any], labels: Sequence[str], source: str) -> GroundTruth:
    """Build ground truth from vision_msgs/Detection2DArray messages (one per frame, keyed by stamp).

    A hypothesis ``class_id`` is a class name, or an integer index into ``labels``. Categories are the
    bundle's labels first, then any other names met, in order.
    """
    names = list(labels)
    images, anns = [], []
    by_stamp: Dict[int, int] = {}
    for msg in msgs:
        stamp = stamp_ns(msg.header)
        img_id = by_stamp.get(stamp)
        if img_id is None:
            img_id = len(images) + 1
            by_stamp[stamp] = img_id
            images.append({'id': img_id, 'file_name': '{}.png'.format(stamp), 'stamp_ns': stamp})
        for det in msg.detections:
            label = ''
            if len(det.results):
                best = max(det.results, key=lambda r: float(r.hypothesis.score))
                label = str(best.hypothesis.class_id)
            if label.isdigit() and label not in names and int(label) < len(labels):
                label = labels[int(label)]
            if label not in names:
                names.append(label)
            sx, sy = float(det.bbox.size_x), float(det.bbox.size_y)
            x1 = float(det.bbox.center.position.x) - sx / 2.0
            y1 = float(det.bbox.center.position.y) - sy / 2.0
            anns.append({'id': len(anns) + 1, 'image_id': img_id, 'category_id': names.index(label) + 1,
                         'bbox': [x1, y1, sx, sy], 'area': sx * sy, 'iscrowd': 0})
    cats = [{'id': i + 1, 'name': n} for i, n in enumerate(names)]
    coco = {'info': {'description': 'ground truth from topic ' + source}, 'images': images,
            'annotations': anns, 'categories': cats}
    return GroundTruth(coco, source)

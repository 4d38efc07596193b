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
Ground truth of a bag replay.

Loading it, which frame each entry belongs to, GT topics of any vision_msgs.

``load_truth`` reads the ground truth a replay is given (boxes or masks, below) and ``match_truth``
matches the frames read to it at the end of the run.

Sources (read by :mod:`vitedge_ros.eval.ground_truth`, mapped to the bundle's labels there):

* ``--gt FILE``: a COCO instances JSON; for bags its ``images`` carry ``stamp_ns`` (the image
  header stamp in integer ns, ``sec * 1000000000 + nanosec``) or a ``file_name`` whose stem is that
  integer. ``tools/make_bag.py`` writes this.
* ``--gt DIR``: a folder of VisDrone-DET ``.txt`` files named ``<stamp_ns>.txt`` (or one per frame
  in name order).
* ``--gt-topic TOPIC``: a vision_msgs/Detection2DArray topic in the same bag, one message per
  frame. Any vision_msgs release is read (:func:`read_gt_topic`): 4.x (Humble and later:
  ``bbox.center.position.x``, ``results[].hypothesis.class_id``), 3.x (Galactic: ``bbox.center.x``,
  ``hypothesis.class_id``) and 2.x (Foxy: ``bbox.center.x``, ``results[].id`` / ``score``), whether
  the bag embeds its definitions (mcap, sqlite3 from Iron on) or not (Foxy/Humble sqlite3: the
  bytes are tried with the carried 4.x and 2.x definitions; 3.x bytes are 4.x bytes).

Matching (:func:`match_frames`): frames and ground truth are matched by **header stamp** when the
stamps identify the frames (every frame's stamp distinct, every ground-truth entry stamped,
distinct, and some frame's stamp among them). Drivers that leave stamps at 0 or repeat them break
that; then the ground truth is matched by **bag log time** (a ground-truth topic recorded with the
images, as ``tools/make_bag.py`` writes it) or by **receive order** (exactly one ground-truth entry
per frame of the topic), and one warning line says so. When none of the keys identifies the frames
the replay stops (exit 2) with one line giving the reasons. A frame is never scored against another
frame's ground truth, and no frame is dropped from scoring because its stamp repeats.
"""

from collections import Counter
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .errors import BagReplayError
from .reader import stamp_ns
from ..eval.ground_truth import DetectionTruth, GroundTruthError, truth_from_records
from ..runtime.errors import VitedgeError

__all__ = [
    'FrameMatch',
    'MaskScores',
    'ReplayTruth',
    'describe_repeats',
    'load_truth',
    'match_frames',
    'match_truth',
    'read_gt_topic',
]

#: (frame index in the image topic, header stamp ns or None when unreadable, bag log time ns)
FrameKey = Tuple[int, Optional[int], int]

LAYOUT_HUMBLE = 'vision_msgs 4.x (Humble and later)'
LAYOUT_GALACTIC = 'vision_msgs 3.x (Galactic)'
LAYOUT_FOXY = 'vision_msgs 2.x (Foxy)'


class FrameMatch(NamedTuple):
    """How frames were matched to ground truth."""

    key: str  # 'stamp', 'log_time' or 'order'
    image_of: Dict[int, int]  # frame index -> ground-truth image id
    warning: Optional[str]  # one line when a key other than the header stamp was used


def describe_repeats(values: Sequence[int], what: str) -> Optional[str]:
    """
    None when ``values`` are distinct.

    Else a short description of the repeats (for messages).
    """
    counts = Counter(values)
    repeated = {v: n for v, n in counts.items() if n > 1}
    if not repeated:
        return None
    if len(counts) == 1:
        return 'all {} {} carry the same value {}'.format(len(values), what, values[0])
    value, n = max(repeated.items(), key=lambda kv: (kv[1], -kv[0]))
    return '{} of {} {} repeat a value ({} at {})'.format(
        sum(repeated.values()), len(values), what, n, value
    )


def _order(images: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """
    Ground-truth entries in frame order.

    By stamp when all are stamped and distinct, else as given.
    """
    stamps = [im.get('stamp_ns') for im in images]
    if all(s is not None for s in stamps) and len(set(stamps)) == len(stamps):
        return sorted(images, key=lambda im: im['stamp_ns'])
    return list(images)


def match_frames(
    frames: Sequence[FrameKey],
    frames_total: int,
    gt_images: Sequence[Mapping[str, Any]],
    topic: str,
    source: str,
) -> FrameMatch:
    """
    Match the frames read from ``topic`` to ground-truth entries (rules in the module docstring).

    Args
    ----
        frames: ``(index, stamp_ns or None, log_time_ns)`` of every frame read, in receive order.
        frames_total: number of messages on the image topic in the bag (receive-order matching
            needs one ground-truth entry for each).
        gt_images: ground-truth entries with ``id`` and, where known, ``stamp_ns`` and
            ``log_time_ns``.
        topic: the image topic (for messages).
        source: the ground truth (for messages).

    Returns
    -------
        A :class:`FrameMatch`.

    Raises
    ------
        GroundTruthError: no key identifies the frames (one line with the reasons).

    """
    reasons: List[str] = []
    stamps = [s for _, s, _ in frames if s is not None]
    trouble = describe_repeats(stamps, 'frames')
    gt_stamps = [im.get('stamp_ns') for im in gt_images]
    if trouble is not None:
        reasons.append('the header stamps do not identify the frames ({})'.format(trouble))
    elif any(s is None for s in gt_stamps) or not gt_stamps:
        reasons.append(
            '{} of {} ground-truth entries have no stamp_ns'.format(
                sum(s is None for s in gt_stamps), len(gt_stamps)
            )
        )
    elif describe_repeats(gt_stamps, 'entries') is not None:
        reasons.append(
            'the ground-truth stamps do not identify entries ({})'.format(
                describe_repeats(gt_stamps, 'entries')
            )
        )
    else:
        by_stamp = {int(im['stamp_ns']): int(im['id']) for im in gt_images}
        image_of = {i: by_stamp[s] for i, s, _ in frames if s is not None and s in by_stamp}
        if image_of:
            return FrameMatch('stamp', image_of, None)
        reasons.append(
            (
                "no frame's header stamp is in the ground truth "
                '(frames {}..{}, ground truth {}..{})'
            ).format(
                min(stamps) if stamps else '-',
                max(stamps) if stamps else '-',
                min(gt_stamps),
                max(gt_stamps),
            )
        )
    gt_logs = [im.get('log_time_ns') for im in gt_images]
    if gt_logs and all(t is not None for t in gt_logs):
        frame_logs = [t for _, _, t in frames]
        repeats = describe_repeats(frame_logs, 'frame log times') or describe_repeats(
            gt_logs, 'ground-truth log times'
        )
        if repeats is None:
            by_log = {int(im['log_time_ns']): int(im['id']) for im in gt_images}
            image_of = {i: by_log[t] for i, _, t in frames if t in by_log}
            if image_of:
                return FrameMatch(
                    'log_time',
                    image_of,
                    'ground truth {} matched to the frames of {} by bag log time: {}'.format(
                        source, topic, reasons[0]
                    ),
                )
            reasons.append('no ground-truth message has the bag log time of a frame')
        else:
            reasons.append('bag log times do not identify them ({})'.format(repeats))
    if len(gt_images) == frames_total and frames_total > 0:
        ordered = _order(gt_images)
        image_of = {i: int(ordered[i]['id']) for i, _, _ in frames if i < len(ordered)}
        return FrameMatch(
            'order',
            image_of,
            'ground truth {} matched to the frames of {} by receive order (entry k '
            'is frame k): {}'.format(source, topic, reasons[0]),
        )
    reasons.append(
        'receive order needs one ground-truth entry per frame ({} entries, {} frames)'.format(
            len(gt_images), frames_total
        )
    )
    raise GroundTruthError(
        'ground truth {} cannot be matched to the frames of {}: {}'.format(
            source, topic, '; '.join(reasons)
        )
    )


# ------------------------------------------------------------------------------------------
# ground-truth topics
class _Unreadable(VitedgeError, Exception):
    """A deserialized message whose fields are not those of any known vision_msgs release."""


def _fields(obj: Any) -> str:
    names = [n for n in getattr(type(obj), '__dataclass_fields__', {}) if not n.startswith('__')]
    if not names:
        names = [n for n in getattr(obj, '__slots__', ()) if not n.startswith('_')]
    return '{}({})'.format(getattr(obj, '__msgtype__', type(obj).__name__), ', '.join(names))


def _center(bbox: Any) -> Tuple[float, float]:
    centre = getattr(bbox, 'center', None)
    pos = getattr(centre, 'position', None)
    if pos is not None and hasattr(pos, 'x') and hasattr(pos, 'y'):
        return float(pos.x), float(pos.y)
    if centre is not None and hasattr(centre, 'x') and hasattr(centre, 'y'):
        return float(centre.x), float(centre.y)
    raise _Unreadable(
        'bbox.center is {}: expected position.x/position.y ({}) or x/y ({}, {})'.format(
            _fields(centre) if centre is not None else 'missing',
            LAYOUT_HUMBLE,
            LAYOUT_GALACTIC,
            LAYOUT_FOXY,
        )
    )


def _hypothesis(result: Any) -> Tuple[str, float]:
    hyp = getattr(result, 'hypothesis', None)
    if hyp is not None and hasattr(hyp, 'class_id') and hasattr(hyp, 'score'):
        return str(hyp.class_id), float(hyp.score)
    if hasattr(result, 'id') and hasattr(result, 'score'):
        return str(result.id), float(result.score)
    raise _Unreadable(
        'results[] is {}: expected hypothesis.class_id/score ({}, {}) or id/score ({})'.format(
            _fields(result), LAYOUT_HUMBLE, LAYOUT_GALACTIC, LAYOUT_FOXY
        )
    )


def _layout(det: Any) -> str:
    if hasattr(getattr(det.bbox, 'center', None), 'position'):
        return LAYOUT_HUMBLE
    if hasattr(det, 'source_img') or (
        len(det.results) and not hasattr(det.results[0], 'hypothesis')
    ):
        return LAYOUT_FOXY
    return LAYOUT_GALACTIC


def _boxes(msg: Any) -> List[Tuple[str, float, float, float, float]]:
    out = []
    for det in msg.detections:
        if not hasattr(det, 'results') or not hasattr(det, 'bbox'):
            raise _Unreadable(
                'detections[] is {}: expected results[] and bbox (any vision_msgs release)'.format(
                    _fields(det)
                )
            )
        label = ''
        if len(det.results):
            label = max((_hypothesis(r) for r in det.results), key=lambda h: h[1])[0]
        cx, cy = _center(det.bbox)
        out.append((label, cx, cy, float(det.bbox.size_x), float(det.bbox.size_y)))
    return out


def _deserializers(reader: Any) -> List[Tuple[str, Any]]:
    """
    Return the (name, function(raw, msgtype)) decoders to try on a ground-truth topic.

    The bag's own message definitions come first.
    """
    from ..ros.rosbags_types import VISION_MSGS_RELEASES, vision_msgs_typestore

    out: List[Tuple[str, Any]] = [
        ('the definitions the bag carries (or the ROS 2 Humble defaults)', reader.deserialize)
    ]
    for distro in ('humble', 'foxy'):
        store = vision_msgs_typestore(distro)
        out.append(
            (
                'vision_msgs {} ({})'.format(VISION_MSGS_RELEASES[distro], distro.capitalize()),
                store.deserialize_cdr,
            )
        )
    return out


def read_gt_topic(
    reader: Any,
    conns: Sequence[Any],
    labels: Sequence[str],
    topic: str,
    label_map: Optional[Mapping[str, str]] = None,
) -> DetectionTruth:
    """
    Read a vision_msgs/Detection2DArray ground-truth topic of any vision_msgs release.

    One ground-truth entry per message, in log order, keyed by its header stamp and bag log time;
    each Detection2D's best hypothesis gives the class (a name, or the index of a bundle label),
    ``bbox`` centre/size the box in pixels. The definitions are tried in order: the bag's own (or
    the Humble defaults for bags without any), then vision_msgs 4.1.1 and 2.0.0 as carried in
    ``vitedge_ros/ros/msg``; the one that reads the most messages is used and unreadable messages
    are counted (``gt_messages_unreadable``).

    Raises
    ------
        BagReplayError: the topic cannot be read, or its definition has fields of no known release
            (one line naming the topic and the definition).

    """
    raws: List[Tuple[int, bytes, str]] = []
    try:
        for conn, log_ns, raw in reader.messages(connections=conns):
            raws.append((int(log_ns), raw, conn.msgtype))
    except Exception as exc:  # noqa: BLE001 - any storage failure is a bad bag
        raise BagReplayError(
            'ground-truth topic {}: cannot read the bag after {} messages: {}: {}'.format(
                topic, len(raws), type(exc).__name__, exc
            )
        ) from None
    if not raws:
        raise BagReplayError('ground-truth topic {} holds no messages'.format(topic))
    best: Tuple[int, str, List[Any], str] = (-1, '', [], '')
    for name, func in _deserializers(reader):
        msgs, first_error = [], ''
        for _, raw, msgtype in raws:
            try:
                msgs.append(func(raw, msgtype))
            except Exception as exc:  # noqa: BLE001 - a definition that does not fit these bytes
                msgs.append(None)
                first_error = first_error or '{}: {}'.format(
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ''
                )
        ok = sum(m is not None for m in msgs)
        if ok > best[0]:
            best = (ok, name, msgs, first_error)
        if ok == len(raws):
            break
    ok, name, msgs, first_error = best
    if ok == 0:
        raise BagReplayError(
            'ground-truth topic {}: cannot deserialize its {} messages with {}: {}'.format(
                topic, raws[0][2], ' or '.join(n for n, _ in _deserializers(reader)), first_error
            )
        )
    records = []
    layout = ''
    for (log_ns, _, _), msg in zip(raws, msgs):
        if msg is None:
            continue
        try:
            boxes = _boxes(msg)
            if not layout and len(msg.detections):
                layout = _layout(msg.detections[0])
            records.append((stamp_ns(msg.header), log_ns, boxes))
        except (_Unreadable, AttributeError, TypeError, ValueError) as exc:
            raise BagReplayError(
                'ground-truth topic {}: cannot read its {} definition: {}'.format(
                    topic, raws[0][2], exc
                )
            ) from None
    try:
        truth = truth_from_records(records, labels, 'topic ' + topic, label_map)
    except GroundTruthError as exc:
        raise BagReplayError(str(exc)) from None
    truth.extra.update(
        {
            'gt_definition': layout or 'unknown (no detections)',
            'gt_deserialized_with': name,
            'gt_messages_unreadable': len(raws) - ok,
        }
    )
    if ok < len(raws):
        import logging

        logging.getLogger(__name__).warning(
            'ground-truth topic %s: %d of %d messages unreadable (%s); their frames '
            'have no ground truth',
            topic,
            len(raws) - ok,
            len(raws),
            first_error,
        )
    return truth


# ------------------------------------------------------------------------------------------
# segmentation masks
class MaskScores:
    """
    Confusion matrices of a segmentation replay against a mask folder, under both frame keys.

    Masks are named ``<stamp_ns>.png``. Each processed frame is scored against the mask of its
    header stamp and, when the folder has exactly one mask per frame of the topic, against the k-th
    mask in stamp order (receive order); :func:`match_frames` decides at the end which key
    identifies the frames, so frames with repeated or zero stamps are never scored against one
    shared mask.
    """

    def __init__(self, truth: Any, num_classes: int, frames_total: int) -> None:
        self.truth = truth
        self.num_classes = int(num_classes)
        stamps = sorted(truth.files)
        self.images = [{'id': i + 1, 'stamp_ns': s} for i, s in enumerate(stamps)]
        self.order = stamps if len(stamps) == frames_total else None
        self.cms: Dict[str, Dict[int, Any]] = {'stamp': {}, 'order': {}}

    def add(self, index: int, stamp: Optional[int], seg: Any) -> None:
        """Score frame ``index`` (header stamp ``stamp``, label map ``seg``) under both keys."""
        from ..eval.segmentation import confusion_matrix, MaskError

        shape = tuple(seg.shape[:2])
        done: Dict[int, Any] = {}
        by_order = (
            self.order[index] if self.order is not None and index < len(self.order) else None
        )
        for key, s in (('stamp', stamp), ('order', by_order)):
            if s is None or s not in self.truth.files:
                continue
            if s not in done:
                try:
                    done[s] = confusion_matrix(
                        self.truth.mask_for(s, shape), seg, self.num_classes
                    )
                except MaskError as exc:
                    done[s] = exc
            self.cms[key][index] = done[s]

    def chosen(self, match: FrameMatch) -> Dict[int, Any]:
        """
        Per-frame confusion matrices under the key ``match`` chose.

        Raises
        ------
            BagReplayError: a mask of a matched frame does not fit (size or class ids; names the
                file).

        """
        cms = {
            i: self.cms[match.key][i] for i in match.image_of if i in self.cms.get(match.key, {})
        }
        for value in cms.values():
            if isinstance(value, Exception):
                raise BagReplayError('ground-truth mask: {}'.format(value))
        return cms


# ------------------------------------------------------------------------------------------- a
# replay's truth
class ReplayTruth(NamedTuple):
    """The ground truth one replay scores against (all None without ``--gt`` / ``--gt-topic``)."""

    boxes: Optional[DetectionTruth]  # detection ground truth in the bundle's labels
    masks: Any  # segmentation: ``MaskFolderGroundTruth``
    seg_scores: Optional[
        MaskScores
    ]  # segmentation: per-frame confusion matrices under both frame keys
    labels: List[str]  # the bundle's labels


def load_truth(
    reader: Any,
    gt: Any,
    gt_topic: Optional[str],
    labels: Sequence[str],
    label_map: Any,
    segment: bool,
    frames_total: int,
) -> ReplayTruth:
    """
    Read the ground truth of a replay (give ``gt`` or ``gt_topic``, not both).

    ``gt``: a COCO JSON, a VisDrone folder, or masks for a segmenter; ``gt_topic``: a
    vision_msgs/Detection2DArray topic of the bag; ``label_map`` as ``parse_label_map`` takes it.

    Raises
    ------
        BagReplayError: a missing source, masks given to a detector or boxes to a segmenter, or
            ground truth that does not read (the message names the file and the problem).

    """
    from pathlib import Path

    from .reader import DETECTIONS_TYPE, find_connection
    from ..eval.ground_truth import load_detection_truth, parse_label_map

    labels = list(labels)
    if gt is not None and not Path(gt).exists():
        raise BagReplayError('--gt {}: no such file or folder'.format(gt))
    if segment and (gt_topic is not None or (gt is not None and not Path(gt).is_dir())):
        raise BagReplayError(
            '--gt: a segmentation bundle is scored against a folder of PNG label maps named '
            '<stamp_ns>.png, not COCO boxes'
        )
    if segment and gt is not None:
        from ..eval.segmentation import MaskError, MaskFolderGroundTruth

        try:
            masks = MaskFolderGroundTruth(gt, labels)
        except MaskError as exc:
            raise BagReplayError('--gt: {}'.format(exc)) from exc
        return ReplayTruth(None, masks, MaskScores(masks, len(labels), frames_total), labels)
    boxes = None
    if gt is not None or gt_topic is not None:
        try:
            lmap = parse_label_map(label_map, labels)
            if gt is not None:
                boxes = load_detection_truth(gt, labels, lmap)
        except GroundTruthError as exc:
            raise BagReplayError(str(exc)) from None
        if gt_topic is not None:
            gconns = find_connection(
                reader, gt_topic, (DETECTIONS_TYPE,), what='ground-truth topic'
            )
            boxes = read_gt_topic(reader, gconns, labels, gt_topic, lmap)
    return ReplayTruth(boxes, None, None, labels)


def match_truth(
    frame_keys: Sequence[FrameKey], truth: ReplayTruth, frames_total: int, topic: str, gt: Any
) -> Optional[FrameMatch]:
    """
    Match the frames read to the ground truth (:func:`match_frames`); warn once when not by stamp.

    Returns None without ground truth.

    Raises
    ------
        BagReplayError: no key identifies the frames, or a matched mask does not fit.

    """
    import logging

    if truth.boxes is None and truth.seg_scores is None:
        return None
    images = truth.boxes.images if truth.boxes is not None else truth.seg_scores.images
    source = truth.boxes.source if truth.boxes is not None else str(gt)
    try:
        match = match_frames(frame_keys, frames_total, images, topic, source)
    except GroundTruthError as exc:
        raise BagReplayError(str(exc)) from None
    if match.warning:
        logging.getLogger(__name__).warning('%s', match.warning)
    if truth.seg_scores is not None:
        truth.seg_scores.chosen(match)
    return match

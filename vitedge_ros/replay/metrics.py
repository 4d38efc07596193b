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
metrics.json of a bag replay.

Counts, latency, accuracy against ground truth, localisation and avoidance.

``replay_metrics`` assembles the dictionary written to ``metrics.json`` from one finished run
(``ReplayRun``); ``accuracy_metrics`` scores detections (COCO mAP through
``vitedge_ros.eval.ground_truth.DetectionTruth``) or segmentations
(``vitedge_ros.eval.segmentation.SegmentationMeter``); ``geometry_metrics`` scores person targets,
obstacle bearings and the clear-path flag against the bag's position ground truth
(``vitedge_ros.eval.localisation``) and draws ``topdown.png``. The metric definitions live in
``vitedge_ros.eval``.
"""

from collections import OrderedDict
import json
import logging
from pathlib import Path
import resource
import sys
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .reader import bag_storage
from .writer import write_file
from ..runtime.latency_stats import latency_summary

__all__ = [
    'LATENCY_STEPS',
    'ReplayRun',
    'accuracy_metrics',
    'geometry_metrics',
    'peak_rss_mb',
    'replay_metrics',
]

LOG = logging.getLogger(__name__)
LATENCY_STEPS = (
    'deserialize',
    'decode',
    'preprocess',
    'inference',
    'postprocess',
    'pipeline',
    'end_to_end',
)


def _ru_maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 / (1024.0 if sys.platform == 'darwin' else 1.0)


def peak_rss_mb() -> float:
    """
    Peak resident memory of this process in MB.

    On Linux this is ``VmHWM`` of /proc/self/status: ``ru_maxrss`` survives ``fork`` + ``exec`` and
    would report the parent's peak for a process started from a large one (pytest with torch
    loaded). Elsewhere ``ru_maxrss``.
    """
    try:
        with open('/proc/self/status', encoding='ascii', errors='replace') as fh:
            for line in fh:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return _ru_maxrss_mb()


class ReplayRun(NamedTuple):
    """What one replay run produced, for its metrics (times in seconds unless named ``_ms``)."""

    bag: str
    reader_path: Path  # the bag directory actually read
    image_topic: str
    msgtype: str
    bundle: Optional[str]  # bundle path as given (None with a ready pipeline)
    bundle_name: str
    labels: List[str]
    backend: str
    realtime: bool
    rate: float
    mono16_shift: Optional[int]
    frames_in: int
    dropped: int
    first_ns: Optional[int]  # log time of the first and last frame read
    last_ns: Optional[int]
    submitted: List[Tuple[int, float]]  # (index, bag time s) of every frame handed to the core
    feeder_lag_ms: List[float]
    run_s: float
    setup_s: float
    warm_up_ms: float
    topic_counts: Dict[str, int]


def accuracy_metrics(
    state: Any, truth: Any, match: Any, out_dir: Path, gt: Any, score_threshold: Optional[float]
) -> Optional[Dict[str, Any]]:
    """
    ``accuracy`` of metrics.json.

    COCO mAP of the detections, or mIoU of the segmentations; None without truth.

    Writes ``gt_coco.json`` and ``detections_coco.json`` (the evaluator's exact input) for
    detections.
    """
    records = state.records
    if truth.boxes is not None:
        image_of = match.image_of
        pairs = [
            (image_of[r['index']], r['size'], r['dets']) for r in records if r['index'] in image_of
        ]
        acc, gt_subset, dets = truth.boxes.evaluate(
            pairs, info={'vitedge_subset': 'images of processed frames'}
        )
        acc.update(
            {
                'frames_without_gt': len(records) - len(pairs),
                'matched_by': match.key,
                'match_warning': match.warning,
            }
        )
        write_file(out_dir / 'gt_coco.json', json.dumps(gt_subset).encode('utf-8'))
        write_file(out_dir / 'detections_coco.json', json.dumps(dets).encode('utf-8'))
        acc['gt_file'] = 'gt_coco.json'
        acc['detections_file'] = 'detections_coco.json'
        acc['score_threshold'] = score_threshold
        return acc
    if truth.seg_scores is not None:
        from ..eval.segmentation import SegmentationMeter

        meter = SegmentationMeter(truth.labels)
        for cm in truth.seg_scores.chosen(match).values():
            meter.cm += cm
            meter.frames += 1
        acc = meter.result()
        acc.update(
            {
                'gt_source': str(gt),
                'frames_evaluated': acc.pop('frames'),
                'frames_without_gt': len(records) - meter.frames,
                'masks_total': len(truth.masks),
                'scored_at': 'input-image pixels',
                'matched_by': match.key,
                'match_warning': match.warning,
            }
        )
        return acc
    return None


def _localisation(
    by_stamp: Sequence[Dict[str, Any]],
    truth: Any,
    target_frame: str,
    gate_m: float,
    out_dir: Path,
    bundle_name: str,
) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    from ..eval.localisation import LocalisationMeter, plot_topdown

    if truth.frame and truth.frame != target_frame:
        LOG.warning(
            'person ground truth is in %r but targets in %r: localisation not scored',
            truth.frame,
            target_frame,
        )
        return None, None
    meter = LocalisationMeter(gate_m)
    for r in by_stamp:
        if r['stamp_ns'] in truth.persons:
            meter.add(r['targets'] or [], truth.persons[r['stamp_ns']])
    res = meter.result()
    res['frames_without_targets'] = sum(
        1 for r in by_stamp if r['stamp_ns'] in truth.persons and r['targets'] is None
    )
    try:
        plot_topdown(
            out_dir / 'topdown.png',
            meter,
            title='{}: person targets vs truth ({})'.format(bundle_name, target_frame),
        )
        return res, 'topdown.png'
    except Exception as exc:  # noqa: BLE001 - a missing plot must not lose the metrics
        LOG.warning('top-down plot not written: %s', exc)
        return res, None


def _obstacles(
    by_stamp: Sequence[Dict[str, Any]], truth: Any, tf: Any, target_frame: str
) -> Dict[str, Any]:
    from ..eval.localisation import ObstacleBearingMeter
    from ..geometry.projection import points_in_camera

    meter = ObstacleBearingMeter()
    for r in by_stamp:
        if (
            r['stamp_ns'] not in truth.obstacles
            or r['obstacles'] is None
            or r.get('frame_id') is None
        ):
            continue
        try:
            pose = tf.lookup(truth.frame or target_frame, r['frame_id'], r['stamp_ns'])
        except LookupError:
            continue
        pts = truth.obstacles[r['stamp_ns']]
        rays = points_in_camera(pts, pose)
        meter.add([(az, el) for label, az, el in r['obstacles'] if label == 'obstacle'], rays)
    res = meter.result()
    res['classes'] = ['obstacle']
    return res


def _clear_path(by_stamp: Sequence[Dict[str, Any]], truth: Any) -> Dict[str, Any]:
    from ..eval.localisation import ClearPathMeter

    meter = ClearPathMeter()
    for r in by_stamp:
        if r['stamp_ns'] in truth.clear_path and r['clear_path'] is not None:
            meter.add(r['clear_path'], truth.clear_path[r['stamp_ns']])
    return meter.result()


def geometry_metrics(
    records: List[Dict[str, Any]],
    truth: Any,
    tf: Any,
    target_frame: str,
    out_dir: Path,
    gate_m: float,
    bundle_name: str,
) -> Dict[str, Any]:
    """
    ``localisation``, ``obstacles`` and ``clear_path`` of metrics.json, and topdown.png.

    ``truth`` is the bag's ``PositionTruth``, ``tf`` its ``TransformBuffer`` (or None),
    ``target_frame`` the node's. Each is None where the bag has no such ground truth, or the replay
    no such output.
    """
    out: Dict[str, Any] = {
        'localisation': None,
        'obstacles': None,
        'clear_path': None,
        'topdown_plot': None,
    }
    by_stamp = [r for r in records if r.get('stamp_ns') is not None]
    if truth.persons and target_frame:
        out['localisation'], out['topdown_plot'] = _localisation(
            by_stamp, truth, target_frame, gate_m, out_dir, bundle_name
        )
    if truth.obstacles and tf is not None and target_frame:
        out['obstacles'] = _obstacles(by_stamp, truth, tf, target_frame)
    if truth.clear_path:
        out['clear_path'] = _clear_path(by_stamp, truth)
    return out


def _latency_plot(out_dir: Path, run: ReplayRun, state: Any, mode: str) -> Optional[str]:
    """
    Draw latency.png (end-to-end and inference over bag time, drops and failures marked).

    Returns its file name, or None.
    """
    dropped_times = []
    if run.realtime:
        done = {r['index'] for r in state.records} | state.failed_indices
        dropped_times = [t for i, t in run.submitted if i not in done]
    try:
        from .report import plot_latency

        records = state.records
        times = [r['bag_time_s'] for r in records]
        series = OrderedDict(
            [
                ('end-to-end', [r['end_to_end'] for r in records]),
                ('inference', [r['inference'] for r in records]),
            ]
        )
        plot_latency(
            out_dir / 'latency.png',
            times,
            series,
            dropped_times,
            state.failed_times,
            title='{} on {} ({}, {})'.format(run.bundle_name, run.image_topic, mode, run.backend),
        )
        return 'latency.png'
    except Exception as exc:  # noqa: BLE001 - a missing plot must not lose the metrics
        LOG.warning('latency plot not written: %s', exc)
        return None


def _camera_metrics(geometry: Any, pose_lookup: Any, target_frame: str) -> Dict[str, Any]:
    return {
        'camera_info_topic': geometry.camera_info_topic,
        'camera_infos': len(geometry.camera_infos),
        'tf_messages': geometry.tf_messages,
        'tf_frames': geometry.tf.frames if geometry.tf is not None else [],
        'target_frame': target_frame,
        'note': geometry.note or None,
        'pose_lookups_ok': pose_lookup.ok if pose_lookup is not None else 0,
        'pose_failures': dict(pose_lookup.failures) if pose_lookup is not None else {},
    }


def replay_metrics(
    run: ReplayRun,
    state: Any,
    accuracy: Optional[Dict[str, Any]],
    segment: bool,
    geometry: Any,
    pose_lookup: Any,
    target_frame: str,
    geometry_scores: Dict[str, Any],
    out_dir: Path,
    output_bag: str,
) -> Dict[str, Any]:
    """
    Return the content of metrics.json (schema_version 1, keys described in docs/EVALUATION.md).

    Draws latency.png.
    """
    records = state.records
    labels = run.labels
    bag_duration_s = (run.last_ns - run.first_ns) / 1e9 if run.first_ns is not None else 0.0
    per_class = OrderedDict((name, int(state.class_counts.get(name, 0))) for name in labels)
    for name, count in sorted(state.class_counts.items()):
        per_class.setdefault(name, int(count))
    m: Dict[str, Any] = OrderedDict()
    m['schema_version'] = 1
    m['tool'] = 'eval_bag'
    m['bag'] = run.bag
    m['storage'] = bag_storage(run.reader_path)
    m['image_topic'] = run.image_topic
    m['image_msgtype'] = run.msgtype
    m['bundle'] = {'name': run.bundle_name, 'path': run.bundle, 'labels': labels}
    m['backend'] = run.backend
    m['mode'] = 'realtime' if run.realtime else 'throughput'
    m['rate'] = float(run.rate) if run.realtime else None
    m['mono16_shift'] = run.mono16_shift
    m['frames_in'] = run.frames_in
    m['frames_processed'] = len(records)
    m['frames_failed'] = int(sum(state.failure_reasons.values()))
    m['frames_dropped'] = int(run.dropped)
    m['failure_reasons'] = dict(sorted(state.failure_reasons.items()))
    m['failures'] = state.failures
    m['latency_ms'] = {s: latency_summary(r[s] for r in records) for s in LATENCY_STEPS}
    m['fps'] = len(records) / run.run_s if run.run_s > 0 else 0.0
    m['input_fps'] = (run.frames_in - 1) / bag_duration_s if bag_duration_s > 0 else None
    m['bag_duration_s'] = bag_duration_s
    m['wall_s'] = run.run_s
    m['setup_s'] = run.setup_s
    m['warm_up_ms'] = run.warm_up_ms
    m['feeder_lag_ms'] = latency_summary(run.feeder_lag_ms) if run.realtime else None
    m['detections_total'] = int(sum(state.class_counts.values()))
    m['detections_per_class'] = per_class
    m['output_bag'] = output_bag
    m['output_topics'] = dict(run.topic_counts)
    m['accuracy'] = accuracy
    m['task'] = 'segment' if segment else 'detect'
    m['camera'] = _camera_metrics(geometry, pose_lookup, target_frame)
    m['targets_total'] = int(sum(len(r['targets']) for r in records if r.get('targets')))
    m.update(geometry_scores)
    m['plot'] = _latency_plot(out_dir, run, state, m['mode'])
    m['torch_imported'] = 'torch' in sys.modules
    m['peak_rss_mb'] = peak_rss_mb()
    m['ru_maxrss_mb'] = _ru_maxrss_mb()
    m['python'] = sys.version.split()[0]
    return m

"""Replay a recorded rosbag2 flight through the node's perception core, without a ROS installation.

``replay(bag, bundle, image_topic, out_dir, ...)`` reads Image or CompressedImage frames with the
``rosbags`` library and hands each, with the CameraInfo in force and the camera pose from the bag's TF, to the
node's ``PerceptionCore`` (``vitedge_ros.ros.core``: image conversion, ``vitedge_ros.runtime.Pipeline``, person
targets, obstacles, clear path, landing zone, overlay, diagnostics); it is a driver like the rclpy node. It writes,
in ``out_dir``:

* ``output_bag/`` — a rosbag2 (mcap by default) with ``/vitedge/detections``
  (vision_msgs/msg/Detection2DArray, header copied from each input frame, definitions embedded), the other
  outputs of the node (see ``replay``) and, with ``overlay=True``, ``/vitedge/overlay`` (sensor_msgs/msg/Image,
  bgr8). It is written under a hidden
  temporary name and renamed only after a clean close: an interrupted run leaves no output bag.
* ``metrics.json`` (atomic) and ``metrics.md``; ``latency.png`` (latency over bag time).
* with ground truth, ``detections_coco.json`` and ``gt_coco.json``: the exact COCO input of the reported
  mAP, so it can be re-evaluated with any COCO evaluator.

Segmentation bundles (task ``segment``) write ``/vitedge/segmentation`` (sensor_msgs/msg/Image, mono8
class ids, header copied) instead of detections, the colour overlay with ``overlay=True``, and score
mIoU / per-class IoU against ``gt``: a folder of PNG label maps named ``<stamp_ns>.png`` (the image
header stamp in ns; ``write_synthetic_bag(masks=True)`` writes one). A mask of the wrong size or with
unknown class ids stops the run with an error naming the file.

Two clocks: as fast as possible (``realtime=False``, throughput: each frame is handed to the core once the
previous one is done) and ``realtime=True``, where the frames arrive at the bag's own timing (times ``1/rate``)
and the core processes them latest-wins, exactly as in the node: frames that arrive while the engine is busy
replace the pending one and are counted as dropped, and end-to-end latency is the time from a frame's scheduled
arrival to its outputs.

Nothing here imports torch; ``metrics['torch_imported']`` records whether anything else did.
"""
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter, OrderedDict, deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..runtime.errors import BundleError, EngineError, FrameError
from ..runtime.latency_stats import latency_summary
from .bag_io import (
    COMPRESSED_TYPE,
    DETECTIONS_TYPE,
    IMAGE_TYPE,
    IMAGE_TYPES,
    BagReplayError,
    OutputBag,
    bag_storage,
    find_connection,
    open_bag,
    stamp_ns,
    write_file,
)

__all__ = ['BEARINGS_TOPIC', 'BagReplayError', 'CLEAR_PATH_TOPIC', 'COMPRESSED_TYPE', 'DETECTIONS_TOPIC',
           'DIAGNOSTICS_TOPIC', 'IMAGE_TYPE', 'LANDING_SAFE_TOPIC', 'LANDING_ZONE_TOPIC', 'OBSTACLES_TOPIC',
           'OUTPUT_BAG', 'OVERLAY_TOPIC', 'SEGMENTATION_TOPIC', 'TARGETS_TOPIC', 'benchmark_replay', 'replay',
           'replay_subprocess']

LOG = logging.getLogger(__name__)
CLASSIFICATION_TYPE = 'vision_msgs/msg/Classification'

DETECTIONS_TOPIC = '/vitedge/detections'
OVERLAY_TOPIC = '/vitedge/overlay'
SEGMENTATION_TOPIC = '/vitedge/segmentation'
TARGETS_TOPIC = '/vitedge/targets'
OBSTACLES_TOPIC = '/vitedge/obstacles'
BEARINGS_TOPIC = '/vitedge/obstacles/bearings'
CLEAR_PATH_TOPIC = '/vitedge/clear_path'
LANDING_ZONE_TOPIC = '/vitedge/landing_zone'
LANDING_SAFE_TOPIC = '/vitedge/landing_zone/safe'
DIAGNOSTICS_TOPIC = '/diagnostics'
OUTPUT_BAG = 'output_bag'
OUTPUT_FILES = ('metrics.json', 'metrics.md', 'latency.png', 'detections_coco.json', 'gt_coco.json', 'topdown.png')
MAX_FAILURE_RECORDS = 100


def _ru_maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 / (1024.0 if sys.platform == 'darwin' else 1.0)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    On Linux this is ``VmHWM`` of /proc/self/status: ``ru_maxrss`` survives ``fork`` + ``exec`` and would report
    the parent's peak for a process started from a large one (pytest with torch loaded). Elsewhere
    ``ru_maxrss``.
    """
    try:
        with open('/proc/self/status', encoding='ascii', errors='replace') as fh:
            for line in fh:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return _ru_maxrss_mb()


def _load_pipeline(bundle: Union[str, Path], backend: str, score_threshold: Optional[float]) -> Any:
    from ..runtime import Pipeline

    path = Path(bundle)
    try:
        pipe = Pipeline(path, backend=backend, score_threshold=score_threshold)
    except (BundleError, EngineError, OSError, ValueError) as exc:
        raise BagReplayError('bundle {} does not load: {}'.format(path, exc)) from exc
    if pipe.bundle.task not in ('detect', 'segment'):
        pipe.close()
        raise BagReplayError('bundle {} is a {!r} model; eval_bag needs a detector (task: detect) or a '
                             'segmenter (task: segment)'.format(path, pipe.bundle.task))
    return pipe


class _Replay:
    """One replay run: state shared by the feeding loop and the processing function."""

    def __init__(self, pipe: Any, types: Any, out: OutputBag, overlay: bool, keep_detections: bool,
                 on_frame: Optional[Callable[[int, Dict[str, Any]], None]], seg_scores: Any = None,
                 core: Any = None, geometry: Any = None) -> None:
        from ..ros.messages import build_detection2d_array, build_image, build_label_image

        self.core = core                 # the node's PerceptionCore (set by replay): every frame goes through it
        self.geometry = geometry         # BagGeometry: CameraInfo in force at each frame
        self._camera_info = None
        self._last_diag_ns: Optional[int] = None
        self.pipe = pipe
        self.types = types
        self.out = out
        self.overlay = overlay
        self.keep_detections = keep_detections
        self.on_frame = on_frame
        self.build_dets = build_detection2d_array
        self.build_image = build_image
        self.records: List[Dict[str, Any]] = []
        self.failures: List[Dict[str, Any]] = []
        self.failure_reasons: Counter = Counter()
        self.failed_times: List[float] = []
        self.failed_indices: set = set()
        self.last_out_ns = -1  # see _ready
        self.class_counts: Counter = Counter()
        self.fatal: Optional[BaseException] = None
        #: outputs ready on the core's worker thread, written by the feeding thread: (FrameOutput, e2e ms, log ns)
        self.ready: Deque[Tuple[Any, float, int]] = deque()
        self.build_label = build_label_image
        self.seg_scores = seg_scores
        #: (index, header stamp ns or None, bag log time ns) of every frame read, for ground-truth matching
        self.frame_keys: List[Tuple[int, Optional[int], int]] = []

    def _write_outputs(self, out: Any, index: int, stamp: int, out_ns: int) -> None:
        """Write every output the node publishes for one frame (``FrameOutput`` of the core), input header."""
        from ..ros import messages as M

        t, header = self.types, out.header
        if out.segmentation is not None:
            self.out.write(SEGMENTATION_TOPIC, self.build_label(out.segmentation, header, t), out_ns)
            if self.seg_scores is not None:
                self.seg_scores.add(index, stamp, out.segmentation)
            if out.landing_zone is not None and LANDING_ZONE_TOPIC in self.out.topics:
                self.out.write(LANDING_ZONE_TOPIC, M.build_classification(out.landing_zone.fractions, header, t),
                               out_ns)
                self.out.write(LANDING_SAFE_TOPIC, M.build_verdict('safe' if out.landing_zone.safe else 'unsafe',
                                                                   header, t), out_ns)
        else:
            self.out.write(DETECTIONS_TOPIC, self.build_dets(out.detections, header, t), out_ns)
        if out.overlay is not None and self.overlay:
            self.out.write(OVERLAY_TOPIC, self.build_image(out.overlay, header, t), out_ns)
        if out.targets is not None and TARGETS_TOPIC in self.out.topics:
            th = M.build_header(t, header.stamp.sec, header.stamp.nanosec, out.target_frame)
            self.out.write(TARGETS_TOPIC, M.build_pose_array(out.targets, th, t), out_ns)
        if out.obstacles is not None and OBSTACLES_TOPIC in self.out.topics:
            self.out.write(OBSTACLES_TOPIC, M.build_obstacle_array(out.obstacles, header, t), out_ns)
            self.out.write(BEARINGS_TOPIC, M.build_obstacle_bearings(out.obstacles, header, t), out_ns)
        if out.clear_path is not None and CLEAR_PATH_TOPIC in self.out.topics:
            self.out.write(CLEAR_PATH_TOPIC, M.build_verdict('clear' if out.clear_path else 'blocked', header, t),
                           out_ns)
        period_ns = int(self.core.params.diagnostics_period_s * 1e9)
        if self._last_diag_ns is None or stamp - self._last_diag_ns >= period_ns or stamp < self._last_diag_ns:
            self._last_diag_ns = stamp
            dh = M.build_header(t, header.stamp.sec, header.stamp.nanosec, '')
            self.out.write(DIAGNOSTICS_TOPIC, M.build_diagnostic_array([self.core.diagnostics()], dh, t), out_ns)

    def fail(self, index: int, stamp: Optional[int], bag_t: float, reason: str, error: str) -> None:
        self.failure_reasons[reason] += 1
        self.failed_times.append(bag_t)
        self.failed_indices.add(index)
        if len(self.failures) < MAX_FAILURE_RECORDS:
            self.failures.append({'index': index, 'stamp_ns': stamp, 'bag_time_s': bag_t, 'reason': reason,
                                  'error': error})
        LOG.warning('frame %d (stamp %s) skipped: %s', index, stamp, error)

    def on_output(self, out: Any) -> None:
        """The core's ``on_output`` (its worker thread): note when the frame's outputs are ready, queue them.

        The bag is written by the feeding thread (``drain``): rosbags' sqlite3 writer is bound to its thread.
        Any exception is handed to the feeding thread, which re-raises it.
        """
        if self.fatal is not None:
            return
        try:
            _index, log_ns, _bag_t, _stamp, arrival, _deser = out.tag
            e2e_ms, out_ns = self._ready(log_ns, arrival)
            self.ready.append((out, e2e_ms, out_ns))
        except BaseException as exc:   # noqa: B036 - handed to the feeding thread, which re-raises it
            self.fatal = exc

    def drain(self) -> None:
        """Write the queued frames' outputs and records (feeding thread); ``on_frame`` is called here."""
        while self.ready:
            self._record(*self.ready.popleft())

    def on_failure(self, tag: Any, reason: str, exc: Exception) -> None:
        """The core's ``on_failure``: a frame without output.

        A FrameError or a conversion failure is one failed frame; any other inference error (the engine broke)
        ends the run.
        """
        if tag is None or self.fatal is not None:
            return
        index, _log_ns, bag_t, stamp, _arrival, _deser = tag
        if reason != 'inference':
            self.fail(index, stamp, bag_t, reason, str(exc))
        elif isinstance(exc, FrameError):
            self.fail(index, stamp, bag_t, 'bad_frame', 'frame error: {}'.format(exc))
        else:
            self.fatal = exc

    def _record(self, out: Any, e2e_ms: float, out_ns: int) -> None:
        index, _log_ns, bag_t, stamp, _arrival, deser_ms = out.tag
        self._write_outputs(out, index, stamp, out_ns)
        for det in out.detections:
            self.class_counts[det.label] += 1
        tm = out.timings_ms
        rec = {'index': index, 'stamp_ns': stamp, 'frame_id': str(out.header.frame_id).lstrip('/'),
               'bag_time_s': bag_t, 'size': tuple(out.image_size),
               'deserialize': deser_ms, 'decode': tm.get('decode', float('nan')),
               'preprocess': tm['preprocess'], 'inference': tm['inference'],
               'postprocess': tm['postprocess'], 'pipeline': tm['total'],
               'end_to_end': e2e_ms, 'detections': len(out.detections),
               'targets': out.targets, 'clear_path': out.clear_path,
               'obstacles': None if out.obstacles is None else [
                   (o.label, o.azimuth, o.elevation) for o in out.obstacles]}
        if self.keep_detections:
            rec['dets'] = list(out.detections)
        self.records.append(rec)
        if self.on_frame is not None:
            self.on_frame(index, rec)

    def _ready(self, log_ns: int, arrival: float) -> Tuple[float, int]:
        """End-to-end ms of a frame whose output is ready now, and its output log time.

        Output log time = input log time + end-to-end latency, never earlier than the previous output's:
        one worker publishes in order, so a slow frame delays the next one's publication.
        """
        e2e_ms = (time.perf_counter() - arrival) * 1000.0
        self.last_out_ns = max(int(log_ns) + int(e2e_ms * 1e6), self.last_out_ns + 1)
        return e2e_ms, self.last_out_ns


def _wait_for_core(core: Any, state: '_Replay') -> None:
    """Block until the core has no frame pending or in flight; re-raise what its worker handed over.

    Raises:
        BagReplayError: the core's worker thread ended (an exception it could not hand over).

    """
    while not core.wait_idle(0.05):
        if state.fatal is not None:
            break
        if not core.stats()['worker_alive']:
            state.fatal = BagReplayError('the processing thread ended unexpectedly')
            break
    if state.fatal is not None:
        raise state.fatal


def _deserialize(reader: Any, raw: bytes, msgtype: str) -> Any:
    return reader.deserialize(raw, msgtype)


def _iter_messages(reader: Any, conns: Sequence[Any]) -> Any:
    """``reader.messages`` with storage errors met mid-bag turned into a BagReplayError."""
    it = reader.messages(connections=conns)
    count = 0
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except Exception as exc:   # noqa: BLE001 - any storage failure means a damaged bag
            raise BagReplayError('cannot read bag {} after {} messages: {}: {}'.format(
                reader.paths[0], count, type(exc).__name__, exc)) from exc
        count += 1
        yield item


def _warm_up(pipe: Any, types: Any, typestore: Any, overlay: bool) -> float:
    """Run the pipeline once on a blank frame and build the message serializers; return the time in ms.

    The first inference (engine start-up) and the first CDR serialization of a type (rosbags generates
    its code then) take tens of milliseconds; on the drone that happens before the flight, so it stays out
    of the replay's latency figures.
    """
    from ..ros.messages import build_detection2d_array, build_header, build_image
    from ..runtime.detection import Detection

    t0 = time.perf_counter()
    spec = getattr(getattr(pipe, 'bundle', None), 'input', None)
    width, height = (int(spec.width), int(spec.height)) if spec is not None else (64, 48)
    blank = np.zeros((height, width, 3), dtype=np.uint8)
    try:
        pipe(blank)
    except FrameError:
        pass
    header = build_header(types, 0, 0, 'warm_up')
    msg = build_detection2d_array([Detection(0, 'warm_up', 0.5, (0.0, 0.0, 1.0, 1.0))], header, types)
    typestore.serialize_cdr(msg, DETECTIONS_TYPE)
    if overlay:
        typestore.serialize_cdr(build_image(blank, header, types), IMAGE_TYPE)
    return (time.perf_counter() - t0) * 1000.0


def _match_truth(state: '_Replay', truth: Any, seg_scores: Any, frames_total: int, topic: str, gt: Any) -> Any:
    """Match the frames read to the ground truth (``bag_gt.match_frames``); warn once when not by stamp.

    Raises:
        BagReplayError: no key identifies the frames, or a matched mask does not fit.

    """
    from .bag_gt import match_frames
    from .ground_truth import GroundTruthError

    if truth is None and seg_scores is None:
        return None
    images = truth.images if truth is not None else seg_scores.images
    source = truth.source if truth is not None else str(gt)
    try:
        match = match_frames(state.frame_keys, frames_total, images, topic, source)
    except GroundTruthError as exc:
        raise BagReplayError(str(exc)) from None
    if match.warning:
        LOG.warning('%s', match.warning)
    if seg_scores is not None:
        seg_scores.chosen(match)
    return match


def replay(bag: Union[str, Path], bundle: Union[str, Path, None], image_topic: str, out_dir: Union[str, Path], *,
           backend: str = 'auto', realtime: bool = False, rate: float = 1.0, gt: Union[str, Path, None] = None,
           gt_topic: Optional[str] = None, overlay: bool = False, output_storage: str = 'mcap',
           score_threshold: Optional[float] = None, max_frames: Optional[int] = None, overwrite: bool = False,
           progress: bool = False, pipeline: Any = None,
           on_frame: Optional[Callable[[int, Dict[str, Any]], None]] = None,
           label_map: Any = None, mono16_shift: Optional[int] = None, target_frame: str = 'map',
           camera_info_topic: Optional[str] = None, node_params: Optional[Dict[str, Any]] = None,
           localisation_gate_m: float = 2.0) -> Dict[str, Any]:
    """Replay ``image_topic`` of ``bag`` through a detector bundle; write outputs to ``out_dir``.

    Args:
        bag: rosbag2 directory (sqlite3 or mcap; file/message/chunk compression handled by rosbags).
        bundle: detector bundle directory (ignored when ``pipeline`` is given).
        image_topic: a sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage topic.
        out_dir: output directory (created).
        backend: runtime backend (``auto``, ``onnxruntime``, ``tensorrt``, ``torch``).
        realtime: replay at the bag's timing with latest-wins processing (drops counted).
        rate: speed factor of the realtime clock (2.0 = twice as fast as recorded).
        gt: ground truth: a COCO JSON (images keyed by ``stamp_ns``), a folder of VisDrone-DET ``.txt``
            files, or for segmentation bundles a folder of ``<stamp_ns>.png`` masks; matched to frames as
            ``vitedge_ros.eval.bag_gt`` says (header stamp, else bag log time or receive order, with a warning).
        gt_topic: a vision_msgs/msg/Detection2DArray ground-truth topic in the same bag (any vision_msgs).
        overlay: also write ``/vitedge/overlay`` images.
        output_storage: ``mcap`` or ``sqlite3`` for the output bag.
        score_threshold: override of the bundle's decoder threshold (mAP wants a low one).
        max_frames: stop after this many input frames.
        overwrite: replace outputs of an earlier run in ``out_dir`` (else refuse).
        progress: show a tqdm progress bar (frames and rate) on stderr.
        pipeline: a ready pipeline-like object (``__call__(bgr) -> FrameResult``, ``labels``), e.g. for tests.
        on_frame: called as ``on_frame(index, record)`` after each processed frame.
        label_map: ground-truth category name -> bundle label or ``ignore`` (``ground_truth.parse_label_map``
            spec; default ``DEFAULT_LABEL_MAP``).
        mono16_shift: right shift (0-8) from 16-bit to 8-bit images, the node's parameter of that name; None:
            fixed from the first 16-bit frame and kept for the whole bag (one scale per camera).
        target_frame: ground frame of the person targets (the node's ``target_frame``); '' turns targets off.
            Targets need CameraInfo and TF in the bag; without them the replay says once why there are none.
        camera_info_topic: the camera's CameraInfo topic (default: ``camera_info`` beside the image topic, or
            the bag's only CameraInfo topic).
        node_params: further vitedge_node parameters (``PARAM_SPECS`` names, e.g. ``obstacle_classes``), validated
            as the node validates them.
        localisation_gate_m: a target within this horizontal distance of a true person can localise it.

    Every frame is handed to the node's ``PerceptionCore`` (``on_image`` / ``on_compressed``, with the
    CameraInfo in force and poses from the bag's TF), so the output bag holds what the node publishes for it:
    ``/vitedge/detections``, ``/vitedge/targets`` (PoseArray in ``target_frame``), ``/vitedge/obstacles`` and
    ``/vitedge/obstacles/bearings``, ``/vitedge/clear_path``, for segmenters ``/vitedge/segmentation`` and
    ``/vitedge/landing_zone`` (``/safe``), ``/vitedge/overlay`` when asked, and ``/diagnostics`` (every
    ``diagnostics_period_s`` of bag time). With position ground truth in the bag (``tools/make_bag.py``:
    ``/ground_truth/persons``, ``/obstacles``, ``/clear_path``) ``metrics.json`` gains ``localisation``,
    ``obstacles`` and ``clear_path`` (see ``vitedge_ros.eval.localisation``) and ``topdown.png``.

    Returns:
        The metrics written to ``metrics.json`` (see docs/EVALUATION.md).

    Raises:
        BagReplayError: unreadable bag, missing topic (lists the topics), bad ground truth, bundle that does
            not load, or outputs that exist already.

    """
    from ..ros.rosbags_types import rosbags_types
    from .bag_gt import MaskScores, read_gt_topic
    from .ground_truth import GroundTruthError, load_detection_truth, parse_label_map

    t_setup = time.perf_counter()
    if rate <= 0:
        raise BagReplayError('--rate must be > 0, got {}'.format(rate))
    if mono16_shift is not None and not 0 <= int(mono16_shift) <= 8:
        raise BagReplayError('--mono16-shift must be -1 (from the first frame) or in [0, 8], got {}'.format(
            mono16_shift))
    if gt is not None and gt_topic is not None:
        raise BagReplayError('give ground truth as --gt FILE or --gt-topic TOPIC, not both')
    out_dir = Path(out_dir)
    out_bag_path = out_dir / OUTPUT_BAG
    if not overwrite:
        existing = [n for n in (OUTPUT_BAG,) + OUTPUT_FILES if (out_dir / n).exists()]
        if existing:
            raise BagReplayError('{} holds the outputs of an earlier run ({}); choose another --out or pass '
                                 '--overwrite'.format(out_dir, ', '.join(existing)))
    try:
        typestore, types = rosbags_types()
    except ImportError as exc:
        raise BagReplayError('reading bags needs the rosbags package ({}): pip install rosbags; it needs '
                             'Python >= 3.8, so on JetPack 4.6 (Python 3.6) replay bags on the workstation'
                             .format(exc)) from exc
    reader = open_bag(bag, typestore)
    pipe = None
    core = None
    own_pipe = pipeline is None
    try:
        conns = find_connection(reader, image_topic, IMAGE_TYPES, what='image topic')
        msgtype = conns[0].msgtype
        if len({c.msgtype for c in conns}) > 1:
            raise BagReplayError('image topic {!r} is recorded with several types: {}'.format(
                image_topic, sorted({c.msgtype for c in conns})))
        frames_total = sum(int(c.msgcount) for c in conns)
        frames_in_planned = min(frames_total, max_frames) if max_frames is not None else frames_total

        truth = None
        seg_truth = None
        seg_scores = None
        if gt is not None and not Path(gt).exists():
            raise BagReplayError('--gt {}: no such file or folder'.format(gt))
        pipe = pipeline if pipeline is not None else _load_pipeline(bundle, backend, score_threshold)
        labels = list(getattr(pipe, 'labels', []) or [])
        segment = getattr(getattr(pipe, 'bundle', None), 'task', None) == 'segment'
        if segment and (gt_topic is not None or (gt is not None and not Path(gt).is_dir())):
            raise BagReplayError('--gt: a segmentation bundle is scored against a folder of PNG label maps named '
                                 '<stamp_ns>.png, not COCO boxes')
        if segment and gt is not None:
            from .segmentation import MaskError, MaskFolderGroundTruth

            try:
                seg_truth = MaskFolderGroundTruth(gt, labels)
            except MaskError as exc:
                raise BagReplayError('--gt: {}'.format(exc)) from exc
            seg_scores = MaskScores(seg_truth, len(labels), frames_total)
        elif gt is not None or gt_topic is not None:
            try:
                lmap = parse_label_map(label_map, labels)
                if gt is not None:
                    truth = load_detection_truth(gt, labels, lmap)
            except GroundTruthError as exc:
                raise BagReplayError(str(exc)) from None
            if gt_topic is not None:
                gconns = find_connection(reader, gt_topic, (DETECTIONS_TYPE,), what='ground-truth topic')
                truth = read_gt_topic(reader, gconns, labels, gt_topic, lmap)

        from ..perception.core import ParamError, PerceptionCore, validate_params
        from .bag_geometry import PoseLookup, read_geometry, read_position_truth

        geometry = read_geometry(reader, image_topic, camera_info_topic)
        position_truth = read_position_truth(reader)
        if geometry.note:
            LOG.warning('%s', geometry.note)
        values = dict(node_params or {})
        person = values.get('person_label', 'person')
        localise = geometry.tf is not None and bool(geometry.camera_infos) and not segment and person in labels
        values.setdefault('target_frame', target_frame if localise else '')
        if not segment:      # the node's default obstacle classes, as far as this bundle has them
            from ..geometry.obstacles import DEFAULT_OBSTACLE_CLASSES

            values.setdefault('obstacle_classes', [c for c in DEFAULT_OBSTACLE_CLASSES if c in labels])
        values.setdefault('publish_overlay', bool(overlay))
        values.setdefault('mono16_shift', -1 if mono16_shift is None else int(mono16_shift))
        try:
            params = validate_params(values, labels=labels, task='segment' if segment else 'detect')
        except ParamError as exc:
            raise BagReplayError('node parameter {}'.format(str(exc)[len('parameter '):])) from None
        pose_lookup = PoseLookup(geometry.tf) if geometry.tf is not None else None
        if params.target_frame and pose_lookup is not None and params.target_frame not in geometry.tf.frames:
            LOG.warning('the TF tree has no frame %r (target_frame): no person targets (frames: %s)',
                        params.target_frame, ', '.join(geometry.tf.frames))
        core_warned = set()

        def core_log(level: str, text: str) -> None:
            kind = re.sub(r'[-\d.]+', 'N', text)[:80]
            if level == 'info':
                LOG.info('%s', text)
                return
            if kind in core_warned:
                LOG.debug('%s', text)
                return
            core_warned.add(kind)
            (LOG.error if level == 'error' else LOG.warning)('%s', text)

        out_dir.mkdir(parents=True, exist_ok=True)
        if overwrite:
            for name in OUTPUT_FILES:
                if (out_dir / name).exists():
                    (out_dir / name).unlink()
            if out_bag_path.exists():
                shutil.rmtree(str(out_bag_path))
        bundle_obj = getattr(pipe, 'bundle', None)
        bundle_name = str(getattr(bundle_obj, 'name', '') or (Path(bundle).name if bundle else 'custom'))
        topics = OrderedDict([(SEGMENTATION_TOPIC, IMAGE_TYPE)] if segment else [(DETECTIONS_TOPIC, DETECTIONS_TYPE)])
        if segment and params.publish_segmentation:
            topics[LANDING_ZONE_TOPIC] = CLASSIFICATION_TYPE
            topics[LANDING_SAFE_TOPIC] = CLASSIFICATION_TYPE
        if params.target_frame:
            topics[TARGETS_TOPIC] = 'geometry_msgs/msg/PoseArray'
        if params.publish_obstacles:
            if geometry.camera_infos or params.assumed_hfov_deg > 0:
                topics[OBSTACLES_TOPIC] = DETECTIONS_TYPE
                topics[BEARINGS_TOPIC] = 'sensor_msgs/msg/PointCloud2'
            topics[CLEAR_PATH_TOPIC] = CLASSIFICATION_TYPE
        if overlay:
            topics[OVERLAY_TOPIC] = IMAGE_TYPE
        topics[DIAGNOSTICS_TOPIC] = 'diagnostic_msgs/msg/DiagnosticArray'
        out = OutputBag(out_bag_path, typestore, topics, storage=output_storage, overwrite=overwrite,
                        custom_data={'vitedge_ros.tool': 'eval_bag', 'vitedge_ros.bundle': bundle_name,
                                     'vitedge_ros.source_bag': str(bag), 'vitedge_ros.image_topic': image_topic})
        state = _Replay(pipe, types, out, overlay, truth is not None, on_frame, seg_scores=seg_scores,
                        geometry=geometry)
        # the node's perception core runs every frame: conversion, inference, outputs, latest-wins in realtime mode
        core = state.core = PerceptionCore(pipe, params, state.on_output, clock=time.perf_counter, log=core_log,
                                           pose_lookup=pose_lookup, bundle_name=bundle_name,
                                           on_failure=state.on_failure)
        setup_s = time.perf_counter() - t_setup
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=frames_in_planned, unit='frame', desc=image_topic, file=sys.stderr,
                       dynamic_ncols=True, mininterval=0.25)
        submitted: List[tuple] = []
        feeder_lag_ms: List[float] = []
        frames_in = 0
        first_ns = None
        last_ns = None
        last_info = None
        warm_up_ms = _warm_up(pipe, types, typestore, overlay or segment)
        submit = core.on_compressed if msgtype == COMPRESSED_TYPE else core.on_image
        out.open()
        t_run = time.perf_counter()
        t_clock = None
        try:
            for _conn, log_ns, raw in _iter_messages(reader, conns):
                if max_frames is not None and frames_in >= max_frames:
                    break
                t_read = time.perf_counter()
                if first_ns is None:
                    first_ns = log_ns
                last_ns = log_ns
                bag_t = (log_ns - first_ns) / 1e9
                index = frames_in
                frames_in += 1
                try:
                    msg = _deserialize(reader, raw, msgtype)
                except Exception as exc:   # noqa: BLE001 - a corrupt message is one failed frame
                    state.frame_keys.append((index, None, int(log_ns)))
                    state.fail(index, None, bag_t, 'deserialize_failed',
                               'cannot deserialize {}: {}'.format(msgtype, exc))
                    if bar is not None:
                        bar.update(1)
                    continue
                deser_ms = (time.perf_counter() - t_read) * 1000.0
                stamp = stamp_ns(msg.header)
                state.frame_keys.append((index, stamp, int(log_ns)))
                info = geometry.camera_info_at(log_ns)    # the CameraInfo the node's subscription would hold now
                if info is not None and info is not last_info:
                    core.on_camera_info(info)
                    last_info = info
                arrival = t_read
                if realtime:
                    if t_clock is None:
                        # the clock starts when the first frame is ready (reader start-up is not flight time)
                        t_clock = time.perf_counter()
                    arrival = t_clock + bag_t / rate
                    delay = arrival - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        feeder_lag_ms.append(-delay * 1000.0)
                submitted.append((index, bag_t))
                submit(msg, stamp=arrival, tag=(index, log_ns, bag_t, stamp, arrival, deser_ms))
                del msg
                if not realtime:
                    _wait_for_core(core, state)      # throughput: every frame, one at a time
                if state.fatal is not None:
                    raise state.fatal
                state.drain()
                if bar is not None:
                    bar.update(1)
                    if realtime:
                        bar.set_postfix(processed=len(state.records), dropped=core.stats()['dropped_frames'],
                                        refresh=False)
                    elif state.failure_reasons:
                        bar.set_postfix(failed=sum(state.failure_reasons.values()), refresh=False)
            _wait_for_core(core, state)
            state.drain()
            dropped = int(core.stats()['dropped_frames'])
            t_end = time.perf_counter()
            match = _match_truth(state, truth, seg_scores, frames_total, image_topic, gt)
            core.shutdown(timeout=30.0)
            out.commit()
        except BaseException:
            core.shutdown(timeout=30.0)
            out.abort()
            raise
        finally:
            if bar is not None:
                bar.close()
    finally:
        try:
            reader.close()
        finally:
            if core is not None:
                core.shutdown()
            if own_pipe and pipe is not None:
                pipe.close()

    # ---- metrics -------------------------------------------------------------------------------------------
    records = state.records
    run_s = t_end - t_run
    frames_failed = int(sum(state.failure_reasons.values()))
    bag_duration_s = (last_ns - first_ns) / 1e9 if first_ns is not None else 0.0
    steps = ('deserialize', 'decode', 'preprocess', 'inference', 'postprocess', 'pipeline', 'end_to_end')
    latency = {s: latency_summary(r[s] for r in records) for s in steps}
    per_class = OrderedDict((name, int(state.class_counts.get(name, 0))) for name in labels)
    for name, count in sorted(state.class_counts.items()):
        per_class.setdefault(name, int(count))
    metrics: Dict[str, Any] = OrderedDict()
    metrics['schema_version'] = 1
    metrics['tool'] = 'eval_bag'
    metrics['bag'] = str(bag)
    metrics['storage'] = bag_storage(Path(reader.paths[0]))
    metrics['image_topic'] = image_topic
    metrics['image_msgtype'] = msgtype
    metrics['bundle'] = {'name': bundle_name, 'path': str(bundle) if bundle is not None else None,
                         'labels': labels}
    metrics['backend'] = str(getattr(pipe, 'backend_name', 'custom'))
    metrics['mode'] = 'realtime' if realtime else 'throughput'
    metrics['rate'] = float(rate) if realtime else None
    metrics['mono16_shift'] = core.bit_scale.shift
    metrics['frames_in'] = frames_in
    metrics['frames_processed'] = len(records)
    metrics['frames_failed'] = frames_failed
    metrics['frames_dropped'] = int(dropped)
    metrics['failure_reasons'] = dict(sorted(state.failure_reasons.items()))
    metrics['failures'] = state.failures
    metrics['latency_ms'] = latency
    metrics['fps'] = len(records) / run_s if run_s > 0 else 0.0
    metrics['input_fps'] = (frames_in - 1) / bag_duration_s if bag_duration_s > 0 else None
    metrics['bag_duration_s'] = bag_duration_s
    metrics['wall_s'] = run_s
    metrics['setup_s'] = setup_s
    metrics['warm_up_ms'] = warm_up_ms
    metrics['feeder_lag_ms'] = latency_summary(feeder_lag_ms) if realtime else None
    metrics['detections_total'] = int(sum(state.class_counts.values()))
    metrics['detections_per_class'] = per_class
    metrics['output_bag'] = OUTPUT_BAG
    metrics['output_topics'] = {t: out.counts[t] for t in topics}
    metrics['accuracy'] = None
    if truth is not None:
        pairs = [(match.image_of[r['index']], r['size'], r['dets']) for r in records if r['index'] in match.image_of]
        acc, gt_subset, dets = truth.evaluate(pairs, info={'vitedge_subset': 'images of processed frames'})
        acc.update({'frames_without_gt': len(records) - len(pairs), 'matched_by': match.key,
                    'match_warning': match.warning})
        write_file(out_dir / 'gt_coco.json', json.dumps(gt_subset).encode('utf-8'))
        write_file(out_dir / 'detections_coco.json', json.dumps(dets).encode('utf-8'))
        acc['gt_file'] = 'gt_coco.json'
        acc['detections_file'] = 'detections_coco.json'
        acc['score_threshold'] = getattr(pipe, 'score_threshold', score_threshold)
        metrics['accuracy'] = acc
    metrics['task'] = 'segment' if segment else 'detect'
    if seg_scores is not None:
        from .segmentation import SegmentationMeter

        meter = SegmentationMeter(labels)
        for cm in seg_scores.chosen(match).values():
            meter.cm += cm
            meter.frames += 1
        acc = meter.result()
        acc.update({'gt_source': str(gt), 'frames_evaluated': acc.pop('frames'),
                    'frames_without_gt': len(records) - meter.frames, 'masks_total': len(seg_truth),
                    'scored_at': 'input-image pixels', 'matched_by': match.key, 'match_warning': match.warning})
        metrics['accuracy'] = acc
    metrics['camera'] = {'camera_info_topic': geometry.camera_info_topic,
                         'camera_infos': len(geometry.camera_infos), 'tf_messages': geometry.tf_messages,
                         'tf_frames': geometry.tf.frames if geometry.tf is not None else [],
                         'target_frame': params.target_frame, 'note': geometry.note or None,
                         'pose_lookups_ok': pose_lookup.ok if pose_lookup is not None else 0,
                         'pose_failures': dict(pose_lookup.failures) if pose_lookup is not None else {}}
    metrics['targets_total'] = int(sum(len(r['targets']) for r in records if r.get('targets')))
    metrics.update(_geometry_metrics(records, position_truth, geometry, core, out_dir, localisation_gate_m,
                                     bundle_name))
    dropped_times = []
    if realtime:
        done = {r['index'] for r in records} | state.failed_indices
        dropped_times = [t for i, t in submitted if i not in done]
    try:
        plot_path = out_dir / 'latency.png'
        from .bag_report import plot_latency

        times = [r['bag_time_s'] for r in records]
        series = OrderedDict([('end-to-end', [r['end_to_end'] for r in records]),
                              ('inference', [r['inference'] for r in records])])
        plot_latency(plot_path, times, series, dropped_times, state.failed_times,
                     title='{} on {} ({}, {})'.format(bundle_name, image_topic, metrics['mode'], metrics['backend']))
        metrics['plot'] = plot_path.name
    except Exception as exc:   # noqa: BLE001 - a missing plot must not lose the metrics
        LOG.warning('latency plot not written: %s', exc)
        metrics['plot'] = None
    metrics['torch_imported'] = 'torch' in sys.modules
    metrics['peak_rss_mb'] = _peak_rss_mb()
    metrics['ru_maxrss_mb'] = _ru_maxrss_mb()
    metrics['python'] = sys.version.split()[0]
    from .bag_report import metrics_markdown

    write_file(out_dir / 'metrics.md', metrics_markdown(metrics).encode('utf-8'))
    write_file(out_dir / 'metrics.json', (json.dumps(metrics, indent=2) + '\n').encode('utf-8'))
    return metrics


def _geometry_metrics(records: List[Dict[str, Any]], truth: Any, geometry: Any, core: Any, out_dir: Path,
                      gate_m: float, bundle_name: str) -> Dict[str, Any]:
    """``localisation``, ``obstacles`` and ``clear_path`` of metrics.json, and topdown.png.

    Each is None where the bag has no such ground truth, or the replay no such output.
    """
    from ..geometry.projection import quat_to_matrix
    from .localisation import ClearPathMeter, LocalisationMeter, ObstacleBearingMeter, plot_topdown

    out: Dict[str, Any] = {'localisation': None, 'obstacles': None, 'clear_path': None, 'topdown_plot': None}
    by_stamp = [r for r in records if r.get('stamp_ns') is not None]
    if truth.persons and core.params.target_frame:
        if truth.frame and truth.frame != core.params.target_frame:
            LOG.warning('person ground truth is in %r but targets in %r: localisation not scored', truth.frame,
                        core.params.target_frame)
        else:
            meter = LocalisationMeter(gate_m)
            for r in by_stamp:
                if r['stamp_ns'] in truth.persons:
                    meter.add(r['targets'] or [], truth.persons[r['stamp_ns']])
            res = meter.result()
            res['frames_without_targets'] = sum(1 for r in by_stamp if r['stamp_ns'] in truth.persons
                                                and r['targets'] is None)
            out['localisation'] = res
            try:
                plot_topdown(out_dir / 'topdown.png', meter, title='{}: person targets vs truth ({})'.format(
                    bundle_name, core.params.target_frame))
                out['topdown_plot'] = 'topdown.png'
            except Exception as exc:   # noqa: BLE001 - a missing plot must not lose the metrics
                LOG.warning('top-down plot not written: %s', exc)
    if truth.obstacles and geometry.tf is not None and core.params.target_frame:
        meter = ObstacleBearingMeter()
        for r in by_stamp:
            if r['stamp_ns'] not in truth.obstacles or r['obstacles'] is None or r.get('frame_id') is None:
                continue
            try:
                pose = geometry.tf.lookup(truth.frame or core.params.target_frame, r['frame_id'], r['stamp_ns'])
            except LookupError:
                continue
            pts = truth.obstacles[r['stamp_ns']]
            rays = (pts - pose.translation.reshape(1, 3)) @ quat_to_matrix(pose.rotation)   # R^T (p - t)
            meter.add([(az, el) for label, az, el in r['obstacles'] if label == 'obstacle'], rays)
        out['obstacles'] = meter.result()
        out['obstacles']['classes'] = ['obstacle']
    if truth.clear_path:
        meter = ClearPathMeter()
        for r in by_stamp:
            if r['stamp_ns'] in truth.clear_path and r['clear_path'] is not None:
                meter.add(r['clear_path'], truth.clear_path[r['stamp_ns']])
        out['clear_path'] = meter.result()
    return out


def replay_subprocess(args: Sequence[str], timeout: Optional[float] = None) -> Dict[str, Any]:
    """Run ``tools/eval_bag.py``'s command line in a fresh Python process and return its metrics.json.

    ``args`` are the command-line arguments (``BAG --bundle DIR --image-topic T --out DIR ...``). A fresh
    process makes ``peak_rss_mb`` and ``torch_imported`` describe the replay alone (benchmarks use this).

    Raises:
        BagReplayError: the run failed (its stderr tail is in the message).

    """
    args = [str(a) for a in args]
    if '--out' not in args:
        raise BagReplayError('replay_subprocess: --out DIR is required')
    out_dir = Path(args[args.index('--out') + 1])
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env['PYTHONPATH'] = root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.run([sys.executable, '-m', 'vitedge_ros.eval.bag_cli'] + args, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if proc.returncode != 0:
        raise BagReplayError('eval_bag failed (exit {}): {}'.format(
            proc.returncode, proc.stderr.decode('utf-8', 'replace')[-2000:]))
    return json.loads((out_dir / 'metrics.json').read_text(encoding='utf-8'))


def benchmark_replay(bundle: Union[str, Path], work_dir: Union[str, Path], frames: int = 60, seed: int = 11,
                     backend: str = 'onnxruntime', realtime: bool = False, width: int = 640,
                     height: int = 480, timeout: Optional[float] = 900.0) -> Dict[str, Any]:
    """Measure an eval_bag run for docs/BENCHMARKS.md: a synthetic flight bag replayed in a fresh process.

    Writes the bag (``make_bag``) and the replay outputs under ``work_dir`` and returns a flat dict for the
    benchmark JSON: frames, fps, latency p50/p95 (inference, end-to-end), peak RSS (MB, VmHWM of the replay
    process alone), whether torch was imported, mAP@0.5 overall and for persons.
    """
    from .bag_synthetic import IMAGE_TOPIC, write_synthetic_bag

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    bag = work / 'bench_flight_{}_{}x{}_s{}'.format(frames, width, height, seed)
    gt_path = Path(str(bag) + '_gt.json')
    if not (bag / 'metadata.yaml').is_file() or not gt_path.is_file():
        shutil.rmtree(str(bag), ignore_errors=True)
        write_synthetic_bag(bag, frames, seed=seed, width=width, height=height, storage='mcap')
    out = work / ('eval_realtime' if realtime else 'eval_throughput')
    args = [bag, '--bundle', bundle, '--image-topic', IMAGE_TOPIC, '--out', out, '--gt', gt_path,
            '--backend', backend, '--overwrite', '-q'] + (['--realtime'] if realtime else [])
    m = replay_subprocess(args, timeout=timeout)
    acc = m.get('accuracy') or {}
    lat = m['latency_ms']
    return OrderedDict([
        ('bundle', m['bundle']['name']), ('backend', m['backend']), ('mode', m['mode']),
        ('frames_in', m['frames_in']), ('frames_processed', m['frames_processed']),
        ('frames_dropped', m['frames_dropped']), ('frame_size', [width, height]), ('fps', m['fps']),
        ('inference_ms_p50', lat['inference']['median_ms']), ('pipeline_ms_p50', lat['pipeline']['median_ms']),
        ('end_to_end_ms_p50', lat['end_to_end']['median_ms']), ('end_to_end_ms_p95', lat['end_to_end']['p95_ms']),
        ('peak_rss_mb', m['peak_rss_mb']), ('torch_imported', m['torch_imported']),
        ('map50', acc.get('map50')), ('map50_person', (acc.get('per_class') or {}).get('person', {}).get('ap50')),
    ])

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
Replay a recorded rosbag2 flight through the node's perception core, without a ROS installation.

``replay(bag, bundle, image_topic, out_dir, ...)`` reads Image or CompressedImage frames with the
``rosbags`` library and hands each, with the CameraInfo in force and the camera pose from the bag's
TF, to the node's ``PerceptionCore`` (``vitedge_ros.perception.core``: image conversion,
``vitedge_ros.runtime.Pipeline``, person targets, obstacles, clear path, landing zone, overlay,
diagnostics); it is a driver like the rclpy node. It writes, in ``out_dir``:

* ``output_bag/`` — a rosbag2 (mcap by default) with ``/vitedge/detections``
  (vision_msgs/msg/Detection2DArray, header copied from each input frame, definitions embedded),
  the other outputs of the node (see ``replay``) and, with ``overlay=True``, ``/vitedge/overlay``
  (sensor_msgs/msg/Image, bgr8). It is written under a hidden temporary name and renamed only after
  a clean close: an interrupted run leaves no output bag.
* ``metrics.json`` (atomic) and ``metrics.md``; ``latency.png`` (latency over bag time).
* with ground truth, ``detections_coco.json`` and ``gt_coco.json``: the exact COCO input of the
  reported mAP, so it can be re-evaluated with any COCO evaluator.

Segmentation bundles (task ``segment``) write ``/vitedge/segmentation`` (sensor_msgs/msg/Image,
mono8 class ids, header copied) instead of detections, the colour overlay with ``overlay=True``,
and score mIoU / per-class IoU against ``gt``: a folder of PNG label maps named ``<stamp_ns>.png``
(the image header stamp in ns; ``write_synthetic_bag(masks=True)`` writes one). A mask of the wrong
size or with unknown class ids stops the run with an error naming the file.

Two clocks: as fast as possible (``realtime=False``, throughput: each frame is handed to the core
once the previous one is done) and ``realtime=True``, where the frames arrive at the bag's own
timing (times ``1/rate``) and the core processes them latest-wins, exactly as in the node: frames
that arrive while the engine is busy replace the pending one and are counted as dropped, and
end-to-end latency is the time from a frame's scheduled arrival to its outputs.

The run is a sequence of named steps: ``_check_arguments``, ``_prepare_out_dir``,
``_image_connections``, ``_load_pipeline``, ``load_truth`` (``ground_truth``), ``read_geometry``
(``geometry``), ``_node_params``, ``_feed`` (the frame loop, ``_feed_one`` per frame),
``match_truth`` and the metrics (``metrics``). The node's outputs are written by
``outputs.FrameOutputWriter``.

Nothing here imports torch; ``metrics['torch_imported']`` records whether anything else did.
"""

from collections import Counter, deque
import logging
from pathlib import Path
import re
import shutil
import sys
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import BagReplayError
from .ground_truth import load_truth, match_truth
from .metrics import accuracy_metrics, geometry_metrics, replay_metrics, ReplayRun
from .outputs import FrameOutputWriter, output_topics
from .reader import (
    COMPRESSED_TYPE,
    DETECTIONS_TYPE,
    find_connection,
    IMAGE_TYPE,
    IMAGE_TYPES,
    iter_messages,
    open_bag,
    stamp_ns,
)
from .writer import OutputBag, write_file
from ..runtime.errors import BundleError, EngineError, FrameError
from ..tasks import get_task, is_task

__all__ = ['BagReplayError', 'OUTPUT_BAG', 'OUTPUT_FILES', 'ReplayState', 'replay']

LOG = logging.getLogger(__name__)
OUTPUT_BAG = 'output_bag'
OUTPUT_FILES = (
    'metrics.json',
    'metrics.md',
    'latency.png',
    'detections_coco.json',
    'gt_coco.json',
    'topdown.png',
)
MAX_FAILURE_RECORDS = 100

#: what the replay tags each frame with for the core: (index, log ns, bag time s, stamp ns, arrival
#: s, deserialize ms)
FrameTag = Tuple[int, int, float, Optional[int], float, float]


class ReplayState:
    """
    One replay run's results, shared by the feeding loop and the core's callbacks.

    The core calls ``on_output`` / ``on_failure`` (on its worker thread); the feeding thread calls
    ``drain``, which writes the queued outputs (rosbags' sqlite3 writer is bound to its thread) and
    keeps a record per frame.
    """

    def __init__(
        self,
        writer: FrameOutputWriter,
        keep_detections: bool,
        on_frame: Optional[Callable[[int, Dict[str, Any]], None]],
    ) -> None:
        self.core: Any = None  # the node's PerceptionCore: every frame goes through it
        self.writer = writer
        self.keep_detections = keep_detections
        self.on_frame = on_frame
        self.records: List[Dict[str, Any]] = []
        self.failures: List[Dict[str, Any]] = []
        self.failure_reasons: Counter = Counter()
        self.failed_times: List[float] = []
        self.failed_indices: set = set()
        self.last_out_ns = -1  # see _ready
        self.class_counts: Counter = Counter()
        self.fatal: Optional[BaseException] = None
        #: outputs ready on the core's worker thread, written by the feeding thread: (FrameOutput,
        #: e2e ms, log ns)
        self.ready: Deque[Tuple[Any, float, int]] = deque()
        #: (index, header stamp ns or None, bag log time ns) of every frame read, for ground-truth
        #: matching
        self.frame_keys: List[Tuple[int, Optional[int], int]] = []

    def fail(
        self, index: int, stamp: Optional[int], bag_t: float, reason: str, error: str
    ) -> None:
        """Count frame ``index`` as failed (``reason``: a short key; ``error``: the message)."""
        self.failure_reasons[reason] += 1
        self.failed_times.append(bag_t)
        self.failed_indices.add(index)
        if len(self.failures) < MAX_FAILURE_RECORDS:
            self.failures.append(
                {
                    'index': index,
                    'stamp_ns': stamp,
                    'bag_time_s': bag_t,
                    'reason': reason,
                    'error': error,
                }
            )
        LOG.warning('frame %d (stamp %s) skipped: %s', index, stamp, error)

    def on_output(self, out: Any) -> None:
        """
        Return the core's ``on_output`` (its worker thread).

        Note when the frame's outputs are ready, queue them.

        Any exception is handed to the feeding thread, which re-raises it.
        """
        if self.fatal is not None:
            return
        try:
            _index, log_ns, _bag_t, _stamp, arrival, _deser = out.tag
            e2e_ms, out_ns = self._ready(log_ns, arrival)
            self.ready.append((out, e2e_ms, out_ns))
        except BaseException as exc:  # noqa: B036 - handed to the feeding thread, re-raised there
            self.fatal = exc

    def drain(self) -> None:
        """
        Write the queued frames' outputs and records (feeding thread).

        ``on_frame`` is called here.
        """
        while self.ready:
            self._record(*self.ready.popleft())

    def on_failure(self, tag: Any, reason: str, exc: Exception) -> None:
        """
        Return the core's ``on_failure``: a frame without output.

        A FrameError or a conversion failure is one failed frame; any other inference error (the
        engine broke) ends the run.
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
        self.writer.write(out, index, stamp, out_ns, self.core)
        for det in out.detections:
            self.class_counts[det.label] += 1
        tm = out.timings_ms
        rec = {
            'index': index,
            'stamp_ns': stamp,
            'frame_id': str(out.header.frame_id).lstrip('/'),
            'bag_time_s': bag_t,
            'size': tuple(out.image_size),
            'deserialize': deser_ms,
            'decode': tm.get('decode', float('nan')),
            'preprocess': tm['preprocess'],
            'inference': tm['inference'],
            'postprocess': tm['postprocess'],
            'pipeline': tm['total'],
            'end_to_end': e2e_ms,
            'detections': len(out.detections),
            'targets': out.targets,
            'clear_path': out.clear_path,
            'obstacles': None
            if out.obstacles is None
            else [(o.label, o.azimuth, o.elevation) for o in out.obstacles],
        }
        if self.keep_detections:
            rec['dets'] = list(out.detections)
        self.records.append(rec)
        if self.on_frame is not None:
            self.on_frame(index, rec)

    def _ready(self, log_ns: int, arrival: float) -> Tuple[float, int]:
        """
        End-to-end ms of a frame whose output is ready now, and its output log time.

        Output log time = input log time + end-to-end latency, never earlier than the previous
        output's: one worker publishes in order, so a slow frame delays the next one's publication.
        """
        e2e_ms = (time.perf_counter() - arrival) * 1000.0
        self.last_out_ns = max(int(log_ns) + int(e2e_ms * 1e6), self.last_out_ns + 1)
        return e2e_ms, self.last_out_ns


class _Feed:
    """Tallies of the frame loop (log times in ns, lags in ms)."""

    def __init__(self) -> None:
        self.frames_in = 0
        self.first_ns: Optional[int] = None
        self.last_ns: Optional[int] = None
        self.last_info: Any = None
        self.submitted: List[Tuple[int, float]] = []
        self.feeder_lag_ms: List[float] = []
        self.t_clock: Optional[float] = None
        self.dropped = 0
        self.run_s = 0.0


# ------------------------------------------------------------------------------------------------
# set-up steps
def _check_arguments(
    rate: float, mono16_shift: Optional[int], gt: Any, gt_topic: Optional[str]
) -> None:
    if rate <= 0:
        raise BagReplayError('--rate must be > 0, got {}'.format(rate))
    if mono16_shift is not None and not 0 <= int(mono16_shift) <= 8:
        raise BagReplayError(
            '--mono16-shift must be -1 (from the first frame) or in [0, 8], got {}'.format(
                mono16_shift
            )
        )
    if gt is not None and gt_topic is not None:
        raise BagReplayError('give ground truth as --gt FILE or --gt-topic TOPIC, not both')


def _refuse_earlier_outputs(out_dir: Path, overwrite: bool) -> None:
    if not overwrite:
        existing = [n for n in (OUTPUT_BAG,) + OUTPUT_FILES if (out_dir / n).exists()]
        if existing:
            raise BagReplayError(
                '{} holds the outputs of an earlier run ({}); choose another --out or pass '
                '--overwrite'.format(out_dir, ', '.join(existing))
            )


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """
    Create ``out_dir``; with ``overwrite``.

    Remove the outputs of an earlier run (once set-up has succeeded).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for name in OUTPUT_FILES:
            if (out_dir / name).exists():
                (out_dir / name).unlink()
        if (out_dir / OUTPUT_BAG).exists():
            shutil.rmtree(str(out_dir / OUTPUT_BAG))


def _typestore() -> Tuple[Any, Any]:
    from ..ros.rosbags_types import rosbags_types

    try:
        return rosbags_types()
    except ImportError as exc:
        raise BagReplayError(
            'reading bags needs the rosbags package ({}): pip install rosbags; it needs '
            'Python >= 3.8, so on JetPack 4.6 (Python 3.6) replay bags on the workstation'.format(
                exc
            )
        ) from exc


def _image_connections(reader: Any, image_topic: str) -> Tuple[List[Any], str, int]:
    """Return the image topic's connections, its one message type and its message count."""
    conns = find_connection(reader, image_topic, IMAGE_TYPES, what='image topic')
    if len({c.msgtype for c in conns}) > 1:
        raise BagReplayError(
            'image topic {!r} is recorded with several types: {}'.format(
                image_topic, sorted({c.msgtype for c in conns})
            )
        )
    return conns, conns[0].msgtype, sum(int(c.msgcount) for c in conns)


def _load_pipeline(
    bundle: Union[str, Path], backend: str, score_threshold: Optional[float]
) -> Any:
    from ..runtime import Pipeline

    path = Path(bundle)
    try:
        pipe = Pipeline(path, backend=backend, score_threshold=score_threshold)
    except (BundleError, EngineError, OSError, ValueError) as exc:
        raise BagReplayError('bundle {} does not load: {}'.format(path, exc)) from exc
    if not get_task(pipe.bundle.task).on_node:
        pipe.close()
        raise BagReplayError(
            'bundle {} is a {!r} model; eval_bag needs a detector (task: detect) or a '
            'segmenter (task: segment)'.format(path, pipe.bundle.task)
        )
    return pipe


def _node_params(
    node_params: Optional[Dict[str, Any]],
    labels: List[str],
    segment: bool,
    localise: bool,
    target_frame: str,
    overlay: bool,
    mono16_shift: Optional[int],
) -> Any:
    """
    Return the node's validated parameters (``NodeParams``) for this replay.

    The replay's defaults apply where none are given.

    Raises
    ------
        BagReplayError: a parameter the node would refuse (the message names it).

    """
    from ..perception.core import ParamError, validate_params

    values = dict(node_params or {})
    values.setdefault('target_frame', target_frame if localise else '')
    if not segment:  # the node's default obstacle classes, as far as this bundle has them
        from ..geometry.obstacles import DEFAULT_OBSTACLE_CLASSES

        values.setdefault('obstacle_classes', [c for c in DEFAULT_OBSTACLE_CLASSES if c in labels])
    values.setdefault('publish_overlay', bool(overlay))
    values.setdefault('mono16_shift', -1 if mono16_shift is None else int(mono16_shift))
    try:
        return validate_params(values, labels=labels, task='segment' if segment else 'detect')
    except ParamError as exc:
        n = len('parameter ')
        detail = str(exc)[n:]
        raise BagReplayError('node parameter {}'.format(detail)) from None


def _pose_lookup(geometry: Any, target_frame: str) -> Any:
    """
    Return the core's pose lookup over the bag's TF (None without TF).

    Warns when ``target_frame`` is not in it.
    """
    from .geometry import PoseLookup

    if geometry.tf is None:
        return None
    if target_frame and target_frame not in geometry.tf.frames:
        LOG.warning(
            'the TF tree has no frame %r (target_frame): no person targets (frames: %s)',
            target_frame,
            ', '.join(geometry.tf.frames),
        )
    return PoseLookup(geometry.tf)


def _core_logger() -> Callable[[str, str], None]:
    """
    Return the core's ``log``.

    Each kind of warning once (numbers ignored), repeats at debug level.
    """
    warned = set()

    def core_log(level: str, text: str) -> None:
        kind = re.sub(r'[-\d.]+', 'N', text)[:80]
        if level == 'info':
            LOG.info('%s', text)
            return
        if kind in warned:
            LOG.debug('%s', text)
            return
        warned.add(kind)
        (LOG.error if level == 'error' else LOG.warning)('%s', text)

    return core_log


def _warm_up(pipe: Any, types: Any, typestore: Any, overlay: bool) -> float:
    """
    Run the pipeline once on a blank frame and build the message serializers.

    Returns the time taken in ms.

    The first inference (engine start-up) and the first CDR serialization of a type (rosbags
    generates its code then) take tens of milliseconds; on the drone that happens before the
    flight, so it stays out of the replay's latency figures.
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
    msg = build_detection2d_array(
        [Detection(0, 'warm_up', 0.5, (0.0, 0.0, 1.0, 1.0))], header, types
    )
    typestore.serialize_cdr(msg, DETECTIONS_TYPE)
    if overlay:
        typestore.serialize_cdr(build_image(blank, header, types), IMAGE_TYPE)
    return (time.perf_counter() - t0) * 1000.0


# -------------------------------------------------------------------------------------------------
# the run
def _wait_for_core(core: Any, state: ReplayState) -> None:
    """
    Block until the core has no frame pending or in flight; re-raise what its worker handed over.

    Raises
    ------
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


def _feed_one(
    reader: Any,
    log_ns: int,
    raw: bytes,
    msgtype: str,
    submit: Callable[..., Any],
    core: Any,
    state: ReplayState,
    geometry: Any,
    feed: _Feed,
    realtime: bool,
    rate: float,
) -> None:
    """
    Hand one recorded frame to the core, with the CameraInfo in force.

    In realtime mode the frame is handed over at its recorded time.
    """
    t_read = time.perf_counter()
    if feed.first_ns is None:
        feed.first_ns = log_ns
    feed.last_ns = log_ns
    bag_t = (log_ns - feed.first_ns) / 1e9
    index = feed.frames_in
    feed.frames_in += 1
    try:
        msg = reader.deserialize(raw, msgtype)
    except Exception as exc:  # noqa: BLE001 - a corrupt message is one failed frame
        state.frame_keys.append((index, None, int(log_ns)))
        state.fail(
            index,
            None,
            bag_t,
            'deserialize_failed',
            'cannot deserialize {}: {}'.format(msgtype, exc),
        )
        return
    deser_ms = (time.perf_counter() - t_read) * 1000.0
    stamp = stamp_ns(msg.header)
    state.frame_keys.append((index, stamp, int(log_ns)))
    info = geometry.camera_info_at(log_ns)  # the CameraInfo the node's subscription would hold now
    if info is not None and info is not feed.last_info:
        core.on_camera_info(info)
        feed.last_info = info
    arrival = t_read
    if realtime:
        if feed.t_clock is None:
            # the clock starts when the first frame is ready (reader start-up is not flight time)
            feed.t_clock = time.perf_counter()
        arrival = feed.t_clock + bag_t / rate
        delay = arrival - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        else:
            feed.feeder_lag_ms.append(-delay * 1000.0)
    feed.submitted.append((index, bag_t))
    tag: FrameTag = (index, log_ns, bag_t, stamp, arrival, deser_ms)
    submit(msg, stamp=arrival, tag=tag)
    if not realtime:
        _wait_for_core(core, state)  # throughput: every frame, one at a time
    if state.fatal is not None:
        raise state.fatal
    state.drain()


def _progress(bar: Any, core: Any, state: ReplayState, realtime: bool) -> None:
    if bar is None:
        return
    bar.update(1)
    if realtime:
        bar.set_postfix(
            processed=len(state.records), dropped=core.stats()['dropped_frames'], refresh=False
        )
    elif state.failure_reasons:
        bar.set_postfix(failed=sum(state.failure_reasons.values()), refresh=False)


def _feed(
    reader: Any,
    conns: Sequence[Any],
    msgtype: str,
    core: Any,
    state: ReplayState,
    geometry: Any,
    realtime: bool,
    rate: float,
    max_frames: Optional[int],
    bar: Any,
) -> _Feed:
    """
    Return the frame loop.

    Every frame of the image topic (up to ``max_frames``) through the core, then wait for it.
    """
    feed = _Feed()
    submit = core.on_compressed if msgtype == COMPRESSED_TYPE else core.on_image
    t_run = time.perf_counter()
    for _conn, log_ns, raw in iter_messages(reader, conns):
        if max_frames is not None and feed.frames_in >= max_frames:
            break
        _feed_one(
            reader, log_ns, raw, msgtype, submit, core, state, geometry, feed, realtime, rate
        )
        _progress(bar, core, state, realtime)
    _wait_for_core(core, state)
    state.drain()
    feed.dropped = int(core.stats()['dropped_frames'])
    feed.run_s = time.perf_counter() - t_run
    return feed


def _progress_bar(progress: bool, total: int, image_topic: str) -> Any:
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit='frame',
        desc=image_topic,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.25,
    )


def _run(
    reader: Any,
    conns: Sequence[Any],
    msgtype: str,
    core: Any,
    state: ReplayState,
    geometry: Any,
    out: Any,
    truth: Any,
    frames_total: int,
    image_topic: str,
    gt: Any,
    realtime: bool,
    rate: float,
    max_frames: Optional[int],
    progress: bool,
) -> Tuple[_Feed, Any]:
    """
    Feed the frames, match them to the ground truth and commit the output bag.

    The output bag is aborted on any failure.
    """
    planned = min(frames_total, max_frames) if max_frames is not None else frames_total
    bar = _progress_bar(progress, planned, image_topic)
    out.open()
    try:
        feed = _feed(
            reader, conns, msgtype, core, state, geometry, realtime, rate, max_frames, bar
        )
        match = match_truth(state.frame_keys, truth, frames_total, image_topic, gt)
        core.shutdown(timeout=30.0)
        out.commit()
    except BaseException:
        core.shutdown(timeout=30.0)
        out.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
    return feed, match


def _close(reader: Any, core: Any, own_pipe: Any) -> None:
    try:
        reader.close()
    finally:
        if core is not None:
            core.shutdown()
        if own_pipe is not None:
            own_pipe.close()


def _write_reports(out_dir: Path, metrics: Dict[str, Any]) -> None:
    import json

    from .report import metrics_markdown

    write_file(out_dir / 'metrics.md', metrics_markdown(metrics).encode('utf-8'))
    write_file(out_dir / 'metrics.json', (json.dumps(metrics, indent=2) + '\n').encode('utf-8'))


def replay(
    bag: Union[str, Path],
    bundle: Union[str, Path, None],
    image_topic: str,
    out_dir: Union[str, Path],
    *,
    backend: str = 'auto',
    realtime: bool = False,
    rate: float = 1.0,
    gt: Union[str, Path, None] = None,
    gt_topic: Optional[str] = None,
    overlay: bool = False,
    output_storage: str = 'mcap',
    score_threshold: Optional[float] = None,
    max_frames: Optional[int] = None,
    overwrite: bool = False,
    progress: bool = False,
    pipeline: Any = None,
    on_frame: Optional[Callable[[int, Dict[str, Any]], None]] = None,
    label_map: Any = None,
    mono16_shift: Optional[int] = None,
    target_frame: str = 'map',
    camera_info_topic: Optional[str] = None,
    node_params: Optional[Dict[str, Any]] = None,
    localisation_gate_m: float = 2.0,
) -> Dict[str, Any]:
    """
    Replay ``image_topic`` of ``bag`` through a detector bundle; write outputs to ``out_dir``.

    Parameters
    ----------
    bag
        rosbag2 directory (sqlite3 or mcap; file/message/chunk compression handled by rosbags).
    bundle
        detector bundle directory (ignored when ``pipeline`` is given).
    image_topic
        a sensor_msgs/msg/Image or sensor_msgs/msg/CompressedImage topic.
    out_dir
        output directory (created).
    backend
        runtime backend (``auto``, ``onnxruntime``, ``tensorrt``, ``torch``).
    realtime
        replay at the bag's timing with latest-wins processing (drops counted).
    rate
        speed factor of the realtime clock (2.0 = twice as fast as recorded).
    gt
        ground truth: a COCO JSON (images keyed by ``stamp_ns``), a folder of VisDrone-DET ``.txt``
        files, or for segmentation bundles a folder of ``<stamp_ns>.png`` masks; matched to frames
        as ``vitedge_ros.replay.ground_truth`` says (header stamp, else bag log time or receive
        order, with a warning).
    gt_topic
        a vision_msgs/msg/Detection2DArray ground-truth topic in the same bag (any vision_msgs).
    overlay
        also write ``/vitedge/overlay`` images.
    output_storage
        ``mcap`` or ``sqlite3`` for the output bag.
    score_threshold
        override of the bundle's decoder threshold (mAP wants a low one).
    max_frames
        stop after this many input frames.
    overwrite
        replace outputs of an earlier run in ``out_dir`` (else refuse).
    progress
        show a tqdm progress bar (frames and rate) on stderr.
    pipeline
        a ready pipeline-like object (``__call__(bgr) -> FrameResult``, ``labels``), e.g. for
        tests.
    on_frame
        called as ``on_frame(index, record)`` after each processed frame.
    label_map
        ground-truth category name -> bundle label or ``ignore`` (``ground_truth.parse_label_map``
        spec; default ``DEFAULT_LABEL_MAP``).
    mono16_shift
        right shift (0-8) from 16-bit to 8-bit images, the node's parameter of that name; None:
        fixed from the first 16-bit frame and kept for the whole bag (one scale per camera).
    target_frame
        ground frame of the person targets (the node's ``target_frame``); '' turns targets off.
        Targets need CameraInfo and TF in the bag; without them the replay says once why there are
        none.
    camera_info_topic
        the camera's CameraInfo topic (default: ``camera_info`` beside the image topic, or the
        bag's only CameraInfo topic).
    node_params
        further vitedge_node parameters (``PARAM_SPECS`` names, e.g. ``obstacle_classes``),
        validated as the node validates them.
    localisation_gate_m
        a target within this horizontal distance of a true person can localise it.

    Every frame is handed to the node's ``PerceptionCore`` (``on_image`` / ``on_compressed``, with
    the CameraInfo in force and poses from the bag's TF), so the output bag holds what the node
    publishes for it: ``/vitedge/detections``, ``/vitedge/targets`` (PoseArray in
    ``target_frame``), ``/vitedge/obstacles`` and ``/vitedge/obstacles/bearings``,
    ``/vitedge/clear_path``, for segmenters ``/vitedge/segmentation`` and ``/vitedge/landing_zone``
    (``/safe``), ``/vitedge/overlay`` when asked, and ``/diagnostics`` (every
    ``diagnostics_period_s`` of bag time). With position ground truth in the bag
    (``tools/make_bag.py``: ``/ground_truth/persons``, ``/obstacles``, ``/clear_path``)
    ``metrics.json`` gains ``localisation``, ``obstacles`` and ``clear_path`` (see
    ``vitedge_ros.eval.localisation``) and ``topdown.png``.

    Returns
    -------
        The metrics written to ``metrics.json`` (see docs/EVALUATION.md).

    Raises
    ------
        BagReplayError: unreadable bag, missing topic (lists the topics), bad ground truth, bundle
            that does not load, or outputs that exist already.

    """
    from .geometry import read_geometry, read_position_truth
    from ..perception.core import PerceptionCore

    t_setup = time.perf_counter()
    _check_arguments(rate, mono16_shift, gt, gt_topic)
    out_dir = Path(out_dir)
    _refuse_earlier_outputs(out_dir, overwrite)
    typestore, types = _typestore()
    reader = open_bag(bag, typestore)
    pipe = None
    core = None
    try:
        conns, msgtype, frames_total = _image_connections(reader, image_topic)
        pipe = (
            pipeline if pipeline is not None else _load_pipeline(bundle, backend, score_threshold)
        )
        labels = list(getattr(pipe, 'labels', []) or [])
        task = getattr(getattr(pipe, 'bundle', None), 'task', None)
        segment = is_task(task) and get_task(task).segmentation
        truth = load_truth(reader, gt, gt_topic, labels, label_map, segment, frames_total)
        geometry = read_geometry(reader, image_topic, camera_info_topic)
        position_truth = read_position_truth(reader)
        if geometry.note:
            LOG.warning('%s', geometry.note)
        person = (node_params or {}).get('person_label', 'person')
        localise = (
            geometry.tf is not None
            and bool(geometry.camera_infos)
            and not segment
            and person in labels
        )
        params = _node_params(
            node_params, labels, segment, localise, target_frame, overlay, mono16_shift
        )
        pose_lookup = _pose_lookup(geometry, params.target_frame)
        _prepare_out_dir(out_dir, overwrite)
        bundle_name = str(
            getattr(getattr(pipe, 'bundle', None), 'name', '')
            or (Path(bundle).name if bundle else 'custom')
        )
        topics = output_topics(segment, params, bool(geometry.camera_infos), overlay)
        out = OutputBag(
            out_dir / OUTPUT_BAG,
            typestore,
            topics,
            storage=output_storage,
            overwrite=overwrite,
            custom_data={
                'vitedge_ros.tool': 'eval_bag',
                'vitedge_ros.bundle': bundle_name,
                'vitedge_ros.source_bag': str(bag),
                'vitedge_ros.image_topic': image_topic,
            },
        )
        state = ReplayState(
            FrameOutputWriter(out, types, overlay, truth.seg_scores),
            truth.boxes is not None,
            on_frame,
        )
        # the node's perception core runs every frame: conversion, inference, outputs, latest-wins
        # in realtime mode
        core = state.core = PerceptionCore(
            pipe,
            params,
            state.on_output,
            clock=time.perf_counter,
            log=_core_logger(),
            pose_lookup=pose_lookup,
            bundle_name=bundle_name,
            on_failure=state.on_failure,
        )
        setup_s = time.perf_counter() - t_setup
        warm_up_ms = _warm_up(pipe, types, typestore, overlay or segment)
        feed, match = _run(
            reader,
            conns,
            msgtype,
            core,
            state,
            geometry,
            out,
            truth,
            frames_total,
            image_topic,
            gt,
            realtime,
            rate,
            max_frames,
            progress,
        )
    finally:
        _close(reader, core, pipe if pipeline is None else None)

    run = ReplayRun(
        bag=str(bag),
        reader_path=Path(reader.paths[0]),
        image_topic=image_topic,
        msgtype=msgtype,
        bundle=str(bundle) if bundle is not None else None,
        bundle_name=bundle_name,
        labels=labels,
        backend=str(getattr(pipe, 'backend_name', 'custom')),
        realtime=realtime,
        rate=rate,
        mono16_shift=core.bit_scale.shift,
        frames_in=feed.frames_in,
        dropped=feed.dropped,
        first_ns=feed.first_ns,
        last_ns=feed.last_ns,
        submitted=feed.submitted,
        feeder_lag_ms=feed.feeder_lag_ms,
        run_s=feed.run_s,
        setup_s=setup_s,
        warm_up_ms=warm_up_ms,
        topic_counts={t: out.counts[t] for t in topics},
    )
    accuracy = accuracy_metrics(
        state, truth, match, out_dir, gt, getattr(pipe, 'score_threshold', score_threshold)
    )
    scores = geometry_metrics(
        state.records,
        position_truth,
        geometry.tf,
        params.target_frame,
        out_dir,
        localisation_gate_m,
        bundle_name,
    )
    metrics = replay_metrics(
        run,
        state,
        accuracy,
        segment,
        geometry,
        pose_lookup,
        params.target_frame,
        scores,
        out_dir,
        OUTPUT_BAG,
    )
    _write_reports(out_dir, metrics)
    return metrics

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
The perception core: parameters, frame handling, statistics.

Overlay and outputs (no ROS, no torch).

The drivers, the rclpy node (``vitedge_ros.ros.node``) and the bag replay (``tools/eval_bag.py``,
``vitedge_ros.replay.driver``), feed it frames (``on_image`` / ``on_compressed``), CameraInfo
(``on_camera_info``) and camera poses (``pose_lookup``), and take the same ``FrameOutput`` and
``diagnostics()``; the node turns them into messages, the replay into an output bag. Formerly
``vitedge_ros.ros.core``, which stays importable as an alias of this module. Everything here is
testable without ROS (inject a clock and a fake pipeline with ``__call__(bgr) -> FrameResult``-like
and ``backend_name``).

Public API::

    PARAM_SPECS: Tuple[ParamSpec, ...]          # name, default, description, constraints
    validate_params(values, labels=None) -> NodeParams     # raises ParamError naming the parameter
    resolve_bundle_path(value) -> str create_pipeline(values) -> (NodeParams, Pipeline)       #
    validate, load the bundle, build the engine PerceptionCore(pipeline, params, on_output,
    clock=time.monotonic, log=None, image_converter=None,
                   compressed_converter=None, pose_lookup=None, bundle_name='',
                   overlay_wanted=None)
        .on_image(msg, stamp=None, tag=None) -> bool      # False when the frame was rejected
        (counted) .on_compressed(msg, stamp=None, tag=None) -> bool .on_camera_info(msg)
        .frame_output(frame, result, header, arrival=None, draw_overlay=None)   # after inference
        .diagnostics() -> dict                  # for messages.build_diagnostic_array .stats() ->
        dict .wait_idle(timeout) -> bool .shutdown(timeout=2.0) -> bool
    landing_zone(labels, label_names, fraction, safe_classes, min_safe) -> LandingZone

Segmentation bundles (task ``segment``): each FrameOutput also carries ``segmentation`` (H×W uint8
class ids in input-image pixels) and ``landing_zone`` (class fractions of the centre region);
detections, obstacles and targets are empty / off.

Overlays are drawn by the one renderer, ``vitedge_ros.perception.overlay.render_frame``, and only
when ``publish_overlay`` is on and ``overlay_wanted()`` (the node: the overlay topic has a
subscriber) says so.

Frames reach the pipeline as they come: a raw Image is a view of the message
(``image_msg_to_frame``: no copy, channel swap or ``step`` removal; the pipeline's one resize reads
it) with its channel order; a BGR copy is made only for the overlay, or for a pipeline whose
``__call__`` takes no ``order`` (test fakes, older drivers).
"""

from collections import deque
import os
from pathlib import Path
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from vitedge_ros.geometry.camera import PinholeCamera
from vitedge_ros.geometry.obstacles import (
    central_region,
    clear_path,
    DEFAULT_OBSTACLE_CLASSES,
    obstacle_infos,
    ObstacleInfo,
)
from vitedge_ros.geometry.person_ground import DEFAULT_PERSON_HEIGHT_M, persons_on_ground
from vitedge_ros.geometry.projection import CameraPose
from vitedge_ros.runtime.latency_stats import percentile
from vitedge_ros.runtime.latest_wins import LatestWinsWorker
from vitedge_ros.schema import (
    boolean,
    Checker,
    choice,
    either,
    exactly,
    integer,
    num,
    SchemaError,
    text,
)
from vitedge_ros.tasks import get_task, UnknownTaskError

from .diagnostics import DIAG_ERROR, DIAG_OK, DIAG_WARN
from .image_conversion import (
    check_image_layout,
    compressed_msg_to_bgr,
    Frame,
    frame_to_bgr,
    FrameDecoder,
    ImageConversionError,
    SixteenBitScale,
)
from .overlay import render_frame
from ..runtime.errors import VitedgeError

__all__ = [
    'DEFAULT_BUNDLE_NAME',
    'FrameOutput',
    'NodeParams',
    'PARAM_SPECS',
    'ParamError',
    'ParamSpec',
    'PerceptionCore',
    'Throttle',
    'create_pipeline',
    'resolve_bundle_path',
    'validate_params',
    'LandingZone',
    'landing_zone',
]

DEFAULT_BUNDLE_NAME = 'aerial_vit_tiny'
BACKENDS = ('auto', 'tensorrt', 'onnxruntime')
TRANSPORTS = ('raw', 'compressed')
RELIABILITIES = ('best_effort', 'reliable')


# -------------------------------------------------------------------------------------------------
# parameters
class ParamError(VitedgeError, ValueError):
    """An invalid node parameter; ``.name`` is the parameter and the message names it."""

    def __init__(self, name: str, problem: str):
        self.name = name
        super().__init__('parameter {!r}: {}'.format(name, problem))


class ParamSpec(NamedTuple):
    """Declaration of one node parameter (the node declares them with these descriptions)."""

    name: str
    default: Any
    description: str
    constraints: str = ''
    dynamic_typing: bool = False  # True where the default cannot fix the ROS type (empty list)


PARAM_SPECS: Tuple[ParamSpec, ...] = (
    ParamSpec(
        'bundle',
        '',
        'Model bundle directory (bundle.yaml + model.onnx). Empty: the shipped bundle '
        'share/vitedge_ros/models/'
        + DEFAULT_BUNDLE_NAME
        + '; a relative name is also looked up there.',
    ),
    ParamSpec('backend', 'auto', 'Inference backend.', 'one of auto, tensorrt, onnxruntime'),
    ParamSpec(
        'score_threshold', -1.0, 'Minimum detection score.', "-1 (the bundle's value) or in [0, 1]"
    ),
    ParamSpec(
        'nms_iou',
        -1.0,
        'IoU threshold of non-maximum suppression.',
        "-1 (the bundle's value) or in (0, 1]",
    ),
    ParamSpec(
        'classes',
        [],
        'Class filter: label names to keep (not set or empty: all).',
        'names among the bundle labels (a string array)',
    ),
    ParamSpec('max_detections', 100, 'Maximum detections per frame.', '> 0'),
    ParamSpec('publish_overlay', False, 'Publish the annotated image on "overlay".'),
    ParamSpec(
        'transport',
        'raw',
        'Subscribe "image" (sensor_msgs/Image, raw) or "image/compressed" '
        '(sensor_msgs/CompressedImage, compressed).',
        'one of raw, compressed',
    ),
    ParamSpec(
        'qos_reliability',
        'best_effort',
        'Image subscription reliability (best_effort = sensor-data QoS).',
        'one of best_effort, reliable',
    ),
    ParamSpec('qos_depth', 1, 'Image subscription queue depth.', '>= 1'),
    ParamSpec(
        'target_frame', '', 'Ground frame (z up, e.g. map or odom) for person targets; empty: off.'
    ),
    ParamSpec('ground_z', 0.0, 'Height of the flat ground plane in target_frame (m).'),
    ParamSpec('person_label', 'person', 'Label whose detections become targets.'),
    ParamSpec(
        'person_height_m',
        DEFAULT_PERSON_HEIGHT_M,
        'Height of a standing person (m): a target is where the '
        'feet of an upright person of this height, centred in the box, meet the ground (the box '
        'bottom for a '
        'level camera, the centre straight below, between for oblique views); 0: the box centre '
        '(persons '
        "lying down, or flat figures like the synthetic world's).",
        '>= 0',
    ),
    ParamSpec(
        'tf_timeout_s',
        0.05,
        'How long to wait for the camera transform at the image stamp (s).',
        '>= 0',
    ),
    ParamSpec(
        'max_target_range_m',
        0.0,
        'Ignore ground points farther than this (m); 0: no limit.',
        '>= 0',
    ),
    ParamSpec(
        'image_is_rectified', False, 'Images are rectified: use CameraInfo P and no distortion.'
    ),
    ParamSpec(
        'publish_obstacles',
        True,
        'Publish "obstacles" (Detection2DArray: pixel boxes, poses in the optical '
        'frame), "obstacles/bearings" (PointCloud2 of angles) and "clear_path" (stamped verdict).',
    ),
    ParamSpec(
        'obstacle_classes',
        list(DEFAULT_OBSTACLE_CLASSES),
        'Labels treated as obstacles (an empty list: none, the path is always clear).',
        'names among the bundle labels (a string array)',
    ),
    ParamSpec(
        'clear_path_width_frac',
        0.3,
        'Width of the central region checked for clear path (fraction).',
        'in (0, 1]',
    ),
    ParamSpec(
        'clear_path_height_frac',
        0.5,
        'Height of the central region checked for clear path (fraction).',
        'in (0, 1]',
    ),
    ParamSpec(
        'clear_path_min_score',
        0.0,
        'Minimum score of a detection that blocks the path.',
        'in [0, 1]',
    ),
    ParamSpec(
        'assumed_hfov_deg',
        0.0,
        'Horizontal field of view used for obstacle bearings until CameraInfo '
        'arrives; 0: wait for CameraInfo.',
        '0 or in (0, 180)',
    ),
    ParamSpec(
        'mono16_shift',
        -1,
        'Right shift from 16-bit to 8-bit images (12-bit camera: 4), one for the camera; '
        '-1: fixed from the first 16-bit frame with a value above 255, then kept.',
        '-1 or in [0, 8]',
    ),
    ParamSpec(
        'use_cv_bridge',
        True,
        'Use cv_bridge where installed for raw encodings the frame path cannot read '
        'in place (YUV, Bayer 8-bit); 8-bit BGR/RGB/mono frames are always read in place, 16-bit '
        'ones by our '
        'own conversion.',
    ),
    ParamSpec('diagnostics_period_s', 1.0, 'Period of /diagnostics (s).', '> 0'),
    ParamSpec(
        'detections_min_rate_hz',
        1.0,
        'Lowest acceptable rate of "detections" (Hz) for the "detections '
        'topic status" diagnostic (diagnostic_updater FrequencyStatus, 10% tolerance, 5-report '
        'window).',
        '>= 0',
    ),
    ParamSpec(
        'detections_max_rate_hz',
        0.0,
        'Highest acceptable rate of "detections" (Hz); 0: no upper bound.',
        '0 or >= detections_min_rate_hz',
    ),
    ParamSpec(
        'engine_cache_dir',
        '',
        'Writable folder for TensorRT engines (share/ is read-only once installed): '
        'the node looks them up, and tools/build_engine.py writes them, in '
        '<engine_cache_dir>/<bundle>-<onnx '
        'sha>/engines, where the engines already in <bundle>/engines are linked too. Empty: '
        '$XDG_CACHE_HOME/vitedge_ros/engines (~/.cache/vitedge_ros/engines); none: '
        '<bundle>/engines only.',
    ),
    ParamSpec('stats_window', 100, 'Frames in the latency percentile window.', '>= 10'),
    ParamSpec(
        'warn_throttle_s',
        5.0,
        'Minimum interval between repeated warnings of one kind (s).',
        '> 0',
    ),
    ParamSpec(
        'publish_segmentation',
        True,
        'Segmentation bundles: publish "segmentation" (sensor_msgs/Image '
        'mono8, class ids) and the landing-zone check ("landing_zone", "landing_zone/safe").',
    ),
    ParamSpec(
        'landing_zone_frac',
        0.3,
        'Side of the centred landing-zone region, as a fraction of the image '
        'width and height (segmentation bundles).',
        'in (0, 1]',
    ),
    ParamSpec(
        'landing_safe_classes',
        ['background', 'road'],
        'Labels a drone may land on (segmentation bundles; an empty list: nowhere is safe).',
        'names among the bundle labels (a string array)',
    ),
    ParamSpec(
        'landing_min_safe_frac',
        0.95,
        'Minimum fraction of safe-class pixels in the centre region for '
        'landing_zone/safe to be true.',
        'in [0, 1]',
    ),
)
_SPEC_BY_NAME = {s.name: s for s in PARAM_SPECS}


class NodeParams:
    """
    Validated parameters of vitedge_node (see PARAM_SPECS for meanings).

    A plain class rather than a dataclass: the node runs on JetPack 4.6's Python 3.6, which has no
    ``dataclasses``. ``NodeParams(**overrides)`` starts from the defaults below (list defaults are
    copied per instance); an unknown keyword raises TypeError, as a dataclass would. Instances
    compare by value.
    """

    bundle: str = ''
    backend: str = 'auto'
    score_threshold: Optional[float] = None
    nms_iou: Optional[float] = None
    classes: List[str] = []
    max_detections: int = 100
    publish_overlay: bool = False
    transport: str = 'raw'
    qos_reliability: str = 'best_effort'
    qos_depth: int = 1
    target_frame: str = ''
    ground_z: float = 0.0
    person_label: str = 'person'
    tf_timeout_s: float = 0.05
    max_target_range_m: float = 0.0
    person_height_m: float = DEFAULT_PERSON_HEIGHT_M
    image_is_rectified: bool = False
    publish_obstacles: bool = True
    obstacle_classes: List[str] = list(DEFAULT_OBSTACLE_CLASSES)
    clear_path_width_frac: float = 0.3
    clear_path_height_frac: float = 0.5
    clear_path_min_score: float = 0.0
    assumed_hfov_deg: float = 0.0
    mono16_shift: Optional[int] = None
    use_cv_bridge: bool = True
    diagnostics_period_s: float = 1.0
    detections_min_rate_hz: float = 1.0
    detections_max_rate_hz: float = 0.0
    engine_cache_dir: str = ''
    stats_window: int = 100
    warn_throttle_s: float = 5.0
    publish_segmentation: bool = True
    landing_zone_frac: float = 0.3
    landing_safe_classes: List[str] = ['background', 'road']
    landing_min_safe_frac: float = 0.95

    def __init__(self, **overrides: Any) -> None:
        names = self.__class__.__annotations__
        for name in names:
            default = getattr(self.__class__, name)
            setattr(self, name, list(default) if isinstance(default, list) else default)
        for name, value in overrides.items():
            if name not in names:
                raise TypeError('NodeParams got an unknown field {!r}'.format(name))
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return 'NodeParams({})'.format(
            ', '.join('{}={!r}'.format(k, v) for k, v in vars(self).items())
        )

    @property
    def wants_camera_info(self) -> bool:
        """Return True when camera_info is needed (targets, or obstacle bearings)."""
        return bool(self.target_frame) or self.publish_obstacles


def _check(name: str, checker: Checker, v: Any) -> Any:
    """
    Return ``checker(v, name)`` (:mod:`vitedge_ros.schema`), its error as a :class:`ParamError`.

    The ParamError names ``name``.
    """
    try:
        return checker(v, name)
    except SchemaError as exc:
        raise ParamError(name, exc.problem) from None


def _lower_choice(*options: str) -> Checker:
    """One of ``options``, case and surrounding blanks ignored (``TensorRT`` is ``tensorrt``)."""
    pick = choice(*options)

    def check(v: Any, path: str) -> str:
        return pick(text(v, path).lower() if isinstance(v, str) else v, path)

    return check


#: The checkers of the parameters with a fixed type and range (the rest are checked in
#: validate_params).
BUNDLE_VALUE = exactly(-1.0, what="-1 (the bundle's value)")
PARAM_CHECKS: Dict[str, Checker] = {
    'bundle': text,
    'backend': _lower_choice(*BACKENDS),
    'score_threshold': either(BUNDLE_VALUE, num(0, 1)),
    'nms_iou': either(BUNDLE_VALUE, num(0, 1, lo_open=True)),
    'max_detections': integer(1),
    'publish_overlay': boolean,
    'transport': _lower_choice(*TRANSPORTS),
    'qos_reliability': _lower_choice(*RELIABILITIES),
    'qos_depth': integer(1),
    'target_frame': text,
    'ground_z': num(),
    'person_label': text,
    'person_height_m': num(0),
    'tf_timeout_s': num(0),
    'max_target_range_m': num(0),
    'image_is_rectified': boolean,
    'publish_obstacles': boolean,
    'clear_path_width_frac': num(0, 1, lo_open=True),
    'clear_path_height_frac': num(0, 1, lo_open=True),
    'clear_path_min_score': num(0, 1),
    'assumed_hfov_deg': either(
        exactly(0.0, what='0 (wait for CameraInfo)'), num(0, 180, True, True)
    ),
    'mono16_shift': either(
        exactly(-1, what='-1 (fixed from the first 16-bit frame)'), integer(0, 8)
    ),
    'use_cv_bridge': boolean,
    'diagnostics_period_s': num(0, lo_open=True),
    'detections_min_rate_hz': num(0),
    'detections_max_rate_hz': num(0),
    'engine_cache_dir': text,
    'stats_window': integer(10),
    'warn_throttle_s': num(0, lo_open=True),
    'publish_segmentation': boolean,
    'landing_zone_frac': num(0, 1, lo_open=True),
    'landing_min_safe_frac': num(0, 1),
}


def _names(name: str, v: Any, labels: Optional[Sequence[str]]) -> List[str]:
    if isinstance(v, str):
        items = [s.strip() for s in v.split(',') if s.strip()]
    elif isinstance(v, (list, tuple)):
        items = []
        for s in v:
            if not isinstance(s, str):
                raise ParamError(name, 'must be a list of label names, got item {!r}'.format(s))
            if s.strip():
                items.append(s.strip())
    elif v is None or (isinstance(v, (bytes, bytearray)) and len(v) == 0):
        items = []  # None: an empty YAML list reaches rclpy as "not set"; b'': an empty byte array
    else:
        raise ParamError(name, 'must be a list of label names, got {!r}'.format(v))
    if labels is not None:
        unknown = [s for s in items if s not in labels]
        if unknown:
            raise ParamError(
                name,
                '{} not among the bundle labels ({})'.format(
                    ', '.join(repr(s) for s in unknown), ', '.join(labels)
                ),
            )
    return items


def validate_params(
    values: Mapping[str, Any], labels: Optional[Sequence[str]] = None, task: Optional[str] = None
) -> NodeParams:
    """
    Check raw parameter values (missing ones take defaults) and return NodeParams.

    Types and ranges are :data:`PARAM_CHECKS` in the one config language
    (:mod:`vitedge_ros.schema`; a message gives the allowed range or choices). ``labels``: the
    bundle's labels; when given, ``classes``, ``obstacle_classes`` and ``person_label`` must name
    some of them (for ``task='segment'``: ``landing_safe_classes`` instead, and obstacles and
    targets, which need detections, are rejected or turned off). Raises ParamError naming the first
    bad parameter (unknown names included).
    """
    for key in values:
        if key not in _SPEC_BY_NAME:
            raise ParamError(
                key, 'unknown parameter (known: {})'.format(', '.join(sorted(_SPEC_BY_NAME)))
            )
    raw = {s.name: values.get(s.name, s.default) for s in PARAM_SPECS}
    p = NodeParams()
    for spec in PARAM_SPECS:  # in declaration order: the first bad parameter is named
        if spec.name in PARAM_CHECKS:
            setattr(p, spec.name, _check(spec.name, PARAM_CHECKS[spec.name], raw[spec.name]))
    p.score_threshold = None if p.score_threshold == -1.0 else p.score_threshold
    p.nms_iou = None if p.nms_iou == -1.0 else p.nms_iou
    p.mono16_shift = None if p.mono16_shift == -1 else p.mono16_shift
    p.target_frame = p.target_frame.lstrip('/')
    try:
        segment = task is not None and get_task(task).segmentation
    except UnknownTaskError as exc:
        raise ParamError('bundle', str(exc)) from None
    p.classes = _names('classes', raw['classes'], labels)
    p.obstacle_classes = _names(
        'obstacle_classes', raw['obstacle_classes'], None if segment else labels
    )
    p.landing_safe_classes = _names(
        'landing_safe_classes', raw['landing_safe_classes'], labels if segment else None
    )
    if labels is not None and p.target_frame and p.person_label not in labels:
        raise ParamError(
            'person_label',
            '{!r} is not a bundle label ({})'.format(p.person_label, ', '.join(labels)),
        )
    if p.detections_max_rate_hz != 0 and p.detections_max_rate_hz < p.detections_min_rate_hz:
        raise ParamError(
            'detections_max_rate_hz',
            'must be 0 (no bound) or >= detections_min_rate_hz ({}), got {}'.format(
                p.detections_min_rate_hz, p.detections_max_rate_hz
            ),
        )
    if segment:
        if p.target_frame:
            raise ParamError(
                'target_frame',
                'person targets need a detector bundle; this bundle segments '
                '(leave target_frame empty)',
            )
        p.publish_obstacles = False  # obstacles and clear_path come from detections
    return p


def _share_dirs() -> List[Path]:
    """Candidate package share folders: the ament index (where installed), then the source tree."""
    out = []
    try:
        from ament_index_python.packages import get_package_share_directory

        out.append(Path(get_package_share_directory('vitedge_ros')))
    except Exception:  # noqa: BLE001 - no ROS, or the package is not installed in an ament prefix
        pass
    out.append(Path(__file__).resolve().parents[2])
    return out


def resolve_bundle_path(value: str) -> str:
    """
    Bundle directory for the ``bundle`` parameter (empty: the shipped default bundle).

    A path that exists is returned as is; otherwise ``<share>/models/<value>`` is tried. Raises
    ParamError('bundle', ...) when nothing with a bundle.yaml is found.
    """
    value = os.path.expanduser(value.strip())
    name = value or DEFAULT_BUNDLE_NAME
    tried = []
    candidates = [Path(value)] if value else []
    candidates += [d / 'models' / name for d in _share_dirs()]
    for cand in candidates:
        tried.append(str(cand))
        if (cand / 'bundle.yaml').is_file():
            return str(cand)
    raise ParamError('bundle', 'no bundle.yaml found (tried {})'.format(', '.join(tried)))


def create_pipeline(values: Mapping[str, Any]) -> Tuple[NodeParams, Any]:
    """
    Validate raw parameter values, load the bundle and build the runtime Pipeline.

    Parameters are checked twice: first on their own, then (once the bundle is loaded) the class
    names against its labels. Every failure is a ParamError naming the parameter (``bundle`` for a
    missing or invalid bundle, ``backend`` for an unavailable engine).
    """
    from vitedge_ros.runtime import load_bundle, Pipeline
    from vitedge_ros.runtime.errors import BundleError, EngineError

    params = validate_params(values)
    params.bundle = resolve_bundle_path(params.bundle)
    try:
        bundle = load_bundle(params.bundle)
    except BundleError as exc:
        raise ParamError('bundle', str(exc)) from exc
    if not get_task(bundle.task).on_node:
        raise ParamError(
            'bundle',
            '{} is a {!r} bundle; vitedge_node needs a detector or a segmenter'.format(
                params.bundle, bundle.task
            ),
        )
    params = validate_params(
        dict(values, bundle=params.bundle), labels=list(bundle.labels), task=bundle.task
    )
    if params.engine_cache_dir.lower() != 'none':
        bundle = _with_engine_cache(bundle, params.engine_cache_dir)
    try:
        pipeline = Pipeline(
            bundle,
            backend=params.backend,
            score_threshold=params.score_threshold,
            nms_iou=params.nms_iou,
            classes=params.classes or None,
            max_detections=params.max_detections,
        )
    except EngineError as exc:
        raise ParamError('backend', str(exc)) from exc
    except BundleError as exc:
        raise ParamError('bundle', str(exc)) from exc
    return params, pipeline


def _with_engine_cache(bundle: Any, cache_dir: str) -> Any:
    """
    Return the bundle loaded from its writable engine view (runtime.engine_cache).

    Or as is when none can be made.
    """
    import logging

    from vitedge_ros.runtime import load_bundle
    from vitedge_ros.runtime.engine_cache import default_engine_cache_dir, engine_view

    try:
        return load_bundle(engine_view(bundle.path, cache_dir or default_engine_cache_dir()))
    # OSError (read-only home), BundleError: keep <bundle>/engines
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning(
            'engine_cache_dir %s unusable (%s: %s); engines only from %s/engines',
            cache_dir,
            type(exc).__name__,
            exc,
            bundle.path,
        )
        return bundle


# -------------------------------------------------------------------------------------------
# throttled warnings
class Throttle:
    """Let one message per key through every ``period_s`` seconds, counting the suppressed ones."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic):
        self.period_s = float(period_s)
        self.clock = clock
        self._last: Dict[Any, float] = {}
        self._suppressed: Dict[Any, int] = {}
        self._lock = threading.Lock()

    def check(self, key: Any) -> Tuple[bool, int]:
        """Return (emit now, number suppressed since the last emitted one for this key)."""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False, 0
            self._last[key] = now
            return True, self._suppressed.pop(key, 0)


# -------------------------------------------------------------------------------------------------
# outputs
class FrameOutput(NamedTuple):
    """Everything the node publishes for one processed frame."""

    header: Any  # the input message's header (stamp and frame_id)
    detections: List[Any]  # runtime Detection objects
    image_size: Tuple[int, int]  # (width, height) of the input image
    timings_ms: Dict[str, float]  # pipeline timings
    latency_ms: float  # arrival -> output
    overlay: Optional[np.ndarray]  # BGR image when publish_overlay
    targets: Optional[
        List[Tuple[float, float, float]]
    ]  # person ground points in target_frame, None: n/a
    target_frame: str
    obstacles: Optional[List[ObstacleInfo]]  # None when no camera model is known yet
    clear_path: Optional[bool]  # None when publish_obstacles is off
    segmentation: Optional[np.ndarray] = (
        None  # segment bundles: H×W uint8 class ids, input-image pixels
    )
    landing_zone: Optional['LandingZone'] = None  # segment bundles: centre-region class fractions
    tag: Any = None  # the ``tag`` given with the frame to on_image/on_compressed


class LandingZone(NamedTuple):
    """Landing-zone check of one segmented frame: class fractions in the centred region."""

    fractions: List[
        Tuple[str, float]
    ]  # (label, fraction of the region), in label order; sums to 1
    region: Tuple[int, int, int, int]  # x0, y0, x1, y1 in input-image pixels (x1, y1 exclusive)
    safe_fraction: float  # fraction of pixels whose class is a safe class
    safe: bool  # safe_fraction >= landing_min_safe_frac

    @property
    def dominant(self) -> str:
        """Label with the largest fraction."""
        return max(self.fractions, key=lambda kv: kv[1])[0] if self.fractions else ''


def landing_zone(
    labels: np.ndarray,
    label_names: Sequence[str],
    fraction: float = 0.3,
    safe_classes: Sequence[str] = ('background', 'road'),
    min_safe: float = 0.95,
) -> LandingZone:
    """
    Return the landing-zone verdict of a label map.

    Class fractions of its centred ``fraction``-sized region, and the safety verdict.
    """
    from vitedge_ros.runtime.segmentation import center_box, center_fractions

    h, w = labels.shape[:2]
    fr = center_fractions(labels, len(label_names), fraction)
    pairs = [(str(n), float(f)) for n, f in zip(label_names, fr)]
    safe_fraction = float(sum(f for n, f in pairs if n in set(safe_classes)))
    return LandingZone(pairs, center_box(w, h, fraction), safe_fraction, safe_fraction >= min_safe)


def accepts_keyword(pipeline: Any, name: str) -> bool:
    """
    Return True when ``pipeline(pixels, <name>=...)`` is accepted.

    The runtime Pipeline; not a one-argument fake.
    """
    import inspect

    try:
        params = inspect.signature(pipeline).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind == p.VAR_KEYWORD for p in params)


def _percentile(values: Sequence[float], q: float) -> float:
    p = percentile(
        values, q
    )  # the project's one percentile (runtime/latency_stats.py); NaN when empty
    return float('nan') if p is None else p


class _Item(NamedTuple):
    kind: str  # 'raw' | 'compressed'
    msg: Any
    arrival: float
    tag: Any = (
        None  # the driver's own reference to the frame (the bag replay: index and bag times)
    )


# -------------------------------------------------------------------------------------------------
# core
class PerceptionCore:
    """
    Latest-wins perception on incoming frames, with statistics and throttled warnings.

    Parameters
    ----------
        pipeline: callable ``pipeline(bgr) -> result`` with ``.detections``, ``.timings_ms``,
            ``.image_size``; and ``.backend_name``.
        params: validated NodeParams.
        on_output: called with a FrameOutput for every processed frame (on the worker thread).
        clock: monotonic seconds (inject a fake one in tests).
        log: ``log(level, text)`` with level ``'info'``, ``'warn'`` or ``'error'``; default: print.
        image_converter: ``f(msg) -> Frame or bgr`` for sensor_msgs/Image (default:
            ``image_msg_to_frame``, a view of the message for 8-bit encodings).
        compressed_converter: ``f(msg) -> Frame or bgr`` for CompressedImage (default:
            ``compressed_msg_to_bgr``).
        pose_lookup: ``f(target_frame, source_frame, stamp) -> Optional[CameraPose]`` (tf2 in the
            node).
        bundle_name: reported in diagnostics.
        on_failure: optional ``on_failure(tag, reason, exc)`` for every frame that produced no
            output: ``reason`` is the ImageConversionError reason (``truncated``,
            ``unsupported_encoding``, ...) or ``'inference'`` (``exc`` the pipeline's exception);
            called after the core has counted and warned (the bag replay records the frame).
        overlay_wanted: ``f() -> bool``, asked per frame when ``publish_overlay`` is on: False
            skips drawing (the node: no subscriber on ``overlay``). None: always draw when
            ``publish_overlay``.

    """

    DIAG_NAME = 'vitedge_node: perception'

    def __init__(
        self,
        pipeline: Any,
        params: NodeParams,
        on_output: Callable[[FrameOutput], None],
        clock: Callable[[], float] = time.monotonic,
        log: Optional[Callable[[str, str], None]] = None,
        image_converter: Optional[Callable[[Any], np.ndarray]] = None,
        compressed_converter: Optional[Callable[[Any], np.ndarray]] = None,
        pose_lookup: Optional[Callable[[str, str, Any], Optional[CameraPose]]] = None,
        bundle_name: str = '',
        on_failure: Optional[Callable[[Any, str, Exception], None]] = None,
        overlay_wanted: Optional[Callable[[], bool]] = None,
    ):
        self.pipeline = pipeline
        self.on_failure = on_failure
        self._pipeline_takes_order = accepts_keyword(pipeline, 'order')
        self._pipeline_takes_source_size = accepts_keyword(pipeline, 'source_size')
        spec = getattr(getattr(pipeline, 'bundle', None), 'input', None)
        self._net_size = (int(spec.width), int(spec.height)) if spec is not None else None
        # the frame path's decoder (views of raw Images; reduced JPEG decoding for large cameras)
        # when the default
        # converters are in use and the pipeline takes a source size
        self._reduce_jpeg = (
            compressed_converter is None
            and self._pipeline_takes_source_size
            and self._net_size is not None
        )
        self.overlay_wanted = overlay_wanted
        #: frames whose overlay was not drawn because nobody wanted it (publish_overlay on, no
        #: subscriber)
        self.overlays_skipped = 0
        self.params = params
        self.on_output = on_output
        self.clock = clock
        self._log = log or (lambda level, text: print('[{}] {}'.format(level, text)))
        #: the camera's one 16-bit -> 8-bit scale, shared by the raw and the compressed (16-bit
        #: PNG) paths
        self.bit_scale = SixteenBitScale(params.mono16_shift, on_fix=self._log_bit_scale)
        self.decoder = FrameDecoder(self.bit_scale, self._net_size if self._reduce_jpeg else None)
        self.image_converter = image_converter or self.decoder.image
        self.compressed_converter = compressed_converter or (
            lambda msg: compressed_msg_to_bgr(msg, scale=self.bit_scale)
        )
        self.pose_lookup = pose_lookup
        self.bundle_name = bundle_name
        self.backend_name = str(getattr(pipeline, 'backend_name', 'unknown'))
        self.backend_reason = str(getattr(pipeline, 'backend_reason', '') or '')
        self.backend_fallback = str(getattr(pipeline, 'backend_fallback', '') or '')
        self.throttle = Throttle(params.warn_throttle_s, clock)
        self._lock = threading.Lock()
        self._camera_info_model: Optional[PinholeCamera] = None
        self._camera_info_key: Optional[Tuple] = None
        self._camera_cache: Dict[Tuple[int, int], PinholeCamera] = {}
        self._start = clock()
        self._received = 0
        self._processed = 0
        self._conversion_failures: Dict[str, int] = {}
        self._inference_failures = 0
        self._output_failures = 0
        self._failures_at_last_report = 0
        self._last_error = ''
        self._arrivals: Deque[float] = deque(maxlen=max(params.stats_window, 10))
        self._completions: Deque[float] = deque(maxlen=max(params.stats_window, 10))
        self._pipeline_ms: Deque[float] = deque(maxlen=params.stats_window)
        self._latency_ms: Deque[float] = deque(maxlen=params.stats_window)
        self._last_zone: Optional[LandingZone] = None
        labels = getattr(getattr(pipeline, 'bundle', None), 'labels', None) or getattr(
            pipeline, 'labels', None
        )
        self.label_names: List[str] = [str(v) for v in labels] if labels else []
        self._worker = LatestWinsWorker(
            self._process, on_error=self._on_worker_error, name='vitedge-inference'
        )
        if self.backend_fallback:  # backend auto could not use the bundle's TensorRT engines
            self._log(
                'warn',
                'TensorRT not used, running on {}: {}'.format(
                    self.backend_name, self.backend_fallback
                ),
            )

    # ------------------------------------------------------------------------------------------
    # logging helpers
    def _warn_throttled(self, key: Any, text: str) -> None:
        emit, suppressed = self.throttle.check(key)
        if emit:
            if suppressed:
                text += ' ({} more like this suppressed)'.format(suppressed)
            self._log('warn', text)

    def _log_bit_scale(self, shift: int, peak: int) -> None:
        self._log(
            'info',
            '16-bit images: shift {} bits to 8 bit, fixed from the first frame (peak {}) and kept '
            'for this camera; set mono16_shift to choose it'.format(shift, peak),
        )

    # ---------------------------------------------------------------------------------------------
    # callbacks
    def on_image(self, msg: Any, stamp: Optional[float] = None, tag: Any = None) -> bool:
        """
        Take a sensor_msgs/Image; ``stamp`` is its arrival time on ``clock`` (default: now).

        The layout (encoding, step, payload size) is checked here, so a bad frame never displaces a
        good pending one: it is counted, warned about (throttled, naming the encoding) and False is
        returned. ``tag`` comes back in the frame's FrameOutput (or ``on_failure``).
        """
        arrival = self.clock() if stamp is None else float(stamp)
        self._count_arrival(arrival)
        try:
            check_image_layout(msg)
        except ImageConversionError as exc:
            self._conversion_failed(exc, tag)
            return False
        self._worker.submit(_Item('raw', msg, arrival, tag))
        return True

    def on_compressed(self, msg: Any, stamp: Optional[float] = None, tag: Any = None) -> bool:
        """Take a sensor_msgs/CompressedImage (decoded on the worker thread); see ``on_image``."""
        arrival = self.clock() if stamp is None else float(stamp)
        self._count_arrival(arrival)
        if len(getattr(msg, 'data', b'')) == 0:
            self._conversion_failed(
                ImageConversionError(
                    getattr(msg, 'format', ''), 'empty', 'empty compressed payload'
                ),
                tag,
            )
            return False
        self._worker.submit(_Item('compressed', msg, arrival, tag))
        return True

    def on_camera_info(self, msg: Any) -> None:
        """Take a sensor_msgs/CameraInfo; the camera model is rebuilt only when it changes."""
        k = tuple(np.asarray(getattr(msg, 'k', getattr(msg, 'K', ())), dtype=float).reshape(-1))
        d = tuple(np.asarray(getattr(msg, 'd', getattr(msg, 'D', ())), dtype=float).reshape(-1))
        p = tuple(np.asarray(getattr(msg, 'p', getattr(msg, 'P', ())), dtype=float).reshape(-1))
        roi = getattr(msg, 'roi', None)
        roi_fields = ('x_offset', 'y_offset', 'width', 'height', 'do_rectify')
        roi_key = tuple(int(getattr(roi, f, 0) or 0) for f in roi_fields)
        key = (
            k,
            d,
            p,
            str(getattr(msg, 'distortion_model', '')),
            int(msg.width),
            int(msg.height),
            int(getattr(msg, 'binning_x', 0) or 0),
            int(getattr(msg, 'binning_y', 0) or 0),
            roi_key,
        )
        if key == self._camera_info_key:
            return
        try:
            cam = PinholeCamera.from_camera_info(msg, rectified=self.params.image_is_rectified)
        except ValueError as exc:
            self._warn_throttled(('camera_info',), 'ignoring camera_info: {}'.format(exc))
            return
        with self._lock:
            self._camera_info_model = cam
            self._camera_info_key = key
            self._camera_cache = {}
        self._log('info', 'camera model: {}'.format(cam))

    def _count_arrival(self, arrival: float) -> None:
        with self._lock:
            self._received += 1
            self._arrivals.append(arrival)

    def _conversion_failed(self, exc: ImageConversionError, tag: Any = None) -> None:
        with self._lock:
            self._conversion_failures[exc.reason] = (
                self._conversion_failures.get(exc.reason, 0) + 1
            )
            self._last_error = str(exc)
        self._warn_throttled(
            ('convert', exc.encoding, exc.reason), 'skipping frame: {}'.format(exc)
        )
        if self.on_failure is not None:
            self.on_failure(tag, exc.reason, exc)

    def _on_worker_error(self, item: Any, exc: Exception) -> None:
        with self._lock:
            self._output_failures += 1
            self._last_error = '{}: {}'.format(type(exc).__name__, exc)
        self._warn_throttled(
            ('worker', type(exc).__name__),
            'frame processing failed: {}: {}'.format(type(exc).__name__, exc),
        )

    # ---------------------------------------------------------------------------------------------
    # camera
    def camera_for(self, width: int, height: int) -> Optional[PinholeCamera]:
        """
        Camera model for an image of this size, else None.

        From CameraInfo (roi and binning applied as image_geometry does, then scaled only if the
        image size still differs) or, without it, the assumed horizontal FOV.
        """
        with self._lock:
            cached = self._camera_cache.get((width, height))
            base = self._camera_info_model
        if cached is not None:
            return cached
        if base is not None:
            cam = base.for_image_size(width, height)
        elif self.params.assumed_hfov_deg > 0:
            cam = PinholeCamera.from_fov(width, height, np.radians(self.params.assumed_hfov_deg))
        else:
            return None
        with self._lock:
            if self._camera_info_model is base:
                self._camera_cache[(width, height)] = cam
        return cam

    # ---------------------------------------------------------------------------------------------
    # worker
    def _decode_compressed(self, msg: Any, full: bool) -> Any:
        """
        Return a CompressedImage as a Frame.

        :class:`FrameDecoder`: reduced JPEG decoding unless ``full``.
        """
        if self._reduce_jpeg:
            return self.decoder.compressed(msg, full=full)
        return self.compressed_converter(msg)

    def _process(self, item: _Item) -> None:
        t0 = time.perf_counter()
        draw_overlay = self.params.publish_overlay and not self._overlay_unwanted()
        try:
            if item.kind == 'compressed':
                frame = self._decode_compressed(item.msg, full=draw_overlay)
            else:
                frame = self.image_converter(item.msg)
        except ImageConversionError as exc:
            self._conversion_failed(exc, item.tag)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. a cv_bridge error: count it like ours
            enc = getattr(item.msg, 'encoding', getattr(item.msg, 'format', ''))
            self._conversion_failed(ImageConversionError(enc, 'decode_failed', str(exc)), item.tag)
            return
        decode_ms = (time.perf_counter() - t0) * 1000.0
        if not isinstance(frame, Frame):
            frame = Frame(frame, 'bgr')
        try:
            if frame.source_size is not None:
                result = self.pipeline(
                    frame.pixels, order=frame.order, source_size=frame.source_size
                )
            elif self._pipeline_takes_order:
                result = self.pipeline(frame.pixels, order=frame.order)
            else:
                result = self.pipeline(frame_to_bgr(frame))
        except Exception as exc:  # noqa: BLE001 - FrameError, EngineError: count, warn, keep going
            with self._lock:
                self._inference_failures += 1
                self._last_error = '{}: {}'.format(type(exc).__name__, exc)
            self._warn_throttled(
                ('inference', type(exc).__name__),
                'inference failed: {}: {}'.format(type(exc).__name__, exc),
            )
            if self.on_failure is not None:
                self.on_failure(item.tag, 'inference', exc)
            return
        out = self.frame_output(
            frame, result, item.msg.header, item.arrival, draw_overlay=draw_overlay
        )
        out.timings_ms['decode'] = decode_ms
        self.on_output(out._replace(tag=item.tag))

    def frame_output(
        self,
        frame: Any,
        result: Any,
        header: Any,
        arrival: Optional[float] = None,
        draw_overlay: Optional[bool] = None,
    ) -> FrameOutput:
        """
        Return the frame path after inference.

        Every output of one frame (the node publishes exactly these).

        ``frame``: the converted input image (a :class:`Frame`, or an H x W x 3 uint8 BGR array);
        ``result``: the pipeline's result for it (``detections``, ``image_size``, ``timings_ms``,
        optional ``segmentation``); ``header``: the input message's header (stamp and frame_id,
        used for the camera pose); ``arrival``: the frame's arrival time on ``clock`` (default:
        now). Computes person targets (where an upright person of ``person_height_m`` in each
        person box stands on the flat ground, with the camera pose at the header stamp:
        :func:`~vitedge_ros.geometry.person_ground.persons_on_ground`), obstacle bearings, the
        clear-path flag, the landing zone and the overlay, and counts the frame in the statistics.
        The bag replay calls this too, so what it measures is what the node publishes.
        ``draw_overlay``: None = ``publish_overlay`` and someone wants it.
        """
        if not isinstance(frame, Frame):
            frame = Frame(frame, 'bgr')
        if draw_overlay is None:
            draw_overlay = self.params.publish_overlay and not self._overlay_unwanted()
        arrival = self.clock() if arrival is None else float(arrival)
        detections = list(result.detections)
        width, height = (int(v) for v in result.image_size)
        p = self.params
        obstacles: Optional[List[ObstacleInfo]] = None
        clear: Optional[bool] = None
        targets: Optional[List[Tuple[float, float, float]]] = None
        camera = self.camera_for(width, height)
        pose = self._camera_pose(header) if p.target_frame and camera is not None else None
        if p.target_frame and camera is not None and pose is not None:
            persons = [d for d in detections if d.label == p.person_label]
            boxes = np.array([[float(v) for v in d.box] for d in persons]).reshape(-1, 4)
            pts = persons_on_ground(
                camera,
                boxes,
                pose,
                p.ground_z,
                p.person_height_m,
                max_range=p.max_target_range_m if p.max_target_range_m > 0 else None,
            )
            targets = [tuple(float(v) for v in pt) for pt in pts if np.isfinite(pt).all()]
        if p.publish_obstacles:
            clear = clear_path(
                detections,
                (width, height),
                p.clear_path_width_frac,
                p.clear_path_height_frac,
                p.obstacle_classes,
                p.clear_path_min_score,
            )
            if camera is not None:
                obstacles = obstacle_infos(
                    camera, detections, p.obstacle_classes, pose=pose, ground_z=p.ground_z
                )
        now = self.clock()
        with self._lock:
            self._processed += 1
            self._completions.append(now)
            self._pipeline_ms.append(float(result.timings_ms.get('total', float('nan'))))
            latency = (now - arrival) * 1000.0
            self._latency_ms.append(latency)
        seg = getattr(result, 'segmentation', None)
        zone: Optional[LandingZone] = None
        if seg is not None:
            names = self.label_names or [str(i) for i in range(int(seg.max()) + 1)]
            zone = landing_zone(
                seg, names, p.landing_zone_frac, p.landing_safe_classes, p.landing_min_safe_frac
            )
            with self._lock:
                self._last_zone = zone
        overlay = None
        if draw_overlay:
            region = (
                None
                if seg is not None
                else central_region(
                    (width, height), p.clear_path_width_frac, p.clear_path_height_frac
                )
            )
            overlay = render_frame(
                frame_to_bgr(frame),
                detections,
                self.label_names,
                segmentation=seg,
                fps=self._fps(self._completions, now),
                clear=clear if seg is None else None,
                region=region,
                zone=zone,
            )
        return FrameOutput(
            header,
            detections,
            (width, height),
            dict(result.timings_ms),
            latency,
            overlay,
            targets,
            p.target_frame,
            obstacles,
            clear,
            seg,
            zone,
        )

    def _overlay_unwanted(self) -> bool:
        if self.overlay_wanted is None:
            return False
        try:
            wanted = bool(self.overlay_wanted())
        except Exception:  # noqa: BLE001 - a failing subscriber count must not stop the frame path
            wanted = True
        if not wanted:
            with self._lock:
                self.overlays_skipped += 1
        return not wanted

    def _camera_pose(self, header: Any) -> Optional[CameraPose]:
        if self.pose_lookup is None:
            return None
        frame = str(getattr(header, 'frame_id', '')).lstrip('/')
        try:
            pose = self.pose_lookup(self.params.target_frame, frame, header.stamp)
        except Exception as exc:  # noqa: BLE001 - tf2 raises several exception types
            pose = None
            reason = '{}: {}'.format(type(exc).__name__, exc)
        else:
            reason = 'no transform'
        if pose is None:
            self._warn_throttled(
                ('tf', frame),
                'no camera pose {} -> {} for targets ({})'.format(
                    frame or '<empty frame_id>', self.params.target_frame, reason
                ),
            )
        return pose

    # ---------------------------------------------------------------------------------------------
    # stats
    def _fps(self, times: Deque[float], now: float, window_s: float = 5.0) -> float:
        recent = [t for t in list(times) if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(now - recent[0], 1e-9)

    def stats(self) -> Dict[str, Any]:
        """Counters and rates now (thread-safe snapshot)."""
        now = self.clock()
        w = self._worker.stats()
        with self._lock:
            return {
                'frames_received': self._received,
                'frames_processed': self._processed,
                'dropped_frames': w.dropped,
                'conversion_failures': sum(self._conversion_failures.values()),
                'conversion_failures_by_reason': dict(self._conversion_failures),
                'inference_failures': self._inference_failures,
                'output_failures': self._output_failures,
                'fps': self._fps(self._completions, now),
                'input_fps': self._fps(self._arrivals, now),
                'pipeline_ms_p50': _percentile(self._pipeline_ms, 50),
                'pipeline_ms_p95': _percentile(self._pipeline_ms, 95),
                'latency_ms_p50': _percentile(self._latency_ms, 50),
                'latency_ms_p95': _percentile(self._latency_ms, 95),
                'last_error': self._last_error,
                'worker_alive': self._worker.running,
                'camera_model': self._camera_info_model is not None,
                'seconds_since_start': now - self._start,
            }

    def diagnostics(self) -> Dict[str, Any]:
        """One DiagnosticStatus as a dict (see messages.build_diagnostic_array)."""
        s = self.stats()
        failures = s['conversion_failures'] + s['inference_failures'] + s['output_failures']
        new_failures = failures - self._failures_at_last_report
        self._failures_at_last_report = failures
        level, message = DIAG_OK, 'ok'
        if not s['worker_alive']:
            level, message = DIAG_ERROR, 'inference worker stopped'
        elif s['frames_received'] == 0:
            level, message = DIAG_WARN, 'no images received yet'
        elif new_failures:
            level, message = (
                DIAG_WARN,
                '{} frame(s) failed since the last report: {}'.format(
                    new_failures, s['last_error']
                ),
            )
        elif self.backend_fallback:
            level, message = (
                DIAG_WARN,
                'TensorRT not used, running on {}: {}'.format(
                    self.backend_name, self.backend_fallback
                ),
            )
        reasons = ', '.join(
            '{}={}'.format(k, v) for k, v in sorted(s['conversion_failures_by_reason'].items())
        )
        values = {
            'fps': s['fps'],
            'input_fps': s['input_fps'],
            'latency_p50_ms': s['latency_ms_p50'],
            'latency_p95_ms': s['latency_ms_p95'],
            'pipeline_p50_ms': s['pipeline_ms_p50'],
            'pipeline_p95_ms': s['pipeline_ms_p95'],
            'frames_received': s['frames_received'],
            'frames_processed': s['frames_processed'],
            'dropped_frames': s['dropped_frames'],
            'conversion_failures': s['conversion_failures'],
            'conversion_failure_reasons': reasons or 'none',
            'inference_failures': s['inference_failures'],
            'backend': self.backend_name,
            'bundle': self.bundle_name,
            'backend_reason': self.backend_reason or 'none',
            'backend_fallback': self.backend_fallback or 'none',
            'camera_model': 'camera_info'
            if s['camera_model']
            else ('assumed_hfov' if self.params.assumed_hfov_deg > 0 else 'none'),
        }
        with self._lock:
            zone = self._last_zone
        if zone is not None:  # segmentation bundles: the latest frame's landing-zone check
            values['landing_zone_safe'] = 'yes' if zone.safe else 'no'
            values['landing_zone_safe_fraction'] = zone.safe_fraction
            values['landing_zone_dominant'] = zone.dominant
            for name, frac in zone.fractions:
                values['landing_zone_fraction_' + name] = frac
        return {
            'name': self.DIAG_NAME,
            'level': level,
            'message': message,
            'hardware_id': self.backend_name,
            'values': values,
        }

    # ---------------------------------------------------------------------------------------------
    # lifecycle
    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Block until no frame is pending or in flight (tests, bag replay)."""
        return self._worker.wait_idle(timeout)

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop the worker (the frame in flight finishes); True when it ended in time."""
        return self._worker.stop(timeout)

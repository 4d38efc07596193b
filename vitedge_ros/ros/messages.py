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
Build and read vitedge_ros messages with either rclpy or rosbags message classes (no ROS import).

Every builder takes a ``types`` namespace whose attributes are message classes. The node passes the
rclpy classes (``vitedge_ros.ros.node.rclpy_types()``), tools pass the rosbags dataclasses
(``vitedge_ros.ros.rosbags_types.rosbags_types()[1]``). Every field is set by keyword because
rosbags dataclasses have no defaults. Attribute names a ``types`` namespace provides:

``Time, Header, Detection2DArray, Detection2D, ObjectHypothesisWithPose, ObjectHypothesis,
BoundingBox2D, Pose2D, Point2D, PoseWithCovariance, Pose, Point, Quaternion, PoseArray,
DiagnosticArray, DiagnosticStatus, KeyValue, Image, Classification, PointCloud2, PointField,
LabelInfo, VisionClass`` and ``byte`` (a callable turning an int
into the value of a ``byte`` field: ``int`` for rosbags, ``bytes([v])`` for rclpy).

Public API (stable):

``build_header(types, sec, nanosec, frame_id)`` ``stamp_to_sec(stamp) -> float``
``build_detection2d_array(detections, header, types) -> Detection2DArray``
``detection2d_array_to_detections(msg, labels=None) -> List[Detection]``
``build_obstacle_array(obstacles, header, types) -> Detection2DArray`` (pixel boxes, optical-frame
poses) ``build_obstacle_bearings(obstacles, header, types) -> PointCloud2`` (azimuth, elevation,
... per obstacle) ``build_verdict(verdict, header, types) -> Classification`` (stamped clear_path /
landing_zone/safe) ``read_verdict(msg, now_sec, max_age_s) -> Optional[str]`` (the staleness rule
of docs/ROS.md) ``build_label_info(labels, threshold, header, types) -> LabelInfo``
``build_pose_array(points, header, types) -> PoseArray`` ``build_diagnostic_array(statuses, header,
types) -> DiagnosticArray`` ``build_image(img, header, types, encoding='bgr8') -> Image``
``build_label_image(labels, header, types) -> Image`` (mono8 class ids of a segmentation)
``build_classification(pairs, header, types) -> Classification`` ((label, score) pairs, e.g. the
landing-zone class fractions; needs ``Classification`` in ``types``)

``detections`` are objects with ``class_id``, ``label``, ``score`` and ``box`` (x1, y1, x2, y2 in
input pixels), e.g. ``vitedge_ros.runtime.Detection``.
"""

from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..perception.diagnostics import DIAG_ERROR, DIAG_OK, DIAG_STALE, DIAG_WARN
from ..perception.image_conversion import bgr_to_image_fields, payload_bytes

__all__ = [
    'BEARING_FIELDS',
    'DIAG_OK',
    'DIAG_WARN',
    'DIAG_ERROR',
    'DIAG_STALE',
    'build_detection2d_array',
    'build_diagnostic_array',
    'build_header',
    'build_image',
    'build_obstacle_array',
    'build_obstacle_bearings',
    'build_pose_array',
    'detection2d_array_to_detections',
    'stamp_to_sec',
    'build_label_image',
    'build_classification',
    'build_label_info',
    'build_verdict',
    'read_verdict',
]


def _byte(types, value: int):
    conv = getattr(types, 'byte', None)
    return conv(int(value)) if conv is not None else int(value)


def build_header(types, sec: int, nanosec: int, frame_id: str):
    """std_msgs/Header with the given stamp and frame."""
    return types.Header(
        stamp=types.Time(sec=int(sec), nanosec=int(nanosec)), frame_id=str(frame_id)
    )


def stamp_to_sec(stamp) -> float:
    """Seconds of a builtin_interfaces/Time (``sec`` + ``nanosec``)."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def _identity_pose(
    types, x: float = 0.0, y: float = 0.0, z: float = 0.0, q: Sequence[float] = (0, 0, 0, 1)
):
    return types.Pose(
        position=types.Point(x=float(x), y=float(y), z=float(z)),
        orientation=types.Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])),
    )


def _pose_with_covariance(types, pose):
    return types.PoseWithCovariance(pose=pose, covariance=np.zeros(36, dtype=np.float64))


def _detection2d(
    types,
    header,
    label: str,
    score: float,
    cx: float,
    cy: float,
    sx: float,
    sy: float,
    pose=None,
    det_id: str = '',
):
    hyp = types.ObjectHypothesisWithPose(
        hypothesis=types.ObjectHypothesis(class_id=str(label), score=float(score)),
        pose=_pose_with_covariance(types, pose if pose is not None else _identity_pose(types)),
    )
    bbox = types.BoundingBox2D(
        center=types.Pose2D(position=types.Point2D(x=float(cx), y=float(cy)), theta=0.0),
        size_x=float(sx),
        size_y=float(sy),
    )
    return types.Detection2D(header=header, results=[hyp], bbox=bbox, id=str(det_id))


def build_detection2d_array(detections: Iterable[Any], header, types):
    """
    vision_msgs/Detection2DArray of ``detections`` with the input image's ``header``.

    Each Detection2D copies ``header``, carries one hypothesis (``class_id`` = the label string,
    ``score``), an identity pose with zero covariance, and ``bbox`` centre/size in input-image
    pixels (``theta`` 0). ``id`` is empty: the node does not track objects.
    """
    out = []
    for det in detections:
        x1, y1, x2, y2 = (float(v) for v in det.box)
        out.append(
            _detection2d(
                types,
                header,
                det.label,
                det.score,
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0,
                x2 - x1,
                y2 - y1,
            )
        )
    return types.Detection2DArray(header=header, detections=out)


def detection2d_array_to_detections(msg, labels: Optional[Sequence[str]] = None) -> List[Any]:
    """
    Inverse of ``build_detection2d_array``: a list of ``vitedge_ros.runtime.Detection``.

    The best-scoring hypothesis of each Detection2D gives label and score. ``class_id`` is the
    label's index in ``labels`` when given (-1 if absent); without ``labels`` a numeric
    ``class_id`` string is used as the index, else -1. Detections without hypotheses get label
    ``''`` and score 1.0 (ground truth written by other tools).
    """
    from vitedge_ros.runtime.detection import Detection

    index = {name: i for i, name in enumerate(labels)} if labels is not None else None
    out = []
    for det in msg.detections:
        label, score = '', 1.0
        if len(det.results):
            best = max(det.results, key=lambda r: float(r.hypothesis.score))
            label, score = str(best.hypothesis.class_id), float(best.hypothesis.score)
        if index is not None:
            class_id = index.get(label, -1)
        else:
            class_id = int(label) if label.strip().lstrip('-').isdigit() else -1
        cx, cy = float(det.bbox.center.position.x), float(det.bbox.center.position.y)
        sx, sy = float(det.bbox.size_x), float(det.bbox.size_y)
        box = (cx - sx / 2.0, cy - sy / 2.0, cx + sx / 2.0, cy + sy / 2.0)
        out.append(Detection(class_id=class_id, label=label, score=score, box=box))
    return out


def build_obstacle_array(obstacles: Iterable[Any], header, types):
    """
    vision_msgs/Detection2DArray of obstacles: pixel boxes, poses in the header's (optical) frame.

    ``obstacles`` are ``vitedge_ros.geometry.obstacles.ObstacleInfo``-like objects (``label``,
    ``score``, ``box`` (x1, y1, x2, y2) in input pixels, ``azimuth``/``elevation`` in radians,
    optional ``range_m``). ``header`` is the input image's header, whose ``frame_id`` is the camera
    optical frame (x right, y down, z forward; sensor_msgs/CameraInfo, REP 103/105). Per
    Detection2D:

    - ``bbox``: centre and size in input-image **pixels**, as vision_msgs/BoundingBox2D defines it;
    - one hypothesis (``class_id`` = label, ``score``) whose ``pose`` is expressed in the header's
      frame: the orientation turns the optical +z axis onto the bearing of the box centre
      (:func:`vitedge_ros.geometry.obstacles.bearing_quaternion`); the position is ``range_m``
      metres along that ray when a flat-ground range is known. Without a range the position is the
      origin and ``covariance[0]`` is -1: "no position estimate", the convention sensor_msgs/Imu
      uses for a missing estimate (only the direction is known).

    The angles themselves (azimuth, elevation, angular size) are published alongside by
    :func:`build_obstacle_bearings`, one point per detection in the same order.
    """
    from vitedge_ros.geometry.obstacles import bearing_quaternion, bearing_ray

    out = []
    for ob in obstacles:
        q = bearing_quaternion(ob.azimuth, ob.elevation)
        rng = getattr(ob, 'range_m', None)
        covariance = np.zeros(36, dtype=np.float64)
        if rng is not None and np.isfinite(rng):
            pos = float(rng) * bearing_ray(ob.azimuth, ob.elevation)
        else:
            pos = np.zeros(3)
            covariance[0] = -1.0
        pose = types.PoseWithCovariance(
            pose=_identity_pose(types, pos[0], pos[1], pos[2], q), covariance=covariance
        )
        x1, y1, x2, y2 = (float(v) for v in ob.box)
        hyp = types.ObjectHypothesisWithPose(
            hypothesis=types.ObjectHypothesis(class_id=str(ob.label), score=float(ob.score)),
            pose=pose,
        )
        bbox = types.BoundingBox2D(
            center=types.Pose2D(
                position=types.Point2D(x=(x1 + x2) / 2.0, y=(y1 + y2) / 2.0), theta=0.0
            ),
            size_x=x2 - x1,
            size_y=y2 - y1,
        )
        out.append(types.Detection2D(header=header, results=[hyp], bbox=bbox, id=''))
    return types.Detection2DArray(header=header, detections=out)


#: Fields of the ``obstacles/bearings`` PointCloud2: (name, numpy type, sensor_msgs/PointField
#: datatype).
BEARING_FIELDS = (
    ('x', '<f4', 7),
    ('y', '<f4', 7),
    ('z', '<f4', 7),  # metres, optical frame; NaN: no range
    ('azimuth', '<f4', 7),
    ('elevation', '<f4', 7),  # radians, camera FLU: left, up positive
    ('angular_width', '<f4', 7),
    ('angular_height', '<f4', 7),  # radians
    ('range', '<f4', 7),  # metres to the ground contact; NaN: unknown
    ('score', '<f4', 7),
    ('class_id', '<i4', 5),  # detection score; index into the labels
)


def build_obstacle_bearings(obstacles: Sequence[Any], header, types):
    """
    sensor_msgs/PointCloud2 with one point per obstacle.

    In the order of :func:`build_obstacle_array`.

    A self-describing, stamped record of the bearings (the header is the input image's: optical
    frame and stamp). Fields, little-endian, 40 bytes a point (``BEARING_FIELDS``): ``x, y, z``
    float32 metres in the optical frame, the point ``range`` metres along the box-centre ray (NaN
    when no range is known, so the cloud is not dense); ``azimuth`` and ``elevation`` float32
    radians in the camera's FLU convention (azimuth positive to the left, elevation positive up,
    see ``vitedge_ros.geometry.obstacles``); ``angular_width`` and ``angular_height`` float32
    radians; ``range`` float32 metres (NaN: unknown); ``score`` float32; ``class_id`` int32, the
    label's index in the bundle labels (as in ``label_info``; -1 unknown). Read it with
    ``sensor_msgs_py.point_cloud2.read_points(msg, field_names=('azimuth', 'elevation'))``.
    PointField datatypes: FLOAT32 = 7, INT32 = 5 (sensor_msgs/PointField).
    """
    from vitedge_ros.geometry.obstacles import bearing_ray

    dtype = np.dtype([(name, fmt) for name, fmt, _ in BEARING_FIELDS])
    obs = list(obstacles)
    rows = np.zeros(len(obs), dtype=dtype)
    for i, ob in enumerate(obs):
        rng = getattr(ob, 'range_m', None)
        rng = float(rng) if rng is not None and np.isfinite(rng) else float('nan')
        xyz = rng * bearing_ray(ob.azimuth, ob.elevation)
        rows[i] = (
            xyz[0],
            xyz[1],
            xyz[2],
            ob.azimuth,
            ob.elevation,
            ob.angular_width,
            ob.angular_height,
            rng,
            ob.score,
            int(getattr(ob, 'class_id', -1)),
        )
    fields = [
        types.PointField(name=name, offset=int(dtype.fields[name][1]), datatype=int(code), count=1)
        for name, _, code in BEARING_FIELDS
    ]
    data = rows.tobytes()
    conv = getattr(types, 'image_data', None)
    return types.PointCloud2(
        header=header,
        height=1,
        width=len(obs),
        fields=fields,
        is_bigendian=False,
        point_step=int(dtype.itemsize),
        row_step=int(dtype.itemsize) * len(obs),
        data=conv(data) if conv is not None else np.frombuffer(data, dtype=np.uint8).copy(),
        is_dense=bool(np.isfinite(rows['range']).all()),
    )


def build_verdict(verdict: str, header, types, score: float = 1.0):
    """
    vision_msgs/Classification carrying one stamped verdict.

    ``clear_path``, ``landing_zone/safe``.

    One ObjectHypothesis: ``class_id`` = the verdict (``clear`` / ``blocked``, ``safe`` /
    ``unsafe``), ``score`` = 1.0 (the node's rule decided it; not a probability). ``header`` is the
    input image's, so a consumer can tell a fresh verdict from a stale one (see
    :func:`read_verdict`). std_msgs has no stamped Bool; Classification is the stamped "label of
    this image (region)" message of vision_msgs.
    """
    return types.Classification(
        header=header, results=[types.ObjectHypothesis(class_id=str(verdict), score=float(score))]
    )


def read_verdict(msg, now_sec: float, max_age_s: float) -> Optional[str]:
    """
    Return the verdict of a :func:`build_verdict` message, or None when it is stale.

    From the future or empty.

    The staleness rule of docs/ROS.md: a verdict counts only while ``now_sec - stamp <= max_age_s``
    (same clock as the stamps: sim time with bags); None means "no verdict", which a consumer
    treats as not clear / not safe. A stamp more than ``max_age_s`` ahead of ``now_sec`` is refused
    too.
    """
    if not len(msg.results):
        return None
    age = float(now_sec) - stamp_to_sec(msg.header.stamp)
    if abs(age) > float(max_age_s):
        return None
    return str(msg.results[0].class_id)


def build_label_info(labels: Sequence[str], threshold: float, header, types):
    """
    vision_msgs/LabelInfo (vision_msgs >= 4.1).

    ``class_map`` = (index, label) of the bundle's labels.

    The indices are those of the ``class_id`` field of ``obstacles/bearings`` and the pixel values
    of the ``segmentation`` label image; ``threshold`` is the score threshold in use (0 for
    segmenters).
    """
    class_map = [
        types.VisionClass(class_id=int(i), class_name=str(name)) for i, name in enumerate(labels)
    ]
    return types.LabelInfo(header=header, class_map=class_map, threshold=float(threshold))


def build_pose_array(points: Iterable[Sequence[float]], header, types):
    """geometry_msgs/PoseArray with one identity-oriented pose per (x, y, z) point."""
    poses = [_identity_pose(types, p[0], p[1], p[2]) for p in points]
    return types.PoseArray(header=header, poses=poses)


def build_diagnostic_array(statuses: Iterable[Dict[str, Any]], header, types):
    """
    diagnostic_msgs/DiagnosticArray from dicts.

    Each dict has ``name``, ``level`` (``DIAG_OK``..``DIAG_STALE``), ``message``, ``hardware_id``
    and ``values`` (a mapping; values are formatted with ``str``, floats with 3 decimals).
    """
    out = []
    for st in statuses:
        values = []
        for key, val in dict(st.get('values', {})).items():
            text = '{:.3f}'.format(val) if isinstance(val, float) else str(val)
            values.append(types.KeyValue(key=str(key), value=text))
        out.append(
            types.DiagnosticStatus(
                level=_byte(types, st.get('level', DIAG_OK)),
                name=str(st['name']),
                message=str(st.get('message', '')),
                hardware_id=str(st.get('hardware_id', '')),
                values=values,
            )
        )
    return types.DiagnosticArray(header=header, status=out)


def build_image(img: np.ndarray, header, types, encoding: str = 'bgr8'):
    """sensor_msgs/Image of a uint8 BGR (or gray) array; ``data`` typed as each library expects."""
    fields = bgr_to_image_fields(img, encoding)
    data = fields.pop('data')
    conv = getattr(types, 'image_data', None)
    fields['data'] = conv(data) if conv is not None else payload_bytes(data).copy()
    return types.Image(header=header, **fields)


def build_label_image(labels: np.ndarray, header, types):
    """
    sensor_msgs/Image ``mono8`` whose pixel values are class ids (a segmentation label map).

    Class ids above 255 cannot be represented and raise ``ValueError``.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError(
            'build_label_image needs an HxW label map, got shape {}'.format(arr.shape)
        )
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError('build_label_image: class ids must be in [0, 255]')
        arr = arr.astype(np.uint8)
    return build_image(arr, header, types, encoding='mono8')


def build_classification(pairs: Iterable[Sequence[Any]], header, types):
    """
    Build a vision_msgs/Classification with one ObjectHypothesis per (label, score) pair.

    Each hypothesis has ``class_id`` = label and ``score``.
    """
    results = [
        types.ObjectHypothesis(class_id=str(label), score=float(score)) for label, score in pairs
    ]
    return types.Classification(header=header, results=results)

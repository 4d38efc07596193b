"""Build and read vitedge_ros messages with either rclpy or rosbags message classes (no ROS import).

Every builder takes a ``types`` namespace whose attributes are message classes. The node passes the
rclpy classes (``vitedge_ros.ros.node.rclpy_types()``), tools pass the rosbags dataclasses
(``vitedge_ros.ros.rosbags_types.rosbags_types()[1]``). Every field is set by keyword because
rosbags dataclasses have no defaults. Attribute names a ``types`` namespace provides:

``Time, Header, Detection2DArray, Detection2D, ObjectHypothesisWithPose, ObjectHypothesis,
BoundingBox2D, Pose2D, Point2D, PoseWithCovariance, Pose, Point, Quaternion, PoseArray,
DiagnosticArray, DiagnosticStatus, KeyValue, Image, Bool`` and ``byte`` (a callable turning an int
into the value of a ``byte`` field: ``int`` for rosbags, ``bytes([v])`` for rclpy).

Public API (stable):

``build_header(types, sec, nanosec, frame_id)``
``stamp_to_sec(stamp) -> float``
``build_detection2d_array(detections, header, types) -> Detection2DArray``
``detection2d_array_to_detections(msg, labels=None) -> List[Detection]``
``build_obstacle_array(obstacles, header, types) -> Detection2DArray`` (angular units, see docs/ROS.md)
``build_pose_array(points, header, types) -> PoseArray``
``build_diagnostic_array(statuses, header, types) -> DiagnosticArray``
``build_image(img, header, types, encoding='bgr8') -> Image``
``build_label_image(labels, header, types) -> Image`` (mono8 class ids of a segmentation)
``build_classification(pairs, header, types) -> Classification`` ((label, score) pairs, e.g. the
landing-zone class fractions; needs ``Classification`` in ``types``)

``detections`` are objects with ``class_id``, ``label``, ``score`` and ``box`` (x1, y1, x2, y2 in input
pixels), e.g. ``vitedge_ros.runtime.Detection``.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from .image_conversion import bgr_to_image_fields, payload_bytes

__all__ = [
    'DIAG_OK', 'DIAG_WARN', 'DIAG_ERROR', 'DIAG_STALE', 'build_detection2d_array', 'build_diagnostic_array',
    'build_header', 'build_image', 'build_obstacle_array', 'build_pose_array', 'detection2d_array_to_detections',
    'stamp_to_sec', 'build_label_image', 'build_classification',
]

DIAG_OK, DIAG_WARN, DIAG_ERROR, DIAG_STALE = 0, 1, 2, 3


def _byte(types, value: int):
    conv = getattr(types, 'byte', None)
    return conv(int(value)) if conv is not None else int(value)


def build_header(types, sec: int, nanosec: int, frame_id: str):
    """std_msgs/Header with the given stamp and frame."""
    return types.Header(stamp=types.Time(sec=int(sec), nanosec=int(nanosec)), frame_id=str(frame_id))


def stamp_to_sec(stamp) -> float:
    """Seconds of a builtin_interfaces/Time (``sec`` + ``nanosec``)."""
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def _identity_pose(types, x: float = 0.0, y: float = 0.0, z: float = 0.0, q: Sequence[float] = (0, 0, 0, 1)):
    return types.Pose(position=types.Point(x=float(x), y=float(y), z=float(z)),
                      orientation=types.Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def _pose_with_covariance(types, pose):
    return types.PoseWithCovariance(pose=pose, covariance=np.zeros(36, dtype=np.float64))


def _detection2d(types, header, label: str, score: float, cx: float, cy: float, sx: float, sy: float,
                 pose=None, det_id: str = ''):
    hyp = types.ObjectHypothesisWithPose(
        hypothesis=types.ObjectHypothesis(class_id=str(label), score=float(score)),
        pose=_pose_with_covariance(types, pose if pose is not None else _identity_pose(types)))
    bbox = types.BoundingBox2D(center=types.Pose2D(position=types.Point2D(x=float(cx), y=float(cy)), theta=0.0),
                               size_x=float(sx), size_y=float(sy))
    return types.Detection2D(header=header, results=[hyp], bbox=bbox, id=str(det_id))


def build_detection2d_array(detections: Iterable[Any], header, types):
    """vision_msgs/Detection2DArray of ``detections`` with the input image's ``header``.

    Each Detection2D copies ``header``, carries one hypothesis (``class_id`` = the label string,
    ``score``), an identity pose with zero covariance, and ``bbox`` centre/size in input-image pixels
    (``theta`` 0). ``id`` is empty: the node does not track objects.
    """
    out = []
    for det in detections:
        x1, y1, x2, y2 = (float(v) for v in det.box)
        out.append(_detection2d(types, header, det.label, det.score, (x1 + x2) / 2.0, (y1 + y2) / 2.0,
                                x2 - x1, y2 - y1))
    return types.Detection2DArray(header=header, detections=out)


def detection2d_array_to_detections(msg, labels: Optional[Sequence[str]] = None) -> List[Any]:
    """Inverse of ``build_detection2d_array``: a list of ``vitedge_ros.runtime.Detection``.

    The best-scoring hypothesis of each Detection2D gives label and score. ``class_id`` is the label's
    index in ``labels`` when given (-1 if absent); without ``labels`` a numeric ``class_id`` string is
    used as the index, else -1. Detections without hypotheses get label ``''`` and score 1.0 (ground
    truth written by other tools).
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
    """vision_msgs/Detection2DArray of obstacles in angular units (camera FLU convention).

    ``obstacles`` are ``vitedge_ros.geometry.obstacles.ObstacleInfo``-like objects (``label``, ``score``,
    ``azimuth``, ``elevation``, ``angular_width``, ``angular_height`` in radians, optional ``range_m``).
    Per Detection2D: ``bbox.center.position.x`` = azimuth (positive left), ``.y`` = elevation (positive
    up), ``bbox.size_x``/``size_y`` = angular width/height, all radians; the hypothesis pose holds the
    bearing as an orientation (yaw = azimuth, pitch = -elevation about the camera's FLU axes) and, when
    a flat-ground range is known, the position ``range_m`` along that ray (else the origin).
    """
    from vitedge_ros.geometry.projection import quat_from_euler

    out = []
    for ob in obstacles:
        q = quat_from_euler(0.0, -float(ob.elevation), float(ob.azimuth))
        rng = getattr(ob, 'range_m', None)
        pos = (0.0, 0.0, 0.0)
        if rng is not None and np.isfinite(rng):
            ce = np.cos(ob.elevation)
            pos = (rng * ce * np.cos(ob.azimuth), rng * ce * np.sin(ob.azimuth), rng * np.sin(ob.elevation))
        pose = _identity_pose(types, pos[0], pos[1], pos[2], q)
        out.append(_detection2d(types, header, ob.label, ob.score, ob.azimuth, ob.elevation, ob.angular_width,
                                ob.angular_height, pose=pose))
    return types.Detection2DArray(header=header, detections=out)


def build_pose_array(points: Iterable[Sequence[float]], header, types):
    """geometry_msgs/PoseArray with one identity-oriented pose per (x, y, z) point."""
    poses = [_identity_pose(types, p[0], p[1], p[2]) for p in points]
    return types.PoseArray(header=header, poses=poses)


def build_diagnostic_array(statuses: Iterable[Dict[str, Any]], header, types):
    """diagnostic_msgs/DiagnosticArray from dicts.

    Each dict has ``name``, ``level`` (``DIAG_OK``..``DIAG_STALE``), ``message``, ``hardware_id`` and
    ``values`` (a mapping; values are formatted with ``str``, floats with 3 decimals).
    """
    out = []
    for st in statuses:
        values = []
        for key, val in dict(st.get('values', {})).items():
            text = '{:.3f}'.format(val) if isinstance(val, float) else str(val)
            values.append(types.KeyValue(key=str(key), value=text))
        out.append(types.DiagnosticStatus(level=_byte(types, st.get('level', DIAG_OK)), name=str(st['name']),
                                          message=str(st.get('message', '')),
                                          hardware_id=str(st.get('hardware_id', '')), values=values))
    return types.DiagnosticArray(header=header, status=out)


def build_image(img: np.ndarray, header, types, encoding: str = 'bgr8'):
    """sensor_msgs/Image of a uint8 BGR (or gray) array; ``data`` typed as each library expects."""
    fields = bgr_to_image_fields(img, encoding)
    data = fields.pop('data')
    conv = getattr(types, 'image_data', None)
    fields['data'] = conv(data) if conv is not None else payload_bytes(data).copy()
    return types.Image(header=header, **fields)


def build_label_image(labels: np.ndarray, header, types):
    """sensor_msgs/Image ``mono8`` whose pixel values are class ids (a segmentation label map).

    Class ids above 255 cannot be represented and raise ``ValueError``.
    """
    arr = np.asarray(labels)
    if arr.ndim != 2:
        raise ValueError('build_label_image needs an HxW label map, got shape {}'.format(arr.shape))
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError('build_label_image: class ids must be in [0, 255]')
        arr = arr.astype(np.uint8)
    return build_image(arr, header, types, encoding='mono8')


def build_classification(pairs: Iterable[Sequence[Any]], header, types):
    """vision_msgs/Classification with one ObjectHypothesis (``class_id`` = label, ``score``) per pair."""
    results = [types.ObjectHypothesis(class_id=str(label), score=float(score)) for label, score in pairs]
    return types.Classification(header=header, results=results)

"""rosbags typestore for ROS 2 Humble with vision_msgs registered, and a ``types`` namespace.

Public API (stable; used by tests and ``tools/eval_bag.py``)::

    typestore, types = rosbags_types()
    msg = messages.build_detection2d_array(dets, header, types)
    raw = typestore.serialize_cdr(msg, msg.__msgtype__)
    back = typestore.deserialize_cdr(raw, 'vision_msgs/msg/Detection2DArray')

``VISION_MSGS`` lists the vision_msgs types registered; their definitions (vision_msgs 4.1.1,
Apache-2.0) are carried in ``vitedge_ros/ros/msg/vision_msgs/``.
"""
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Tuple

__all__ = ['MSG_DIR', 'VISION_MSGS', 'rosbags_types', 'vision_msgs_definitions']

MSG_DIR = Path(__file__).resolve().parent / 'msg' / 'vision_msgs'
VISION_MSGS = ('Point2D', 'Pose2D', 'VisionClass', 'LabelInfo', 'BoundingBox2D', 'ObjectHypothesis',
               'ObjectHypothesisWithPose', 'Detection2D', 'Detection2DArray', 'Classification')


def vision_msgs_definitions() -> Dict[str, str]:
    """Map ``vision_msgs/msg/<Name>`` to the text of its .msg file."""
    out = {}
    for name in VISION_MSGS:
        path = MSG_DIR / (name + '.msg')
        if not path.is_file():
            raise FileNotFoundError('vision_msgs definition missing: {} (package data not installed?)'.format(path))
        out['vision_msgs/msg/' + name] = path.read_text(encoding='utf-8')
    return out


def rosbags_types() -> Tuple[Any, SimpleNamespace]:
    """Return ``(typestore, types)``: a Humble typestore with vision_msgs, and the builders' namespace.

    A new typestore is made on each call (callers may register more types on it).
    """
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    typs = {}
    for name, text in vision_msgs_definitions().items():
        typs.update(get_types_from_msg(text, name))
    store.register(typs)
    t = store.types
    ns = SimpleNamespace(
        Time=t['builtin_interfaces/msg/Time'], Header=t['std_msgs/msg/Header'], Bool=t['std_msgs/msg/Bool'],
        Image=t['sensor_msgs/msg/Image'], CompressedImage=t['sensor_msgs/msg/CompressedImage'],
        CameraInfo=t['sensor_msgs/msg/CameraInfo'], RegionOfInterest=t['sensor_msgs/msg/RegionOfInterest'],
        Point=t['geometry_msgs/msg/Point'], Quaternion=t['geometry_msgs/msg/Quaternion'],
        Pose=t['geometry_msgs/msg/Pose'], PoseWithCovariance=t['geometry_msgs/msg/PoseWithCovariance'],
        PoseArray=t['geometry_msgs/msg/PoseArray'],
        PointCloud2=t['sensor_msgs/msg/PointCloud2'], PointField=t['sensor_msgs/msg/PointField'],
        DiagnosticArray=t['diagnostic_msgs/msg/DiagnosticArray'],
        DiagnosticStatus=t['diagnostic_msgs/msg/DiagnosticStatus'], KeyValue=t['diagnostic_msgs/msg/KeyValue'],
        byte=int,
    )
    for name in VISION_MSGS:
        setattr(ns, name, t['vision_msgs/msg/' + name])
    return store, ns

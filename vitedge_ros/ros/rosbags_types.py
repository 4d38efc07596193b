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
rosbags typestore for ROS 2 Humble with vision_msgs registered, and a ``types`` namespace.

Public API (stable; used by tests and ``tools/eval_bag.py``)::

    typestore, types = rosbags_types()
    msg = messages.build_detection2d_array(dets, header, types)
    raw = typestore.serialize_cdr(msg, msg.__msgtype__)
    back = typestore.deserialize_cdr(raw, 'vision_msgs/msg/Detection2DArray')

``VISION_MSGS`` lists the vision_msgs types registered; their definitions (vision_msgs 4.1.1,
Apache-2.0) are carried in ``vitedge_ros/ros/msg/vision_msgs/``. The Detection2DArray definitions
of the older releases are carried too (``msg/vision_msgs_foxy/``: 2.0.0, ROS 2 Foxy;
``msg/vision_msgs_galactic/``: 3.0.2, ROS 2 Galactic; copied from the ``foxy`` and ``galactic``
branches of https://github.com/ros-perception/vision_msgs): ``vision_msgs_typestore('foxy')`` reads
ground truth recorded with them from bags that carry no definitions.
"""

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Tuple

__all__ = [
    'LEGACY_VISION_MSGS',
    'MSG_DIR',
    'VISION_MSGS',
    'VISION_MSGS_RELEASES',
    'rosbags_types',
    'vision_msgs_definitions',
    'vision_msgs_typestore',
]

MSG_DIR = Path(__file__).resolve().parent / 'msg' / 'vision_msgs'
VISION_MSGS = (
    'Point2D',
    'Pose2D',
    'VisionClass',
    'LabelInfo',
    'BoundingBox2D',
    'ObjectHypothesis',
    'ObjectHypothesisWithPose',
    'Detection2D',
    'Detection2DArray',
    'Classification',
)
#: The messages of a Detection2DArray in the older vision_msgs releases carried here.
LEGACY_VISION_MSGS = {
    'foxy': ('BoundingBox2D', 'ObjectHypothesisWithPose', 'Detection2D', 'Detection2DArray'),
    'galactic': (
        'BoundingBox2D',
        'ObjectHypothesis',
        'ObjectHypothesisWithPose',
        'Detection2D',
        'Detection2DArray',
    ),
}
#: ROS 2 distribution -> vision_msgs release whose definitions are carried for it.
VISION_MSGS_RELEASES = {'foxy': '2.0.0', 'galactic': '3.0.2', 'humble': '4.1.1'}


def vision_msgs_definitions(distro: str = 'humble') -> Dict[str, str]:
    """
    Map ``vision_msgs/msg/<Name>`` to the text of its .msg file for ``distro``.

    ``distro``: humble, galactic or foxy.

    Raises
    ------
        ValueError: a distribution whose definitions are not carried.
        FileNotFoundError: the package data is missing.

    """
    if distro == 'humble':
        folder, names = MSG_DIR, VISION_MSGS
    elif distro in LEGACY_VISION_MSGS:
        folder, names = MSG_DIR.with_name('vision_msgs_' + distro), LEGACY_VISION_MSGS[distro]
    else:
        raise ValueError(
            'vision_msgs definitions for {!r} are not carried (have: {})'.format(
                distro, ', '.join(sorted(VISION_MSGS_RELEASES))
            )
        )
    out = {}
    for name in names:
        path = folder / (name + '.msg')
        if not path.is_file():
            raise FileNotFoundError(
                'vision_msgs definition missing: {} (package data not installed?)'.format(path)
            )
        out['vision_msgs/msg/' + name] = path.read_text(encoding='utf-8')
    return out


def rosbags_types() -> Tuple[Any, SimpleNamespace]:
    """
    Return ``(typestore, types)``: a Humble typestore with vision_msgs and the builders' namespace.

    A new typestore is made on each call (callers may register more types on it).
    """
    store = vision_msgs_typestore('humble')
    t = store.types
    ns = SimpleNamespace(
        Time=t['builtin_interfaces/msg/Time'],
        Header=t['std_msgs/msg/Header'],
        Bool=t['std_msgs/msg/Bool'],
        Image=t['sensor_msgs/msg/Image'],
        CompressedImage=t['sensor_msgs/msg/CompressedImage'],
        CameraInfo=t['sensor_msgs/msg/CameraInfo'],
        RegionOfInterest=t['sensor_msgs/msg/RegionOfInterest'],
        Point=t['geometry_msgs/msg/Point'],
        Quaternion=t['geometry_msgs/msg/Quaternion'],
        Pose=t['geometry_msgs/msg/Pose'],
        PoseWithCovariance=t['geometry_msgs/msg/PoseWithCovariance'],
        PoseArray=t['geometry_msgs/msg/PoseArray'],
        PointCloud2=t['sensor_msgs/msg/PointCloud2'],
        PointField=t['sensor_msgs/msg/PointField'],
        DiagnosticArray=t['diagnostic_msgs/msg/DiagnosticArray'],
        DiagnosticStatus=t['diagnostic_msgs/msg/DiagnosticStatus'],
        KeyValue=t['diagnostic_msgs/msg/KeyValue'],
        TFMessage=t['tf2_msgs/msg/TFMessage'],
        TransformStamped=t['geometry_msgs/msg/TransformStamped'],
        Transform=t['geometry_msgs/msg/Transform'],
        Vector3=t['geometry_msgs/msg/Vector3'],
        byte=int,
    )
    for name in VISION_MSGS:
        setattr(ns, name, t['vision_msgs/msg/' + name])
    return store, ns


def vision_msgs_typestore(distro: str) -> Any:
    """
    Return a rosbags typestore of ROS 2 ``distro`` with that distribution's vision_msgs registered.

    ``distro`` is ``humble`` (vision_msgs 4.1.1), ``galactic`` (3.0.2) or ``foxy`` (2.0.0); see
    ``VISION_MSGS_RELEASES``.

    Raises
    ------
        ValueError: a distribution whose definitions are not carried.

    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    stores = {
        'humble': Stores.ROS2_HUMBLE,
        'galactic': Stores.ROS2_GALACTIC,
        'foxy': Stores.ROS2_FOXY,
    }
    if distro not in stores:
        raise ValueError(
            'vision_msgs definitions for {!r} are not carried (have: {})'.format(
                distro, ', '.join(sorted(stores))
            )
        )
    store = get_typestore(stores[distro])
    typs = {}
    for name, text in vision_msgs_definitions(distro).items():
        typs.update(get_types_from_msg(text, name))
    store.register(typs)
    return store

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
Entry point of ``ros2 run vitedge_ros vitedge_node``.

Check the ROS 2 installation, then run the node.

vitedge_node is written for ROS 2 **Humble** (declared in package.xml: ``vision_msgs`` >= 4.0). On
an older distribution importing the node fails deep inside (vision_msgs 2.x/3.x of Foxy and
Galactic have no ``Point2D``, no ``Pose2D.position`` and, in Foxy, no ``Classification``; Foxy's
``ParameterDescriptor`` has no ``dynamic_typing``). :func:`check_ros_environment` looks for exactly
the interfaces the node uses, without importing rclpy (``vitedge_ros.ros.node`` stays the only
rclpy user), and :func:`main` prints one line naming what is missing and exits 1 instead of an
ImportError traceback.

Interface facts checked (sources): vision_msgs 4.0.0 added ``Point2D`` and ``Pose2D {Point2D
position, float64 theta}`` and ``BoundingBox2D.center`` became ``vision_msgs/Pose2D``
(github.com/ros-perception/vision_msgs, tags 3.0.2 and 4.0.0); ``Classification`` exists since 3.0;
``rcl_interfaces/ParameterDescriptor.dynamic_typing`` since Galactic (a Foxy installation is
recognised by its absence, before rclpy is imported).
"""

import importlib
import importlib.util
import os
import sys
from typing import Any, Callable, List, Optional

__all__ = ['SUPPORTED', 'check_ros_environment', 'main']

#: What the node supports, for the message.
SUPPORTED = 'ROS 2 Humble (vision_msgs >= 4.0)'


def _fields(cls: Any) -> Optional[List[str]]:
    """
    Field names of a ROS message class, or None when they cannot be listed.

    rclpy classes have the classmethod ``get_fields_and_field_types`` (rosidl_python humble,
    ``rosidl_generator_py/resource/_msg.py.em``); rosbags classes are dataclasses; else
    ``__slots__``.
    """
    getter = getattr(cls, 'get_fields_and_field_types', None)
    if callable(getter):
        return list(getter())
    dc = getattr(cls, '__dataclass_fields__', None)
    if dc is not None:
        return list(dc)
    slots = getattr(cls, '__slots__', None)
    if slots:
        return [s.lstrip('_') for s in slots]
    return None


def check_ros_environment(
    import_module: Callable[[str], Any] = importlib.import_module,
) -> List[str]:
    """
    Return the problems that stop vitedge_node on this installation (empty: fine).

    Each problem is a short phrase naming the package and the missing piece; ``import_module`` is
    injectable for tests. rclpy is only located (``importlib.util.find_spec``), never imported.
    """
    problems = []
    try:
        found = importlib.util.find_spec('rclpy') is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return [
            'rclpy is not importable (source /opt/ros/humble/setup.bash and the workspace '
            'install/setup.bash)'
        ]
    try:
        vision = import_module('vision_msgs.msg')
    except ImportError as exc:
        return [
            'vision_msgs is not installed ({}; apt install ros-humble-vision-msgs)'.format(exc)
        ]
    missing = [
        n
        for n in (
            'Point2D',
            'Pose2D',
            'BoundingBox2D',
            'Classification',
            'ObjectHypothesis',
            'ObjectHypothesisWithPose',
            'Detection2D',
            'Detection2DArray',
        )
        if not hasattr(vision, n)
    ]
    if missing:
        problems.append(
            'vision_msgs has no {} (vision_msgs < 4.0: Foxy ships 2.x, Galactic 3.x)'.format(
                ', '.join(missing)
            )
        )
    else:
        pose_fields = _fields(vision.Pose2D)
        if pose_fields is not None and 'position' not in pose_fields:
            problems.append('vision_msgs/Pose2D has no position field (vision_msgs < 4.0)')
    try:
        rcl = import_module('rcl_interfaces.msg')
    except ImportError as exc:
        problems.append('rcl_interfaces is not importable ({})'.format(exc))
    else:
        desc = getattr(rcl, 'ParameterDescriptor', None)
        fields = _fields(desc) if desc is not None else []
        if fields is not None and 'dynamic_typing' not in fields:
            problems.append(
                'rcl_interfaces/ParameterDescriptor has no dynamic_typing (ROS 2 older than '
                'Galactic)'
            )
    return problems


def main(args: Optional[List[str]] = None) -> int:
    """
    Check the installation, then run ``vitedge_ros.ros.node.main``.

    1 with one line when unsupported.
    """
    problems = check_ros_environment()
    if problems:
        distro = os.environ.get('ROS_DISTRO', '') or 'unknown'
        print(
            'vitedge_node: unsupported ROS 2 installation (ROS_DISTRO={}): {}; vitedge_ros '
            'supports {}'.format(distro, '; '.join(problems), SUPPORTED),
            file=sys.stderr,
        )
        return 1
    from .node import main as node_main

    return node_main(args)


if __name__ == '__main__':
    sys.exit(main())

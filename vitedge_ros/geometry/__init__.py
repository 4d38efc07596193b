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
Camera geometry: camera model, bearing rays, flat-ground projection and obstacle bearings.

Pure numpy + cv2, no ROS.
"""

from .camera import PinholeCamera
from .obstacles import box_angles, central_region, clear_path, obstacle_infos, ObstacleInfo
from .projection import (
    CameraPose,
    intersect_ground,
    pixel_to_ground,
    pixels_to_ground,
    quat_from_euler,
    quat_from_matrix,
    quat_multiply,
    quat_to_matrix,
)

__all__ = [
    'PinholeCamera',
    'CameraPose',
    'ObstacleInfo',
    'box_angles',
    'central_region',
    'clear_path',
    'intersect_ground',
    'obstacle_infos',
    'pixel_to_ground',
    'pixels_to_ground',
    'quat_from_euler',
    'quat_from_matrix',
    'quat_multiply',
    'quat_to_matrix',
]

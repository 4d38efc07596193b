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
Cameras over flat ground (pure numpy).

Orientation from yaw and tilt, and the ground-to-image homography.

Frames (ROS REP-103 / REP-105): the ground frame (``map``) is ENU, z up, the ground the plane ``z =
    ground_z``;
a body frame is FLU (x forward, y left, z up); the camera optical frame is x right, y down, z
forward (sensor_msgs/CameraInfo). ``OPTICAL_IN_BODY`` is the rotation of the optical frame in a FLU
camera frame, the static transform ``camera_link -> camera_optical_frame`` of ROS camera drivers
(roll -pi/2, yaw -pi/2).

For flat ground the map from ground points to pixels is a plane homography (Hartley and Zisserman,
"Multiple View Geometry", 2nd ed., section 8.1.1, "a plane to image homography"): with the pose
``p_map = R p_cam + t`` and intrinsics ``K``, a ground point ``(x, y, ground_z)`` is seen at ``K
R^T ((x, y, ground_z) - t)``, i.e. ``H = K R^T [e1, e2, (0, 0, ground_z) - t]`` acting on ``(x, y,
1)``. An oblique view of a flat, textured ground is therefore exactly the homography warp of its
top view (``cv2.warpPerspective``). Distortion is not modelled here (pinhole only).
"""

from typing import Tuple

import numpy as np

from .projection import CameraPose, quat_from_euler, quat_from_matrix, quat_to_matrix

__all__ = [
    'OPTICAL_IN_BODY',
    'camera_pose_over_ground',
    'camera_rotation',
    'ground_homography',
    'ground_sampling_distance',
    'homography_area_scale',
    'project_ground_points',
]

#: Quaternion (x, y, z, w) of the optical frame in a FLU camera frame (REP-103: roll -pi/2, then
#: yaw -pi/2).
OPTICAL_IN_BODY = quat_from_euler(-np.pi / 2.0, 0.0, -np.pi / 2.0)


def camera_rotation(yaw: float, tilt: float) -> np.ndarray:
    """
    3x3 rotation of the optical frame in the ENU ground frame for a camera looking down.

    ``yaw`` (rad): heading of the image's up direction, counter-clockwise from the ground frame's
    +x (east); ``tilt`` (rad): angle of the optical axis from straight down (nadir 0), tipped
    towards the heading. The image x axis stays horizontal (no roll). Columns: optical x (right), y
    (down), z (forward) in the ground frame.

    Raises
    ------
        ValueError: a tilt outside [0, pi/2).

    """
    if not 0.0 <= tilt < np.pi / 2.0:
        raise ValueError(
            'tilt must be in [0, 90) degrees from nadir, got {:.2f} deg'.format(np.degrees(tilt))
        )
    fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    up = np.array([0.0, 0.0, 1.0])
    z = np.cos(tilt) * -up + np.sin(tilt) * fwd
    y = -(np.cos(tilt) * fwd + np.sin(tilt) * up)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


def camera_pose_over_ground(
    x: float, y: float, altitude: float, yaw: float, tilt: float, ground_z: float = 0.0
) -> CameraPose:
    """
    Return the CameraPose of an optical frame at ``(x, y, ground_z + altitude)`` metres.

    ``camera_rotation``.
    """
    R = camera_rotation(yaw, tilt)
    return CameraPose(
        quat_from_matrix(R), np.array([float(x), float(y), float(ground_z) + float(altitude)])
    )


def ground_homography(K, pose: CameraPose, ground_z: float = 0.0) -> np.ndarray:
    """
    3x3 homography from ground points ``(x, y, 1)`` (metres, ground frame) to pixels ``(u, v, 1)``.

    See the module docstring for the formula; normalised so that ``H[2, 2]`` is 1 where it is not
    zero.
    """
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    Rt = quat_to_matrix(pose.rotation).T
    t = np.asarray(pose.translation, dtype=np.float64).reshape(3)
    H = K @ np.stack([Rt[:, 0], Rt[:, 1], Rt @ (np.array([0.0, 0.0, ground_z]) - t)], axis=1)
    return H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H


def project_ground_points(H, xy) -> Tuple[np.ndarray, np.ndarray]:
    """
    Pixels (N x 2) of ground points ``xy`` (N x 2, metres) under homography ``H``, and a mask (N,).

    The mask marks the points in front of the camera (positive homogeneous scale for a homography
    from ``ground_homography``).
    """
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    hom = (
        np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1)
        @ np.asarray(H, dtype=np.float64).T
    )
    with np.errstate(divide='ignore', invalid='ignore'):
        uv = hom[:, :2] / hom[:, 2:3]
    return uv, hom[:, 2] > 0


def homography_area_scale(H, xy) -> np.ndarray:
    """
    Local area magnification (pixels^2 per unit^2) of homography ``H`` at points ``xy`` (N x 2).

    For ``x' = H x / (h3 . x)`` the Jacobian determinant is ``det(H) / (h3 . x)^3``.
    """
    H = np.asarray(H, dtype=np.float64).reshape(3, 3)
    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    w = pts @ H[2, :2] + H[2, 2]
    return np.abs(np.linalg.det(H) / w**3)


def ground_sampling_distance(fx: float, altitude: float) -> float:
    """Metres per pixel on flat ground straight below a camera of focal length ``fx`` (pixels)."""
    if fx <= 0 or altitude <= 0:
        raise ValueError('need fx > 0 and altitude > 0, got {} and {}'.format(fx, altitude))
    return float(altitude) / float(fx)

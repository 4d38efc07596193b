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
Quaternions (x, y, z, w), bearing rays and flat-ground intersection (pure numpy).

Frames: the camera optical frame is x right, y down, z forward (sensor_msgs/CameraInfo). The ground
frame (e.g. ``map``/``odom``, ROS REP-103 ENU) has z up; the ground is the plane ``z = ground_z``.
A camera pose is the transform of the optical frame in the ground frame, as tf2 gives it for
``lookup_transform(ground_frame, camera_frame, t)``: ``p_ground = R @ p_camera + t``.
"""

from typing import NamedTuple, Optional, Sequence

import numpy as np

__all__ = [
    'CameraPose',
    'OPTICAL_TO_FLU',
    'intersect_ground',
    'pixel_to_ground',
    'pixels_to_ground',
    'points_in_camera',
    'quat_from_euler',
    'quat_from_matrix',
    'quat_multiply',
    'quat_rotate',
    'quat_to_matrix',
    'rays_in_frame',
]

#: Rotation taking optical-frame vectors (x right, y down, z fwd) to FLU (x fwd, y left, z up).
OPTICAL_TO_FLU = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def quat_to_matrix(q: Sequence[float]) -> np.ndarray:
    """3x3 rotation matrix of a quaternion (x, y, z, w); the quaternion is normalised first."""
    x, y, z, w = np.asarray(q, dtype=np.float64).reshape(4)
    n = x * x + y * y + z * z + w * w
    if n < 1e-12:
        raise ValueError('zero quaternion')
    s = 2.0 / n
    return np.array(
        [
            [1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
            [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
            [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)],
        ]
    )


def quat_from_matrix(R) -> np.ndarray:
    """Quaternion (x, y, z, w), w >= 0, of a 3x3 rotation matrix."""
    m = np.asarray(R, dtype=np.float64).reshape(3, 3)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def quat_multiply(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions (x, y, z, w): rotation ``b`` then ``a``."""
    ax, ay, az, aw = np.asarray(a, dtype=np.float64).reshape(4)
    bx, by, bz, bw = np.asarray(b, dtype=np.float64).reshape(4)
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def quat_from_euler(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Quaternion (x, y, z, w) of fixed-axis roll (x), pitch (y), yaw (z), as tf2 ``setRPY``."""
    cr, sr = np.cos(roll / 2.0), np.sin(roll / 2.0)
    cp, sp = np.cos(pitch / 2.0), np.sin(pitch / 2.0)
    cy, sy = np.cos(yaw / 2.0), np.sin(yaw / 2.0)
    return np.array(
        [
            sr * cp * cy - cr * sp * sy,
            cr * sp * cy + sr * cp * sy,
            cr * cp * sy - sr * sp * cy,
            cr * cp * cy + sr * sp * sy,
        ]
    )


def quat_rotate(q: Sequence[float], v) -> np.ndarray:
    """Rotate vectors ``v`` (3,) or (N, 3) by quaternion ``q``."""
    return np.asarray(v, dtype=np.float64) @ quat_to_matrix(q).T


class CameraPose(NamedTuple):
    """
    Pose of the camera optical frame in a ground frame.

    ``p_ground = R @ p_camera + translation``.
    """

    rotation: np.ndarray  # quaternion (x, y, z, w)
    translation: np.ndarray  # (x, y, z) in metres

    @property
    def matrix(self) -> np.ndarray:
        """Rotation as a 3x3 matrix."""
        return quat_to_matrix(self.rotation)

    @classmethod
    def from_transform(cls, transform) -> 'CameraPose':
        """From a geometry_msgs/Transform (``translation``, ``rotation`` fields), duck-typed."""
        t, r = transform.translation, transform.rotation
        return cls(
            np.array([r.x, r.y, r.z, r.w], dtype=np.float64),
            np.array([t.x, t.y, t.z], dtype=np.float64),
        )


def rays_in_frame(rays, pose: CameraPose) -> np.ndarray:
    """Optical-frame rays (N x 3) expressed in the pose's ground frame (directions only)."""
    return np.asarray(rays, dtype=np.float64).reshape(-1, 3) @ pose.matrix.T


def points_in_camera(points, pose: CameraPose) -> np.ndarray:
    """
    Return ground-frame points (N x 3, metres) in the pose's optical frame.

    The inverse of the pose: ``R^T (p - t)`` for each point.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return (pts - np.asarray(pose.translation, dtype=np.float64).reshape(1, 3)) @ pose.matrix


def intersect_ground(
    origin,
    directions,
    ground_z: float = 0.0,
    min_descent: float = 1e-9,
    max_range: Optional[float] = None,
) -> np.ndarray:
    """
    Intersections (N x 3) of rays ``origin + s * d`` (s > 0) with the plane ``z = ground_z``.

    A row is NaN where there is no intersection in front of the camera: the ray points at or above
    the horizon (``d_z >= -min_descent`` for a camera above the ground), the plane lies behind the
    origin, or the hit is farther than ``max_range`` metres.
    """
    o = np.asarray(origin, dtype=np.float64).reshape(3)
    d = np.asarray(directions, dtype=np.float64).reshape(-1, 3)
    out = np.full(d.shape, np.nan)
    dz = d[:, 2]
    height = o[2] - ground_z
    with np.errstate(divide='ignore', invalid='ignore'):
        s = -height / dz
    ok = (np.abs(dz) > min_descent) & (s > 0) & np.isfinite(s)
    if height > 0:
        ok &= dz < -min_descent
    pts = o + s[:, None] * d
    if max_range is not None:
        ok &= np.linalg.norm(pts - o, axis=1) <= max_range
    out[ok] = pts[ok]
    return out


def pixels_to_ground(
    camera, uv, pose: CameraPose, ground_z: float = 0.0, max_range: Optional[float] = None
) -> np.ndarray:
    """Ground-frame points (N x 3, NaN rows where none) hit by the rays through pixels ``uv``."""
    rays = rays_in_frame(camera.pixel_to_ray(uv), pose)
    return intersect_ground(pose.translation, rays, ground_z, max_range=max_range)


def pixel_to_ground(
    camera, uv, pose: CameraPose, ground_z: float = 0.0, max_range: Optional[float] = None
) -> Optional[np.ndarray]:
    """
    Ground-frame point (3,) seen at pixel ``uv`` (2,).

    Or None at/above the horizon or behind.
    """
    pt = pixels_to_ground(
        camera, np.asarray(uv, dtype=np.float64).reshape(1, 2), pose, ground_z, max_range
    )[0]
    return None if np.isnan(pt).any() else pt

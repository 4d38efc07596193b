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
Bearings, angular sizes and the clear-path flag of detections, for obstacle avoidance (pure numpy).

Convention (ROS REP-103, FLU body axes attached to the camera): the camera's forward axis is the
optical axis, *left* is -x of the optical frame, *up* is -y. ``azimuth`` is the horizontal bearing
about the camera's up axis, positive to the **left**; ``elevation`` is positive **up**. Angular
width is the azimuth of the box's left edge minus that of its right edge (at the box's vertical
centre); angular height is the elevation of its top edge minus that of its bottom edge (at its
horizontal centre). All angles are in radians and use the undistorted camera model.
"""

from typing import Any, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .projection import CameraPose, pixels_to_ground, quat_multiply

__all__ = [
    'ObstacleInfo',
    'DEFAULT_OBSTACLE_CLASSES',
    'bearing_quaternion',
    'bearing_ray',
    'box_angles',
    'central_region',
    'clear_path',
    'obstacle_infos',
    'ray_angles',
]

DEFAULT_OBSTACLE_CLASSES = ('person', 'vehicle', 'obstacle')


class ObstacleInfo(NamedTuple):
    """Bearing and angular size of one detection (radians, camera FLU convention)."""

    label: str
    score: float
    class_id: int
    azimuth: float
    elevation: float
    angular_width: float
    angular_height: float
    range_m: Optional[float]  # camera to the box's ground contact point, when a pose is known
    box: Tuple[float, float, float, float]


def ray_angles(rays) -> Tuple[np.ndarray, np.ndarray]:
    """(azimuth, elevation) of optical-frame rays (N x 3): azimuth positive left, elevation up."""
    r = np.asarray(rays, dtype=np.float64).reshape(-1, 3)
    azimuth = np.arctan2(-r[:, 0], r[:, 2])
    elevation = np.arctan2(-r[:, 1], np.hypot(r[:, 0], r[:, 2]))
    return azimuth, elevation


def bearing_ray(azimuth: float, elevation: float) -> np.ndarray:
    """
    Return the unit ray (3,) in the camera optical frame of a bearing in radians.

    Optical frame: x right, y down, z forward.

    The inverse of :func:`ray_angles`: ``(-sin(az) cos(el), -sin(el), cos(az) cos(el))``.
    """
    az, el = float(azimuth), float(elevation)
    return np.array([-np.sin(az) * np.cos(el), -np.sin(el), np.cos(az) * np.cos(el)])


def bearing_quaternion(azimuth: float, elevation: float) -> np.ndarray:
    """
    Quaternion (x, y, z, w) of the optical-frame rotation whose +z axis points along the bearing.

    ``R = Ry(-azimuth) @ Rx(elevation)``: pan about the optical frame's vertical axis, then tilt,
    with no roll, so the rotated +x axis stays horizontal in the camera (like a pan-tilt head). ``R
    @ (0, 0, 1)`` is :func:`bearing_ray`.
    """
    ha, he = -0.5 * float(azimuth), 0.5 * float(elevation)
    pan = np.array([0.0, np.sin(ha), 0.0, np.cos(ha)])
    tilt = np.array([np.sin(he), 0.0, 0.0, np.cos(he)])
    return quat_multiply(pan, tilt)


def box_angles(camera, box: Sequence[float]) -> Tuple[float, float, float, float]:
    """(azimuth, elevation, angular_width, angular_height) of a pixel box (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    pts = np.array([[cx, cy], [x1, cy], [x2, cy], [cx, y1], [cx, y2]])
    az, el = ray_angles(camera.pixel_to_ray(pts))
    return float(az[0]), float(el[0]), float(az[1] - az[2]), float(el[3] - el[4])


def obstacle_infos(
    camera,
    detections: Iterable[Any],
    classes: Optional[Sequence[str]] = None,
    pose: Optional[CameraPose] = None,
    ground_z: float = 0.0,
) -> List[ObstacleInfo]:
    """
    Return an ObstacleInfo for each detection whose label is in ``classes`` (all when None).

    With a camera ``pose`` in a ground frame, ``range_m`` is the distance from the camera to the
    flat-ground point under the box's bottom centre (None when that pixel looks above the horizon).
    A detection whose centre pixel has no ray under the camera's calibration (outside a fisheye
    model's valid domain, see ``PinholeCamera.pixel_to_ray``) has no bearing and is left out.
    """
    dets = [d for d in detections if classes is None or d.label in classes]
    ranges: List[Optional[float]] = [None] * len(dets)
    if pose is not None and dets:
        feet = np.array([[(d.box[0] + d.box[2]) / 2.0, float(d.box[3])] for d in dets])
        ground = pixels_to_ground(camera, feet, pose, ground_z)
        dist = np.linalg.norm(ground - np.asarray(pose.translation).reshape(1, 3), axis=1)
        ranges = [None if not np.isfinite(v) else float(v) for v in dist]
    out = []
    for det, rng in zip(dets, ranges):
        az, el, aw, ah = box_angles(camera, det.box)
        if not (np.isfinite(az) and np.isfinite(el)):
            continue
        out.append(
            ObstacleInfo(
                str(det.label),
                float(det.score),
                int(det.class_id),
                az,
                el,
                aw,
                ah,
                rng,
                tuple(float(v) for v in det.box),
            )
        )
    return out


def central_region(
    image_size: Tuple[int, int], width_frac: float, height_frac: float
) -> Tuple[float, float, float, float]:
    """
    Return the box (x1, y1, x2, y2) of the centred region covering fractions of an image.

    The fractions are of the image's width and height (w, h).
    """
    if not (0.0 < width_frac <= 1.0 and 0.0 < height_frac <= 1.0):
        raise ValueError(
            'central region fractions must be in (0, 1], got {}, {}'.format(
                width_frac, height_frac
            )
        )
    w, h = float(image_size[0]), float(image_size[1])
    half_w, half_h = w * width_frac / 2.0, h * height_frac / 2.0
    return (w / 2.0 - half_w, h / 2.0 - half_h, w / 2.0 + half_w, h / 2.0 + half_h)


def clear_path(
    detections: Iterable[Any],
    image_size: Tuple[int, int],
    width_frac: float = 0.3,
    height_frac: float = 0.5,
    classes: Optional[Sequence[str]] = DEFAULT_OBSTACLE_CLASSES,
    min_score: float = 0.0,
) -> bool:
    """
    Return True when no detection of ``classes`` overlaps the central region.

    Only detections with score >= ``min_score`` count.
    Overlap means a positive intersection area; a box only touching the region's border is clear.
    """
    rx1, ry1, rx2, ry2 = central_region(image_size, width_frac, height_frac)
    for det in detections:
        if classes is not None and det.label not in classes:
            continue
        if float(det.score) < min_score:
            continue
        x1, y1, x2, y2 = (float(v) for v in det.box)
        if min(x2, rx2) > max(x1, rx1) and min(y2, ry2) > max(y1, ry1):
            return False
    return True

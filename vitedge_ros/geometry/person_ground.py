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
Where a person detected in an image stands on flat ground (pure numpy, Python 3.6).

A person is modelled as an upright segment of ``height_m`` metres standing on the ground. Its image
runs from the head to the feet along the image of the vertical through the person; for a camera
looking down, that line points toward the nadir's image point (the vanishing point of verticals:
relief displacement, Wolf, Dewitt & Wilkinson, *Elements of Photogrammetry*, 4th ed., section 6.8,
``d = r h / H``), for a level camera it points straight down the image. The feet are the end of
that segment toward the nadir: the old "bottom centre of the box" for a level camera, the box
centre for a camera straight above the person, and in between for oblique views. ``height_m = 0``
(a lying person, or a figure painted on the ground like the project's synthetic persons) gives the
box centre.

The box centre is taken as the image of the person's mid-height point: the ray through it meets the
horizontal plane ``ground_z + height_m / 2`` there, the feet stand ``height_m / 2`` below, and
their image is where the person's ground point is looked up (cut at the box edge along the line
from the centre, should the box be smaller than the modelled person).
"""

from typing import Optional

import numpy as np

from .projection import CameraPose, pixels_to_ground, points_in_camera

__all__ = ['DEFAULT_PERSON_HEIGHT_M', 'person_foot_pixels', 'persons_on_ground']

#: Standing adult (m): the default of the node's ``person_height_m`` parameter.
DEFAULT_PERSON_HEIGHT_M = 1.7


def _clamp_into_boxes(boxes: np.ndarray, centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """
    Points on the segments centre -> target (N x 2).

    Cut where they leave their boxes (N x 4).
    """
    d = target - centre
    half = np.stack([(boxes[:, 2] - boxes[:, 0]) / 2.0, (boxes[:, 3] - boxes[:, 1]) / 2.0], axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        frac = np.where(np.abs(d) > 1e-12, half / np.abs(d), np.inf)
    scale = np.minimum(1.0, frac.min(axis=1))
    return centre + d * scale[:, None]


def person_foot_pixels(
    camera,
    boxes,
    pose: Optional[CameraPose],
    ground_z: float = 0.0,
    height_m: float = DEFAULT_PERSON_HEIGHT_M,
) -> np.ndarray:
    """
    Return the image points (N x 2, pixels) of the feet of upright persons detected as ``boxes``.

    ``boxes``: N x 4, x1 y1 x2 y2 (pixels).
    ``camera``: a :class:`~vitedge_ros.geometry.camera.PinholeCamera` at the boxes' image size;
    ``pose``: the optical frame in a z-up ground frame (metres); ``ground_z``: the ground plane's
    height (m); ``height_m``: the person's height (m, >= 0; 0: the box centre). Where the ground
    cannot be seen through the box centre (above the horizon, behind the camera) or without a pose,
    the box's bottom centre is used (a level camera's feet). Raises ValueError for a negative
    height or boxes that are not N x 4.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return np.zeros((0, 2))
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError('boxes must be N x 4 (x1, y1, x2, y2), got shape {}'.format(b.shape))
    height_m = float(height_m)
    if not height_m >= 0.0:
        raise ValueError('person height must be >= 0 m, got {}'.format(height_m))
    centre = np.stack([(b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0], axis=1)
    bottom = np.stack([centre[:, 0], b[:, 3]], axis=1)
    if height_m == 0.0:
        return centre
    if pose is None:
        return bottom
    half = height_m / 2.0
    middle = pixels_to_ground(
        camera, centre, pose, ground_z + half
    )  # the person's mid-height point
    feet = np.full(centre.shape, np.nan)
    ok = np.isfinite(middle).all(axis=1)
    if ok.any():
        ground = middle[ok] - np.array([0.0, 0.0, half])
        feet[ok] = camera.project(points_in_camera(ground, pose))
    ok = np.isfinite(feet).all(axis=1)
    out = bottom.copy()
    out[ok] = _clamp_into_boxes(b[ok], centre[ok], feet[ok])
    return out


def persons_on_ground(
    camera,
    boxes,
    pose: CameraPose,
    ground_z: float = 0.0,
    height_m: float = DEFAULT_PERSON_HEIGHT_M,
    max_range: Optional[float] = None,
) -> np.ndarray:
    """
    Ground-frame points (N x 3, metres; NaN rows where none) where the persons of ``boxes`` stand.

    The flat-ground intersection (:func:`~vitedge_ros.geometry.projection.pixels_to_ground`) of the
    ray through :func:`person_foot_pixels`; ``max_range`` (m) drops farther points (NaN).
    """
    feet = person_foot_pixels(camera, boxes, pose, ground_z, height_m)
    if feet.shape[0] == 0:
        return np.zeros((0, 3))
    return pixels_to_ground(camera, feet, pose, ground_z, max_range=max_range)

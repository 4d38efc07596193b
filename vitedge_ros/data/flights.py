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
Synthetic flights with known geometry: a pinhole camera flying over a flat generated world.

``GroundFlight`` renders one world of ``vitedge_ros.data.synthetic`` at a ground sampling distance
fine enough for every frame (objects keep their real sizes in metres), lays it on the ground plane
``z = 0`` of an ENU ``map`` frame (ROS REP-103/105) and films it with a camera of given intrinsics
(width, height, horizontal field of view), altitude, heading and tilt. Because the world is flat,
every view, oblique ones included, is exactly the plane homography of the top view
(``vitedge_ros.geometry.ground``) and is rendered with ``cv2.warpPerspective``.

The transform tree is a drone's: ``map -> base_link`` (dynamic: position and heading, level flight)
and the static ``base_link -> camera_link`` (gimbal offset, pitched down by ``90 deg - tilt``) and
``camera_link -> camera_optical_frame`` (REP-103 optical rotation). Each frame records its camera
pose, the homography and, for every annotated object, its ground position in metres in ``map``: the
centroid of the object's drawn footprint (the generator's objects are flat, so that is where the
object lies).

Boxes follow ``synthetic``'s rules (tight boxes of visible pixels, objects under half visible
dropped); the expected pixel count of an object in a frame is its world pixel count times the
homography's local area scale.
"""

import math
from typing import Iterator, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .synthetic import (
    _annotate,
    _counts,
    _instance_boxes,
    _render,
    DETECTION_CLASSES,
    MIN_VISIBLE_FRACTION,
)
from ..geometry.ground import ground_homography, homography_area_scale, OPTICAL_IN_BODY
from ..geometry.obstacles import clear_path, DEFAULT_OBSTACLE_CLASSES
from ..geometry.projection import CameraPose, quat_from_euler, quat_multiply, quat_to_matrix

__all__ = [
    'FlightFrame',
    'GroundFlight',
    'StaticLink',
    'CAMERA_FRAME',
    'BODY_FRAME',
    'MAP_FRAME',
    'OPTICAL_FRAME',
]

MAP_FRAME = 'map'
BODY_FRAME = 'base_link'
CAMERA_FRAME = 'camera_link'
OPTICAL_FRAME = 'camera_optical_frame'
#: Largest world raster rendered (pixels); a flight whose footprint needs more is refused.
MAX_WORLD_PIXELS = 40_000_000


class StaticLink(NamedTuple):
    """
    One static transform.

    Pose of ``child`` in ``parent`` (translation metres, quaternion x, y, z, w).
    """

    parent: str
    child: str
    translation: np.ndarray
    rotation: np.ndarray


class FlightFrame(NamedTuple):
    """
    One frame of a ``GroundFlight``.

    ``image`` HxWx3 uint8 BGR; ``boxes`` Nx4 float32 xyxy pixel edges; ``labels`` N int64 into
    ``DETECTION_CLASSES``; ``ground_xy`` Nx2 float64 map metres of each annotated object (same
    order); ``mask`` HxW uint8 ``SEG_CLASSES``; ``body`` (x, y, z, yaw) of ``base_link`` in ``map``
    (metres, rad); ``camera_pose`` the optical frame in ``map``; ``homography`` 3x3 map ground (x,
    y, 1) -> pixels; ``gsd`` metres per pixel at the image centre; ``clear_path`` the clear-path
    verdict of the true boxes (``vitedge_ros.geometry.obstacles.clear_path`` with the node's
    default region and classes).
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    ground_xy: np.ndarray
    mask: np.ndarray
    body: Tuple[float, float, float, float]
    camera_pose: CameraPose
    homography: np.ndarray
    gsd: float
    clear_path: bool


class _Box(NamedTuple):
    label: str
    score: float
    box: Tuple[float, float, float, float]


def _intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError('hfov_deg must be in (0, 180), got {}'.format(hfov_deg))
    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


class GroundFlight:
    """
    A flight of ``n_frames`` over a flat world, ``fps`` frames a second.

    Args
    ----
        n_frames: number of frames.
        seed: world and path seed (same arguments, same frames, byte for byte).
        width, height: image size in pixels.
        hfov_deg: horizontal field of view (degrees); square pixels, centred principal point.
        altitude: height of ``base_link`` above the ground (metres).
        tilt_deg: camera axis from straight down, towards the heading (0 = nadir).
        speed: ground speed (m/s) along a straight track with a gentle lateral weave.
        fps: frame rate (sets how far the drone moves between frames).
        heading_deg: track heading (counter-clockwise from east); None: random from the seed.
        persons_per_frame: persons per nadir footprint of ground, on average.
        camera_offset: ``camera_link`` in ``base_link`` (metres, FLU).

    Raises
    ------
        ValueError: a bad size, field of view, altitude or tilt, or a footprint too large to render
            (the view reaches too near the horizon).

    """

    def __init__(
        self,
        n_frames: int,
        seed: int = 0,
        width: int = 640,
        height: int = 480,
        hfov_deg: float = 60.0,
        altitude: float = 15.0,
        tilt_deg: float = 0.0,
        speed: float = 2.0,
        fps: float = 10.0,
        heading_deg: Optional[float] = None,
        persons_per_frame: float = 5.0,
        camera_offset: Tuple[float, float, float] = (0.1, 0.0, -0.05),
    ) -> None:
        if n_frames < 0:
            raise ValueError('n_frames must be >= 0, got {}'.format(n_frames))
        if width < 16 or height < 16:
            raise ValueError('width and height must be >= 16, got {}x{}'.format(width, height))
        if altitude <= 0:
            raise ValueError('altitude must be > 0 m, got {}'.format(altitude))
        if not 0.0 <= tilt_deg < 80.0:
            raise ValueError('tilt_deg must be in [0, 80), got {}'.format(tilt_deg))
        if fps <= 0 or speed < 0:
            raise ValueError('need fps > 0 and speed >= 0, got {} and {}'.format(fps, speed))
        self.n_frames, self.seed = int(n_frames), int(seed)
        self.width, self.height = int(width), int(height)
        self.K = _intrinsics(self.width, self.height, hfov_deg)
        self.hfov_deg, self.altitude, self.tilt = (
            float(hfov_deg),
            float(altitude),
            math.radians(tilt_deg),
        )
        self.fps, self.speed = float(fps), float(speed)
        rng = np.random.default_rng(self.seed)
        self.heading = (
            math.radians(heading_deg)
            if heading_deg is not None
            else float(rng.uniform(-math.pi, math.pi))
        )
        self._weave = (
            float(rng.uniform(0.5, 1.5)),
            float(rng.uniform(0.05, 0.12)),
            float(rng.uniform(0, 6.3)),
        )
        self._yaw_wobble = (
            math.radians(float(rng.uniform(2.0, 6.0))),
            float(rng.uniform(0.05, 0.15)),
        )
        pitch = math.pi / 2.0 - self.tilt  # FLU pitch: positive tips the x axis down
        self.static_links: List[StaticLink] = [
            StaticLink(
                BODY_FRAME,
                CAMERA_FRAME,
                np.asarray(camera_offset, dtype=np.float64),
                quat_from_euler(0.0, pitch, 0.0),
            ),
            StaticLink(CAMERA_FRAME, OPTICAL_FRAME, np.zeros(3), np.asarray(OPTICAL_IN_BODY)),
        ]
        self.bodies = [self.body_at(i) for i in range(self.n_frames)]
        poses = [self.camera_pose(b) for b in self.bodies]
        corners = np.array(
            [[0, 0], [self.width - 1, 0], [self.width - 1, self.height - 1], [0, self.height - 1]],
            dtype=np.float64,
        )
        feet = [self._footprint(p, corners) for p in poses] or [np.zeros((1, 2))]
        pts = np.concatenate(feet)
        self.gsd_world = (
            min(p.translation[2] for p in poses) / self.K[0, 0]
            if poses
            else self.altitude / self.K[0, 0]
        )
        margin = 3.0
        x0, y0 = pts.min(axis=0) - margin
        x1, y1 = pts.max(axis=0) + margin
        ww, wh = (
            int(math.ceil((x1 - x0) / self.gsd_world)) + 1,
            int(math.ceil((y1 - y0) / self.gsd_world)) + 1,
        )
        if ww * wh > MAX_WORLD_PIXELS:
            raise ValueError(
                'the flight sees {:.0f} x {:.0f} m of ground: more than the {} Mpx world this '
                'generator renders (lower the tilt, the altitude or the number of frames)'.format(
                    x1 - x0, y1 - y0, MAX_WORLD_PIXELS // 1000000
                )
            )
        #: raster (column, row, 1) -> map (x, y, 1): row 0 is the northern edge
        self.raster_to_map = np.array(
            [[self.gsd_world, 0.0, x0], [0.0, -self.gsd_world, y1], [0.0, 0.0, 1.0]]
        )
        nadir_area = (self.width * self.height) * (self.altitude / self.K[0, 0]) ** 2
        area = (ww * wh) * self.gsd_world**2 / nadir_area
        counts = _counts(rng, area, None, None, None)
        counts['persons'] = int(round(persons_per_frame * area))
        counts['roads'] = max(2, int(round(area / 6)))
        world, wmask, winst, wlabels, wfull = _render(rng, ww, wh, self.gsd_world, counts)
        _, self.world_labels, self.world_inst = _annotate(winst, wlabels, wfull)
        n = len(self.world_labels)
        ys, xs = np.nonzero(self.world_inst)
        ids = self.world_inst[ys, xs].astype(np.int64) - 1
        cnt = np.bincount(ids, minlength=n).astype(np.float64)
        cx = np.bincount(ids, weights=xs, minlength=n) / np.maximum(cnt, 1)
        cy = np.bincount(ids, weights=ys, minlength=n) / np.maximum(cnt, 1)
        self.world_counts = cnt
        self.world_centroids = np.stack([cx, cy], axis=1)  # raster pixels
        hom = (
            np.concatenate([self.world_centroids, np.ones((n, 1))], axis=1) @ self.raster_to_map.T
        )
        self.world_xy = hom[:, :2]  # map metres
        self.world, self.world_mask = world, wmask

    # ---------------------------------------------------------------------------------------------
    # geometry
    def body_at(self, index: int) -> Tuple[float, float, float, float]:
        """(x, y, z, yaw) of ``base_link`` in ``map`` at frame ``index``."""
        t = index / self.fps
        amp, freq, phase = self._weave
        along = self.speed * t
        across = amp * math.sin(2 * math.pi * freq * t + phase)
        c, s = math.cos(self.heading), math.sin(self.heading)
        wob, wfreq = self._yaw_wobble
        yaw = self.heading + wob * math.sin(2 * math.pi * wfreq * t)
        return (along * c - across * s, along * s + across * c, self.altitude, yaw)

    def body_pose(self, body: Tuple[float, float, float, float]) -> CameraPose:
        """Pose of ``base_link`` in ``map`` (level flight: yaw only)."""
        return CameraPose(quat_from_euler(0.0, 0.0, body[3]), np.array(body[:3], dtype=np.float64))

    def camera_pose(self, body: Tuple[float, float, float, float]) -> CameraPose:
        """Pose of the optical frame in ``map`` for a body state, through the static links."""
        q, t = self.body_pose(body)
        for link in self.static_links:
            t = quat_to_matrix(q) @ link.translation + t
            q = quat_multiply(q, link.rotation)
        return CameraPose(q / np.linalg.norm(q), t)

    def _footprint(self, pose: CameraPose, uv: np.ndarray) -> np.ndarray:
        from ..geometry.projection import intersect_ground

        rays = np.concatenate(
            [(uv - self.K[:2, 2]) / np.diag(self.K)[:2], np.ones((len(uv), 1))], axis=1
        )
        pts = intersect_ground(pose.translation, rays @ quat_to_matrix(pose.rotation).T, 0.0)
        if not np.all(np.isfinite(pts)):
            raise ValueError(
                'the camera sees the horizon (tilt {:.1f} deg with a {:.1f} deg vertical field of '
                'view);'
                ' a flat-ground flight needs every pixel on the ground'.format(
                    math.degrees(self.tilt),
                    math.degrees(2 * math.atan(self.height / 2.0 / self.K[1, 1])),
                )
            )
        return pts[:, :2]

    # ---------------------------------------------------------------------------------------------
    # frames
    def frames(self) -> Iterator[FlightFrame]:
        """Yield the frames in order (rendered on demand)."""
        noise_rng = np.random.default_rng([self.seed, 2])
        n = len(self.world_labels)
        w, h = self.width, self.height
        for body in self.bodies:
            pose = self.camera_pose(body)
            Hg = ground_homography(self.K, pose, 0.0)
            Hr = Hg @ self.raster_to_map  # raster pixels -> image pixels
            frame = cv2.warpPerspective(
                self.world, Hr, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            fmask = cv2.warpPerspective(
                self.world_mask, Hr, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT
            )
            finst = cv2.warpPerspective(
                self.world_inst,
                Hr,
                (w, h),
                flags=cv2.INTER_NEAREST,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            noise = np.frombuffer(noise_rng.bytes(h * w * 3), dtype=np.uint8).reshape(h, w, 3)
            frame = cv2.addWeighted(frame, 1.0, noise, 5.0 / 255.0, -2.5)
            expected = (
                self.world_counts * homography_area_scale(Hr, self.world_centroids)
                if n
                else np.zeros(0)
            )
            boxes, counts = _instance_boxes(finst, n)
            keep = (counts > 0) & (counts >= MIN_VISIBLE_FRACTION * expected)
            keep &= (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
            labels = self.world_labels[keep].astype(np.int64)
            kept_boxes = boxes[keep]
            truth = [
                _Box(DETECTION_CLASSES[int(lab)], 1.0, tuple(float(v) for v in b))
                for b, lab in zip(kept_boxes, labels)
            ]
            centre = np.array([[(w - 1) / 2.0, (h - 1) / 2.0, 1.0]]) @ np.linalg.inv(Hg).T
            gsd = float(
                np.sqrt(1.0 / homography_area_scale(Hg, centre[:, :2] / centre[:, 2:3])[0])
            )
            yield FlightFrame(
                frame,
                kept_boxes,
                labels,
                self.world_xy[keep].copy(),
                fmask,
                body,
                pose,
                Hg,
                gsd,
                clear_path(truth, (w, h), classes=DEFAULT_OBSTACLE_CLASSES),
            )

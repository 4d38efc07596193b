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
Deterministic synthetic aerial scenes for UAV search-and-rescue detection.

Everything here is numpy + OpenCV (no torch). One seed gives byte-identical output: all randomness
comes from ``np.random.default_rng(seed)`` and nothing is cached between calls.

Detection classes (``DETECTION_CLASSES``, label = index):

- ``person``: seen from above, standing (head, shoulders, torso, legs; ~0.9 m long) or lying (~1.6
  m long), any rotation, clothing colours from a palette that the clutter shares.
- ``vehicle``: car, van or truck; chamfered body with windscreen / roof / rear-window details; on
  roads most of the time, oriented along them.
- ``obstacle``: things a low-flying drone must avoid: tree canopies and poles/masts (drawn leaning
  away from the image centre as an oblique camera sees them).

Segmentation mask (``SEG_CLASSES``, pixel value = index): ``background`` is bare ground / grass and
also the non-detection clutter lying on it (rocks, debris, tarps, bags); ``vegetation`` is low
bushes and fields *and* the canopies of trees (which are also ``obstacle`` detections); poles/masts
are man-made structures and carry ``building`` in the mask, like buildings (which are not
detections). ``DETECTION_SEG_CLASSES`` gives the mask classes each detection class's pixels carry.

Boxes are tight axis-aligned boxes of each object's *visible* pixels (read from the per-object
instance map, so they are exact), in pixel-edge coordinates: an object covering columns 3..7 has
``x1 = 3`` and ``x2 = 8``. Objects with less than half of their drawn pixels visible (image border,
occlusion) are not annotated.

Ground sampling distance (GSD): ``gsd_range`` is in metres per pixel for a 320-pixel-wide image and
is scaled by ``320 / width`` for other widths, so a scene at 640x480 shows the same ground at twice
the detail. With the default range, at 320x240 the longer side of person boxes is 9-59 px (5th-95th
percentile 11-34, median 17; lying persons are the long ones), of vehicle boxes 37-240 px (median
76).
"""

import json
import math
import os
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

DETECTION_CLASSES = ('person', 'vehicle', 'obstacle')
SEG_CLASSES = ('background', 'person', 'vehicle', 'building', 'water', 'road', 'vegetation')

PERSON, VEHICLE, OBSTACLE = 0, 1, 2
SEG_BACKGROUND, SEG_PERSON, SEG_VEHICLE, SEG_BUILDING, SEG_WATER, SEG_ROAD, SEG_VEGETATION = range(
    7
)
#: Mask classes that the pixels of each detection class may carry.
DETECTION_SEG_CLASSES: Dict[int, Tuple[int, ...]] = {
    PERSON: (SEG_PERSON,),
    VEHICLE: (SEG_VEHICLE,),
    OBSTACLE: (SEG_VEGETATION, SEG_BUILDING),
}
#: Default GSD range in metres/pixel at a 320-pixel-wide image.
DEFAULT_GSD_RANGE = (0.03, 0.08)
#: The generated flights the shipped detectors' score thresholds are picked on (their training
#: configs' ``data.val_flights``; never ``make demo``'s seed 7): 8 flights, every 3rd of 60 frames.
THRESHOLD_FLIGHTS = {'count': 8, 'frames': 60, 'every': 3, 'seed': 9000}
REFERENCE_WIDTH = 320
REFERENCE_HEIGHT = 240
#: Fraction of an object's drawn pixels that must be visible for it to be annotated.
MIN_VISIBLE_FRACTION = 0.5
_MAX_ROADS = 5

_SHIFT = 4
_ONE = 1 << _SHIFT

Color = Tuple[float, float, float]

# BGR palettes.
_CLOTHES: Tuple[Color, ...] = (
    (40, 40, 200),
    (30, 120, 240),
    (40, 215, 230),
    (180, 90, 30),
    (100, 50, 30),
    (40, 85, 45),
    (30, 30, 30),
    (225, 225, 225),
    (125, 125, 125),
    (40, 70, 110),
    (120, 50, 115),
    (160, 120, 230),
    (60, 180, 60),
    (200, 170, 90),
)
_TROUSERS: Tuple[Color, ...] = (
    (70, 45, 30),
    (30, 30, 30),
    (85, 125, 145),
    (110, 110, 110),
    (125, 85, 50),
)
_HAIR: Tuple[Color, ...] = (
    (20, 25, 30),
    (30, 50, 80),
    (95, 150, 190),
    (150, 150, 150),
    (25, 35, 55),
)
_SKIN: Tuple[Color, ...] = ((120, 150, 205), (85, 115, 165), (50, 70, 110))
_CAR: Tuple[Color, ...] = (
    (235, 235, 235),
    (190, 190, 195),
    (35, 35, 35),
    (110, 110, 115),
    (40, 40, 190),
    (150, 80, 30),
    (50, 80, 40),
    (40, 200, 220),
    (80, 40, 110),
    (200, 200, 175),
)
_ROOF: Tuple[Color, ...] = (
    (60, 85, 170),
    (120, 120, 125),
    (65, 65, 75),
    (160, 150, 135),
    (85, 110, 95),
    (90, 110, 140),
)
_GROUND: Tuple[Color, ...] = (
    (55, 125, 85),
    (75, 140, 110),
    (85, 150, 160),
    (70, 105, 135),
    (55, 80, 100),
    (95, 135, 150),
)


class Scene(NamedTuple):
    """
    One synthetic aerial image with its annotations (a NamedTuple: no dataclasses on Python 3.6).

    ``image``: HxWx3 uint8 BGR. ``boxes``: Nx4 float32 xyxy pixels (pixel-edge coordinates, clipped
    to the image). ``labels``: N int64 indices into ``DETECTION_CLASSES``. ``mask``: HxW uint8
    indices into ``SEG_CLASSES``. ``instances``: HxW uint16, ``i + 1`` where annotated object ``i``
    is visible, else 0 (pixels of objects too hidden to be annotated are 0 too). ``gsd``: metres
    per pixel. ``transform``: for frames of ``camera_sequence``, the 2x3 affine map from world
    pixels to frame pixels (``None`` for single scenes).
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    mask: np.ndarray
    instances: Optional[np.ndarray] = None
    gsd: float = 0.0
    transform: Optional[np.ndarray] = None


# -------------------------------------------------------------------------------------------------
# Geometry: parts in object coordinates (metres) placed into pixel coordinates.
# Pixel-space part tuples: ('e', cx, cy, a, b, angle_deg, color) | ('p', pts Nx2, color)
#                          | ('l', x1, y1, x2, y2, thickness_px, color)


def _rot(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def _place(
    parts: Sequence[tuple], cx: float, cy: float, theta: float, scale: float
) -> List[tuple]:
    """Map object-frame parts (metres, y along the body axis) into pixel space."""
    c, s = math.cos(theta), math.sin(theta)
    out = []
    for p in parts:
        kind = p[0]
        if kind == 'e':
            _, x, y, a, b, ang, col = p
            out.append(
                (
                    'e',
                    cx + (c * x - s * y) * scale,
                    cy + (s * x + c * y) * scale,
                    a * scale,
                    b * scale,
                    math.degrees(theta + ang),
                    col,
                )
            )
        elif kind == 'p':
            pts = np.asarray(p[1], dtype=np.float64)
            q = np.empty_like(pts)
            q[:, 0] = cx + (c * pts[:, 0] - s * pts[:, 1]) * scale
            q[:, 1] = cy + (s * pts[:, 0] + c * pts[:, 1]) * scale
            out.append(('p', q, p[2]))
        else:
            _, x1, y1, x2, y2, t, col = p
            out.append(
                (
                    'l',
                    cx + (c * x1 - s * y1) * scale,
                    cy + (s * x1 + c * y1) * scale,
                    cx + (c * x2 - s * y2) * scale,
                    cy + (s * x2 + c * y2) * scale,
                    max(1.0, t * scale),
                    col,
                )
            )
    return out


def _bounds(parts: Sequence[tuple]) -> Tuple[float, float, float, float]:
    """Conservative xyxy bounds of pixel-space parts."""
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for p in parts:
        if p[0] == 'e':
            _, cx, cy, a, b, ang, _ = p
            t = math.radians(ang)
            ex = math.sqrt((a * math.cos(t)) ** 2 + (b * math.sin(t)) ** 2)
            ey = math.sqrt((a * math.sin(t)) ** 2 + (b * math.cos(t)) ** 2)
            x0, y0, x1, y1 = min(x0, cx - ex), min(y0, cy - ey), max(x1, cx + ex), max(y1, cy + ey)
        elif p[0] == 'p':
            q = p[1]
            x0, y0 = min(x0, float(q[:, 0].min())), min(y0, float(q[:, 1].min()))
            x1, y1 = max(x1, float(q[:, 0].max())), max(y1, float(q[:, 1].max()))
        else:
            _, ax, ay, bx, by, t, _ = p
            h = t / 2 + 1
            x0, y0 = min(x0, ax - h, bx - h), min(y0, ay - h, by - h)
            x1, y1 = max(x1, ax + h, bx + h), max(y1, ay + h, by + h)
    return x0, y0, x1, y1


def _draw(
    img: np.ndarray, parts: Sequence[tuple], ox: float = 0.0, oy: float = 0.0, color=None
) -> None:
    """
    Rasterise pixel-space parts into img (offset by -ox, -oy).

    Color overrides the parts' colours.
    """
    for p in parts:
        col = p[-1] if color is None else color
        if p[0] == 'e':
            _, cx, cy, a, b, ang, _ = p
            cv2.ellipse(
                img,
                (int(round((cx - ox) * _ONE)), int(round((cy - oy) * _ONE))),
                (max(8, int(round(a * _ONE))), max(8, int(round(b * _ONE)))),
                ang,
                0,
                360,
                col,
                -1,
                cv2.LINE_8,
                _SHIFT,
            )
        elif p[0] == 'p':
            q = np.round((p[1] - (ox, oy)) * _ONE).astype(np.int32)
            cv2.fillPoly(img, [q], col, cv2.LINE_8, _SHIFT)
        else:
            _, ax, ay, bx, by, t, _ = p
            cv2.line(
                img,
                (int(round((ax - ox) * _ONE)), int(round((ay - oy) * _ONE))),
                (int(round((bx - ox) * _ONE)), int(round((by - oy) * _ONE))),
                col,
                max(1, int(round(t))),
                cv2.LINE_8,
                _SHIFT,
            )


def _jitter(rng: np.random.Generator, col: Color, amount: float) -> Color:
    j = rng.uniform(-amount, amount, 3)
    return tuple(float(min(255.0, max(0.0, c + d))) for c, d in zip(col, j))


def _scale_col(col: Color, k: float) -> Color:
    return tuple(float(min(255.0, max(0.0, c * k))) for c in col)


def _pick(rng: np.random.Generator, palette: Sequence[Color], amount: float = 18.0) -> Color:
    return _jitter(rng, palette[int(rng.integers(len(palette)))], amount)


def _chamfer_rect(
    length: float, width: float, cut: float, y0: Optional[float] = None
) -> np.ndarray:
    """Rectangle along y (front at -length/2 unless y0 given) with cut corners, object frame."""
    top = -length / 2 if y0 is None else y0
    bot = top + length
    hw = width / 2
    c = min(cut, hw * 0.9, length * 0.45)
    return np.array(
        [
            [-hw + c, top],
            [hw - c, top],
            [hw, top + c],
            [hw, bot - c],
            [hw - c, bot],
            [-hw + c, bot],
            [-hw, bot - c],
            [-hw, top + c],
        ]
    )


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


# -------------------------------------------------------------------------------------------------
# Object models. Each returns (silhouette parts, detail parts, shadow builder inputs) in metres.


class _Obj:
    """
    One placed object: pixel-space silhouette parts.

    Colour-only detail parts and its shadow shape.
    """

    __slots__ = ('label', 'seg', 'parts', 'details', 'shadow', 'bounds', 'texture')

    def __init__(
        self,
        label: int,
        seg: int,
        parts: List[tuple],
        details: List[tuple],
        shadow: List[tuple],
        texture: float = 0.0,
    ):
        self.label = label  # detection label, -1 for non-detections
        self.seg = seg
        self.parts = parts
        self.details = details
        self.shadow = shadow
        self.texture = texture  # amplitude of per-pixel luminance texture inside the silhouette
        self.bounds = _bounds(parts)


def _person_parts(rng: np.random.Generator) -> Tuple[List[tuple], bool]:
    shirt = _pick(rng, _CLOTHES, 22)
    trousers = _pick(rng, _TROUSERS, 15)
    hair = _pick(rng, _SKIN if rng.random() < 0.15 else _HAIR, 12)
    lit = _scale_col(shirt, rng.uniform(1.05, 1.2))
    lying = rng.random() < 0.3
    if not lying:
        sleeve = shirt if rng.random() < 0.6 else _pick(rng, _SKIN, 10)
        parts = [
            ('e', 0.0, 0.50, 0.14, 0.23, 0.0, trousers),
            ('e', -0.235, 0.19, 0.055, 0.19, rng.uniform(-0.25, 0.1), sleeve),
            ('e', 0.235, 0.19, 0.055, 0.19, rng.uniform(-0.1, 0.25), sleeve),
            ('e', 0.0, 0.20, 0.19, 0.22, 0.0, shirt),
            ('e', 0.0, 0.03, 0.245, 0.12, 0.0, lit),
            ('e', 0.0, -0.05, 0.105, 0.11, 0.0, hair),
        ]
    else:
        arm = shirt if rng.random() < 0.6 else _pick(rng, _SKIN, 10)
        sa, sl = rng.uniform(-0.6, 0.15, 2), rng.uniform(0.0, 0.2)
        parts = [
            ('e', -0.09, 0.30, 0.09, 0.42, -sl, trousers),
            ('e', 0.09, 0.30, 0.09, 0.42, sl, trousers),
            ('e', -0.27, -0.35, 0.06, 0.28, sa[0], arm),
            ('e', 0.27, -0.35, 0.06, 0.28, -sa[1], arm),
            ('e', 0.0, -0.35, 0.21, 0.34, 0.0, shirt),
            ('e', 0.0, -0.47, 0.2, 0.12, 0.0, lit),
            ('e', 0.0, -0.78, 0.105, 0.12, 0.0, hair),
        ]
    return parts, lying


def _vehicle_parts(rng: np.random.Generator) -> Tuple[List[tuple], List[tuple], float]:
    r = rng.random()
    body = _pick(rng, _CAR, 15)
    glass = _jitter(rng, (45, 38, 32), 10)
    if r < 0.72:  # car
        length, width = rng.uniform(3.8, 4.9), rng.uniform(1.65, 1.9)
        h = -length / 2
        parts = [('p', _chamfer_rect(length, width, 0.35), body)]
        ww = width * 0.84
        details = [
            (
                'p',
                np.array(
                    [
                        [-ww / 2 * 0.92, h + 0.27 * length],
                        [ww / 2 * 0.92, h + 0.27 * length],
                        [ww / 2, h + 0.40 * length],
                        [-ww / 2, h + 0.40 * length],
                    ]
                ),
                glass,
            ),
            (
                'p',
                _rect(-ww / 2, h + 0.40 * length, ww / 2, h + 0.76 * length),
                _scale_col(body, rng.uniform(0.85, 1.12)),
            ),
            (
                'p',
                _rect(-ww / 2 * 0.95, h + 0.76 * length, ww / 2 * 0.95, h + 0.87 * length),
                glass,
            ),
            (
                'l',
                -width / 2 * 0.9,
                h + 0.27 * length,
                width / 2 * 0.9,
                h + 0.27 * length,
                0.05,
                _scale_col(body, 0.7),
            ),
        ]
        height = 1.5
    elif r < 0.88:  # van
        length, width = rng.uniform(4.8, 5.8), rng.uniform(1.9, 2.1)
        h = -length / 2
        ww = width * 0.86
        parts = [('p', _chamfer_rect(length, width, 0.3), body)]
        details = [
            (
                'p',
                np.array(
                    [
                        [-ww / 2 * 0.9, h + 0.08 * length],
                        [ww / 2 * 0.9, h + 0.08 * length],
                        [ww / 2, h + 0.2 * length],
                        [-ww / 2, h + 0.2 * length],
                    ]
                ),
                glass,
            ),
            (
                'p',
                _rect(-ww / 2, h + 0.2 * length, ww / 2, h + 0.97 * length),
                _scale_col(body, rng.uniform(0.9, 1.1)),
            ),
        ]
        height = 2.0
    else:  # truck: cab + cargo box
        length, width = rng.uniform(6.5, 9.0), rng.uniform(2.2, 2.5)
        h = -length / 2
        cab = 1.9
        cargo = _pick(rng, _CAR, 20)
        parts = [
            ('p', _chamfer_rect(cab, width, 0.25, y0=h), body),
            ('p', _rect(-width / 2, h + cab + 0.12, width / 2, h + length), cargo),
        ]
        details = [
            ('p', _rect(-width / 2 * 0.85, h + 0.2, width / 2 * 0.85, h + 0.65), glass),
            ('l', 0.0, h + cab + 0.5, 0.0, h + length - 0.3, 0.06, _scale_col(cargo, 0.8)),
        ]
        height = 3.0
    return parts, details, height


def _tree_parts(
    rng: np.random.Generator, sun: np.ndarray
) -> Tuple[List[tuple], List[tuple], float]:
    radius = rng.uniform(1.1, 2.6)
    base = _jitter(rng, (35, 85, 45), 15)
    parts = [('e', 0.0, 0.0, radius * 0.7, radius * 0.7, 0.0, base)]
    for _ in range(int(rng.integers(4, 8))):
        a, d = rng.uniform(0, 2 * math.pi), rng.uniform(0.2, 0.5) * radius
        rr = rng.uniform(0.4, 0.6) * radius
        parts.append(
            (
                'e',
                d * math.cos(a),
                d * math.sin(a),
                rr,
                rr,
                0.0,
                _scale_col(base, rng.uniform(0.85, 1.1)),
            )
        )
    details = []
    for _ in range(int(rng.integers(8, 16))):
        a, d = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.9) * radius
        rr = rng.uniform(0.12, 0.3) * radius
        details.append(
            (
                'e',
                d * math.cos(a),
                d * math.sin(a),
                rr,
                rr,
                0.0,
                _scale_col(base, rng.choice([0.7, 1.25])),
            )
        )
    # lit side towards the sun, in object frame (theta = 0 for trees)
    details.append(
        (
            'e',
            -sun[0] * radius * 0.35,
            -sun[1] * radius * 0.35,
            radius * 0.45,
            radius * 0.45,
            0.0,
            _scale_col(base, 1.18),
        )
    )
    return parts, details, rng.uniform(4.0, 9.0)


# -------------------------------------------------------------------------------------------------
# Scene composition


def _noise_grid(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Coarse float32 grid of uniform noise, one value per ``cell`` pixels of an HxW image."""
    gh = max(2, int(math.ceil(h / max(cell, 1.0))) + 1)
    gw = max(2, int(math.ceil(w / max(cell, 1.0))) + 1)
    return rng.random((gh, gw), dtype=np.float32)


def _smooth_noise(
    rng: np.random.Generator, h: int, w: int, cell: float, amp: float = 0.0
) -> np.ndarray:
    """
    Value noise, HxW float32, with features about ``cell`` pixels wide.

    Values are roughly in [0, 1], or in [-amp/2, amp/2] when ``amp`` is given.
    """
    grid = _noise_grid(rng, h, w, cell)
    if amp:
        grid = (grid - np.float32(0.5)) * np.float32(amp)
    return _upsample(grid, w, h, cell)


def _upsample(grid: np.ndarray, w: int, h: int, cell: float) -> np.ndarray:
    """
    Smoothly resize a coarse grid to WxH.

    Cubic, via a quarter-size step for large cells: much faster.
    """
    if cell > 8:
        grid = cv2.resize(grid, ((w + 3) // 4, (h + 3) // 4), interpolation=cv2.INTER_CUBIC)
        return cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _overlap_small(a: Tuple[float, ...], b: Tuple[float, ...]) -> float:
    """Intersection over the smaller box area (>= IoU)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    sa = (a[2] - a[0]) * (a[3] - a[1])
    sb = (b[2] - b[0]) * (b[3] - b[1])
    return iw * ih / max(1e-6, min(sa, sb))


def _inside_fraction(b: Tuple[float, ...], w: int, h: int) -> float:
    area = (b[2] - b[0]) * (b[3] - b[1])
    iw = min(b[2], w) - max(b[0], 0)
    ih = min(b[3], h) - max(b[1], 0)
    return 0.0 if iw <= 0 or ih <= 0 else iw * ih / max(area, 1e-6)


def _counts(
    rng: np.random.Generator,
    area: float,
    n_persons: Optional[int],
    n_vehicles: Optional[int],
    n_obstacles: Optional[int],
) -> Dict[str, int]:
    """Object counts for a scene covering ``area`` reference-scene areas."""

    def scaled(k: int) -> int:
        return int(round(k * area))

    return {
        'persons': scaled(int(rng.choice(7, p=[0.08, 0.16, 0.19, 0.19, 0.16, 0.12, 0.10])))
        if n_persons is None
        else n_persons,
        'vehicles': scaled(int(rng.integers(0, 4))) if n_vehicles is None else n_vehicles,
        'obstacles': scaled(int(rng.integers(0, 4))) if n_obstacles is None else n_obstacles,
        'buildings': scaled(int(rng.choice(4, p=[0.3, 0.3, 0.25, 0.15]))),
        'roads': max(int(rng.choice(3, p=[0.3, 0.5, 0.2])), 1 if area > 2 else 0),
        'clutter': scaled(int(rng.integers(3, 11))),
    }


class _Stage:
    """
    What every step of ``_render`` shares.

    The generator, the frame size, the scale, the sun and the roads.
    """

    def __init__(self, rng: np.random.Generator, width: int, height: int, gsd: float) -> None:
        self.rng = rng
        self.w, self.h = width, height
        self.px = 1.0 / gsd  # pixels per metre
        self.sun_az = rng.uniform(0, 2 * math.pi)
        self.sun = np.array(
            [math.cos(self.sun_az), math.sin(self.sun_az)]
        )  # direction shadows fall in
        overcast = rng.random() < 0.25
        self.shadow_len = (
            rng.uniform(0.1, 0.3)
            if overcast
            else 1.0 / math.tan(math.radians(rng.uniform(30, 70)))
        )
        self.shadow_dark = rng.uniform(0.85, 0.93) if overcast else rng.uniform(0.5, 0.72)
        self.centre = np.array([width / 2.0, height / 2.0])
        self.roads: List[
            Tuple[np.ndarray, float, float]
        ] = []  # (point, angle, width px) of each road


class _Cover(NamedTuple):
    """
    Ground cover as a paint map: 0 bare ground, 1 vegetation, 2 water, 3.. one id per road.

    Per paint id a colour (``col``), a texture strength (``k``) and a mask class (``seg``); road
    centre-line dashes.
    """

    paint: np.ndarray
    col: np.ndarray
    k: np.ndarray
    seg: np.ndarray
    dashes: List[Tuple[list, int]]


def _ground_cover(st: _Stage, n_roads: int) -> _Cover:
    """Paint map of fields, water and roads (sets ``st.roads``)."""
    rng, h, w, px = st.rng, st.h, st.w, st.px
    paint = np.zeros((h, w), dtype=np.uint8)
    tab_col = np.zeros((3 + _MAX_ROADS, 3), dtype=np.float32)
    tab_k = np.ones(3 + _MAX_ROADS, dtype=np.float32)
    tab_seg = np.array(
        [SEG_BACKGROUND, SEG_VEGETATION, SEG_WATER] + [SEG_ROAD] * _MAX_ROADS, dtype=np.uint8
    )
    if rng.random() < 0.6:  # low bushes / fields
        field = _smooth_noise(rng, h, w, rng.uniform(3.0, 8.0) * px)
        paint[field > rng.uniform(0.62, 0.85)] = 1
        tab_col[1], tab_k[1] = _jitter(rng, (40, 100, 55), 15), rng.uniform(1.8, 2.8)
    if rng.random() < 0.35:  # flood water or a pond
        field = _smooth_noise(rng, h, w, rng.uniform(6.0, 14.0) * px)
        paint[field > rng.uniform(0.6, 0.8)] = 2
        flood = rng.random() < 0.6
        tab_col[2], tab_k[2] = _jitter(rng, (75, 110, 135) if flood else (115, 95, 60), 15), 0.25
    dashes = []
    diag = math.hypot(w, h)
    for i in range(min(n_roads, _MAX_ROADS)):
        p0 = np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h])
        ang = rng.uniform(0, math.pi)
        rw = rng.uniform(3.5, 8.0) * px
        d = np.array([math.cos(ang), math.sin(ang)])
        n = np.array([-d[1], d[0]])
        poly = np.array(
            [
                p0 - d * diag - n * rw / 2,
                p0 + d * diag - n * rw / 2,
                p0 + d * diag + n * rw / 2,
                p0 - d * diag + n * rw / 2,
            ]
        )
        cv2.fillConvexPoly(
            paint, np.round(poly * _ONE).astype(np.int32), 3 + i, cv2.LINE_8, _SHIFT
        )
        asphalt = rng.random() < 0.6
        tab_col[3 + i], tab_k[3 + i] = (
            _jitter(rng, (105, 100, 98) if asphalt else (100, 135, 160), 15),
            0.5,
        )
        if asphalt and rw > 5.5 * px and rng.random() < 0.7:  # dashed centre line
            step = 6.0 * px
            ts = np.arange(-diag, diag, step)[:, None]
            a0 = np.round((p0 + d * ts) * _ONE).astype(np.int32)
            a1 = np.round((p0 + d * (ts + step * 0.5)) * _ONE).astype(np.int32)
            dashes.append((list(np.stack([a0, a1], 1)), max(1, int(round(0.15 * px)))))
        st.roads.append((p0, ang, rw))
    return _Cover(paint, tab_col, tab_k, tab_seg, dashes)


def _ground_image(st: _Stage, cover: _Cover, ground: Optional[np.ndarray]) -> np.ndarray:
    """
    Return the ground's colours.

    Two base colours mixed by low-frequency noise, mid/fine luminance texture, the paint regions'
    colours, a real texture on bare ground (``ground``), road dashes.
    """
    rng, h, w, px, paint = st.rng, st.h, st.w, st.px, cover.paint
    c1 = np.array(_pick(rng, _GROUND, 12), dtype=np.float32)
    c2 = np.array(_pick(rng, _GROUND, 12), dtype=np.float32)
    mix = _noise_grid(rng, h, w, 7.0 * px)
    np.clip((mix - 0.5) * rng.uniform(1.5, 3.0) + 0.5, 0.0, 1.0, out=mix)
    grid = np.clip(c1 + mix[..., None] * (c2 - c1), 0, 255).astype(np.uint8)
    base = _upsample(grid, w, h, 7.0 * px)
    lum = _smooth_noise(rng, h, w, 1.2 * px, rng.uniform(14, 30))
    lum += _smooth_noise(rng, h, w, max(1.5, 0.12 * px), rng.uniform(8, 20))
    lut = np.zeros((256, 1, 3), dtype=np.uint8)
    lut[: len(cover.col), 0] = np.clip(np.round(cover.col), 0, 255).astype(np.uint8)
    cv2.copyTo(
        cv2.LUT(cv2.merge((paint, paint, paint)), lut), paint, base
    )  # paint > 0: region colour
    lut_k = np.ones(256, dtype=np.float32)
    lut_k[: len(cover.k)] = cover.k
    lum = cv2.multiply(lum, cv2.LUT(paint, lut_k)).astype(np.int16)
    image = cv2.add(base, cv2.merge((lum, lum, lum)), dtype=cv2.CV_8U)
    del base, lum
    if ground is not None:
        if ground.shape != image.shape or ground.dtype != np.uint8:
            raise ValueError(
                f'_render: ground must be {image.shape} uint8, got {ground.shape} {ground.dtype}'
            )
        cv2.copyTo(ground, (paint == 0).view(np.uint8), image)
    for lines, thickness in cover.dashes:
        cv2.polylines(image, lines, False, (200, 205, 210), thickness, cv2.LINE_8, _SHIFT)
    return image


def _place_buildings(st: _Stage, count: int, road_mask: np.ndarray) -> List[_Obj]:
    """Place buildings (gable or flat roofs, with shadows), not on roads nor on each other."""
    rng, h, w, px, roads = st.rng, st.h, st.w, st.px, st.roads
    buildings: List[_Obj] = []
    for _ in range(count * 12):
        if len(buildings) >= count:
            break
        bl, bw = rng.uniform(6.0, 18.0), rng.uniform(5.0, 11.0)
        if roads and rng.random() < 0.6:
            theta = roads[int(rng.integers(len(roads)))][1] + rng.choice([0.0, math.pi / 2])
        else:
            theta = rng.uniform(0, math.pi)
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        roof = _pick(rng, _ROOF, 15)
        body = ('p', _rect(-bw / 2, -bl / 2, bw / 2, bl / 2), roof)
        parts = _place([body], cx, cy, theta, px)
        b = parts[0][1]
        x0, y0, x1, y1 = _bounds(parts)
        if any(_overlap_small((x0, y0, x1, y1), o.bounds) > 0 for o in buildings):
            continue
        ix0, iy0 = max(0, int(x0)), max(0, int(y0))
        ix1, iy1 = min(w, int(x1) + 1), min(h, int(y1) + 1)
        if (
            ix1 <= ix0
            or iy1 <= iy0
            or np.count_nonzero(road_mask[iy0:iy1, ix0:ix1]) > 0.03 * ((iy1 - iy0) * (ix1 - ix0))
        ):
            continue
        if rng.random() < 0.6:  # gable roof: two halves, one lit
            k = rng.uniform(0.12, 0.3)
            details = [
                ('p', _rect(-bw / 2, -bl / 2, 0.0, bl / 2), _scale_col(roof, 1 + k)),
                ('p', _rect(0.0, -bl / 2, bw / 2, bl / 2), _scale_col(roof, 1 - k)),
                ('l', 0.0, -bl / 2, 0.0, bl / 2, 0.15, _scale_col(roof, 0.6)),
            ]
        else:  # flat roof: parapet + a roof unit
            e = 0.35
            details = [
                (
                    'p',
                    _rect(-bw / 2 + e, -bl / 2 + e, bw / 2 - e, bl / 2 - e),
                    _scale_col(roof, 0.85),
                )
            ]
            ux, uy = rng.uniform(-bw / 4, bw / 4), rng.uniform(-bl / 4, bl / 4)
            details.append(
                (
                    'p',
                    _rect(ux - 0.6, uy - 0.6, ux + 0.6, uy + 0.6),
                    _jitter(rng, (170, 170, 170), 20),
                )
            )
        hgt = rng.uniform(3.0, 9.0)
        off = st.sun * hgt * st.shadow_len * px
        hull = cv2.convexHull(np.concatenate([b, b + off]).astype(np.float32))[:, 0, :].astype(
            np.float64
        )
        buildings.append(
            _Obj(
                -1, SEG_BUILDING, parts, _place(details, cx, cy, theta, px), [('p', hull, 0)], 6.0
            )
        )
    return buildings


def _free(bounds: Tuple[float, ...], others: Sequence[_Obj], limit: float) -> bool:
    return all(_overlap_small(bounds, o.bounds) <= limit for o in others)


def _make_obstacle(st: _Stage) -> _Obj:
    """
    Return a tree (crown, trunk shadow) or a pole.

    Leaning away from the image centre, maybe a cross-arm.
    """
    rng, px, sun = st.rng, st.px, st.sun
    cx, cy = rng.uniform(0, st.w), rng.uniform(0, st.h)
    if rng.random() < 0.65:
        parts_m, details_m, hgt = _tree_parts(rng, sun)
        parts = _place(parts_m, cx, cy, 0.0, px)
        off = sun * hgt * st.shadow_len * px
        shadow = [('e', p[1] + off[0], p[2] + off[1], p[3], p[4], 0.0, 0) for p in parts]
        shadow.append(('l', cx, cy, cx + off[0], cy + off[1], 0.3 * px, 0))
        return _Obj(
            OBSTACLE, SEG_VEGETATION, parts, _place(details_m, cx, cy, 0.0, px), shadow, 10.0
        )
    hgt = rng.uniform(5.0, 12.0)
    v = np.array([cx, cy]) - st.centre
    nv = float(np.hypot(*v))
    lean = v / nv if nv > 1e-3 else np.array([0.0, -1.0])
    lean_len = hgt * rng.uniform(0.1, 0.25) * px
    thick = max(2.0, rng.uniform(0.2, 0.4) * px)
    col = _pick(rng, ((140, 140, 145), (50, 80, 110), (170, 170, 165)), 15)
    tx, ty = cx + lean[0] * lean_len, cy + lean[1] * lean_len
    parts = [('l', cx, cy, tx, ty, thick, col)]
    if rng.random() < 0.5:  # cross-arm of a power pole
        arm = rng.uniform(0.6, 1.0) * px
        parts.append(
            (
                'l',
                tx - lean[1] * arm,
                ty + lean[0] * arm,
                tx + lean[1] * arm,
                ty - lean[0] * arm,
                max(2.0, thick * 0.7),
                col,
            )
        )
    parts.append(('e', tx, ty, thick * 0.7, thick * 0.7, 0.0, _scale_col(col, 1.15)))
    off = sun * hgt * st.shadow_len * px
    shadow = [('l', cx, cy, cx + off[0], cy + off[1], thick, 0)]
    return _Obj(OBSTACLE, SEG_BUILDING, parts, [], shadow)


def _make_vehicle(st: _Stage) -> _Obj:
    """Return a vehicle, mostly on a road along it, else anywhere."""
    rng, px, roads = st.rng, st.px, st.roads
    parts_m, details_m, hgt = _vehicle_parts(rng)
    if roads and rng.random() < 0.75:
        p0, ang, rw = roads[int(rng.integers(len(roads)))]
        d = np.array([math.cos(ang), math.sin(ang)])
        t = rng.uniform(-0.6, 0.6) * max(st.w, st.h)
        lat = rng.uniform(-0.25, 0.25) * rw
        c = p0 + d * t + np.array([-d[1], d[0]]) * lat
        cx, cy = float(c[0]), float(c[1])
        theta = ang - math.pi / 2 + rng.choice([0.0, math.pi]) + rng.normal(0, 0.03)
    else:
        cx, cy, theta = rng.uniform(0, st.w), rng.uniform(0, st.h), rng.uniform(0, 2 * math.pi)
    parts = _place(parts_m, cx, cy, theta, px)
    off = st.sun * hgt * 0.5 * st.shadow_len * px
    shadow = []
    for p in parts:
        hull = cv2.convexHull(np.concatenate([p[1], p[1] + off]).astype(np.float32))
        shadow.append(('p', hull[:, 0, :].astype(np.float64), 0))
    return _Obj(VEHICLE, SEG_VEHICLE, parts, _place(details_m, cx, cy, theta, px), shadow, 3.0)


def _make_person(st: _Stage) -> _Obj:
    """Return a person, standing (a long shadow from the feet) or lying (a short offset shadow)."""
    rng = st.rng
    parts_m, lying = _person_parts(rng)
    cx, cy, theta = rng.uniform(0, st.w), rng.uniform(0, st.h), rng.uniform(0, 2 * math.pi)
    scale = st.px * rng.uniform(0.85, 1.12)
    parts = _place(parts_m, cx, cy, theta, scale)
    if lying:
        off = st.sun * 0.12 * scale
        shadow = [(p[0], p[1] + off[0], p[2] + off[1]) + p[3:] for p in parts]
    else:
        feet = np.array(_place([('e', 0.0, 0.62, 0.1, 0.1, 0.0, 0)], cx, cy, theta, scale)[0][1:3])
        ln = 1.7 * st.shadow_len * scale
        sc = feet + st.sun * ln / 2
        shadow = [
            ('e', sc[0], sc[1], ln / 2 + 0.1 * scale, 0.17 * scale, math.degrees(st.sun_az), 0)
        ]
    return _Obj(PERSON, SEG_PERSON, parts, [], shadow, 4.0)


def _place_objects(
    st: _Stage,
    make: Callable[[_Stage], Optional[_Obj]],
    n: int,
    dets: List[_Obj],
    buildings: Sequence[_Obj],
    attempts: int = 25,
) -> None:
    """
    Add up to ``n`` objects from ``make`` to ``dets``.

    Mostly inside the image, apart from the others.
    """
    placed = 0
    for _ in range(n * attempts):
        if placed >= n:
            break
        o = make(st)
        if o is None:
            continue
        if (
            _inside_fraction(o.bounds, st.w, st.h) < 0.6
            or not _free(o.bounds, dets, 0.3)
            or not _free(o.bounds, buildings, 0.05)
        ):
            continue
        dets.append(o)
        placed += 1


def _clutter_parts(rng: np.random.Generator) -> Tuple[List[tuple], List[tuple], float, float]:
    """
    Return one clutter item in metres: (parts, details, texture, shadow height).

    Clutter is rocks, debris and person-coloured decoys.
    """
    r = rng.random()
    if r < 0.35:  # rock
        a, b = rng.uniform(0.2, 0.6), rng.uniform(0.15, 0.45)
        col = _pick(rng, ((130, 130, 130), (90, 110, 125), (160, 160, 155), (70, 75, 80)), 15)
        parts_m = [('e', 0.0, 0.0, a, b, 0.0, col)]
        details_m = [('e', -a * 0.25, -b * 0.25, a * 0.55, b * 0.5, 0.0, _scale_col(col, 1.2))]
        return parts_m, details_m, 6.0, 0.25
    if r < 0.65:  # debris: planks / boards / sheets, any colour
        parts_m = []
        for _k in range(int(rng.integers(1, 4))):
            ln, wd = rng.uniform(0.4, 1.6), rng.uniform(0.08, 0.45)
            ox, oy, oa = rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0, math.pi)
            col = _pick(rng, _CLOTHES + ((60, 90, 120), (150, 150, 150)), 20)
            parts_m += _place(
                [('p', _rect(-wd / 2, -ln / 2, wd / 2, ln / 2), col)], ox, oy, oa, 1.0
            )
        return parts_m, [], 3.0, 0.08
    # person-coloured decoys: tarps, bags, a lone dark 'head', a two-tone blob
    col = _pick(rng, _CLOTHES, 22)
    kind = rng.random()
    if kind < 0.35:
        a, b = rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.6)
        parts_m = [('p', _rect(-a, -b, a, b), col)]
    elif kind < 0.6:
        a = rng.uniform(0.15, 0.35)
        parts_m = [('e', 0.0, 0.0, a, a * rng.uniform(0.6, 1.0), 0.0, col)]
    elif kind < 0.8:
        a = rng.uniform(0.09, 0.14)
        parts_m = [('e', 0.0, 0.0, a, a, 0.0, _pick(rng, _HAIR, 10))]
    else:
        parts_m = [
            ('e', 0.0, 0.0, rng.uniform(0.2, 0.45), rng.uniform(0.15, 0.3), 0.0, col),
            (
                'e',
                rng.uniform(0.25, 0.5),
                0.0,
                rng.uniform(0.15, 0.3),
                rng.uniform(0.15, 0.3),
                0.0,
                _pick(rng, _TROUSERS, 15),
            ),
        ]
    return parts_m, [], 4.0, 0.1


def _place_clutter(
    st: _Stage, count: int, dets: Sequence[_Obj], buildings: Sequence[_Obj]
) -> List[_Obj]:
    """Clutter (no detection label) that touches no object and no building."""
    rng, px = st.rng, st.px
    clutter: List[_Obj] = []
    for _ in range(count * 4):
        if len(clutter) >= count:
            break
        cx, cy, theta = rng.uniform(0, st.w), rng.uniform(0, st.h), rng.uniform(0, 2 * math.pi)
        parts_m, details_m, tex, sh = _clutter_parts(rng)
        parts = _place(parts_m, cx, cy, theta, px)
        o = _Obj(-1, SEG_BACKGROUND, parts, _place(details_m, cx, cy, theta, px), [], tex)
        if not _free(o.bounds, dets, 0.0) or not _free(o.bounds, buildings, 0.0):
            continue
        off = st.sun * sh * st.shadow_len * px
        o.shadow = [
            (p[0], p[1] + off[0], p[2] + off[1]) + p[3:]
            if p[0] == 'e'
            else ('p', p[1] + off, 0)
            if p[0] == 'p'
            else p
            for p in parts
        ]
        clutter.append(o)
    return clutter


def _composite(
    rng: np.random.Generator, everything: Sequence[_Obj], image: np.ndarray, mask: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, List[int], List[float]]:
    """
    Draw the shadows and each object's sprite into ``image`` and ``mask``.

    The shadows are a 0/1 map for ``_lighting``.
    Returns the shadow map (pixels covered by objects cleared), the instance map (``i + 1`` for
    labelled object ``i``), the labels and each labelled object's drawn pixel count (inside the
    image or not).
    """
    h, w = mask.shape
    shade = np.zeros((h, w), dtype=np.uint8)
    for o in everything:
        _draw(shade, o.shadow, color=1)
    inst = np.zeros((h, w), dtype=np.uint16)
    labels: List[int] = []
    full: List[float] = []
    for o in everything:
        x0, y0 = int(math.floor(o.bounds[0])) - 1, int(math.floor(o.bounds[1])) - 1
        x1, y1 = int(math.ceil(o.bounds[2])) + 2, int(math.ceil(o.bounds[3])) + 2
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        pw, ph = x1 - x0, y1 - y0
        pimg = np.zeros((ph, pw, 3), dtype=np.uint8)
        pmask = np.zeros((ph, pw), dtype=np.uint8)
        _draw(pimg, o.parts, x0, y0)
        _draw(pmask, o.parts, x0, y0, color=1)
        if o.details:
            _draw(pimg, o.details, x0, y0)
        if o.texture > 0:
            tex = np.frombuffer(rng.bytes(ph * pw), dtype=np.uint8).reshape(ph, pw)
            pimg = cv2.addWeighted(
                pimg, 1.0, cv2.merge((tex, tex, tex)), 2.0 * o.texture / 255.0, -o.texture
            )
        sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        m = pmask[sl]
        cv2.copyTo(pimg[sl], m, image[cy0:cy1, cx0:cx1])
        mb = m.view(bool)
        mask[cy0:cy1, cx0:cx1][mb] = o.seg
        shade[cy0:cy1, cx0:cx1][mb] = 0
        if o.label >= 0:
            labels.append(o.label)
            inst[cy0:cy1, cx0:cx1][mb] = len(labels)
            full.append(float(np.count_nonzero(pmask)))
    return shade, inst, labels, full


def _render(
    rng: np.random.Generator,
    width: int,
    height: int,
    gsd: float,
    counts: Dict[str, int],
    lighting: bool = True,
    ground: Optional[np.ndarray] = None,
):
    """
    Render a scene: (image, mask, instances, labels, drawn pixel count per instance id 1..N).

    Steps: the sun (``_Stage``), ground cover (``_ground_cover``), the ground's colours
        (``_ground_image``),
    buildings, obstacles, vehicles and persons, clutter (``_place_*``), shadows and sprites
    (``_composite``), light (``_lighting``); one ``rng`` in this order, so a seed gives the same
    scene.

    ``ground`` (HxWx3 uint8 BGR, e.g. a real photo texture) replaces the bare ground (paint 0)
    after the procedural ground is made; it uses none of ``rng``, so objects, boxes and mask do not
    depend on it.
    """
    st = _Stage(rng, width, height, gsd)
    cover = _ground_cover(st, counts['roads'])
    image = _ground_image(st, cover, ground)
    mask = cover.seg[cover.paint]
    buildings = _place_buildings(st, counts['buildings'], cover.paint >= 3)
    dets: List[_Obj] = []
    _place_objects(st, _make_obstacle, counts['obstacles'], dets, buildings)
    _place_objects(st, _make_vehicle, counts['vehicles'], dets, buildings)
    _place_objects(st, _make_person, counts['persons'], dets, buildings)
    clutter = _place_clutter(st, counts['clutter'], dets, buildings)
    shade, inst, labels, full = _composite(rng, buildings + clutter + dets, image, mask)
    image = _lighting(rng, image, gsd, shade, st.shadow_dark) if lighting else image
    return image, mask, inst, np.array(labels, dtype=np.int64), np.array(full, dtype=np.float64)


def _lighting(
    rng: np.random.Generator, image: np.ndarray, gsd: float, shade: np.ndarray, shadow_dark: float
) -> np.ndarray:
    """
    Cast shadows, global gain, colour cast, linear gradient, cloud shadows.

    Blur and sensor noise.
    """
    h, w = image.shape[:2]
    sh, sw = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    ramp = (xx / sw - 0.5) * math.cos(a) + (yy / sh - 0.5) * math.sin(a)
    gain = rng.uniform(0.72, 1.25) * (1.0 + rng.uniform(0.0, 0.35) * ramp)
    if rng.random() < 0.35:  # cloud shadows
        cloud = _smooth_noise(rng, sh, sw, rng.uniform(20.0, 60.0) / gsd / 8)
        gain *= 1.0 - rng.uniform(0.2, 0.45) * np.clip((cloud - 0.45) * 4.0, 0.0, 1.0)
    # gain as uint8 in 1/64 steps (few, small temporaries: this runs per scene)
    cast = rng.uniform(0.92, 1.08, 3)
    chans = []
    for c in cast:
        g = cv2.resize(
            cv2.convertScaleAbs(gain, alpha=64.0 * c), (w, h), interpolation=cv2.INTER_LINEAR
        )
        cv2.copyTo(cv2.convertScaleAbs(g, alpha=shadow_dark), shade, g)
        chans.append(g)
    out = cv2.multiply(image, cv2.merge(chans), scale=1.0 / 64)
    amp = rng.uniform(2.0, 9.0)  # uniform noise in [-amp, amp]
    noise = np.frombuffer(rng.bytes(h * w * 3), dtype=np.uint8).reshape(h, w, 3)
    out = cv2.addWeighted(out, 1.0, noise, 2.0 * amp / 255.0, -amp)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.1))
    return out


def _instance_boxes(inst: np.ndarray, n: int) -> Tuple[np.ndarray, np.ndarray]:
    """Tight xyxy (pixel-edge) boxes and pixel counts of instance ids 1..n in an instance map."""
    boxes = np.zeros((n, 4), dtype=np.float32)
    counts = np.zeros(n, dtype=np.int64)
    if n == 0:
        return boxes, counts
    ys, xs = np.nonzero(inst)
    if ys.size == 0:
        return boxes, counts
    ids = inst[ys, xs].astype(np.int64)
    order = np.argsort(ids, kind='stable')
    ids, ys, xs = ids[order], ys[order], xs[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    present = ids[starts] - 1
    counts[present] = np.diff(np.r_[starts, ids.size])
    boxes[present, 0] = np.minimum.reduceat(xs, starts)
    boxes[present, 1] = np.minimum.reduceat(ys, starts)
    boxes[present, 2] = np.maximum.reduceat(xs, starts) + 1
    boxes[present, 3] = np.maximum.reduceat(ys, starts) + 1
    return boxes, counts


def _annotate(
    inst: np.ndarray, labels: np.ndarray, full_counts: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes/labels of sufficiently visible instances; instance map renumbered to match."""
    n = len(labels)
    boxes, counts = _instance_boxes(inst, n)
    keep = (counts > 0) & (counts >= MIN_VISIBLE_FRACTION * full_counts[:n])
    keep &= (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
    lut = np.zeros(n + 1, dtype=np.uint16)
    lut[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.uint16)
    return boxes[keep], labels[keep].astype(np.int64), lut[inst]


#: Second random stream of a seed (``default_rng([seed, _TEXTURE_STREAM])``): real-texture choices
#: only.
_TEXTURE_STREAM = 0x7E47


def _real_ground(seed: int, width: int, height: int, probability: float) -> Optional[np.ndarray]:
    """
    Return a real photo ground texture with the given probability.

    Else ``None`` (the seed's second stream).
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f'real_background must be in [0, 1], got {probability}')
    if probability <= 0.0:
        return None
    trng = np.random.default_rng([seed, _TEXTURE_STREAM])
    if trng.random() >= probability:
        return None
    from .textures import sample_texture

    return sample_texture(trng, width, height).image


def generate_texture_negative(
    seed: int, width: int = REFERENCE_WIDTH, height: int = REFERENCE_HEIGHT
) -> Scene:
    """
    Return a scene of real photo texture only, with no objects: no boxes, mask all ``background``.

    The texture (training photos only, :func:`vitedge_ros.data.textures.sample_texture`) gets the
    generator's lighting and sensor noise. For detection training, where every box on it would be
    false; not meant for segmentation.

    The same seed always gives byte-identical output.
    """
    if width < 16 or height < 16:
        raise ValueError(
            f'generate_texture_negative: width and height must be >= 16, got {width}x{height}'
        )
    from .textures import sample_texture

    rng = np.random.default_rng([seed, _TEXTURE_STREAM, 1])
    image = sample_texture(rng, width, height).image
    gsd = float(rng.uniform(*DEFAULT_GSD_RANGE)) * REFERENCE_WIDTH / width
    image = _lighting(rng, image, gsd, np.zeros((height, width), np.uint8), 1.0)
    return Scene(
        image=image,
        boxes=np.zeros((0, 4), np.float32),
        labels=np.zeros(0, np.int64),
        mask=np.full((height, width), SEG_BACKGROUND, np.uint8),
        instances=np.zeros((height, width), np.uint16),
        gsd=gsd,
    )


def generate_scene(
    seed: int,
    width: int = REFERENCE_WIDTH,
    height: int = REFERENCE_HEIGHT,
    *,
    n_persons: Optional[int] = None,
    n_vehicles: Optional[int] = None,
    n_obstacles: Optional[int] = None,
    gsd_range: Tuple[float, float] = DEFAULT_GSD_RANGE,
    real_background: float = 0.0,
) -> Scene:
    """
    Generate one synthetic aerial scene; the same arguments always give byte-identical output.

    Counts left as ``None`` are drawn at random (persons 0-6, vehicles 0-3, obstacles 0-3 for a
    320x240-sized patch of ground). A requested count is an upper bound: placements overlapping
    other detections (intersection over the smaller box > 0.3) or buildings are retried a bounded
    number of times. ``gsd_range`` is in metres per pixel at a 320-pixel-wide image (see the module
    docstring). ``real_background`` is the probability that the bare ground is a real photo texture
    (:func:`vitedge_ros.data.textures.sample_texture`, training photos only) instead of procedural
    ground; that choice and the texture come from a second random stream of the seed, so the
    objects, boxes, labels and mask are the same whatever the background.
    """
    if width < 16 or height < 16:
        raise ValueError(f'generate_scene: width and height must be >= 16, got {width}x{height}')
    rng = np.random.default_rng(seed)
    gsd = float(rng.uniform(*gsd_range)) * REFERENCE_WIDTH / width
    area = (
        (width * height)
        / float(REFERENCE_WIDTH * REFERENCE_HEIGHT)
        * (REFERENCE_WIDTH / width) ** 2
    )
    counts = _counts(rng, area, n_persons, n_vehicles, n_obstacles)
    ground = _real_ground(seed, width, height, real_background)
    image, mask, inst, labels, full = _render(rng, width, height, gsd, counts, ground=ground)
    boxes, labels, inst = _annotate(inst, labels, full)
    return Scene(image=image, boxes=boxes, labels=labels, mask=mask, instances=inst, gsd=gsd)


def camera_sequence(
    n_frames: int,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    *,
    world_scale: float = 3.5,
    persons_per_frame: float = 5.0,
    speed: float = 0.008,
    gsd: Optional[float] = None,
    real_background: float = 0.0,
) -> Iterator[Scene]:
    """
    Yield frames of a drone flying smoothly over one generated world.

    The world (``world_scale`` times the frame size) is rendered once; each frame is a window
    sliding along a smooth Lissajous path (``speed`` = frame widths per frame) with slight rotation
    (+-6 deg) and zoom (+-8 %). Boxes come from the warped instance map; objects less than half
    visible are dropped. ``Scene.transform`` holds the 2x3 world-to-frame affine map.
    ``persons_per_frame`` sets the person density (about that many visible per frame on average).
    ``gsd`` (metres/pixel at this width) defaults to a random value from ``DEFAULT_GSD_RANGE``
    scaled to the width. ``real_background``: probability that the world's bare ground is a real
    photo texture (as in :func:`generate_scene`; the flight path, objects and boxes do not depend
    on it).
    """
    if n_frames < 0:
        raise ValueError(f'camera_sequence: n_frames must be >= 0, got {n_frames}')
    rng = np.random.default_rng(seed)
    if gsd is None:
        gsd = float(rng.uniform(0.04, 0.07)) * REFERENCE_WIDTH / width
    ww, wh = int(round(width * world_scale)), int(round(height * world_scale))
    frame_area = (
        (width * height)
        / float(REFERENCE_WIDTH * REFERENCE_HEIGHT)
        * (REFERENCE_WIDTH / width) ** 2
    )
    area = frame_area * (ww * wh) / float(width * height)
    counts = _counts(rng, area, None, None, None)
    counts['persons'] = int(round(persons_per_frame * (ww * wh) / float(width * height)))
    counts['roads'] = max(2, int(round(area / 6)))
    world, wmask, winst, wlabels, wfull = _render(
        rng, ww, wh, gsd, counts, ground=_real_ground(seed, ww, wh, real_background)
    )
    # world-level annotation (drop objects cut by the world border), then per-frame visibility
    _, wlabels_kept, winst = _annotate(winst, wlabels, wfull)
    world_counts = np.bincount(winst.ravel(), minlength=len(wlabels_kept) + 1)[1:].astype(
        np.float64
    )

    zoom_amp, rot_amp = 0.08, math.radians(6.0)
    half_diag = math.hypot(width, height) / 2 / (1 - zoom_amp)
    margin = half_diag + 2
    ax, ay = max(0.0, ww / 2 - margin), max(0.0, wh / 2 - margin)
    v = speed * width
    w1 = v / max(ax, 1.0)
    w2 = w1 * rng.uniform(1.3, 1.7)
    w3, w4 = rng.uniform(0.01, 0.03), rng.uniform(0.01, 0.03)
    ph = rng.uniform(0, 2 * math.pi, 4)
    base_rot = rng.uniform(-math.pi, math.pi)
    noise_rng = np.random.default_rng([seed, 1])
    for t in range(n_frames):
        c = np.array(
            [ww / 2 + ax * math.sin(w1 * t + ph[0]), wh / 2 + ay * math.sin(w2 * t + ph[1])]
        )
        rot = base_rot + rot_amp * math.sin(w3 * t + ph[2])
        s = 1.0 + zoom_amp * math.sin(w4 * t + ph[3])
        a = s * _rot(rot)
        m = np.zeros((2, 3))
        m[:, :2] = a
        m[:, 2] = np.array([width / 2.0, height / 2.0]) - a @ c
        frame = cv2.warpAffine(
            world, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        fmask = cv2.warpAffine(
            wmask, m, (width, height), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT
        )
        finst = cv2.warpAffine(
            winst,
            m,
            (width, height),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        noise = np.frombuffer(noise_rng.bytes(height * width * 3), dtype=np.uint8).reshape(
            height, width, 3
        )
        frame = cv2.addWeighted(
            frame, 1.0, noise, 5.0 / 255.0, -2.5
        )  # sensor noise in [-2.5, 2.5]
        boxes, labels, finst = _annotate(finst, wlabels_kept, world_counts * s * s)
        yield Scene(
            image=frame,
            boxes=boxes,
            labels=labels,
            mask=fmask,
            instances=finst,
            gsd=gsd / s,
            transform=m.astype(np.float32),
        )


def to_coco(scenes: Iterable[Scene], file_names: Optional[Sequence[str]] = None) -> dict:
    """
    Convert scenes to a COCO detection dict (bbox xywh, category ids 1..3, iscrowd 0).

    Scenes are consumed one at a time (a ``camera_sequence`` generator works); image ids are 1..N
    and file names default to ``000000.png``, ``000001.png``, ...
    """
    images, anns = [], []
    n = 0
    for i, sc in enumerate(scenes):
        n = i + 1
        if file_names is None:
            name = f'{i:06d}.png'
        elif i < len(file_names):
            name = str(file_names[i])
        else:
            break
        h, w = sc.image.shape[:2]
        images.append({'id': i + 1, 'file_name': name, 'width': int(w), 'height': int(h)})
        for box, lab in zip(sc.boxes.tolist(), sc.labels.tolist()):
            x1, y1, x2, y2 = box
            bw, bh = x2 - x1, y2 - y1
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': i + 1,
                    'category_id': int(lab) + 1,
                    'bbox': [x1, y1, bw, bh],
                    'area': bw * bh,
                    'iscrowd': 0,
                }
            )
    if file_names is not None and n != len(file_names):
        raise ValueError(
            f'to_coco: {len(file_names)} file_names for {"more" if n > len(file_names) else n} '
            f'scenes'
        )
    cats = [
        {'id': i + 1, 'name': c, 'supercategory': 'object'}
        for i, c in enumerate(DETECTION_CLASSES)
    ]
    return {
        'info': {'description': 'vitedge_ros synthetic aerial scenes'},
        'images': images,
        'annotations': anns,
        'categories': cats,
    }


def save_coco_dataset(
    scenes: Iterable[Scene],
    out_dir: str,
    json_name: str = 'annotations.json',
    image_ext: str = '.png',
) -> str:
    """
    Write scenes as ``out_dir/images/NNNNNN.png`` plus a COCO JSON; returns the JSON path.

    The JSON's ``file_name`` entries are relative to ``out_dir`` (``load_coco_detection`` reads it
    back).
    """
    img_dir = os.path.join(out_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    names: List[str] = []

    def written() -> Iterator[Scene]:
        for i, sc in enumerate(scenes):
            name = f'images/{i:06d}{image_ext}'
            if not cv2.imwrite(os.path.join(out_dir, name), sc.image):
                raise OSError(f'save_coco_dataset: could not write {os.path.join(out_dir, name)}')
            names.append(name)
            yield sc

    data = to_coco(written())
    for im, name in zip(data['images'], names):
        im['file_name'] = name
    path = os.path.join(out_dir, json_name)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f)
    os.replace(tmp, path)
    return path


class SyntheticDetectionDataset:
    """
    Map-style dataset of generated scenes (torch-free).

    Item ``i`` is ``generate_scene(seed_offset + i, width, height, **kwargs)``.
    """

    def __init__(
        self,
        n: int,
        seed_offset: int = 0,
        width: int = REFERENCE_WIDTH,
        height: int = REFERENCE_HEIGHT,
        **kwargs,
    ):
        if n < 0:
            raise ValueError(f'SyntheticDetectionDataset: n must be >= 0, got {n}')
        self.n, self.seed_offset, self.width, self.height = (
            int(n),
            int(seed_offset),
            int(width),
            int(height),
        )
        self.kwargs = kwargs
        self.classes = list(DETECTION_CLASSES)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Scene:
        """Return scene ``i`` (negative indices count from the end)."""
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f'SyntheticDetectionDataset index {i} out of range [0, {self.n})')
        return generate_scene(self.seed_offset + i, self.width, self.height, **self.kwargs)

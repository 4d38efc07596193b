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
Localisation and avoidance metrics.

Person targets against true ground positions, obstacle bearings, clear path.

Persons: in every frame the estimated targets (ground points, metres) are matched one-to-one to the
    true positions
by minimum total horizontal distance (the Hungarian method,
``scipy.optimize.linear_sum_assignment``, where SciPy is installed; else greedily, nearest pair
first), and a pair counts only within ``gate_m``. A true person with a partner is *localised*; an
estimate without one is a *false target*. Errors are horizontal (x, y) distances of the matched
pairs.

Obstacles: the true bearing of an obstacle is the ray from the camera to its ground position (in
    the optical
frame, through the pose at the frame's stamp), as azimuth and elevation
(``vitedge_ros.geometry.obstacles`` convention); estimated bearings (box centres) of the
``obstacle`` class are matched to them one-to-one by the angle between the rays, within
``gate_deg``.

Clear path: the published verdict against the verdict of the true boxes (same rule): a *false
alarm* is "blocked" on a truly clear path, a *miss* is "clear" on a truly blocked one.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    'ClearPathMeter',
    'LocalisationMeter',
    'ObstacleBearingMeter',
    'match_one_to_one',
    'plot_topdown',
    'topdown_frame',
]


def match_one_to_one(cost: np.ndarray, gate: float) -> Tuple[List[Tuple[int, int]], str]:
    """
    Pairs (row, column) of a minimum-cost one-to-one matching, keeping pairs with cost <= ``gate``.

    Returns the pairs and the method used (``hungarian`` with SciPy, else ``greedy``).
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return [], 'hungarian'
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        pairs = []
        used_r, used_c = set(), set()
        for flat in np.argsort(cost, axis=None, kind='stable'):
            r, c = np.unravel_index(flat, cost.shape)
            if cost[r, c] > gate:
                break
            if r in used_r or c in used_c:
                continue
            used_r.add(r)
            used_c.add(c)
            pairs.append((int(r), int(c)))
        return sorted(pairs), 'greedy'
    big = np.where(
        cost <= gate, cost, gate * 10.0 + 1e6
    )  # gated pairs never chosen over allowed ones
    rows, cols = linear_sum_assignment(big)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] <= gate], 'hungarian'


def _percentile(values: Sequence[float], q: float) -> Optional[float]:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else None


class LocalisationMeter:
    """
    Accumulates person-localisation results frame by frame.

    ``result()`` gives the metrics dict.
    """

    def __init__(self, gate_m: float = 2.0) -> None:
        self.gate_m = float(gate_m)
        self.errors: List[float] = []
        self.true_total = 0
        self.est_total = 0
        self.false_targets = 0
        self.frames = 0
        self.method = 'hungarian'
        self.pairs: List[
            Tuple[np.ndarray, np.ndarray]
        ] = []  # (estimate xy, truth xy) for the plot
        self.misses: List[np.ndarray] = []
        self.false_points: List[np.ndarray] = []

    def add(self, estimates: Optional[Sequence[Sequence[float]]], truth: np.ndarray) -> None:
        """
        Add one frame: the estimated ground points and the true ones.

        ``estimates``: N x 2 or N x 3 in metres (None: no targets); ``truth``: M x 2 or M x 3,
        also in metres.
        """
        est = np.asarray(list(estimates) if estimates is not None else [], dtype=np.float64)
        est = est[:, :2] if est.ndim == 2 and est.shape[1] >= 2 else np.zeros((0, 2))
        tru = np.asarray(truth, dtype=np.float64)
        tru = tru[:, :2] if tru.ndim == 2 and tru.shape[1] >= 2 else np.zeros((0, 2))
        self.frames += 1
        self.true_total += len(tru)
        self.est_total += len(est)
        cost = (
            np.linalg.norm(est[:, None, :] - tru[None, :, :], axis=2)
            if len(est) and len(tru)
            else np.zeros((len(est), len(tru)))
        )
        pairs, self.method = match_one_to_one(cost, self.gate_m)
        matched_e = {e for e, _ in pairs}
        matched_t = {t for _, t in pairs}
        for e, t in pairs:
            self.errors.append(float(cost[e, t]))
            self.pairs.append((est[e], tru[t]))
        self.false_targets += len(est) - len(pairs)
        self.false_points += [est[i] for i in range(len(est)) if i not in matched_e]
        self.misses += [tru[i] for i in range(len(tru)) if i not in matched_t]

    def result(self) -> Dict[str, Any]:
        """
        Metrics: counts, recall, error median / p95 / mean (m).

        Share of true persons within 1 m and 2 m.
        """
        err = self.errors
        n = self.true_total
        return {
            'frames_evaluated': self.frames,
            'gate_m': self.gate_m,
            'matcher': self.method,
            'persons_true': n,
            'targets_published': self.est_total,
            'persons_localised': len(err),
            'recall': len(err) / n if n else None,
            'median_m': _percentile(err, 50),
            'p95_m': _percentile(err, 95),
            'mean_m': float(np.mean(err)) if err else None,
            'max_m': float(np.max(err)) if err else None,
            'within_1m': sum(e <= 1.0 for e in err) / n if n else None,
            'within_2m': sum(e <= 2.0 for e in err) / n if n else None,
            'false_targets': self.false_targets,
            'false_targets_per_frame': self.false_targets / self.frames if self.frames else None,
        }


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


class ObstacleBearingMeter:
    """
    Bearing errors (degrees) of estimated obstacles against true ones.

    Matched one-to-one by ray angle.
    """

    def __init__(self, gate_deg: float = 5.0) -> None:
        self.gate_deg = float(gate_deg)
        self.errors: List[float] = []
        self.az_errors: List[float] = []
        self.true_total = 0
        self.est_total = 0
        self.frames = 0

    def add(self, estimated: Sequence[Tuple[float, float]], true_rays: np.ndarray) -> None:
        """
        Add one frame: estimated (azimuth, elevation) in radians, and the true rays.

        The true rays are unit vectors, M x 3, in the optical frame.
        """
        from ..geometry.obstacles import bearing_ray, ray_angles

        est = np.array([bearing_ray(a, e) for a, e in estimated]).reshape(-1, 3)
        tru = np.asarray(true_rays, dtype=np.float64).reshape(-1, 3)
        self.frames += 1
        self.true_total += len(tru)
        self.est_total += len(est)
        if not (len(est) and len(tru)):
            return
        cost = _angle_between(est[:, None, :], tru[None, :, :])
        pairs, _ = match_one_to_one(cost, self.gate_deg)
        t_az, _ = ray_angles(tru)
        for e, t in pairs:
            self.errors.append(float(cost[e, t]))
            d = np.degrees(estimated[e][0] - t_az[t])
            self.az_errors.append(float(abs((d + 180.0) % 360.0 - 180.0)))

    def result(self) -> Dict[str, Any]:
        """
        Return the metrics: matched count, recall, angular and azimuth errors (deg).

        Angular error median / p95 and azimuth error median, in degrees.
        """
        n = self.true_total
        return {
            'frames_evaluated': self.frames,
            'gate_deg': self.gate_deg,
            'obstacles_true': n,
            'obstacles_estimated': self.est_total,
            'obstacles_matched': len(self.errors),
            'recall': len(self.errors) / n if n else None,
            'bearing_error_median_deg': _percentile(self.errors, 50),
            'bearing_error_p95_deg': _percentile(self.errors, 95),
            'azimuth_error_median_deg': _percentile(self.az_errors, 50),
        }


class ClearPathMeter:
    """Confusion counts of the clear-path verdict against the truth."""

    def __init__(self) -> None:
        self.counts = {'clear_clear': 0, 'blocked_blocked': 0, 'false_alarms': 0, 'misses': 0}

    def add(self, estimated: Optional[bool], truth: bool) -> None:
        """
        Add one frame's verdict ``estimated`` against the ``truth``.

        None is no verdict and counts as blocked, the consumer's rule.
        """
        est = bool(estimated)
        if est and truth:
            self.counts['clear_clear'] += 1
        elif not est and not truth:
            self.counts['blocked_blocked'] += 1
        elif not est and truth:
            self.counts['false_alarms'] += 1
        else:
            self.counts['misses'] += 1

    def result(self) -> Dict[str, Any]:
        """
        Return the metrics: frames, accuracy, false alarms and misses.

        A false alarm is blocked on a clear path; a miss is clear on a blocked one.
        """
        c = self.counts
        n = sum(c.values())
        return {
            'frames_evaluated': n,
            'accuracy': (c['clear_clear'] + c['blocked_blocked']) / n if n else None,
            'truly_clear': c['clear_clear'] + c['false_alarms'],
            'truly_blocked': c['blocked_blocked'] + c['misses'],
            'false_alarms': c['false_alarms'],
            'misses': c['misses'],
        }


def plot_topdown(path: Union[str, Path], meter: LocalisationMeter, title: str = '') -> None:
    """
    Write a top-down PNG of the true person positions and the targets matched to them.

    Axes in map metres, x east, y north.

    Misses and false targets are marked; the file is written atomically.
    """
    import matplotlib

    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    from .plots import save_figure

    fig, ax = plt.subplots(figsize=(7, 7), dpi=100)
    try:
        if meter.pairs:
            est = np.array([p[0] for p in meter.pairs])
            tru = np.array([p[1] for p in meter.pairs])
            for e, t in zip(est, tru):
                ax.plot([t[0], e[0]], [t[1], e[1]], color='0.6', linewidth=0.5)
            ax.plot(
                tru[:, 0],
                tru[:, 1],
                'o',
                color='tab:green',
                markersize=4,
                label='true (localised)',
            )
            ax.plot(est[:, 0], est[:, 1], '+', color='tab:blue', markersize=5, label='estimated')
        if meter.misses:
            m = np.array(meter.misses)
            ax.plot(
                m[:, 0],
                m[:, 1],
                'o',
                mfc='none',
                color='tab:orange',
                markersize=5,
                label='missed ({})'.format(len(m)),
            )
        if meter.false_points:
            f = np.array(meter.false_points)
            ax.plot(
                f[:, 0],
                f[:, 1],
                'x',
                color='tab:red',
                markersize=5,
                label='false target ({})'.format(len(f)),
            )
        ax.set_xlabel('x (m, east)')
        ax.set_ylabel('y (m, north)')
        ax.set_aspect('equal', adjustable='datalim')
        save_figure(fig, ax, path, title)
    finally:
        plt.close(fig)


def topdown_frame(
    true_xy: Any,
    est_xy: Any,
    extent: Tuple[float, float, float, float],
    seen_xy: Any = None,
    footprint_xy: Any = None,
    size: Tuple[int, int] = (480, 480),
    title: str = '',
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """
    One frame's top-down map (map metres, x east, y north) as a BGR image.

    For a video beside the camera frames.

    Args
    ----
        true_xy: true person positions of this frame (N x 2 or 3, metres): green circles.
        est_xy: the published person targets of this frame (M x 2 or 3, metres): blue crosses.
        extent: ``(x_min, x_max, y_min, y_max)`` of the map in metres (fixed for a whole flight).
        seen_xy: true persons of earlier frames (grey dots), or None.
        footprint_xy: the camera's ground footprint (K x 2 polygon, metres), or None.
        size: ``(width, height)`` of the image in pixels.
        title: drawn above the map.

    Returns
    -------
        The image (H x W x 3 uint8 BGR) and what was plotted, read back from the figure: ``true``
        and ``estimated`` (N x 2 metres) and ``true_px`` / ``estimated_px`` (N x 2 image pixels, x
        right, y down), so a test can check that the map shows the metric's inputs.

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def xy(points: Any) -> np.ndarray:
        arr = np.asarray(points if points is not None else [], dtype=np.float64)
        return (
            arr.reshape(-1, arr.shape[-1] if arr.ndim == 2 else 2)[:, :2]
            if arr.size
            else np.zeros((0, 2))
        )

    width, height = int(size[0]), int(size[1])
    fig = Figure(figsize=(width / 100.0, height / 100.0), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.12, 0.1, 0.84, 0.8))
    seen, tru, est = xy(seen_xy), xy(true_xy), xy(est_xy)
    if len(seen):
        ax.plot(
            seen[:, 0], seen[:, 1], '.', color='0.75', markersize=2, label='true, earlier frames'
        )
    if footprint_xy is not None:
        fp = xy(footprint_xy)
        ax.fill(
            fp[:, 0],
            fp[:, 1],
            facecolor='none',
            edgecolor='0.4',
            linewidth=0.8,
            label='camera footprint',
        )
    (line_t,) = ax.plot(
        tru[:, 0], tru[:, 1], 'o', mfc='none', color='tab:green', markersize=7, label='true person'
    )
    (line_e,) = ax.plot(
        est[:, 0], est[:, 1], '+', color='tab:blue', markersize=9, mew=1.5, label='target'
    )
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect('equal', adjustable='box')
    ax.set_xlabel('x (m, east)', fontsize=8)
    ax.set_ylabel('y (m, north)', fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    ax.legend(loc='upper right', fontsize=6)
    if title:
        ax.set_title(title, fontsize=8)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = np.ascontiguousarray(rgba[:, :, 2::-1])

    def pixels(line: Any) -> np.ndarray:
        data = np.asarray(line.get_xydata(), dtype=np.float64).reshape(-1, 2)
        if not len(data):
            return np.zeros((0, 2))
        disp = ax.transData.transform(data)  # display pixels, origin at the bottom left
        return np.stack([disp[:, 0], rgba.shape[0] - disp[:, 1]], axis=1)

    plotted = {
        'true': np.asarray(line_t.get_xydata(), dtype=np.float64).reshape(-1, 2),
        'estimated': np.asarray(line_e.get_xydata(), dtype=np.float64).reshape(-1, 2),
        'true_px': pixels(line_t),
        'estimated_px': pixels(line_e),
    }
    return image, plotted

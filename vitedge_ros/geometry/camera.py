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
Camera model of sensor_msgs/CameraInfo.

Pinhole, plumb_bob / rational_polynomial and equidistant (fisheye).

Coordinates follow the camera optical frame of sensor_msgs/CameraInfo: x right, y down, z forward.

Rules followed (and where they come from):

* ``roi`` and ``binning_x``/``binning_y`` as ROS image_geometry's
  ``PinholeCameraModel::fromCameraInfo`` (ros-perception/vision_opencv, rolling,
  ``image_geometry/src/pinhole_camera_model.cpp`` and
  ``image_geometry/image_geometry/cameramodels.py``): ``K`` and ``P`` are given in full-resolution
  sensor pixels; the principal point is first shifted by the roi offset (full-resolution pixels),
  then ``fx, cx`` are divided by ``binning_x`` and ``fy, cy`` by ``binning_y``. Binning 0 means 1;
  an all-zero roi means the full sensor. The image then measures ``roi.width / binning_x`` x
  ``roi.height / binning_y`` pixels (``reducedResolution``). A crop is never a resize.
* ``equidistant`` is the Kannala-Brandt model of OpenCV's ``cv::fisheye`` (docs.opencv.org,
  "Fisheye camera model"): ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4
  theta^8)`` with ``theta`` the angle off the optical axis and ``theta_d`` the radius in normalised
  image coordinates. All-zero coefficients are the ideal f-theta lens, *not* a pinhole
  (image_geometry does treat them as "no distortion"; that is wrong for this model and is
  deliberately not followed). ``theta_d`` is inverted here with Newton's method as
  ``cv::fisheye::undistortPoints`` does, but without its clipping of ``theta_d`` to pi/2 and
  without going through a z > 0 normalised point, so rays more than 90 degrees off the axis come
  back right.
* ``plumb_bob`` / ``rational_polynomial`` (sensor_msgs/distortion_models.hpp) use
  ``cv2.undistortPoints``; with all-zero coefficients they are the identity, i.e. a pinhole.
"""

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['PinholeCamera', 'DISTORTION_MODELS']

#: distortion_model strings understood (sensor_msgs/distortion_models.hpp, plus the alias 'fisheye'
#: and '' for a
#: camera published without a model, accepted only with all-zero coefficients).
DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant', 'fisheye', '')

_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
_NEWTON_STEPS = 30
_MONOTONE_SAMPLES = 64


def _field(msg, *names):
    for name in names:
        if hasattr(msg, name):
            return getattr(msg, name)
    raise AttributeError('camera info has none of the fields {}'.format(names))


def _roi_of(msg) -> Tuple[int, int, int, int]:
    roi = getattr(msg, 'roi', None)
    if roi is None:
        return 0, 0, 0, 0
    return (
        int(getattr(roi, 'x_offset', 0) or 0),
        int(getattr(roi, 'y_offset', 0) or 0),
        int(getattr(roi, 'width', 0) or 0),
        int(getattr(roi, 'height', 0) or 0),
    )


def _apply_roi_binning(
    M: np.ndarray, x_offset: int, y_offset: int, bx: int, by: int
) -> np.ndarray:
    """
    K (3x3) or P (3x4) of the full-resolution sensor -> of the roi-cropped.

    Binned image (image_geometry).
    """
    M = np.array(M, dtype=np.float64)
    M[0, 2] -= x_offset
    M[1, 2] -= y_offset
    M[0, :] /= float(bx)  # fx, skew, cx (and Tx of P)
    M[1, :] /= float(by)  # fy, cy (and Ty of P)
    return M


class PinholeCamera:
    """
    Intrinsics ``K`` (3x3), distortion ``D``.

    ``distortion_model`` and image size of a calibrated camera.

    ``model`` is the distortion actually applied: ``''`` (none: pinhole), ``'plumb_bob'`` (also
    rational_polynomial, by the number of coefficients) or ``'equidistant'`` (fisheye, also with
    zero ``D``).

    Raises
    ------
        ValueError: no positive focal length, an unknown ``distortion_model`` (or an empty one with
            non-zero coefficients), or a coefficient count the model does not have.

    """

    def __init__(
        self,
        K,
        D: Optional[Sequence[float]] = None,
        width: int = 0,
        height: int = 0,
        distortion_model: str = 'plumb_bob',
    ):
        self.K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ValueError(
                'camera matrix K has no positive focal length (uncalibrated camera?): fx={}, '
                'fy={}'.format(self.K[0, 0], self.K[1, 1])
            )
        self.D = np.zeros(0) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(self.D)) or not np.all(np.isfinite(self.K)):
            raise ValueError('camera K or D holds a non-finite value')
        self.distortion_model = str(distortion_model or '')
        model = self.distortion_model.strip().lower()
        if model not in DISTORTION_MODELS:
            raise ValueError(
                'unsupported distortion_model {!r} (supported: plumb_bob, rational_polynomial, '
                'equidistant)'.format(distortion_model)
            )
        if model in ('equidistant', 'fisheye'):
            if self.D.size not in (0, 4):
                raise ValueError(
                    'equidistant distortion needs 4 coefficients, got {}'.format(self.D.size)
                )
            self.D = np.zeros(4) if self.D.size == 0 else self.D
            self.model = 'equidistant'  # a model even with all-zero coefficients: the f-theta lens
        else:
            if model == '' and np.any(self.D != 0):
                raise ValueError(
                    'distortion_model is empty but D has non-zero coefficients {}'.format(
                        self.D.tolist()
                    )
                )
            if self.D.size not in (0, 4, 5, 8, 12, 14):
                raise ValueError(
                    '{} distortion needs 4, 5, 8, 12 or 14 coefficients, got {}'.format(
                        model or 'plumb_bob', self.D.size
                    )
                )
            self.model = 'plumb_bob' if np.any(self.D != 0) else ''
        self.width = int(width)
        self.height = int(height)

    # construction
    # -------------------------------------------------------------------------------------------
    @classmethod
    def from_camera_info(cls, msg, rectified: bool = False) -> 'PinholeCamera':
        """
        Camera of the images that come with a sensor_msgs/CameraInfo.

        Rclpy ``k/d/p`` or ROS 1 ``K/D/P``.

        ``roi`` and binning are applied as image_geometry does (see the module docstring): the
        returned camera is for images of ``roi.width / binning_x`` x ``roi.height / binning_y``
        pixels (the full sensor when the roi is all zero). With ``rectified=True`` the image is
        taken as rectified: ``P[:3, :3]`` (roi and binning applied the same way) with no
        distortion.

        Raises
        ------
            ValueError: see the constructor; a roi outside the ``width`` x ``height`` sensor, a roi
                with a zero size but a non-zero offset, or negative binning.

        """
        width, height = int(msg.width), int(msg.height)
        bx = int(getattr(msg, 'binning_x', 0) or 0)
        by = int(getattr(msg, 'binning_y', 0) or 0)
        if bx < 0 or by < 0:
            raise ValueError('negative binning {}x{}'.format(bx, by))
        bx, by = max(bx, 1), max(by, 1)
        x0, y0, rw, rh = _roi_of(msg)
        if (x0, y0, rw, rh) == (0, 0, 0, 0):
            rw, rh = width, height
        elif rw <= 0 or rh <= 0:
            raise ValueError(
                'roi offset ({}, {}) with size {}x{}: a roi needs a positive size'.format(
                    x0, y0, rw, rh
                )
            )
        elif (
            width > 0 and height > 0 and (x0 < 0 or y0 < 0 or x0 + rw > width or y0 + rh > height)
        ):
            raise ValueError(
                'roi offset ({}, {}) size {}x{} is outside the {}x{} sensor'.format(
                    x0, y0, rw, rh, width, height
                )
            )
        if rectified:
            P = np.asarray(_field(msg, 'p', 'P'), dtype=np.float64).reshape(3, 4)
            K, D, model = _apply_roi_binning(P, x0, y0, bx, by)[:, :3], None, ''
        else:
            K = np.asarray(_field(msg, 'k', 'K'), dtype=np.float64).reshape(3, 3)
            K = _apply_roi_binning(K, x0, y0, bx, by)
            D = np.asarray(_field(msg, 'd', 'D'), dtype=np.float64).reshape(-1)
            model = str(getattr(msg, 'distortion_model', 'plumb_bob'))
        return cls(K, D, rw // bx, rh // by, model)

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_rad: float) -> 'PinholeCamera':
        """
        Return an ideal camera with horizontal field of view ``hfov_rad`` (radians).

        Square pixels, centred principal point, no distortion.
        """
        if not 0.0 < hfov_rad < np.pi:
            raise ValueError(
                'horizontal field of view must be in (0, pi) rad, got {}'.format(hfov_rad)
            )
        f = (width / 2.0) / np.tan(hfov_rad / 2.0)
        K = [[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]]
        return cls(K, None, width, height, '')

    def _with(self, K, width: int, height: int) -> 'PinholeCamera':
        return PinholeCamera(K, self.D, width, height, self.distortion_model)

    def for_image_size(self, width: int, height: int) -> 'PinholeCamera':
        """
        Return this camera for images resized to ``width`` x ``height``.

        Intrinsics scaled, D unchanged.

        A resize only: a crop (roi) or binning is ``from_camera_info``'s job.
        """
        if not self.width or not self.height:
            return self._with(self.K, width, height)
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / float(self.width), height / float(self.height)
        K = self.K.copy()
        K[0, :] *= sx
        K[1, :] *= sy
        return self._with(K, width, height)

    # properties
    # ---------------------------------------------------------------------------------------------
    @property
    def fx(self) -> float:
        """Focal length along x (pixels)."""
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        """Focal length along y (pixels)."""
        return float(self.K[1, 1])

    @property
    def principal_point(self) -> Tuple[float, float]:
        """(cx, cy) in pixels."""
        return float(self.K[0, 2]), float(self.K[1, 2])

    # mapping
    # ---------------------------------------------------------------------------------------------
    def _pixels_to_normalised(self, uv) -> np.ndarray:
        """K^-1 [u v 1]^T (skew allowed) -> N x 2 distorted normalised coordinates."""
        pts = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        homog = np.concatenate([pts, np.ones((pts.shape[0], 1))], axis=1)
        sol = np.linalg.solve(self.K, homog.T).T
        return sol[:, :2] / sol[:, 2:3]

    def _theta_of(self, theta_d: np.ndarray) -> np.ndarray:
        """
        Angle off the axis (rad) whose equidistant image radius is ``theta_d``.

        NaN where none exists.

        Newton's method on ``f(t) = t (1 + k1 t^2 + k2 t^4 + k3 t^6 + k4 t^8) - theta_d`` from ``t
        = theta_d`` (the iteration of ``cv::fisheye::undistortPoints``, OpenCV
        modules/calib3d/src/fisheye.cpp). A root is kept only when it converged, lies in [0, pi]
        and ``f`` rises monotonically from 0 to it (the lens's valid domain); otherwise the pixel
        has no ray under this calibration.
        """
        k1, k2, k3, k4 = (float(v) for v in self.D[:4])
        if not (k1 or k2 or k3 or k4):
            theta = theta_d.copy()
            theta[theta > np.pi] = np.nan
            return theta

        def poly(t):
            t2 = t * t
            return t * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))

        def slope(t):
            t2 = t * t
            return 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))

        theta = theta_d.copy()
        with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
            for _ in range(_NEWTON_STEPS):
                theta = theta - (poly(theta) - theta_d) / slope(theta)
            ok = np.isfinite(theta) & (theta >= 0) & (theta <= np.pi)
            ok &= np.abs(poly(theta) - theta_d) <= 1e-9 * np.maximum(1.0, theta_d)
            fractions = np.linspace(0.0, 1.0, _MONOTONE_SAMPLES)
            ok &= np.all(slope(np.where(ok, theta, 0.0)[:, None] * fractions[None, :]) > 0, axis=1)
        theta[~ok] = np.nan
        return theta

    def pixel_to_ray(self, uv) -> np.ndarray:
        """
        Return unit bearing rays (N x 3, optical frame) through pixels ``uv`` (N x 2 or 2,).

        Equidistant (fisheye) rays may point more than 90 degrees off the optical axis (z < 0). A
        row is NaN where the pixel has no ray under the calibration (outside the lens model's valid
        domain).
        """
        pts = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        if pts.shape[0] == 0:
            return np.zeros((0, 3))
        if self.model == 'equidistant':
            xy_d = self._pixels_to_normalised(pts)
            theta_d = np.hypot(xy_d[:, 0], xy_d[:, 1])
            theta = self._theta_of(theta_d)
            with np.errstate(divide='ignore', invalid='ignore'):
                scale = np.where(theta_d > 1e-12, np.sin(theta) / theta_d, 1.0)
            rays = np.concatenate([xy_d * scale[:, None], np.cos(theta)[:, None]], axis=1)
            return rays / np.linalg.norm(rays, axis=1, keepdims=True)
        xy = self._undistort_pinhole(pts)
        rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def _undistort_pinhole(self, pts: np.ndarray) -> np.ndarray:
        if not self.model:
            return self._pixels_to_normalised(pts)
        src = pts.reshape(-1, 1, 2)
        try:
            out = cv2.undistortPoints(src, self.K, self.D, criteria=_CRITERIA)
        except (TypeError, cv2.error):  # OpenCV < 4.4: no criteria argument
            if hasattr(cv2, 'undistortPointsIter'):
                out = cv2.undistortPointsIter(src, self.K, self.D, None, None, _CRITERIA)
            else:
                out = cv2.undistortPoints(src, self.K, self.D)
        return out.reshape(-1, 2)

    def normalize(self, uv) -> np.ndarray:
        """
        Return the undistorted normalised coordinates (x/z, y/z) of pixels ``uv`` as N x 2.

        ``uv`` is N x 2 or (2,).
        NaN rows where the ray is 90 degrees or more off the optical axis (fisheye) or undefined:
        such a ray has no point on the z = 1 plane; use ``pixel_to_ray``.
        """
        rays = self.pixel_to_ray(uv)
        with np.errstate(divide='ignore', invalid='ignore'):
            out = rays[:, :2] / rays[:, 2:3]
        out[~(rays[:, 2] > 1e-12)] = np.nan
        return out

    def project(self, points) -> np.ndarray:
        """
        Pixels (N x 2) of 3-D points (N x 3, optical frame), distortion applied.

        Equidistant: any direction except straight backwards (theta < pi), with OpenCV's fisheye
            formula
        ``u = fx (x_d + alpha y_d) + cx`` (alpha = skew / fx). Pinhole / plumb_bob: NaN for points
        with z <= 0.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if pts.shape[0] == 0:
            return np.zeros((0, 2))
        if self.model == 'equidistant':
            r = np.hypot(pts[:, 0], pts[:, 1])
            theta = np.arctan2(r, pts[:, 2])
            t2 = theta * theta
            k1, k2, k3, k4 = (float(v) for v in self.D[:4])
            theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
            with np.errstate(divide='ignore', invalid='ignore'):
                scale = np.where(r > 1e-12, theta_d / r, 0.0)
            xy_d = pts[:, :2] * scale[:, None]
            out = (np.concatenate([xy_d, np.ones((xy_d.shape[0], 1))], axis=1) @ self.K.T)[:, :2]
            out[~np.isfinite(theta_d)] = np.nan
            return out
        front = pts[:, 2] > 0
        out = np.full((pts.shape[0], 2), np.nan)
        if np.any(front):
            zero = np.zeros(3)
            dist = self.D if self.model else np.zeros(5)
            proj, _ = cv2.projectPoints(pts[front].reshape(-1, 1, 3), zero, zero, self.K, dist)
            out[front] = proj.reshape(-1, 2)
        return out

    def __repr__(self) -> str:
        return (
            'PinholeCamera(fx={:.2f}, fy={:.2f}, cx={:.2f}, cy={:.2f}, {}x{}, model={!r}, D={})'
        ).format(
            self.fx,
            self.fy,
            self.K[0, 2],
            self.K[1, 2],
            self.width,
            self.height,
            self.model or 'pinhole',
            np.round(self.D, 6).tolist(),
        )

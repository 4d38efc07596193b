"""Pinhole camera model with plumb_bob / rational_polynomial / equidistant distortion (numpy + cv2).

Coordinates follow the camera optical frame of sensor_msgs/CameraInfo: x right, y down, z forward.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['PinholeCamera', 'DISTORTION_MODELS']

#: distortion_model strings understood (sensor_msgs/distortion_models.hpp, plus 'fisheye').
DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant', 'fisheye', '')

_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


def _fisheye_normalize(uv: np.ndarray, K: np.ndarray, D: np.ndarray, iterations: int = 100,
                       eps: float = 1e-12) -> np.ndarray:
    """Undistorted normalised coordinates (N x 2) of pixels ``uv`` (N x 2) under the equidistant model.

    The inversion ``cv::fisheye::undistortPoints`` performs (OpenCV modules/calib3d/src/fisheye.cpp, 4.x): Newton
    iterations on ``theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8)``, then
    ``x = x_d tan(theta) / theta_d``; here with ``_CRITERIA``'s iteration count and tolerance, which OpenCV
    before 4.6 does not accept (it stops after 10 iterations at 1e-8).
    """
    fx, fy, cx, cy, skew = K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]
    yd = (uv[:, 1] - cy) / fy
    xd = (uv[:, 0] - cx - skew * yd) / fx
    theta_d = np.clip(np.hypot(xd, yd), -np.pi / 2, np.pi / 2)
    k1, k2, k3, k4 = [float(v) for v in D[:4]]
    theta = theta_d.copy()
    for _ in range(iterations):
        t2 = theta * theta
        f = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - theta_d
        df = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
        step = f / df
        theta = theta - step
        if np.all(np.abs(step) < eps):
            break
    with np.errstate(divide='ignore', invalid='ignore'):
        scale = np.where(theta_d > 1e-12, np.tan(theta) / theta_d, 1.0)
    return np.stack([xd * scale, yd * scale], axis=1)


def _field(msg, *names):
    for name in names:
        if hasattr(msg, name):
            return getattr(msg, name)
    raise AttributeError('camera info has none of the fields {}'.format(names))


class PinholeCamera:
    """Intrinsics ``K`` (3x3), distortion ``D`` and image size of a calibrated camera."""

    def __init__(self, K, D: Optional[Sequence[float]] = None, width: int = 0, height: int = 0,
                 distortion_model: str = 'plumb_bob'):
        self.K = np.asarray(K, dtype=np.float64).reshape(3, 3)
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise ValueError('camera matrix K has no positive focal length (uncalibrated camera?): fx={}, '
                             'fy={}'.format(self.K[0, 0], self.K[1, 1]))
        self.D = np.zeros(0) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
        model = (distortion_model or '').strip().lower()
        if model not in DISTORTION_MODELS:
            if np.any(self.D != 0):
                raise ValueError('unsupported distortion_model {!r} with non-zero coefficients'.format(
                    distortion_model))
            model = ''
        if model in ('equidistant', 'fisheye'):
            if self.D.size not in (0, 4):
                raise ValueError('equidistant distortion needs 4 coefficients, got {}'.format(self.D.size))
            model = 'equidistant'
        elif self.D.size not in (0, 4, 5, 8, 12, 14):
            raise ValueError('{} distortion needs 4, 5, 8, 12 or 14 coefficients, got {}'.format(
                model or 'plumb_bob', self.D.size))
        self.model = model if np.any(self.D != 0) else ''
        self.width = int(width)
        self.height = int(height)

    # construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_camera_info(cls, msg, rectified: bool = False) -> 'PinholeCamera':
        """Build from a sensor_msgs/CameraInfo (rclpy ``k``/``d``/``p`` or ROS 1 style ``K``/``D``/``P``).

        With ``rectified=True`` the image is taken as rectified: ``P[:3, :3]`` is used with no distortion.
        Binning (``binning_x``/``binning_y`` > 1) scales the intrinsics.
        """
        width, height = int(msg.width), int(msg.height)
        if rectified:
            P = np.asarray(_field(msg, 'p', 'P'), dtype=np.float64).reshape(3, 4)
            K, D, model = P[:, :3], None, ''
        else:
            K = np.asarray(_field(msg, 'k', 'K'), dtype=np.float64).reshape(3, 3)
            D = np.asarray(_field(msg, 'd', 'D'), dtype=np.float64).reshape(-1)
            model = str(getattr(msg, 'distortion_model', 'plumb_bob'))
        cam = cls(K, D, width, height, model)
        bx, by = int(getattr(msg, 'binning_x', 0) or 1), int(getattr(msg, 'binning_y', 0) or 1)
        if bx > 1 or by > 1:
            cam = cam.for_image_size(width // bx, height // by)
        return cam

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_rad: float) -> 'PinholeCamera':
        """Ideal camera (square pixels, centred principal point) with horizontal field of view ``hfov_rad``."""
        if not 0.0 < hfov_rad < np.pi:
            raise ValueError('horizontal field of view must be in (0, pi) rad, got {}'.format(hfov_rad))
        f = (width / 2.0) / np.tan(hfov_rad / 2.0)
        K = [[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]]
        return cls(K, None, width, height, '')

    def for_image_size(self, width: int, height: int) -> 'PinholeCamera':
        """Return this camera for images resized to ``width`` x ``height`` (intrinsics scaled, D unchanged)."""
        if not self.width or not self.height or (width, height) == (self.width, self.height):
            return self if self.width else PinholeCamera(self.K, self.D, width, height, self.model)
        sx, sy = width / float(self.width), height / float(self.height)
        K = self.K.copy()
        K[0, :] *= sx
        K[1, :] *= sy
        return PinholeCamera(K, self.D, width, height, self.model)

    # properties ----------------------------------------------------------------------------------------------
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

    # mapping -------------------------------------------------------------------------------------------------
    def normalize(self, uv) -> np.ndarray:
        """Undistorted normalised image coordinates (x/z, y/z) of pixels ``uv`` (N x 2 or 2,) -> N x 2."""
        pts = np.asarray(uv, dtype=np.float64).reshape(-1, 1, 2)
        if pts.shape[0] == 0:
            return np.zeros((0, 2))
        if not self.model:
            cx, cy = self.principal_point
            # general K (skew allowed): solve K [x y 1]^T = [u v 1]^T
            homog = np.concatenate([pts.reshape(-1, 2), np.ones((pts.shape[0], 1))], axis=1)
            sol = np.linalg.solve(self.K, homog.T).T
            return sol[:, :2] / sol[:, 2:3]
        if self.model == 'equidistant':
            try:
                out = cv2.fisheye.undistortPoints(pts, self.K, self.D.reshape(4, 1), criteria=_CRITERIA)
            except (TypeError, cv2.error):    # OpenCV < 4.6 (JetPack 4.6 has 4.1): no criteria argument
                return _fisheye_normalize(pts.reshape(-1, 2), self.K, self.D)
            return out.reshape(-1, 2)
        try:
            out = cv2.undistortPoints(pts, self.K, self.D, criteria=_CRITERIA)
        except (TypeError, cv2.error):    # OpenCV < 4.4: no criteria argument
            if hasattr(cv2, 'undistortPointsIter'):
                out = cv2.undistortPointsIter(pts, self.K, self.D, None, None, _CRITERIA)
            else:
                out = cv2.undistortPoints(pts, self.K, self.D)
        return out.reshape(-1, 2)

    def pixel_to_ray(self, uv) -> np.ndarray:
        """Return unit bearing rays (N x 3, optical frame) through pixels ``uv`` (N x 2 or 2,)."""
        xy = self.normalize(uv)
        rays = np.concatenate([xy, np.ones((xy.shape[0], 1))], axis=1)
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def project(self, points) -> np.ndarray:
        """Pixels (N x 2) of 3-D points (N x 3, optical frame, z > 0), distortion applied."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if pts.shape[0] == 0:
            return np.zeros((0, 2))
        zero = np.zeros(3)
        if self.model == 'equidistant':
            out, _ = cv2.fisheye.projectPoints(pts.reshape(-1, 1, 3), zero, zero, self.K, self.D.reshape(4, 1))
        else:
            dist = self.D if self.model else np.zeros(5)
            out, _ = cv2.projectPoints(pts.reshape(-1, 1, 3), zero, zero, self.K, dist)
        return out.reshape(-1, 2)

    def __repr__(self) -> str:
        return 'PinholeCamera(fx={:.2f}, fy={:.2f}, cx={:.2f}, cy={:.2f}, {}x{}, model={!r}, D={})'.format(
            self.fx, self.fy, self.K[0, 2], self.K[1, 2], self.width, self.height, self.model,
            np.round(self.D, 6).tolist())

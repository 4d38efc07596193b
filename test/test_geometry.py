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

"""Geometry against hand-worked cases: nadir and tilted cameras, horizon, distortion, obstacles."""

import math

import numpy as np
import pytest
from vitedge_ros.geometry import (
    box_angles,
    CameraPose,
    central_region,
    clear_path,
    intersect_ground,
    obstacle_infos,
    PinholeCamera,
    pixel_to_ground,
    pixels_to_ground,
    quat_from_euler,
    quat_from_matrix,
    quat_multiply,
    quat_to_matrix,
)
from vitedge_ros.geometry.projection import OPTICAL_TO_FLU, quat_rotate
from vitedge_ros.runtime import Detection

# 640 x 480, f = 500 px, principal point at the image centre
K = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
CAM = PinholeCamera(K, None, 640, 480)


def _pose(R, t):
    return CameraPose(quat_from_matrix(R), np.asarray(t, dtype=float))


# Nadir camera 10 m above the ground in an ENU frame: optical z (forward) = world -z (down),
# optical x (image right) = world +x (east), so optical y (image down) = world -y (south).
R_NADIR = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def test_nadir_camera_pixel_offsets_map_to_ground_metres():
    pose = _pose(R_NADIR, [2.0, 3.0, 10.0])
    # principal point: straight below the camera
    np.testing.assert_allclose(pixel_to_ground(CAM, (320, 240), pose), [2.0, 3.0, 0.0], atol=1e-9)
    # 100 px right at f=500 and 10 m altitude -> 10 * 100/500 = 2 m east
    np.testing.assert_allclose(pixel_to_ground(CAM, (420, 240), pose), [4.0, 3.0, 0.0], atol=1e-9)
    # 50 px down in the image -> 1 m south (world -y)
    np.testing.assert_allclose(pixel_to_ground(CAM, (320, 290), pose), [2.0, 2.0, 0.0], atol=1e-9)
    # image corner (0, 0): 320 px left, 240 px up -> 6.4 m west, 4.8 m north
    np.testing.assert_allclose(
        pixel_to_ground(CAM, (0, 0), pose), [2.0 - 6.4, 3.0 + 4.8, 0.0], atol=1e-9
    )
    # ground plane at z = 1.5 (e.g. a roof): heights scale with the 8.5 m distance
    np.testing.assert_allclose(
        pixel_to_ground(CAM, (420, 240), pose, ground_z=1.5), [2.0 + 1.7, 3.0, 1.5], atol=1e-9
    )


def _tilted_rotation(tilt_deg):
    """Camera looking north (+y), pitched ``tilt_deg`` below the horizon, no roll."""
    a = math.radians(tilt_deg)
    fwd = np.array([0.0, math.cos(a), -math.sin(a)])  # optical z in world
    right = np.array([1.0, 0.0, 0.0])  # optical x in world (east)
    down = np.cross(fwd, right)  # optical y = z x x
    return np.stack([right, down, fwd], axis=1)  # columns: optical axes in world


def test_tilted_camera_30_degrees():
    pose = _pose(_tilted_rotation(30.0), [0.0, 0.0, 10.0])
    # optical axis hits the ground at 10 / tan(30 deg) = 17.3205 m ahead
    np.testing.assert_allclose(
        pixel_to_ground(CAM, (320, 240), pose),
        [0.0, 10.0 / math.tan(math.radians(30)), 0],
        atol=1e-9,
    )
    # 100 px below the centre: ray depression = 30 deg + atan(100/500)
    depression = math.radians(30.0) + math.atan(100.0 / 500.0)
    np.testing.assert_allclose(
        pixel_to_ground(CAM, (320, 340), pose), [0.0, 10.0 / math.tan(depression), 0.0], atol=1e-9
    )
    # 100 px right of the centre on the centre row: ray (0.2, 0, 1) in optical coordinates;
    # hits where it has descended 10 m: scale s = 10 / (sin 30) along z, x offset 0.2 * s
    s = 10.0 / math.sin(math.radians(30.0))
    np.testing.assert_allclose(
        pixel_to_ground(CAM, (420, 240), pose),
        [0.2 * s, s * math.cos(math.radians(30.0)), 0.0],
        atol=1e-9,
    )


def test_horizon_and_above_give_no_intersection():
    pose = _pose(_tilted_rotation(30.0), [0.0, 0.0, 10.0])
    # horizon row: 30 deg above the optical axis -> v = 240 - 500 * tan(30 deg)
    v_horizon = 240.0 - 500.0 * math.tan(math.radians(30.0))
    assert pixel_to_ground(CAM, (320, v_horizon), pose) is None
    assert pixel_to_ground(CAM, (320, v_horizon - 20), pose) is None  # sky
    assert pixel_to_ground(CAM, (320, v_horizon + 1), pose) is not None  # just below: far but hit
    far = pixel_to_ground(CAM, (320, v_horizon + 1), pose)
    assert far[1] > 1000.0
    assert pixel_to_ground(CAM, (320, v_horizon + 1), pose, ground_z=0.0, max_range=500.0) is None
    # a level camera sees no ground at the principal point
    assert pixel_to_ground(CAM, (320, 240), _pose(_tilted_rotation(0.0), [0, 0, 10.0])) is None


def test_camera_below_plane_or_ray_away_gives_nan():
    pts = intersect_ground([0, 0, -1.0], [[0, 0, -1.0], [0, 0, 1.0]], ground_z=0.0)
    assert np.isnan(pts[0]).all()  # looking down from below the plane
    np.testing.assert_allclose(pts[1], [0, 0, 0])  # looking up at it from below
    many = pixels_to_ground(
        CAM, [[320, 240], [320, 0]], _pose(_tilted_rotation(10.0), [0, 0, 5.0])
    )
    assert np.isfinite(many[0]).all() and np.isnan(many[1]).all()


@pytest.mark.parametrize(
    'model,D',
    [
        ('plumb_bob', [-0.28, 0.09, 0.001, -0.0005, -0.01]),
        ('rational_polynomial', [0.1, -0.05, 0.0005, 0.0002, 0.01, 0.2, -0.03, 0.02]),
        ('equidistant', [-0.01, 0.02, -0.005, 0.001]),
    ],
)
def test_distortion_round_trip(model, D):
    cam = PinholeCamera(K, D, 640, 480, model)
    rng = np.random.default_rng(0)
    pts = np.column_stack([rng.uniform(-0.5, 0.5, 50), rng.uniform(-0.4, 0.4, 50), np.ones(50)])
    uv = cam.project(pts)
    rays = cam.pixel_to_ray(uv)
    expected = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, expected, atol=1e-7)
    # distortion matters: the undistorted model would give different pixels
    assert np.abs(uv - CAM.project(pts)).max() > 1.0


def test_from_camera_info_duck_typed_and_rectified():
    class Info:
        width, height = 640, 480
        distortion_model = 'plumb_bob'
        d = [0.1, 0.0, 0.0, 0.0, 0.0]
        k = np.array(K).reshape(-1)
        p = np.array([[400.0, 0, 300.0, 0], [0, 400.0, 200.0, 0], [0, 0, 1, 0]]).reshape(-1)
        binning_x = binning_y = 0

    cam = PinholeCamera.from_camera_info(Info())
    assert cam.model == 'plumb_bob' and cam.fx == 500.0
    rect = PinholeCamera.from_camera_info(Info(), rectified=True)
    assert rect.model == '' and rect.fx == 400.0 and rect.principal_point == (300.0, 200.0)
    Info.binning_x = Info.binning_y = 2
    binned = PinholeCamera.from_camera_info(Info())
    assert (binned.width, binned.height, binned.fx, binned.principal_point) == (
        320,
        240,
        250.0,
        (160.0, 120.0),
    )
    half = CAM.for_image_size(320, 240)
    np.testing.assert_allclose(half.pixel_to_ray([[210, 120]]), CAM.pixel_to_ray([[420, 240]]))


def test_camera_validation():
    with pytest.raises(ValueError, match='focal'):
        PinholeCamera(np.zeros((3, 3)))
    with pytest.raises(ValueError, match='equidistant'):
        PinholeCamera(K, [0.1, 0.2, 0.3], 640, 480, 'equidistant')
    with pytest.raises(ValueError, match='unsupported distortion_model'):
        PinholeCamera(K, [0.1, 0, 0, 0, 0], 640, 480, 'kannala_x')
    fov = PinholeCamera.from_fov(640, 480, math.radians(90.0))
    assert fov.fx == pytest.approx(320.0)


def test_quaternions():
    q = quat_from_euler(0.1, -0.2, 0.3)
    R = quat_to_matrix(q)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(quat_from_matrix(R), q if q[3] >= 0 else -q, atol=1e-12)
    # yaw 90 deg turns x into y
    np.testing.assert_allclose(
        quat_rotate(quat_from_euler(0, 0, math.pi / 2), [1, 0, 0]), [0, 1, 0], atol=1e-12
    )
    # composition: yaw then pitch equals the product
    a, b = quat_from_euler(0, 0, 0.5), quat_from_euler(0, 0.3, 0)
    np.testing.assert_allclose(
        quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b), atol=1e-12
    )
    for R in (R_NADIR, _tilted_rotation(30.0), OPTICAL_TO_FLU, -np.diag([1.0, 1.0, -1.0])):
        np.testing.assert_allclose(quat_to_matrix(quat_from_matrix(R)), R, atol=1e-12)


def test_box_angles_flu_convention():
    # box centred 100 px left of the principal point: azimuth = +atan(100/500) (left is positive)
    az, el, aw, ah = box_angles(CAM, (200, 190, 240, 290))
    assert az == pytest.approx(math.atan(100 / 500))
    assert el == pytest.approx(0.0, abs=1e-12)
    assert aw == pytest.approx(math.atan(120 / 500) - math.atan(80 / 500))
    # top/bottom edge rays at x = -0.2 (normalised): elevation = atan(0.1 / hypot(0.2, 1))
    assert ah == pytest.approx(2 * math.atan(0.1 / math.hypot(0.2, 1.0)))
    # right and up of the centre: azimuth negative, elevation positive
    az, el, _, _ = box_angles(CAM, (400, 100, 440, 140))
    assert az == pytest.approx(-math.atan(0.2)) and el == pytest.approx(
        math.atan(0.24 / math.hypot(0.2, 1.0))
    )


def test_obstacle_infos_with_range_and_class_filter():
    dets = [
        Detection(2, 'obstacle', 0.9, (300, 200, 340, 340)),
        Detection(5, 'tree', 0.9, (0, 0, 10, 10)),
    ]
    pose = _pose(_tilted_rotation(30.0), [0.0, 0.0, 10.0])
    infos = obstacle_infos(CAM, dets, classes=('obstacle',), pose=pose)
    assert [i.label for i in infos] == ['obstacle']
    (info,) = infos
    assert info.azimuth == pytest.approx(0.0, abs=1e-12)
    # bottom centre (320, 340): depression 30 deg + atan(0.2); distance = 10 / sin(depression)
    depression = math.radians(30.0) + math.atan(0.2)
    assert info.range_m == pytest.approx(10.0 / math.sin(depression))
    no_pose = obstacle_infos(CAM, dets)
    assert len(no_pose) == 2 and no_pose[0].range_m is None


def test_clear_path():
    size = (640, 480)
    assert central_region(size, 0.25, 0.5) == (240.0, 120.0, 400.0, 360.0)
    assert clear_path([], size, 0.25, 0.5)
    blocking = Detection(2, 'obstacle', 0.9, (300, 300, 330, 470))
    assert not clear_path([blocking], size, 0.25, 0.5)
    touching = Detection(2, 'obstacle', 0.9, (100, 100, 240, 200))  # touches x = 240 only
    assert clear_path([touching], size, 0.25, 0.5)
    assert clear_path([Detection(7, 'bird', 0.9, (300, 300, 330, 330))], size, 0.25, 0.5)
    assert clear_path([blocking], size, 0.25, 0.5, min_score=0.95)
    assert not clear_path(
        [Detection(7, 'bird', 0.9, (300, 300, 330, 330))], size, 0.25, 0.5, classes=None
    )
    with pytest.raises(ValueError):
        central_region(size, 0.0, 0.5)

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
CameraInfo roi / binning (image_geometry semantics) and distortion models with an all-zero D.

A distortion model stays a model even when its coefficients D are all zero.

Issue 14 items 1 and 2. Azimuth is positive to the left (vitedge_ros.geometry.obstacles: FLU
convention).
"""

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest
from vitedge_ros.geometry import (
    box_angles,
    CameraPose,
    obstacle_infos,
    PinholeCamera,
    pixel_to_ground,
)
from vitedge_ros.geometry.obstacles import ray_angles
from vitedge_ros.geometry.projection import quat_from_matrix
from vitedge_ros.runtime import Detection


def _info(
    width=1280,
    height=800,
    k=(800.0, 0, 640.0, 0, 800.0, 400.0, 0, 0, 1),
    d=(0.0,) * 5,
    model='plumb_bob',
    roi=(0, 0, 0, 0),
    binning=(0, 0),
    p=None,
):
    p = p if p is not None else (k[0], 0, k[2], 0, 0, k[4], k[5], 0, 0, 0, 1, 0)
    return NS(
        width=width,
        height=height,
        k=list(k),
        d=list(d),
        p=list(p),
        distortion_model=model,
        binning_x=binning[0],
        binning_y=binning[1],
        roi=NS(x_offset=roi[0], y_offset=roi[1], width=roi[2], height=roi[3], do_rectify=False),
    )


def _angles(cam, uv):
    az, el = ray_angles(cam.pixel_to_ray(np.asarray(uv, dtype=float).reshape(-1, 2)))
    return float(az[0]), float(el[0])


# ------------------------------------------------------------------------------------------------
# roi, binning
def test_roi_crop_shifts_principal_point_keeps_focal_length():
    """
    Issue 14.1: sensor 1280x800, roi (320, 200) 640x400, pixel (0, 200) -> azimuth atan(320/800).

    Elev 0.
    """
    cam = PinholeCamera.from_camera_info(_info(roi=(320, 200, 640, 400)))
    assert (cam.width, cam.height) == (640, 400)
    assert cam.fx == 800.0 and cam.fy == 800.0 and cam.principal_point == (320.0, 200.0)
    az, el = _angles(cam, (0, 200))
    assert az == pytest.approx(math.atan(320.0 / 800.0), abs=1e-9)  # 0.3805 rad, to the left (+)
    assert az == pytest.approx(0.3805, abs=1e-4)
    assert el == pytest.approx(0.0, abs=1e-12)
    # a detection centred on that pixel gives the same bearing
    det_az, det_el, _, _ = box_angles(cam, (-10.0, 190.0, 10.0, 210.0))
    assert det_az == pytest.approx(math.atan(0.4), abs=1e-9) and det_el == pytest.approx(
        0.0, abs=1e-12
    )
    # the same pixel treated as a resize of the full sensor would be 0.6747 rad: that is what must
    # not happen
    resized = PinholeCamera.from_camera_info(_info()).for_image_size(640, 400)
    assert _angles(resized, (0, 200))[0] == pytest.approx(math.atan(640.0 / 800.0), abs=1e-9)


def test_roi_crop_equals_the_full_sensor_pixel():
    """
    Every pixel of the cropped image sees the ray of the full-sensor pixel at offset + uv.

    With distortion.
    """
    d = (-0.2, 0.05, 0.001, -0.0005, 0.0)
    full = PinholeCamera.from_camera_info(_info(d=d))
    crop = PinholeCamera.from_camera_info(_info(d=d, roi=(320, 200, 640, 400)))
    uv = np.array([[0.0, 0.0], [639.0, 399.0], [100.5, 37.25], [320.0, 200.0]])
    np.testing.assert_allclose(
        crop.pixel_to_ray(uv), full.pixel_to_ray(uv + [320.0, 200.0]), atol=1e-12
    )


@pytest.mark.parametrize('roi', [(0, 0, 0, 0), (320, 200, 640, 400), (100, 40, 1000, 600)])
@pytest.mark.parametrize('binning', [(2, 2), (4, 2), (1, 4)])
def test_binning_and_roi_together(roi, binning):
    """
    With roi and binning, image pixel uv is sensor pixel roi_offset + uv * binning.

    The roi is in full-resolution pixels; binning applies after it.
    """
    d = (-0.2, 0.05, 0.001, -0.0005, 0.0)
    full = PinholeCamera.from_camera_info(_info(d=d))
    cam = PinholeCamera.from_camera_info(_info(d=d, roi=roi, binning=binning))
    bx, by = binning
    rw, rh = (roi[2], roi[3]) if roi[2] else (1280, 800)
    assert (cam.width, cam.height) == (rw // bx, rh // by)
    assert cam.fx == pytest.approx(800.0 / bx) and cam.fy == pytest.approx(800.0 / by)
    assert cam.principal_point == pytest.approx(((640.0 - roi[0]) / bx, (400.0 - roi[1]) / by))
    uv = np.array([[0.0, 0.0], [cam.width - 1.0, cam.height - 1.0], [13.0, 7.5]])
    sensor = uv * [bx, by] + [roi[0], roi[1]]
    np.testing.assert_allclose(cam.pixel_to_ray(uv), full.pixel_to_ray(sensor), atol=1e-12)


def test_binning_and_roi_issue_values():
    # sensor 1280x800 binned 2x2 with roi (320, 200) 640x400: image 320x200, fx 400, principal
    # point (160, 100)
    cam = PinholeCamera.from_camera_info(_info(roi=(320, 200, 640, 400), binning=(2, 2)))
    assert (cam.width, cam.height, cam.fx, cam.principal_point) == (
        320,
        200,
        400.0,
        (160.0, 100.0),
    )
    az, el = _angles(cam, (0, 100))  # sensor pixel (320, 400)
    assert az == pytest.approx(math.atan(320.0 / 800.0), abs=1e-9) and el == pytest.approx(
        0.0, abs=1e-12
    )


def test_rectified_camera_applies_roi_and_binning_to_P():
    p = (700.0, 0, 600.0, 0, 0, 700.0, 380.0, 0, 0, 0, 1, 0)
    cam = PinholeCamera.from_camera_info(
        _info(p=p, roi=(200, 100, 800, 600), binning=(2, 2)), rectified=True
    )
    assert cam.model == '' and (cam.width, cam.height) == (400, 300)
    assert cam.fx == 350.0 and cam.principal_point == (200.0, 140.0)


@pytest.mark.parametrize(
    'roi,match',
    [
        ((1000, 0, 640, 400), 'outside'),
        ((320, 200, 0, 0), 'positive size'),
        ((0, 500, 1280, 400), 'outside'),
    ],
)
def test_bad_roi_is_refused_with_a_clear_message(roi, match):
    with pytest.raises(ValueError, match=match):
        PinholeCamera.from_camera_info(_info(roi=roi))


def test_core_camera_cache_key_includes_roi_and_binning():
    from vitedge_ros.ros.core import PerceptionCore, validate_params

    logs = []
    core = PerceptionCore(
        lambda img: None,
        validate_params({}, ['person', 'vehicle', 'obstacle']),
        lambda out: None,
        log=lambda level, text: logs.append((level, text)),
    )
    try:
        core.on_camera_info(_info())
        assert core.camera_for(640, 400).principal_point == (
            320.0,
            200.0,
        )  # resize of the full sensor
        core.on_camera_info(_info(roi=(320, 200, 640, 400)))  # same K, D, P: only roi changed
        cam = core.camera_for(640, 400)
        assert cam.principal_point == (320.0, 200.0) and cam.fx == 800.0
        assert _angles(cam, (0, 200))[0] == pytest.approx(math.atan(0.4), abs=1e-9)
        core.on_camera_info(
            _info(roi=(320, 200, 640, 400), binning=(2, 2))
        )  # only binning changed
        cam = core.camera_for(320, 200)
        assert cam.fx == 400.0 and cam.principal_point == (160.0, 100.0)
        core.on_camera_info(
            _info(roi=(0, 0, 640, 400), binning=(2, 2))
        )  # only the roi offset changed
        assert core.camera_for(320, 200).principal_point == (320.0, 200.0)
        core.on_camera_info(_info(roi=(1000, 0, 640, 400)))  # bad roi: warned, old kept
        assert any('camera_info' in t and 'outside' in t for lvl, t in logs if lvl == 'warn')
        assert core.camera_for(320, 200).principal_point == (320.0, 200.0)
    finally:
        core.shutdown()


# ------------------------------------------------------------------------------------------
# distortion models
K_FISH = [[300.0, 0.0, 640.0], [0.0, 300.0, 480.0], [0.0, 0.0, 1.0]]


def test_equidistant_with_zero_coefficients_is_an_f_theta_lens():
    """
    Issue 14.2: an equidistant lens with zero D maps pixel (954.2, 480) to 60 degrees right.

    At 1280x960, f=300 the pixel is 60 degrees right of the axis (-60 deg azimuth).
    """
    for d in ([0.0, 0.0, 0.0, 0.0], None):
        cam = PinholeCamera(K_FISH, d, 1280, 960, 'equidistant')
        assert cam.model == 'equidistant'
        az, el = _angles(cam, (954.2, 480.0))
        assert math.degrees(az) == pytest.approx(-60.0, abs=0.01)  # not -46.3 (a pinhole)
        assert el == pytest.approx(0.0, abs=1e-12)
        # f-theta: the angle off the axis is proportional to the pixel radius, in any direction
        uv = np.array([[640.0 + 300.0 * 0.3, 480.0 - 300.0 * 0.4]])  # radius 0.5 rad
        ray = cam.pixel_to_ray(uv)[0]
        assert math.acos(ray[2]) == pytest.approx(0.5, abs=1e-12)
    assert PinholeCamera(K_FISH, [0, 0, 0, 0], 1280, 960, 'fisheye').model == 'equidistant'


def test_fisheye_ray_beyond_90_degrees():
    """
    Issue 14.2: pixel (1163.6, 480) with a tiny k1 is ~100 degrees off axis.

    Azimuth -100 deg, not -90.
    """
    cam = PinholeCamera(K_FISH, [1e-5, 0.0, 0.0, 0.0], 1280, 960, 'equidistant')
    az, el = _angles(cam, (1163.6, 480.0))
    assert math.degrees(az) == pytest.approx(-100.0, abs=0.05)
    assert el == pytest.approx(0.0, abs=1e-12)
    ray = cam.pixel_to_ray([[1163.6, 480.0]])[0]
    assert ray[2] < 0  # behind the image plane
    # exact round trip of a ray 100 degrees off axis, also with stronger coefficients
    for d in ([1e-5, 0, 0, 0], [-0.01, 0.002, -0.0003, 0.00001]):
        cam = PinholeCamera(K_FISH, d, 1280, 960, 'equidistant')
        a = math.radians(100.0)
        target = np.array([[math.sin(a), 0.0, math.cos(a)], [0.0, -math.sin(a), math.cos(a)]])
        uv = cam.project(target)
        np.testing.assert_allclose(cam.pixel_to_ray(uv), target, atol=1e-9)
        az, _ = _angles(cam, uv[0])
        assert math.degrees(az) == pytest.approx(-100.0, abs=1e-6)
        # the normalised (x/z, y/z) form has no point for such a ray: NaN, never a wrong finite
        # value
        assert np.isnan(cam.normalize(uv)).all()


def test_fisheye_pixel_outside_the_model_has_no_ray():
    # k1 < 0 makes theta_d(theta) peak: radii beyond the peak are no direction at all
    cam = PinholeCamera(K_FISH, [-0.1, 0.0, 0.0, 0.0], 1280, 960, 'equidistant')
    t = np.sqrt(1.0 / 0.3)  # d/dt t(1 - 0.1 t^2) = 0
    peak = t * (1 - 0.1 * t * t)
    rays = cam.pixel_to_ray(
        [[640.0 + 300.0 * (peak + 0.05), 480.0], [640.0 + 300.0 * (peak - 0.05), 480.0]]
    )
    assert np.isnan(rays[0]).all() and np.isfinite(rays[1]).all()
    dets = [Detection(2, 'obstacle', 0.9, (1200.0, 470.0, 1279.0, 490.0))]
    assert obstacle_infos(cam, dets) == []  # no bearing, left out
    # f-theta lens: a radius beyond pi is beyond straight backwards
    ideal = PinholeCamera(K_FISH, None, 1280, 960, 'equidistant')
    assert np.isnan(ideal.pixel_to_ray([[640.0 + 300.0 * 3.3, 480.0]])).all()


def test_fisheye_ground_projection_refuses_rays_above_the_horizon():
    # level camera looking north at 10 m: the optical axis is horizontal
    fwd, right = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])
    R = np.stack([right, np.cross(fwd, right), fwd], axis=1)
    pose = CameraPose(quat_from_matrix(R), np.array([0.0, 0.0, 10.0]))
    cam = PinholeCamera(K_FISH, [0.0, 0.0, 0.0, 0.0], 1280, 960, 'equidistant')
    assert pixel_to_ground(cam, (1163.6, 480.0), pose) is None  # 100 deg right, on the horizon row
    assert pixel_to_ground(cam, (1163.6, 380.0), pose) is None  # and above it
    assert pixel_to_ground(cam, (640.0, 180.0), pose) is None  # 60 deg up
    # 45 degrees down, f-theta: v = 480 + 300 * pi/4; hits 10 m ahead
    hit = pixel_to_ground(cam, (640.0, 480.0 + 300.0 * math.pi / 4.0), pose)
    np.testing.assert_allclose(hit, [0.0, 10.0, 0.0], atol=1e-9)
    # nadir fisheye: a ray 100 degrees off the axis points upwards -> no ground
    R_nadir = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    nadir = CameraPose(quat_from_matrix(R_nadir), np.array([0.0, 0.0, 10.0]))
    assert pixel_to_ground(cam, (1163.6, 480.0), nadir) is None
    np.testing.assert_allclose(
        pixel_to_ground(cam, (640.0 + 300.0 * math.pi / 4.0, 480.0), nadir),
        [10.0, 0.0, 0.0],
        atol=1e-9,
    )


@pytest.mark.parametrize(
    'model,n', [('plumb_bob', 5), ('rational_polynomial', 8), ('plumb_bob', 0), ('', 5)]
)
def test_zero_plumb_bob_and_rational_stay_pinhole(model, n):
    cam = PinholeCamera(K_FISH, [0.0] * n, 1280, 960, model)
    assert cam.model == ''
    az, _ = _angles(cam, (954.2, 480.0))
    assert az == pytest.approx(-math.atan(314.2 / 300.0), abs=1e-12)  # -46.3 deg is right here


@pytest.mark.parametrize('model', ['kannala_brandt', 'double_sphere', 'pinhole', 'mei'])
def test_unknown_distortion_model_is_a_clear_error(model):
    for d in ([0.0] * 4, [0.1, 0.0, 0.0, 0.0]):
        with pytest.raises(ValueError, match='unsupported distortion_model {!r}'.format(model)):
            PinholeCamera(K_FISH, d, 1280, 960, model)
    with pytest.raises(ValueError, match='unsupported distortion_model'):
        PinholeCamera.from_camera_info(_info(model=model))


def test_empty_model_with_coefficients_is_refused():
    with pytest.raises(ValueError, match='empty but D has non-zero'):
        PinholeCamera(K_FISH, [0.1, 0, 0, 0, 0], 1280, 960, '')


def test_projection_behind_a_pinhole_is_nan():
    cam = PinholeCamera(K_FISH, [-0.2, 0.05, 0, 0, 0], 1280, 960, 'plumb_bob')
    uv = cam.project([[0.1, 0.0, 1.0], [0.1, 0.0, -1.0]])
    assert np.isfinite(uv[0]).all() and np.isnan(uv[1]).all()

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
Issue 15 item 2 (drone side, Python 3.6 lane too).

The tf2-like transform buffer and flat-ground geometry.
"""

import math

import numpy as np
import pytest
from vitedge_ros.geometry.ground import (
    camera_pose_over_ground,
    ground_homography,
    homography_area_scale,
    project_ground_points,
)
from vitedge_ros.geometry.projection import pixels_to_ground, quat_from_euler, quat_to_matrix
from vitedge_ros.geometry.tf_buffer import (
    ExtrapolationError,
    FrameNotFoundError,
    slerp,
    TransformBuffer,
)


# -------------------------------------------------------------------------------------------
# transform buffer
def _yaw_of(q):
    R = quat_to_matrix(q)
    return math.atan2(R[1, 0], R[0, 0])


def test_buffer_interpolates_like_tf2_and_refuses_to_extrapolate():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 1_000_000_000, (0, 0, 10), quat_from_euler(0, 0, 0))
    buf.set_transform(
        'map', 'base_link', 2_000_000_000, (4, -2, 12), quat_from_euler(0, 0, math.pi / 2)
    )
    mid = buf.lookup('map', 'base_link', 1_250_000_000)
    assert np.allclose(mid.translation, (1.0, -0.5, 10.5))  # lerp
    assert _yaw_of(mid.rotation) == pytest.approx(math.pi / 8)  # slerp: a quarter of 90 deg
    exact = buf.lookup('map', 'base_link', 2_000_000_000)
    assert np.allclose(exact.translation, (4, -2, 12))
    latest = buf.lookup('map', 'base_link', 0)  # time 0: the latest common time
    assert np.allclose(latest.translation, (4, -2, 12))
    with pytest.raises(ExtrapolationError, match='future'):
        buf.lookup('map', 'base_link', 2_000_000_001)
    with pytest.raises(ExtrapolationError, match='past'):
        buf.lookup('map', 'base_link', 999_999_999)


def test_slerp_takes_the_short_arc():
    a = quat_from_euler(0, 0, math.radians(170))
    b = -quat_from_euler(
        0, 0, math.radians(-170)
    )  # same rotation as +190 deg, stored with the sign flipped
    assert abs(math.degrees(_yaw_of(slerp(a, b, 0.5)))) == pytest.approx(
        180.0, abs=1e-6
    )  # not through 0


def test_buffer_chains_static_links_and_inverts():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 0, (10, 20, 15), quat_from_euler(0, 0, 0.3))
    buf.set_transform('map', 'base_link', 10, (10, 20, 15), quat_from_euler(0, 0, 0.3))
    buf.set_transform(
        'base_link', 'cam', 0, (1, 0, 0), quat_from_euler(0, 0, math.pi / 2), static=True
    )
    pose = buf.lookup('map', 'cam', 5)
    p_cam = np.array([2.0, 0.0, 0.0])  # 2 m along the camera's x = the body's +y
    p_map = quat_to_matrix(pose.rotation) @ p_cam + pose.translation
    yaw = 0.3
    expected = np.array([10 + math.cos(yaw), 20 + math.sin(yaw), 15]) + 2 * np.array(
        [-math.sin(yaw), math.cos(yaw), 0]
    )
    assert np.allclose(p_map, expected)
    back = buf.lookup('cam', 'map', 5)  # the inverse lookup maps it back
    assert np.allclose(quat_to_matrix(back.rotation) @ p_map + back.translation, p_cam)


def test_buffer_names_a_missing_frame():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 0, (0, 0, 1), (0, 0, 0, 1))
    with pytest.raises(FrameNotFoundError) as err:
        buf.lookup('map', 'camera_optical_frame', 0)
    assert "'camera_optical_frame'" in str(err.value) and 'base_link, map' in str(err.value)


# ----------------------------------------------------------------------------------------
# flat-ground camera
def test_homography_agrees_with_ray_casting():
    from vitedge_ros.geometry.camera import PinholeCamera

    cam = PinholeCamera.from_fov(640, 480, math.radians(60))
    pose = camera_pose_over_ground(3.0, -4.0, 15.0, 0.7, math.radians(30))
    xy = np.array([[3.0, 5.0], [10.0, 12.0], [-2.0, 8.0]])
    uv, front = project_ground_points(ground_homography(cam.K, pose), xy)
    assert front.all()
    back = pixels_to_ground(cam, uv, pose)
    assert np.allclose(back[:, :2], xy, atol=1e-9) and np.allclose(back[:, 2], 0.0, atol=1e-9)
    nadir = camera_pose_over_ground(0, 0, 15.0, 0.0, 0.0)
    H = ground_homography(cam.K, nadir)
    gsd = 1.0 / math.sqrt(homography_area_scale(H, [[0.0, 0.0]])[0])
    assert gsd == pytest.approx(15.0 / cam.fx) and gsd == pytest.approx(0.0270633, abs=1e-6)

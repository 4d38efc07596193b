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
Where a detected person stands: vitedge_ros.geometry.person_ground.

Checked against projected standing persons.
"""

import numpy as np
import pytest
from vitedge_ros.geometry.camera import PinholeCamera
from vitedge_ros.geometry.person_ground import person_foot_pixels, persons_on_ground
from vitedge_ros.geometry.projection import CameraPose, pixels_to_ground, quat_from_matrix
from vitedge_ros.perception.core import ParamError, validate_params

CAM = PinholeCamera.from_fov(640, 480, np.radians(60.0))


def _pose(tilt_deg: float, altitude: float) -> CameraPose:
    """
    Camera looking north.

    Pitched down by ``90 - tilt`` degrees from level (tilt 0: nadir, 90: level).
    """
    t = np.radians(tilt_deg)
    # optical axes in ENU: x right = east; z forward = down tilted toward north; y = z x x
    z = np.array([0.0, np.sin(t), -np.cos(t)])
    x = np.array([1.0, 0.0, 0.0])
    y = np.cross(z, x)
    return CameraPose(
        quat_from_matrix(np.stack([x, y, z], axis=1)), np.array([0.0, 0.0, altitude])
    )


def _standing_box(pose: CameraPose, where, height=1.7, width=0.5):
    """
    Return the pixel box (x1, y1, x2, y2) enclosing a standing person.

    The person is a vertical box of ``width`` x ``width`` x height.
    """
    x, y = where
    h = width / 2.0
    corners = np.array(
        [[x + dx, y + dy, z] for dx in (-h, h) for dy in (-h, h) for z in (0.0, height)]
    )
    px = CAM.project((corners - pose.translation) @ pose.matrix)
    assert np.isfinite(px).all()
    return [px[:, 0].min(), px[:, 1].min(), px[:, 0].max(), px[:, 1].max()]


@pytest.mark.parametrize(
    'tilt,altitude,spots',
    [
        (0.0, 15.0, [(0.0, 0.0), (4.0, 2.0), (-5.0, -3.5), (3.0, -4.0)]),  # nadir
        (30.0, 15.0, [(0.0, 8.7), (4.0, 12.0), (-3.0, 5.0), (2.0, 16.0)]),  # oblique 30 degrees
        (75.0, 6.0, [(0.0, 25.0), (3.0, 40.0), (-4.0, 18.0)]),  # nearly level
    ],
)
def test_standing_persons_are_placed_at_their_feet(tilt, altitude, spots):
    pose = _pose(tilt, altitude)
    boxes = [_standing_box(pose, s) for s in spots]
    est = persons_on_ground(CAM, boxes, pose)
    truth = np.array([[x, y, 0.0] for x, y in spots])
    err = np.linalg.norm(est[:, :2] - truth[:, :2], axis=1)
    # the box's own (0.5 m wide) person: measured 0.00-0.05 m; the box centre (height 0) and the
    # rule before (the box's bottom centre) missed the same persons by 0.25-1.0 m
    assert err.max() < 0.1, err
    b = np.asarray(boxes)
    bottom = pixels_to_ground(CAM, np.stack([(b[:, 0] + b[:, 2]) / 2.0, b[:, 3]], axis=1), pose)
    assert err.max() < np.linalg.norm(bottom[:, :2] - truth[:, :2], axis=1).min() / 2.0
    centre = persons_on_ground(CAM, boxes, pose, height_m=0.0)
    assert err.max() < np.linalg.norm(centre[:, :2] - truth[:, :2], axis=1)[1:].min() / 2.0


def test_nadir_feet_lie_toward_the_image_centre():
    pose = _pose(0.0, 15.0)
    box = _standing_box(pose, (5.0, 0.0))  # east of the nadir: image right of the principal point
    feet = person_foot_pixels(CAM, [box], pose)[0]
    centre = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
    assert feet[0] < centre[0] - 5.0 and feet[1] == pytest.approx(centre[1], abs=1e-6)
    assert box[0] <= feet[0] <= box[2]


def test_height_zero_is_the_box_centre_and_no_pose_the_bottom_centre():
    boxes = [[100.0, 50.0, 140.0, 130.0], [0.0, 0.0, 10.0, 20.0]]
    np.testing.assert_allclose(
        person_foot_pixels(CAM, boxes, _pose(0, 15), height_m=0.0), [[120.0, 90.0], [5.0, 10.0]]
    )
    np.testing.assert_allclose(person_foot_pixels(CAM, boxes, None), [[120.0, 130.0], [5.0, 20.0]])


def test_box_centre_above_the_horizon_falls_back_to_the_bottom_centre():
    pose = _pose(90.0, 1.5)  # level camera: the top half of the image is sky
    feet = person_foot_pixels(CAM, [[300.0, 10.0, 340.0, 60.0]], pose)
    np.testing.assert_allclose(feet, [[320.0, 60.0]])


def test_level_camera_feet_are_the_bottom_of_the_box():
    pose = _pose(90.0, 1.0)
    box = _standing_box(pose, (0.0, 10.0))
    feet = person_foot_pixels(CAM, [box], pose)[0]
    assert feet[0] == pytest.approx((box[0] + box[2]) / 2.0, abs=1e-6) and feet[
        1
    ] == pytest.approx(box[3], abs=1.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match='>= 0 m'):
        person_foot_pixels(CAM, [[0, 0, 1, 1]], None, height_m=-1.0)
    with pytest.raises(ValueError, match='N x 4'):
        person_foot_pixels(CAM, [[0, 0, 1]], None)
    assert person_foot_pixels(CAM, [], None).shape == (0, 2)
    assert persons_on_ground(CAM, np.zeros((0, 4)), _pose(0, 15)).shape == (0, 3)
    with pytest.raises(ParamError, match='person_height_m'):
        validate_params({'person_height_m': -0.5}, ['person'])

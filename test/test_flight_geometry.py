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
Issue 15 item 4: synthetic flights with known geometry, and make_bag's CameraInfo.

TF and position truth.
"""

import math

import numpy as np
import pytest
from vitedge_ros.geometry.ground import project_ground_points
from vitedge_ros.geometry.projection import quat_to_matrix
from vitedge_ros.geometry.tf_buffer import TransformBuffer


@pytest.mark.parametrize('tilt', [0.0, 30.0])
def test_flight_positions_project_into_their_boxes(tilt):
    """
    Each annotated object's recorded ground position is seen inside its own box.

    At nadir and tilted.
    """
    from vitedge_ros.data.flights import GroundFlight

    flight = GroundFlight(
        4, seed=2, width=320, height=240, hfov_deg=60.0, altitude=15.0, tilt_deg=tilt
    )
    seen = 0
    for fr in flight.frames():
        assert fr.image.shape == (240, 320, 3) and len(fr.ground_xy) == len(fr.boxes) == len(
            fr.labels
        )
        uv, front = project_ground_points(fr.homography, fr.ground_xy)
        assert front.all()
        inside = (
            (uv[:, 0] >= fr.boxes[:, 0] - 1)
            & (uv[:, 0] <= fr.boxes[:, 2] + 1)
            & (uv[:, 1] >= fr.boxes[:, 1] - 1)
            & (uv[:, 1] <= fr.boxes[:, 3] + 1)
        )
        # objects cut by the image border may have their centre outside the visible part
        full = (
            (fr.boxes[:, 0] > 0)
            & (fr.boxes[:, 1] > 0)
            & (fr.boxes[:, 2] < 320)
            & (fr.boxes[:, 3] < 240)
        )
        assert inside[full].all()
        seen += int(full.sum())
        # the camera pose is the body pose through the static links (REP-103 optical frame)
        R = quat_to_matrix(fr.camera_pose.rotation)
        assert R[:, 2] @ np.array([0, 0, -1.0]) == pytest.approx(math.cos(math.radians(tilt)))
        assert fr.camera_pose.translation[2] == pytest.approx(15.0 - 0.05)
    assert seen > 5


def test_flight_refuses_the_horizon():
    from vitedge_ros.data.flights import GroundFlight

    with pytest.raises(ValueError, match='horizon'):
        GroundFlight(2, width=64, height=48, tilt_deg=70.0)


@pytest.mark.needs('rosbags')
def test_make_bag_tf_and_truth_match_the_flight(tmp_path):
    """
    /tf + /tf_static give the flight's camera pose at each stamp.

    The PoseArray truth is the flight's.
    """
    from rosbags.highlevel import AnyReader
    from vitedge_ros.data.flights import GroundFlight
    from vitedge_ros.geometry.camera import PinholeCamera
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    write_synthetic_bag(tmp_path / 'f', 3, seed=4, width=160, height=120, tilt_deg=30.0)
    flight = GroundFlight(3, seed=4, width=160, height=120, tilt_deg=30.0)
    frames = list(flight.frames())
    buf = TransformBuffer()
    persons, infos, images = [], [], []
    with AnyReader([tmp_path / 'f']) as reader:
        static = [c for c in reader.connections if c.topic == '/tf_static'][0]
        assert [q.durability.name for q in static.ext.offered_qos_profiles] == ['TRANSIENT_LOCAL']
        for conn, _, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic in ('/tf', '/tf_static'):
                buf.add_message(msg, static=conn.topic == '/tf_static')
            elif conn.topic == '/ground_truth/persons':
                assert msg.header.frame_id == 'map'
                persons.append(
                    np.array([[p.position.x, p.position.y] for p in msg.poses]).reshape(-1, 2)
                )
            elif conn.topic == '/camera/camera_info':
                infos.append(msg)
            elif conn.topic == '/camera/image_raw':
                images.append(msg)
    assert buf.frames == ['base_link', 'camera_link', 'camera_optical_frame', 'map']
    for fr, img, info, truth in zip(frames, images, infos, persons):
        assert img.header.frame_id == 'camera_optical_frame'
        stamp = img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
        pose = buf.lookup('map', img.header.frame_id, stamp)
        assert np.allclose(
            quat_to_matrix(pose.rotation), quat_to_matrix(fr.camera_pose.rotation), atol=1e-9
        )
        assert np.allclose(pose.translation, fr.camera_pose.translation, atol=1e-9)
        assert np.allclose(truth, fr.ground_xy[fr.labels == 0])
        cam = PinholeCamera.from_camera_info(info)
        assert np.allclose(cam.K, flight.K) and cam.fx == pytest.approx(
            80 / math.tan(math.radians(30))
        )

"""Issue 15 items 2 and 4: the tf2-like transform buffer and synthetic flights with known geometry."""
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
    TransformBuffer,
    slerp,
)


# ------------------------------------------------------------------------------------------- transform buffer
def _yaw_of(q):
    R = quat_to_matrix(q)
    return math.atan2(R[1, 0], R[0, 0])


def test_buffer_interpolates_like_tf2_and_refuses_to_extrapolate():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 1_000_000_000, (0, 0, 10), quat_from_euler(0, 0, 0))
    buf.set_transform('map', 'base_link', 2_000_000_000, (4, -2, 12), quat_from_euler(0, 0, math.pi / 2))
    mid = buf.lookup('map', 'base_link', 1_250_000_000)
    assert np.allclose(mid.translation, (1.0, -0.5, 10.5))                 # lerp
    assert _yaw_of(mid.rotation) == pytest.approx(math.pi / 8)             # slerp: a quarter of 90 deg
    exact = buf.lookup('map', 'base_link', 2_000_000_000)
    assert np.allclose(exact.translation, (4, -2, 12))
    latest = buf.lookup('map', 'base_link', 0)                             # time 0: the latest common time
    assert np.allclose(latest.translation, (4, -2, 12))
    with pytest.raises(ExtrapolationError, match='future'):
        buf.lookup('map', 'base_link', 2_000_000_001)
    with pytest.raises(ExtrapolationError, match='past'):
        buf.lookup('map', 'base_link', 999_999_999)


def test_slerp_takes_the_short_arc():
    a = quat_from_euler(0, 0, math.radians(170))
    b = -quat_from_euler(0, 0, math.radians(-170))      # same rotation as +190 deg, stored with the sign flipped
    assert abs(math.degrees(_yaw_of(slerp(a, b, 0.5)))) == pytest.approx(180.0, abs=1e-6)   # not through 0


def test_buffer_chains_static_links_and_inverts():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 0, (10, 20, 15), quat_from_euler(0, 0, 0.3))
    buf.set_transform('map', 'base_link', 10, (10, 20, 15), quat_from_euler(0, 0, 0.3))
    buf.set_transform('base_link', 'cam', 0, (1, 0, 0), quat_from_euler(0, 0, math.pi / 2), static=True)
    pose = buf.lookup('map', 'cam', 5)
    p_cam = np.array([2.0, 0.0, 0.0])                  # 2 m along the camera's x = the body's +y
    p_map = quat_to_matrix(pose.rotation) @ p_cam + pose.translation
    yaw = 0.3
    expected = np.array([10 + math.cos(yaw), 20 + math.sin(yaw), 15]) + 2 * np.array([-math.sin(yaw),
                                                                                      math.cos(yaw), 0])
    assert np.allclose(p_map, expected)
    back = buf.lookup('cam', 'map', 5)                 # the inverse lookup maps it back
    assert np.allclose(quat_to_matrix(back.rotation) @ p_map + back.translation, p_cam)


def test_buffer_names_a_missing_frame():
    buf = TransformBuffer()
    buf.set_transform('map', 'base_link', 0, (0, 0, 1), (0, 0, 0, 1))
    with pytest.raises(FrameNotFoundError) as err:
        buf.lookup('map', 'camera_optical_frame', 0)
    assert "'camera_optical_frame'" in str(err.value) and 'base_link, map' in str(err.value)


# ---------------------------------------------------------------------------------------- flat-ground camera
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


@pytest.mark.parametrize('tilt', [0.0, 30.0])
def test_flight_positions_project_into_their_boxes(tilt):
    """Each annotated object's recorded ground position is seen inside its own box, at nadir and tilted."""
    from vitedge_ros.data.flights import GroundFlight

    flight = GroundFlight(4, seed=2, width=320, height=240, hfov_deg=60.0, altitude=15.0, tilt_deg=tilt)
    seen = 0
    for fr in flight.frames():
        assert fr.image.shape == (240, 320, 3) and len(fr.ground_xy) == len(fr.boxes) == len(fr.labels)
        uv, front = project_ground_points(fr.homography, fr.ground_xy)
        assert front.all()
        inside = ((uv[:, 0] >= fr.boxes[:, 0] - 1) & (uv[:, 0] <= fr.boxes[:, 2] + 1)
                  & (uv[:, 1] >= fr.boxes[:, 1] - 1) & (uv[:, 1] <= fr.boxes[:, 3] + 1))
        # objects cut by the image border may have their centre outside the visible part
        full = (fr.boxes[:, 0] > 0) & (fr.boxes[:, 1] > 0) & (fr.boxes[:, 2] < 320) & (fr.boxes[:, 3] < 240)
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


def test_make_bag_tf_and_truth_match_the_flight(tmp_path):
    """/tf + /tf_static give the flight's camera pose at each stamp; the PoseArray truth is the flight's."""
    from rosbags.highlevel import AnyReader

    from vitedge_ros.data.flights import GroundFlight
    from vitedge_ros.eval.bag_synthetic import write_synthetic_bag
    from vitedge_ros.geometry.camera import PinholeCamera

    write_synthetic_bag(tmp_path / 'f', 3, seed=4, width=160, height=120, tilt_deg=30.0)
    flight = GroundFlight(3, seed=4, width=160, height=120, tilt_deg=30.0)
    frames = list(flight.frames())
    buf = TransformBuffer()
    persons, infos, images = [], [], []
    with AnyReader([tmp_path / 'f']) as reader:
        for conn, _, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic in ('/tf', '/tf_static'):
                buf.add_message(msg, static=conn.topic == '/tf_static')
            elif conn.topic == '/ground_truth/persons':
                assert msg.header.frame_id == 'map'
                persons.append(np.array([[p.position.x, p.position.y] for p in msg.poses]).reshape(-1, 2))
            elif conn.topic == '/camera/camera_info':
                infos.append(msg)
            elif conn.topic == '/camera/image_raw':
                images.append(msg)
    assert buf.frames == ['base_link', 'camera_link', 'camera_optical_frame', 'map']
    for fr, img, info, truth in zip(frames, images, infos, persons):
        assert img.header.frame_id == 'camera_optical_frame'
        stamp = img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
        pose = buf.lookup('map', img.header.frame_id, stamp)
        assert np.allclose(quat_to_matrix(pose.rotation), quat_to_matrix(fr.camera_pose.rotation), atol=1e-9)
        assert np.allclose(pose.translation, fr.camera_pose.translation, atol=1e-9)
        assert np.allclose(truth, fr.ground_xy[fr.labels == 0])
        cam = PinholeCamera.from_camera_info(info)
        assert np.allclose(cam.K, flight.K) and cam.fx == pytest.approx(80 / math.tan(math.radians(30)))

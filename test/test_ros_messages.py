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

"""Message builders on rosbags Humble messages, checked after a CDR round trip."""

import math

import numpy as np
from plain_msgs import message_types
import pytest
from vitedge_ros.ros import messages as M
from vitedge_ros.ros.rosbags_types import VISION_MSGS, vision_msgs_definitions
from vitedge_ros.runtime import Detection

TYPESTORE, T = message_types()


def _cdr(msg):
    return TYPESTORE.deserialize_cdr(
        TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__
    )


def _header():
    return M.build_header(T, 1712, 345000000, 'camera_optical')


DETS = [
    Detection(0, 'person', 0.91, (10.0, 20.0, 50.0, 100.0)),
    Detection(2, 'obstacle', 0.4, (100.5, 0.0, 200.5, 30.0)),
]


def test_vision_msgs_definitions_carried():
    defs = vision_msgs_definitions()
    assert set(defs) == {'vision_msgs/msg/' + n for n in VISION_MSGS}
    assert 'ObjectHypothesisWithPose[] results' in defs['vision_msgs/msg/Detection2D']
    assert 'string class_id' in defs['vision_msgs/msg/ObjectHypothesis']


def test_detection2d_array_round_trip():
    msg = _cdr(M.build_detection2d_array(DETS, _header(), T))
    assert msg.__msgtype__ == 'vision_msgs/msg/Detection2DArray'
    stamp = msg.header.stamp
    assert (stamp.sec, stamp.nanosec, msg.header.frame_id) == (1712, 345000000, 'camera_optical')
    assert len(msg.detections) == 2
    d0 = msg.detections[0]
    assert d0.header.frame_id == 'camera_optical' and d0.header.stamp.sec == 1712
    assert d0.results[0].hypothesis.class_id == 'person'
    assert d0.results[0].hypothesis.score == pytest.approx(0.91)
    assert (d0.bbox.center.position.x, d0.bbox.center.position.y) == (30.0, 60.0)
    assert (d0.bbox.size_x, d0.bbox.size_y, d0.bbox.center.theta) == (40.0, 80.0, 0.0)
    assert d0.results[0].pose.pose.orientation.w == 1.0
    assert np.all(d0.results[0].pose.covariance == 0) and len(d0.results[0].pose.covariance) == 36
    assert msg.detections[1].bbox.center.position.x == pytest.approx(150.5)


def test_inverse_conversion():
    msg = _cdr(M.build_detection2d_array(DETS, _header(), T))
    back = M.detection2d_array_to_detections(msg, labels=['person', 'vehicle', 'obstacle'])
    assert [d.label for d in back] == ['person', 'obstacle']
    assert [d.class_id for d in back] == [0, 2]
    for got, want in zip(back, DETS):
        assert got.score == pytest.approx(want.score)
        np.testing.assert_allclose(got.box, want.box)
    # without labels: non-numeric class ids map to -1, numeric ones are used as indices
    assert [d.class_id for d in M.detection2d_array_to_detections(msg)] == [-1, -1]
    numeric = M.build_detection2d_array([Detection(3, '3', 0.5, (0, 0, 2, 2))], _header(), T)
    assert M.detection2d_array_to_detections(_cdr(numeric))[0].class_id == 3


def test_empty_detections_and_hypothesis_less_ground_truth():
    msg = _cdr(M.build_detection2d_array([], _header(), T))
    assert msg.detections == []
    gt = T.Detection2D(
        header=_header(),
        results=[],
        id='7',
        bbox=T.BoundingBox2D(
            center=T.Pose2D(position=T.Point2D(x=5.0, y=5.0), theta=0.0), size_x=2.0, size_y=4.0
        ),
    )
    arr = _cdr(T.Detection2DArray(header=_header(), detections=[gt]))
    (det,) = M.detection2d_array_to_detections(arr, labels=['person'])
    assert (det.label, det.score, det.class_id) == ('', 1.0, -1)
    np.testing.assert_allclose(det.box, (4.0, 3.0, 6.0, 7.0))


def test_pose_array():
    msg = _cdr(
        M.build_pose_array(
            [(1.0, 2.0, 0.0), np.array([-3.5, 4.0, 0.25])], M.build_header(T, 3, 0, 'map'), T
        )
    )
    assert msg.header.frame_id == 'map'
    assert [(p.position.x, p.position.y, p.position.z) for p in msg.poses] == [
        (1.0, 2.0, 0.0),
        (-3.5, 4.0, 0.25),
    ]
    assert all(p.orientation.w == 1.0 for p in msg.poses)


def test_diagnostic_array():
    st = {
        'name': 'vitedge_node: perception',
        'level': M.DIAG_WARN,
        'message': 'frames dropped',
        'hardware_id': 'onnxruntime',
        'values': {'fps': 12.3456, 'dropped_frames': 4, 'bundle': 'x'},
    }
    msg = _cdr(M.build_diagnostic_array([st], _header(), T))
    (out,) = msg.status
    assert out.level == M.DIAG_WARN and out.name == st['name'] and out.hardware_id == 'onnxruntime'
    assert {kv.key: kv.value for kv in out.values} == {
        'fps': '12.346',
        'dropped_frames': '4',
        'bundle': 'x',
    }


class _Ob:
    label, score, class_id = 'obstacle', 0.8, 2
    azimuth, elevation, angular_width, angular_height = 0.3, -0.1, 0.2, 0.15
    range_m = 10.0
    box = (100.0, 40.0, 140.0, 100.0)


def _quat_matrix(q):
    """Rotation matrix of (x, y, z, w), written out here (independent of vitedge_ros.geometry)."""
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_obstacle_array_pixel_boxes_and_optical_frame_pose():
    msg = _cdr(M.build_obstacle_array([_Ob()], _header(), T))
    assert msg.header.frame_id == 'camera_optical'
    (det,) = msg.detections
    # BoundingBox2D in pixels, as vision_msgs defines it
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (120.0, 70.0)
    assert (det.bbox.size_x, det.bbox.size_y, det.bbox.center.theta) == (40.0, 60.0, 0.0)
    hyp = det.results[0]
    assert (hyp.hypothesis.class_id, hyp.hypothesis.score) == ('obstacle', pytest.approx(0.8))
    # pose in the optical frame (x right, y down, z forward): azimuth 0.3 rad to the LEFT is -x,
    # elevation -0.1 rad (below the axis) is +y; 10 m along the ray
    p = hyp.pose.pose.position
    want = 10.0 * np.array(
        [-math.sin(0.3) * math.cos(-0.1), -math.sin(-0.1), math.cos(0.3) * math.cos(-0.1)]
    )
    np.testing.assert_allclose([p.x, p.y, p.z], want, atol=1e-9)
    assert p.x < 0 and p.y > 0 and p.z > 9.0
    q = hyp.pose.pose.orientation
    z_axis = _quat_matrix([q.x, q.y, q.z, q.w])[:, 2]
    np.testing.assert_allclose(
        z_axis, want / 10.0, atol=1e-9
    )  # orientation's +z along the bearing
    assert np.all(np.asarray(hyp.pose.covariance) == 0)


def test_obstacle_without_range_marks_the_position_unknown():
    ob = _Ob()
    ob.range_m = None
    (det,) = _cdr(M.build_obstacle_array([ob], _header(), T)).detections
    pose = det.results[0].pose
    assert (pose.pose.position.x, pose.pose.position.y, pose.pose.position.z) == (0.0, 0.0, 0.0)
    assert pose.covariance[0] == -1.0 and np.all(np.asarray(pose.covariance)[1:] == 0)


def test_obstacle_bearings_point_cloud():
    far = _Ob()
    near = _Ob()
    near.range_m, near.azimuth, near.class_id, near.score = None, -0.25, 0, 0.5
    msg = _cdr(M.build_obstacle_bearings([far, near], _header(), T))
    assert msg.__msgtype__ == 'sensor_msgs/msg/PointCloud2'
    assert (msg.header.stamp.sec, msg.header.frame_id) == (1712, 'camera_optical')
    assert (msg.height, msg.width, msg.point_step, msg.row_step) == (1, 2, 40, 80)
    assert not msg.is_bigendian and not msg.is_dense  # one point has no range
    fields = {f.name: (f.offset, f.datatype, f.count) for f in msg.fields}
    assert (
        fields['azimuth'] == (12, 7, 1)
        and fields['class_id'] == (36, 5, 1)
        and fields['x'] == (0, 7, 1)
    )
    # decode as sensor_msgs_py.point_cloud2.read_points would: little-endian, offsets from the
    # fields
    dtype = np.dtype(
        {
            'names': list(fields),
            'offsets': [v[0] for v in fields.values()],
            'formats': ['<i4' if v[1] == 5 else '<f4' for v in fields.values()],
            'itemsize': 40,
        }
    )
    rows = np.frombuffer(np.asarray(msg.data, dtype=np.uint8).tobytes(), dtype=dtype)
    np.testing.assert_allclose(rows['azimuth'], [0.3, -0.25], rtol=1e-6)
    np.testing.assert_allclose(rows['elevation'], [-0.1, -0.1], rtol=1e-6)
    np.testing.assert_allclose(rows['angular_width'], [0.2, 0.2], rtol=1e-6)
    assert rows['range'][0] == pytest.approx(10.0) and np.isnan(rows['range'][1])
    assert list(rows['class_id']) == [2, 0] and rows['score'][1] == pytest.approx(0.5)
    assert rows['z'][0] > 9.0 and rows['x'][0] < 0 and np.isnan(rows['x'][1])
    empty = _cdr(M.build_obstacle_bearings([], _header(), T))
    assert (empty.width, len(empty.data), empty.is_dense) == (0, 0, True)


def test_stamped_verdict_and_staleness_rule():
    msg = _cdr(M.build_verdict('clear', _header(), T))
    assert msg.__msgtype__ == 'vision_msgs/msg/Classification'
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1712, 345000000)
    assert [(r.class_id, r.score) for r in msg.results] == [('clear', 1.0)]
    assert M.read_verdict(msg, 1712.345 + 0.2, max_age_s=0.3) == 'clear'
    assert M.read_verdict(msg, 1712.345 + 0.4, max_age_s=0.3) is None  # stale: treat as not clear
    assert M.read_verdict(msg, 1712.345 - 1.0, max_age_s=0.3) is None  # from the future
    blocked = _cdr(M.build_verdict('blocked', _header(), T))
    assert M.read_verdict(blocked, 1712.4, max_age_s=0.3) == 'blocked'


def test_label_info():
    msg = _cdr(M.build_label_info(['person', 'vehicle', 'obstacle'], 0.35, _header(), T))
    assert msg.__msgtype__ == 'vision_msgs/msg/LabelInfo'
    assert [(c.class_id, c.class_name) for c in msg.class_map] == [
        (0, 'person'),
        (1, 'vehicle'),
        (2, 'obstacle'),
    ]
    assert msg.threshold == pytest.approx(0.35)


def test_build_image():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = _cdr(M.build_image(img, _header(), T))
    assert (msg.height, msg.width, msg.encoding, msg.step) == (2, 3, 'bgr8', 9)
    np.testing.assert_array_equal(np.asarray(msg.data).reshape(2, 3, 3), img)


def _do_transform_pose(rotation, translation, position, orientation):
    """
    Compute tf2_geometry_msgs.do_transform_pose with numpy.

    p' = R p + t, q' = q_t * q_p (Hamilton product).
    """
    p = _quat_matrix(rotation) @ np.asarray(position, dtype=float) + np.asarray(
        translation, dtype=float
    )
    ax, ay, az, aw = rotation
    bx, by, bz, bw = orientation
    q = (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )
    return p, q


def test_obstacle_straight_ahead_lands_ahead_after_a_tf2_transform():
    """
    The camera looks forward, pitched 30 degrees down.

    On a vehicle 20 m up heading north (map +y).
    """
    from vitedge_ros.geometry import CameraPose, obstacle_infos, PinholeCamera
    from vitedge_ros.geometry.projection import quat_from_matrix

    camera = PinholeCamera.from_fov(640, 480, math.radians(90.0))  # f = 320 px, centre (320, 240)
    s, c = math.sin(math.radians(30.0)), math.cos(math.radians(30.0))
    x_axis = np.array([1.0, 0.0, 0.0])  # optical x = vehicle right = east
    z_axis = np.array([0.0, c, -s])  # optical z = forward (north), 30 degrees down
    R = np.column_stack([x_axis, np.cross(z_axis, x_axis), z_axis])
    q = quat_from_matrix(R)
    t = np.array([5.0, -3.0, 20.0])
    feet_v = 240.0 + 320.0 * math.tan(math.radians(10.0))  # 40 degrees below the horizon
    ahead = Detection(2, 'obstacle', 0.9, (300.0, 180.0, 340.0, feet_v))
    right = Detection(2, 'obstacle', 0.9, (460.0, 180.0, 500.0, feet_v))
    infos = obstacle_infos(
        camera, [ahead, right], ['obstacle'], pose=CameraPose(q, t), ground_z=0.0
    )
    msg = _cdr(M.build_obstacle_array(infos, _header(), T))
    out = []
    for det in msg.detections:
        pose = det.results[0].pose.pose
        p, rot = _do_transform_pose(
            q,
            t,
            [pose.position.x, pose.position.y, pose.position.z],
            [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w],
        )
        out.append((p, rot))
    (p_ahead, q_ahead), (p_right, _) = out
    ground_distance = 20.0 / math.tan(
        math.radians(40.0)
    )  # 23.8 m from below the camera to the feet
    slant = 20.0 / math.sin(math.radians(40.0))  # 31.1 m: the range along the centre ray
    assert p_ahead[0] == pytest.approx(5.0, abs=1e-6)  # neither left nor right of the vehicle
    assert (
        ground_distance < p_ahead[1] - t[1] < slant
    )  # ahead (north), at about the feet's distance
    assert 0.0 < p_ahead[2] < 20.0  # below the camera
    # the hypothesis orientation's +z axis points from the camera to the obstacle in the map too
    direction = (p_ahead - t) / np.linalg.norm(p_ahead - t)
    np.testing.assert_allclose(_quat_matrix(q_ahead)[:, 2], direction, atol=1e-9)
    assert (
        p_right[0] > 5.0 + 5.0 and p_right[1] - t[1] > 15.0
    )  # right of the image = east of a north-facing drone

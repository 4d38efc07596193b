"""Message builders on rosbags Humble messages, checked after a CDR round trip."""
import math

import numpy as np
import pytest

from vitedge_ros.ros import messages as M
from plain_msgs import message_types

from vitedge_ros.ros.rosbags_types import VISION_MSGS, vision_msgs_definitions
from vitedge_ros.runtime import Detection

TYPESTORE, T = message_types()


def _cdr(msg):
    return TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def _header():
    return M.build_header(T, 1712, 345000000, 'camera_optical')


DETS = [Detection(0, 'person', 0.91, (10.0, 20.0, 50.0, 100.0)),
        Detection(2, 'obstacle', 0.4, (100.5, 0.0, 200.5, 30.0))]


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
    gt = T.Detection2D(header=_header(), results=[], id='7', bbox=T.BoundingBox2D(
        center=T.Pose2D(position=T.Point2D(x=5.0, y=5.0), theta=0.0), size_x=2.0, size_y=4.0))
    arr = _cdr(T.Detection2DArray(header=_header(), detections=[gt]))
    (det,) = M.detection2d_array_to_detections(arr, labels=['person'])
    assert (det.label, det.score, det.class_id) == ('', 1.0, -1)
    np.testing.assert_allclose(det.box, (4.0, 3.0, 6.0, 7.0))


def test_pose_array():
    msg = _cdr(M.build_pose_array([(1.0, 2.0, 0.0), np.array([-3.5, 4.0, 0.25])], M.build_header(T, 3, 0, 'map'), T))
    assert msg.header.frame_id == 'map'
    assert [(p.position.x, p.position.y, p.position.z) for p in msg.poses] == [(1.0, 2.0, 0.0), (-3.5, 4.0, 0.25)]
    assert all(p.orientation.w == 1.0 for p in msg.poses)


def test_diagnostic_array():
    st = {'name': 'vitedge_node: perception', 'level': M.DIAG_WARN, 'message': 'frames dropped',
          'hardware_id': 'onnxruntime', 'values': {'fps': 12.3456, 'dropped_frames': 4, 'bundle': 'x'}}
    msg = _cdr(M.build_diagnostic_array([st], _header(), T))
    (out,) = msg.status
    assert out.level == M.DIAG_WARN and out.name == st['name'] and out.hardware_id == 'onnxruntime'
    assert {kv.key: kv.value for kv in out.values} == {'fps': '12.346', 'dropped_frames': '4', 'bundle': 'x'}


def test_obstacle_array_angular_units():
    class Ob:
        label, score = 'obstacle', 0.8
        azimuth, elevation, angular_width, angular_height = 0.3, -0.1, 0.2, 0.15
        range_m = 10.0

    msg = _cdr(M.build_obstacle_array([Ob()], _header(), T))
    det = msg.detections[0]
    assert det.bbox.center.position.x == pytest.approx(0.3) and det.bbox.center.position.y == pytest.approx(-0.1)
    assert (det.bbox.size_x, det.bbox.size_y) == (pytest.approx(0.2), pytest.approx(0.15))
    q = det.results[0].pose.pose.orientation
    yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
    pitch = math.asin(2 * (q.w * q.y - q.z * q.x))
    assert yaw == pytest.approx(0.3) and pitch == pytest.approx(0.1)
    p = det.results[0].pose.pose.position
    assert math.sqrt(p.x ** 2 + p.y ** 2 + p.z ** 2) == pytest.approx(10.0)
    assert math.atan2(p.y, p.x) == pytest.approx(0.3) and p.z < 0


def test_build_image():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = _cdr(M.build_image(img, _header(), T))
    assert (msg.height, msg.width, msg.encoding, msg.step) == (2, 3, 'bgr8', 9)
    np.testing.assert_array_equal(np.asarray(msg.data).reshape(2, 3, 3), img)

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

"""vitedge_node with real rclpy (ROS 2 Humble): runs only where ROS 2 is installed."""

import array
import time

import pytest

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy')


@pytest.fixture
def context():
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def _params(bundle, **extra):
    from rclpy.parameter import Parameter

    values = dict(
        {
            'bundle': str(bundle),
            'backend': 'onnxruntime',
            'score_threshold': 0.0,
            'diagnostics_period_s': 0.2,
        },
        **extra,
    )
    return [Parameter(name, value=value) for name, value in values.items()]


def _image(sec, encoding='bgr8', width=96, height=64):
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp.sec = sec
    msg.header.frame_id = 'camera_optical'
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.step = width * 3
    msg.data = array.array(
        'B', bytes(range(256)) * (height * msg.step // 256) + bytes(height * msg.step % 256)
    )
    return msg


def _spin_until(executor, predicate, timeout=20.0, tick=None):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        if tick is not None:
            tick()
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def test_node_publishes_detections_and_diagnostics(context, tiny_detector_bundle):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray
    from vitedge_ros.ros.node import VitedgeNode

    node = VitedgeNode(
        context=context, parameter_overrides=_params(tiny_detector_bundle, publish_overlay=True)
    )
    helper = rclpy.create_node('vitedge_test_helper', context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        pub = helper.create_publisher(Image, 'image', qos_profile_sensor_data)
        detections, overlays, diags = [], [], []
        helper.create_subscription(Detection2DArray, 'detections', detections.append, 10)
        helper.create_subscription(Image, 'overlay', overlays.append, 10)
        helper.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)
        executor.add_node(node)
        executor.add_node(helper)
        assert _spin_until(
            executor, lambda: detections and overlays, tick=lambda: pub.publish(_image(42))
        )
        msg = detections[0]
        assert msg.header.stamp.sec == 42 and msg.header.frame_id == 'camera_optical'
        for det in msg.detections:
            assert det.results[0].hypothesis.class_id in ('person', 'vehicle', 'obstacle')
            assert 0.0 <= det.bbox.center.position.x <= 96.0
        assert overlays[0].encoding == 'bgr8' and overlays[0].width == 96
        # a frame with a bad encoding is skipped; the next one is processed
        pub.publish(_image(43, encoding='32FC1'))
        count = len(detections)
        assert _spin_until(
            executor,
            lambda: any(d.header.stamp.sec == 44 for d in detections[count:]),
            tick=lambda: pub.publish(_image(44)),
        )
        assert _spin_until(executor, lambda: diags)
        values = {kv.key: kv.value for kv in diags[-1].status[0].values}
        assert (
            values['backend'] == 'onnxruntime' and 'fps' in values and 'dropped_frames' in values
        )
    finally:
        executor.shutdown()
        node.close()
        helper.destroy_node()


def test_bad_parameter_fails_start_up_with_its_name(context, tiny_detector_bundle):
    from vitedge_ros.ros.core import ParamError
    from vitedge_ros.ros.node import VitedgeNode

    with pytest.raises(ParamError) as err:
        VitedgeNode(
            context=context, parameter_overrides=_params(tiny_detector_bundle, score_threshold=1.5)
        )
    assert err.value.name == 'score_threshold'
    with pytest.raises(ParamError) as err:
        VitedgeNode(
            context=context,
            parameter_overrides=_params(tiny_detector_bundle, max_detections='many'),
        )
    assert err.value.name == 'max_detections'
    with pytest.raises(ParamError) as err:
        VitedgeNode(
            context=context, parameter_overrides=_params(tiny_detector_bundle, classes=['dragon'])
        )
    assert err.value.name == 'classes'


def test_rclpy_message_builders(tiny_detector_bundle):
    """The shared builders produce valid rclpy messages (byte fields, uint8[] data, covariance)."""
    import numpy as np
    from std_msgs.msg import Header
    from vitedge_ros.ros import messages
    from vitedge_ros.ros.node import rclpy_types
    from vitedge_ros.runtime import Detection

    t = rclpy_types()
    header = Header(frame_id='cam')
    arr = messages.build_detection2d_array(
        [Detection(0, 'person', 0.5, (1.0, 2.0, 5.0, 10.0))], header, t
    )
    assert arr.detections[0].bbox.size_y == 8.0
    diag = messages.build_diagnostic_array(
        [{'name': 'x', 'level': messages.DIAG_WARN, 'values': {'a': 1}}], header, t
    )
    assert diag.status[0].level == b'\x01'
    img = messages.build_image(np.zeros((4, 5, 3), np.uint8), header, t)
    assert img.step == 15 and len(img.data) == 60
    assert len(messages.build_pose_array([(1.0, 2.0, 0.0)], header, t).poses) == 1


def test_rclpy_builders_of_the_new_outputs():
    """
    Obstacles (optical-frame poses), obstacles/bearings (PointCloud2).

    Verdicts and LabelInfo as rclpy messages.
    """
    from types import SimpleNamespace

    from std_msgs.msg import Header
    from vitedge_ros.ros import messages
    from vitedge_ros.ros.node import rclpy_types

    t = rclpy_types()
    header = Header(frame_id='cam_optical')
    ob = SimpleNamespace(
        label='obstacle',
        score=0.8,
        class_id=2,
        azimuth=0.3,
        elevation=-0.1,
        angular_width=0.2,
        angular_height=0.1,
        range_m=None,
        box=(10.0, 20.0, 30.0, 60.0),
    )
    arr = messages.build_obstacle_array([ob], header, t)
    assert (
        arr.detections[0].bbox.size_y == 40.0
        and arr.detections[0].results[0].pose.covariance[0] == -1.0
    )
    cloud = messages.build_obstacle_bearings([ob], header, t)
    assert cloud.point_step == 40 and len(cloud.data) == 40 and cloud.fields[9].name == 'class_id'
    assert messages.build_verdict('clear', header, t).results[0].class_id == 'clear'
    if t.LabelInfo is not None:
        info = messages.build_label_info(['person', 'vehicle'], 0.3, header, t)
        assert [c.class_name for c in info.class_map] == ['person', 'vehicle']


def test_params_file_with_empty_lists_and_string_arrays(context, tiny_detector_bundle, tmp_path):
    """
    Through rcl's own YAML parser, `[]` does not stop start-up.

    The label lists are string arrays.
    """
    from rclpy.parameter import Parameter
    from vitedge_ros.ros.node import VitedgeNode

    path = tmp_path / 'params.yaml'
    path.write_text(
        '/**:\n  ros__parameters:\n    bundle: {}\n    backend: onnxruntime\n    '
        'obstacle_classes: []\n'
        '    classes: []\n'.format(tiny_detector_bundle),
        encoding='utf-8',
    )
    node = VitedgeNode(
        'front_detector', context=context, cli_args=['--ros-args', '--params-file', str(path)]
    )
    try:
        assert node.node_params.obstacle_classes == [] and node.node_params.classes == []
        for name in ('classes', 'obstacle_classes', 'landing_safe_classes'):
            assert node.describe_parameter(name).type == Parameter.Type.STRING_ARRAY.value, name
        assert [s['name'] for s in node.diagnostic_statuses()] == [
            'front_detector: perception',
            'front_detector: detections topic status',
        ]
    finally:
        node.close()

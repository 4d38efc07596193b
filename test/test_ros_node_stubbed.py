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
vitedge_ros.ros.node against stand-ins for rclpy (runs where ROS 2 is absent).

Message classes are the rosbags Humble dataclasses (keyword constructors like rclpy's); rclpy's
Node, QoS, time and tf2_ros are small fakes that record what the node asks for. The fake parameter
declaration follows rclpy humble (``rclpy/node.py`` ``declare_parameters`` and
``_apply_descriptor``, ``rclpy/parameter.py`` ``Parameter.Type.from_parameter_value``): the type is
inferred from the default unless given as a ``Parameter.Type``, an override of another type is
refused, and an override without a value (what rcl's YAML parser makes of an empty list, rcl humble
``rcl_yaml_param_parser/src/parse.c``) leaves a statically typed parameter uninitialised, so
``get_parameter`` raises ParameterUninitializedException. Where rclpy is installed test_ros_node.py
runs the real thing instead.
"""

import enum
import fnmatch
import importlib
import importlib.util
import sys
import threading
import time
import types
from types import SimpleNamespace

import numpy as np
from plain_msgs import message_types
import pytest
from vitedge_ros.geometry.projection import quat_from_matrix
from vitedge_ros.ros.core import ParamError

TYPESTORE, T = message_types()


class _Rec:

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)


class FakeLogger:

    def __init__(self):
        self.lines = []

    def _add(self, level):
        return lambda text: self.lines.append((level, text))

    def __getattr__(self, level):
        if level in ('info', 'warning', 'error', 'fatal', 'debug'):
            return self._add(level)
        raise AttributeError(level)


class FakePublisher:

    def __init__(self, msg_type, topic, qos, node=None):
        self.msg_type, self.topic, self.qos = msg_type, topic, qos
        self.node = node
        self.sent = []
        self.event = threading.Event()

    def publish(self, msg):
        if self.node is not None and self.node.destroyed:
            raise RuntimeError('publish on {} after destroy_node'.format(self.topic))
        assert getattr(msg, '__msgtype__', None) == self.msg_type.__msgtype__, (
            self.topic,
            type(msg),
        )
        self.sent.append(msg)
        self.event.set()


class ParameterType(enum.Enum):
    """rclpy.parameter.Parameter.Type (values of rcl_interfaces/ParameterType)."""

    NOT_SET = 0
    BOOL = 1
    INTEGER = 2
    DOUBLE = 3
    STRING = 4
    BYTE_ARRAY = 5
    BOOL_ARRAY = 6
    INTEGER_ARRAY = 7
    DOUBLE_ARRAY = 8
    STRING_ARRAY = 9

    @classmethod
    def from_parameter_value(cls, value):
        """
        Infer the type as rclpy humble does.

        Note that an empty list is a BYTE_ARRAY (all() of nothing is True).
        """
        if value is None:
            return cls.NOT_SET
        for typ, kind in (
            (bool, cls.BOOL),
            (int, cls.INTEGER),
            (float, cls.DOUBLE),
            (str, cls.STRING),
        ):
            if isinstance(value, typ):
                return kind
        if isinstance(value, (list, tuple)):
            for typ, kind in (
                (bytes, cls.BYTE_ARRAY),
                (bool, cls.BOOL_ARRAY),
                (int, cls.INTEGER_ARRAY),
                (float, cls.DOUBLE_ARRAY),
                (str, cls.STRING_ARRAY),
            ):
                if all(isinstance(v, typ) for v in value):
                    return kind
        raise TypeError('not a parameter value: {!r}'.format(value))


class FakeParameter:
    Type = ParameterType


class ParameterUninitializedException(Exception):
    pass


class InvalidParameterTypeException(Exception):
    pass


class FakeTime:

    def __init__(self, nanoseconds=0, clock_type=None):
        self.nanoseconds = nanoseconds

    @classmethod
    def from_msg(cls, msg):
        return cls(int(msg.sec) * 10**9 + int(msg.nanosec))

    def __sub__(self, other):
        return SimpleNamespace(nanoseconds=self.nanoseconds - other.nanoseconds)

    def to_msg(self):
        return T.Time(sec=self.nanoseconds // 10**9, nanosec=self.nanoseconds % 10**9)


class FakeNode:
    """The parts of rclpy.node.Node that vitedge_node uses."""

    def __init__(self, node_name, namespace=None, parameter_overrides=None, **kwargs):
        self.node_name = node_name
        self.namespace = '/' + (namespace or '').strip('/')
        self.overrides = dict(parameter_overrides or {})
        self.declared = {}
        self.publishers = {}
        self.subscriptions = {}
        self.timers = []
        self.logger = FakeLogger()
        self.destroyed = False
        self.destroyed_entities = []

    def get_name(self):
        return self.node_name

    def get_namespace(self):
        return self.namespace

    def declare_parameter(self, name, value, descriptor):
        assert descriptor.description, name
        dynamic = bool(getattr(descriptor, 'dynamic_typing', False))
        if isinstance(value, ParameterType):
            assert not dynamic
            descriptor.type, value = value, None
        elif not dynamic and value is not None:
            descriptor.type = ParameterType.from_parameter_value(value)
        if name in self.overrides:
            value = self.overrides[name]
        ptype = ParameterType.from_parameter_value(value)
        if not dynamic and ptype != ParameterType.NOT_SET and ptype != descriptor.type:
            raise InvalidParameterTypeException(
                'Trying to set parameter {} to {!r} of type {}, expecting type {}'.format(
                    name, value, ptype.name, descriptor.type.name
                )
            )
        self.declared[name] = (value, descriptor)
        return value

    def get_parameter(self, name):
        value, descriptor = self.declared[name]
        if value is None and not getattr(descriptor, 'dynamic_typing', False):
            raise ParameterUninitializedException(
                'The parameter {!r} is not initialized'.format(name)
            )
        return SimpleNamespace(value=value)

    def create_publisher(self, msg_type, topic, qos):
        pub = FakePublisher(msg_type, topic, qos, node=self)
        self.publishers[topic] = pub
        return pub

    def destroy_subscription(self, sub):
        self.destroyed_entities.append(('subscription', sub))
        return True

    def destroy_timer(self, timer):
        self.destroyed_entities.append(('timer', timer))
        return True

    def create_subscription(self, msg_type, topic, callback, qos):
        self.subscriptions[topic] = (msg_type, callback, qos)
        return topic

    def create_timer(self, period, callback):
        self.timers.append((period, callback))
        return callback

    def get_logger(self):
        return self.logger

    def get_clock(self):
        return SimpleNamespace(now=lambda: FakeTime(123 * 10**9))

    def destroy_node(self):
        self.destroyed = True
        self.destroyed_entities.append(('node', self.node_name))


class TransformException(Exception):
    pass


class FakeBuffer:
    transform = None

    def lookup_transform(self, target, source, when, timeout=None):
        if FakeBuffer.transform is None:
            raise TransformException('no {} -> {}'.format(source, target))
        return FakeBuffer.transform


def _modules():
    qos_enum = SimpleNamespace(
        BEST_EFFORT='best_effort',
        RELIABLE='reliable',
        KEEP_LAST='keep_last',
        VOLATILE='volatile',
        TRANSIENT_LOCAL='transient_local',
    )
    mods = {
        'rclpy': types.ModuleType('rclpy'),
        'rclpy.node': types.ModuleType('rclpy.node'),
        'rclpy.qos': types.ModuleType('rclpy.qos'),
        'rclpy.duration': types.ModuleType('rclpy.duration'),
        'rclpy.time': types.ModuleType('rclpy.time'),
        'rclpy.executors': types.ModuleType('rclpy.executors'),
        'rclpy.exceptions': types.ModuleType('rclpy.exceptions'),
        'rclpy.parameter': types.ModuleType('rclpy.parameter'),
        'rcl_interfaces': types.ModuleType('rcl_interfaces'),
        'rcl_interfaces.msg': types.ModuleType('rcl_interfaces.msg'),
        'tf2_ros': types.ModuleType('tf2_ros'),
    }
    calls = []
    mods['rclpy'].init = lambda args=None: calls.append('init')
    mods['rclpy'].try_shutdown = lambda: calls.append('try_shutdown')
    mods['rclpy'].calls = calls
    mods['rclpy.node'].Node = FakeNode
    q = mods['rclpy.qos']
    q.QoSProfile = _Rec
    q.ReliabilityPolicy = q.HistoryPolicy = q.DurabilityPolicy = qos_enum
    mods['rclpy.exceptions'].ParameterUninitializedException = ParameterUninitializedException
    mods['rclpy.exceptions'].InvalidParameterTypeException = InvalidParameterTypeException
    mods['rclpy.parameter'].Parameter = FakeParameter
    mods['rclpy.duration'].Duration = _Rec
    mods['rclpy.time'].Time = FakeTime
    mods['rclpy.executors'].ExternalShutdownException = type(
        'ExternalShutdownException', (Exception,), {}
    )
    mods['rcl_interfaces.msg'].ParameterDescriptor = _Rec
    tf = mods['tf2_ros']
    tf.Buffer, tf.TransformListener, tf.TransformException = FakeBuffer, _Rec, TransformException
    packages = {
        'builtin_interfaces': ['Time'],
        'diagnostic_msgs': ['DiagnosticArray', 'DiagnosticStatus', 'KeyValue'],
        'geometry_msgs': ['Point', 'Pose', 'PoseArray', 'PoseWithCovariance', 'Quaternion'],
        'sensor_msgs': ['CameraInfo', 'CompressedImage', 'Image', 'PointCloud2', 'PointField'],
        'std_msgs': ['Bool', 'Header'],
        'vision_msgs': [
            'BoundingBox2D',
            'Classification',
            'Detection2D',
            'Detection2DArray',
            'LabelInfo',
            'ObjectHypothesis',
            'ObjectHypothesisWithPose',
            'Point2D',
            'Pose2D',
            'VisionClass',
        ],
    }
    for pkg, msg_names in packages.items():
        names = {n: '{}/msg/{}'.format(pkg, n) for n in msg_names}
        top = types.ModuleType(pkg)
        msg = types.ModuleType(pkg + '.msg')
        for name, full in names.items():
            setattr(msg, name, TYPESTORE.types[full])
        top.msg = msg
        mods[pkg] = top
        mods[pkg + '.msg'] = msg
    return mods


@pytest.fixture
def node_module(monkeypatch):
    if importlib.util.find_spec('rclpy') is not None:
        pytest.skip('real rclpy installed: test_ros_node.py covers the node')
    for name, mod in _modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, 'cv_bridge', None)  # not installed: own conversion
    sys.modules.pop('vitedge_ros.ros.node', None)
    module = importlib.import_module('vitedge_ros.ros.node')
    yield module
    sys.modules.pop('vitedge_ros.ros.node', None)
    FakeBuffer.transform = None


def _image(sec=7, width=96, height=64, encoding='bgr8'):
    bpp = 3 if encoding == 'bgr8' else 4
    return T.Image(
        header=T.Header(stamp=T.Time(sec=sec, nanosec=0), frame_id='cam_optical'),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * bpp,
        data=(np.arange(width * height * bpp) % 200).astype(np.uint8),
    )


def _camera_info(width=96, height=64):
    return T.CameraInfo(
        header=T.Header(stamp=T.Time(sec=0, nanosec=0), frame_id='cam_optical'),
        height=height,
        width=width,
        distortion_model='plumb_bob',
        d=np.zeros(5),
        k=np.array([80.0, 0, 48, 0, 80, 32, 0, 0, 1]),
        r=np.eye(3).reshape(-1),
        p=np.zeros(12),
        binning_x=0,
        binning_y=0,
        roi=T.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


def test_node_declares_validates_and_publishes(node_module, tiny_detector_bundle):
    node = node_module.VitedgeNode(
        parameter_overrides={
            'bundle': str(tiny_detector_bundle),
            'backend': 'onnxruntime',
            'score_threshold': 0.0,
            'publish_overlay': True,
            'max_detections': 4,
        }
    )
    try:
        assert set(node.declared) >= {
            'bundle',
            'backend',
            'score_threshold',
            'transport',
            'target_frame',
        }
        assert all(d.read_only for _, d in node.declared.values())
        msg_type, callback, qos = node.subscriptions['image']
        assert qos.reliability == 'best_effort' and qos.depth == 1
        assert 'camera_info' in node.subscriptions and 'targets' not in node.publishers
        assert set(node.publishers) >= {
            'detections',
            'overlay',
            'obstacles',
            'obstacles/bearings',
            'clear_path',
            '/diagnostics',
            'label_info',
        }
        # label_info: once at start, kept for late subscribers
        (info,) = node.publishers['label_info'].sent
        assert node.publishers['label_info'].qos.durability == 'transient_local'
        assert node.publishers['label_info'].qos.depth == 1
        class_map = [(c.class_id, c.class_name) for c in info.class_map]
        assert class_map == [(0, 'person'), (1, 'vehicle'), (2, 'obstacle')]
        assert info.threshold == pytest.approx(0.0)  # score_threshold 0.0 set above
        callback(_image(sec=7))
        assert node.core.wait_idle(30.0)
        (dets,) = node.publishers['detections'].sent
        assert dets.header.stamp.sec == 7 and dets.header.frame_id == 'cam_optical'
        assert 0 < len(dets.detections) <= 4
        assert all(
            d.results[0].hypothesis.class_id in ('person', 'vehicle', 'obstacle')
            for d in dets.detections
        )
        (overlay,) = node.publishers['overlay'].sent
        assert (overlay.height, overlay.width, overlay.encoding, overlay.step) == (
            64,
            96,
            'bgr8',
            288,
        )
        assert len(overlay.data) == 64 * 288
        (clear,) = node.publishers['clear_path'].sent
        assert clear.__msgtype__ == 'vision_msgs/msg/Classification'
        assert (clear.header.stamp.sec, clear.header.stamp.nanosec, clear.header.frame_id) == (
            7,
            0,
            'cam_optical',
        )
        assert [r.class_id for r in clear.results] in (['clear'], ['blocked'])
        assert node.publishers['obstacles'].sent == []  # no camera_info yet
        # a bad frame is counted and skipped, the next one is processed
        callback(_image(sec=8, encoding='32FC1'))
        callback(_image(sec=9))
        assert node.core.wait_idle(30.0)
        assert [m.header.stamp.sec for m in node.publishers['detections'].sent] == [7, 9]
        assert any('32FC1' in text for level, text in node.logger.lines if level == 'warning')
        # diagnostics on the timer
        period, timer_cb = node.timers[0]
        assert period == 1.0
        timer_cb()
        (diag,) = node.publishers['/diagnostics'].sent
        status, rate = diag.status
        assert status.name == 'vitedge_node: perception'
        assert rate.name == 'vitedge_node: detections topic status'
        assert {kv.key: kv.value for kv in rate.values}['Events since startup'] == '2'
        values = {kv.key: kv.value for kv in status.values}
        assert (
            status.level == b'\x01' and status.hardware_id == 'onnxruntime'
        )  # WARN: a frame failed
        assert values['frames_processed'] == '2' and values['conversion_failures'] == '1'
        assert values['backend'] == 'onnxruntime' and values['bundle'] == 'tiny_detector'
    finally:
        node.close()
    assert node.destroyed and node.core is None
    node.close()  # idempotent


def test_node_targets_with_tf(node_module, monkeypatch):
    """Person targets from camera_info + TF, with a pipeline that reports one known person."""
    from vitedge_ros.ros.core import validate_params
    from vitedge_ros.runtime import Detection, FrameResult

    class OnePerson:
        backend_name = 'fake'

        def __call__(self, image):
            # box centre (68, 36): 20 px right of and 4 px below the principal point (48, 32)
            det = Detection(0, 'person', 0.9, (60.0, 20.0, 76.0, 52.0))
            return FrameResult([det], [], {'total': 1.0}, (image.shape[1], image.shape[0]))

    monkeypatch.setattr(
        node_module,
        'create_pipeline',
        lambda values: (validate_params(values, ['person', 'vehicle', 'obstacle']), OnePerson()),
    )
    R = np.array(
        [[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]
    )  # nadir, image right = east, image down = south
    q = quat_from_matrix(R)
    FakeBuffer.transform = SimpleNamespace(
        header=SimpleNamespace(stamp=T.Time(sec=7, nanosec=0)),
        transform=SimpleNamespace(
            translation=SimpleNamespace(x=1.0, y=2.0, z=20.0),
            rotation=SimpleNamespace(x=q[0], y=q[1], z=q[2], w=q[3]),
        ),
    )
    node = node_module.VitedgeNode(parameter_overrides={'target_frame': 'map'})
    try:
        assert 'targets' in node.publishers
        node.subscriptions['camera_info'][1](_camera_info())
        node.subscriptions['image'][1](_image(sec=7))
        assert node.core.wait_idle(10.0)
        (targets,) = node.publishers['targets'].sent
        assert targets.header.frame_id == 'map' and targets.header.stamp.sec == 7
        (pose,) = targets.poses
        # f = 80 px; the box centre is a 1.7 m person's mid-height point, 19.15 m below the camera:
        # the person stands 20 / 80 * 19.15 m east and 4 / 80 * 19.15 m south of it
        assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx(
            (1.0 + 0.25 * 19.15, 2.0 - 0.05 * 19.15, 0.0)
        )
        (obstacles,) = node.publishers['obstacles'].sent
        (det,) = obstacles.detections
        assert (det.bbox.center.position.x, det.bbox.center.position.y) == (68.0, 36.0)  # pixels
        assert obstacles.header.frame_id == 'cam_optical' and obstacles.header.stamp.sec == 7
        p = det.results[0].pose.pose.position  # optical frame: right of and below the axis, ahead
        assert p.x > 0 and p.y > 0 and p.z > 0
        (bearings,) = node.publishers['obstacles/bearings'].sent
        assert bearings.width == 1 and bearings.header.stamp.sec == 7
        row = np.frombuffer(
            bytes(bearings.data),
            dtype=np.dtype(
                [(f.name, '<i4' if f.datatype == 5 else '<f4') for f in bearings.fields]
            ),
        )
        assert row['azimuth'][0] == pytest.approx(
            -np.arctan(20 / 80), rel=1e-6
        )  # 20 px right: negative
        # no transform: targets are skipped with a warning naming the frames
        FakeBuffer.transform = None
        node.subscriptions['image'][1](_image(sec=8))
        assert node.core.wait_idle(10.0)
        assert len(node.publishers['targets'].sent) == 1
        assert any(
            'map' in text and 'cam_optical' in text
            for lvl, text in node.logger.lines
            if lvl == 'warning'
        )
    finally:
        node.close()


def test_bad_parameter_fails_start_up_with_its_name(node_module, tiny_detector_bundle):
    created = []

    class Recording(node_module.VitedgeNode):

        def __init__(self, **kw):
            created.append(self)
            super().__init__(**kw)

    with pytest.raises(ParamError) as err:
        Recording(
            parameter_overrides={'bundle': str(tiny_detector_bundle), 'score_threshold': 1.5}
        )
    assert err.value.name == 'score_threshold'
    (node,) = created
    assert node.destroyed
    assert any('score_threshold' in text for level, text in node.logger.lines if level == 'fatal')
    with pytest.raises(ParamError) as err:
        node_module.VitedgeNode(
            parameter_overrides={'bundle': str(tiny_detector_bundle), 'classes': ['dragon']}
        )
    assert err.value.name == 'classes'


def test_main_returns_1_on_bad_parameters_and_shuts_down(node_module, monkeypatch):
    calls = sys.modules['rclpy'].calls

    def failing(**kw):
        raise ParamError('bundle', 'no bundle.yaml found')

    monkeypatch.setattr(node_module, 'VitedgeNode', failing)
    assert node_module.main([]) == 1
    assert calls[-2:] == ['init', 'try_shutdown']


def test_main_clean_shutdown_on_ctrl_c(node_module, monkeypatch):
    closed = []

    class Dummy:

        def close(self):
            closed.append(True)

    def spin(node):
        raise KeyboardInterrupt

    monkeypatch.setattr(node_module, 'VitedgeNode', lambda **kw: Dummy())
    monkeypatch.setattr(node_module.rclpy, 'spin', spin, raising=False)
    assert node_module.main([]) == 0
    assert closed == [True] and sys.modules['rclpy'].calls[-1] == 'try_shutdown'


# ------------------------------------------------------------------------------------------
# parameters file
def params_file_overrides(path, node_name='vitedge_node', namespace=''):
    """
    Return the overrides rcl gives a node from a parameters file.

    As rcl humble's rcl_yaml_param_parser reads it.

    Node keys: ``/**`` (every node), ``/**/<name>``, or the fully qualified name. An empty list has
    no value (parse.c sets the sequence's type from its first element; with none the variant stays
    unset), which rclpy turns into a NOT_SET override: here ``None``.
    """
    import yaml

    with open(str(path), encoding='utf-8') as fh:
        data = yaml.safe_load(fh)
    fqn = '/' + '/'.join(p for p in (namespace.strip('/'), node_name) if p)
    out = {}
    for key, body in data.items():
        pattern = key if key.startswith('/') else '/' + key
        if (
            pattern == '/**'
            or fnmatch.fnmatchcase(fqn, pattern.replace('/**/', '*/'))
            or pattern == fqn
        ):
            for name, value in body['ros__parameters'].items():
                out[name] = None if value == [] else value
    return out


def _write(tmp_path, text, name='params.yaml'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def test_empty_lists_in_a_params_file_start_the_node(node_module, tiny_detector_bundle, tmp_path):
    path = _write(
        tmp_path,
        '/**:\n  ros__parameters:\n    bundle: {}\n    backend: onnxruntime\n'
        '    score_threshold: 0.0\n    obstacle_classes: []\n    classes: []\n'
        '    landing_safe_classes: []\n'.format(tiny_detector_bundle),
    )
    overrides = params_file_overrides(path)
    assert overrides['obstacle_classes'] is None  # what rclpy receives for []
    node = node_module.VitedgeNode(parameter_overrides=overrides)
    try:
        assert node.node_params.obstacle_classes == [] and node.node_params.classes == []
        assert node.node_params.landing_safe_classes == []
        node.subscriptions['image'][1](_image(sec=11))
        assert node.core.wait_idle(30.0)
        (dets,) = node.publishers['detections'].sent
        assert len(dets.detections) > 0  # detections, none of them an obstacle...
        (clear,) = node.publishers['clear_path'].sent
        assert [r.class_id for r in clear.results] == ['clear'] and clear.header.stamp.sec == 11
    finally:
        node.close()


def test_label_lists_are_declared_as_string_arrays(node_module, tiny_detector_bundle):
    node = node_module.VitedgeNode(
        parameter_overrides={'bundle': str(tiny_detector_bundle), 'backend': 'onnxruntime'}
    )
    try:
        for name in ('classes', 'obstacle_classes', 'landing_safe_classes'):
            assert node.declared[name][1].type == ParameterType.STRING_ARRAY, name
        assert node.declared['classes'][0] is None  # not set: all classes
        assert node.declared['obstacle_classes'][0] == ['person', 'vehicle', 'obstacle']
        assert node.node_params.classes == []
    finally:
        node.close()
    # a byte array (what rclpy infers for an untyped []) or a plain string is refused, naming the
    # parameter
    for bad in ([b'p'], 'person'):
        with pytest.raises(ParamError) as err:
            node_module.VitedgeNode(
                parameter_overrides={'bundle': str(tiny_detector_bundle), 'classes': bad}
            )
        assert err.value.name == 'classes'
    with pytest.raises(ParamError) as err:
        node_module.VitedgeNode(
            parameter_overrides={'bundle': str(tiny_detector_bundle), 'target_frame': None}
        )
    assert err.value.name == 'target_frame' and 'no value' in str(err.value)


def test_two_nodes_publish_diagnostics_under_their_own_names(node_module, tiny_detector_bundle):
    base = {'bundle': str(tiny_detector_bundle), 'backend': 'onnxruntime'}
    nodes = [
        node_module.VitedgeNode('front_detector', parameter_overrides=base),
        node_module.VitedgeNode('down_detector', parameter_overrides=base),
        node_module.VitedgeNode(namespace='uav1', parameter_overrides=base),
        node_module.VitedgeNode(namespace='/uav2', parameter_overrides=base),
    ]
    try:
        names = []
        for node in nodes:
            node.timers[0][1]()
            (diag,) = node.publishers['/diagnostics'].sent
            names.append([st.name for st in diag.status])
        assert names == [
            ['front_detector: perception', 'front_detector: detections topic status'],
            ['down_detector: perception', 'down_detector: detections topic status'],
            ['uav1/vitedge_node: perception', 'uav1/vitedge_node: detections topic status'],
            ['uav2/vitedge_node: perception', 'uav2/vitedge_node: detections topic status'],
        ]
        # no frame yet: the rate check reports upstream's "No events recorded." as an error
        (diag,) = nodes[0].publishers['/diagnostics'].sent
        assert diag.status[1].message == 'No events recorded.' and diag.status[1].level == b'\x02'
    finally:
        for node in nodes:
            node.close()


class _Gate:
    """A pipeline whose frame blocks until ``release`` is set; records the order of events."""

    backend_name = 'fake'

    def __init__(self, events):
        self.events = events
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = False

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        self.entered.set()
        self.release.wait(30.0)
        self.events.append('frame done')
        return FrameResult(
            [Detection(0, 'person', 0.9, (10.0, 10.0, 20.0, 20.0))],
            [],
            {'total': 1.0},
            (image.shape[1], image.shape[0]),
        )

    def close(self):
        self.closed = True
        self.events.append('engine closed')


def _gated_node(node_module, monkeypatch, events):
    from vitedge_ros.ros.core import validate_params

    gate = _Gate(events)
    monkeypatch.setattr(
        node_module,
        'create_pipeline',
        lambda values: (validate_params(values, ['person', 'vehicle', 'obstacle']), gate),
    )
    node = node_module.VitedgeNode(parameter_overrides={'publish_obstacles': False})
    publish = node.publishers['detections'].publish
    node.publishers['detections'].publish = lambda msg: (publish(msg), events.append('published'))
    original_destroy = node.destroy_node
    node.destroy_node = lambda: (events.append('node destroyed'), original_destroy())
    return node, gate


def test_close_waits_for_the_frame_in_flight(node_module, monkeypatch):
    events = []
    node, gate = _gated_node(node_module, monkeypatch, events)
    node.subscriptions['image'][1](_image(sec=5))
    assert gate.entered.wait(10.0)
    closer = threading.Thread(target=node.close, kwargs={'timeout': 20.0})
    closer.start()
    time.sleep(0.3)
    assert closer.is_alive() and not node.destroyed and not gate.closed  # waiting for the frame
    assert ('subscription', 'image') in node.destroyed_entities  # but no new frames come in
    gate.release.set()
    closer.join(20.0)
    assert not closer.is_alive()
    assert events == ['frame done', 'published', 'engine closed', 'node destroyed']
    assert node.publishers['detections'].sent[0].header.stamp.sec == 5


def test_close_after_timeout_drops_outputs_and_leaves_the_engine_alone(node_module, monkeypatch):
    events = []
    node, gate = _gated_node(node_module, monkeypatch, events)
    node.subscriptions['image'][1](_image(sec=6))
    assert gate.entered.wait(10.0)
    node.close(timeout=0.2)
    assert node.destroyed and not gate.closed and events == ['node destroyed']
    assert any(
        'still in the engine' in text for lvl, text in node.logger.lines if lvl == 'warning'
    )
    worker = [t for t in threading.enumerate() if t.name == 'vitedge-inference']
    gate.release.set()
    for t in worker:
        t.join(10.0)
    assert events == ['node destroyed', 'frame done']  # the late frame published nothing
    assert node.publishers['detections'].sent == []

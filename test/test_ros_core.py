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
The node's ROS-free core.

Frame handling, throttled warnings, drops, diagnostics, parameters, outputs.
"""

import threading
import time
import tracemalloc

import cv2
import numpy as np
from plain_msgs import message_types
import pytest
from vitedge_ros.geometry.projection import CameraPose, quat_from_matrix
from vitedge_ros.perception.overlay import render_frame
from vitedge_ros.ros import messages as M
from vitedge_ros.ros.core import (
    create_pipeline,
    NodeParams,
    PARAM_SPECS,
    ParamError,
    PerceptionCore,
    resolve_bundle_path,
    Throttle,
    validate_params,
)
from vitedge_ros.runtime import Detection, FrameResult
from vitedge_ros.runtime.errors import FrameError

TYPESTORE, T = message_types()
LABELS = ['person', 'vehicle', 'obstacle']


class FakeClock:
    """Monotonic clock the test moves by hand (thread-safe enough for float reads)."""

    def __init__(self, t=1000.0):
        self.t = t
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            return self.t

    def advance(self, dt):
        with self.lock:
            self.t += dt


class FakePipeline:
    """Same interface as runtime.Pipeline: __call__(bgr) -> FrameResult, .backend_name."""

    backend_name = 'fake'

    def __init__(self, detections=(), delay=0.0, clock=None, step=0.0, total_ms=10.0):
        self.detections = list(detections)
        self.delay = delay
        self.clock = clock
        self.step = step
        self.total_ms = total_ms
        self.calls = 0
        self.shapes = []

    def __call__(self, image):
        if image is None or image.ndim != 3 or image.dtype != np.uint8:
            raise FrameError('bad frame')
        self.calls += 1
        self.shapes.append(image.shape)
        if self.delay:
            time.sleep(self.delay)
        if self.clock is not None and self.step:
            self.clock.advance(self.step)
        return FrameResult(
            list(self.detections),
            [],
            {
                'preprocess': 1.0,
                'inference': self.total_ms - 2.0,
                'postprocess': 1.0,
                'total': self.total_ms,
            },
            (int(image.shape[1]), int(image.shape[0])),
        )


class Sink:

    def __init__(self):
        self.outputs = []
        self.logs = []

    def __call__(self, out):
        self.outputs.append(out)

    def log(self, level, text):
        self.logs.append((level, text))

    def warnings(self):
        return [t for lvl, t in self.logs if lvl == 'warn']


def _header(sec=10, frame='camera_optical'):
    return M.build_header(T, sec, 500, frame)


def _image(width=64, height=48, encoding='bgr8', sec=10, step=None, truncate=0):
    bpp = {'bgr8': 3, 'mono8': 1, '32FC1': 4, 'mono16': 2}[encoding]
    step = width * bpp if step is None else step
    data = (np.arange(step * height) % 251).astype(np.uint8)
    if truncate:
        data = data[:-truncate]
    return T.Image(
        header=_header(sec),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=step,
        data=data,
    )


def _core(pipeline, clock=None, **params):
    sink = Sink()
    core = PerceptionCore(
        pipeline,
        validate_params(params, LABELS),
        sink,
        clock=clock or FakeClock(),
        log=sink.log,
        bundle_name='tiny',
    )
    return core, sink


def test_bad_encoding_counted_skipped_with_throttled_warning_then_next_frame_processed():
    clock = FakeClock()
    pipe = FakePipeline()
    core, sink = _core(pipe, clock, warn_throttle_s=5.0)
    assert core.on_image(_image(sec=1))
    assert core.wait_idle(2.0)
    for i in range(5):
        assert core.on_image(_image(encoding='32FC1', sec=2 + i)) is False
    warnings = sink.warnings()
    assert len(warnings) == 1 and '32FC1' in warnings[0] and 'unsupported encoding' in warnings[0]
    assert core.stats()['conversion_failures'] == 5
    # the next good frame is processed
    assert core.on_image(_image(sec=20))
    assert core.wait_idle(2.0)
    assert pipe.calls == 2 and [o.header.stamp.sec for o in sink.outputs] == [1, 20]
    # after the throttle period the warning repeats and reports the suppressed ones
    clock.advance(5.1)
    core.on_image(_image(encoding='32FC1', sec=30))
    warnings = sink.warnings()
    assert (
        len(warnings) == 2
        and '32FC1' in warnings[1]
        and '4 more like this suppressed' in warnings[1]
    )
    st = core.stats()
    assert st['conversion_failures'] == 6 and st['conversion_failures_by_reason'] == {
        'unsupported_encoding': 6
    }
    assert st['frames_received'] == 8 and st['frames_processed'] == 2
    core.shutdown()


def test_truncated_payload_counted_and_named():
    pipe = FakePipeline()
    core, sink = _core(pipe)
    assert core.on_image(_image(encoding='mono8', truncate=1)) is False
    assert core.on_image(_image(encoding='mono8', step=70)) is True
    core.wait_idle(2.0)
    (warning,) = sink.warnings()
    assert "'mono8'" in warning and 'shorter than step x height' in warning
    assert core.stats()['conversion_failures_by_reason'] == {'truncated': 1}
    assert pipe.calls == 1 and pipe.shapes[0] == (48, 64, 3)
    diag = core.diagnostics()
    assert diag['level'] == M.DIAG_WARN and 'mono8' in diag['message']
    assert diag['values']['conversion_failure_reasons'] == 'truncated=1'
    assert core.diagnostics()['level'] == M.DIAG_OK  # no new failure since the last report
    core.shutdown()


def test_conversion_error_on_worker_is_counted():
    """A converter failing on the worker (e.g. cv_bridge) is counted like a layout error."""
    pipe = FakePipeline()
    sink = Sink()

    def broken(msg):
        raise RuntimeError('cv_bridge exploded')

    core = PerceptionCore(
        pipe,
        validate_params({}, LABELS),
        sink,
        clock=FakeClock(),
        log=sink.log,
        image_converter=broken,
    )
    core.on_image(_image())
    core.wait_idle(2.0)
    assert pipe.calls == 0 and core.stats()['conversion_failures_by_reason'] == {
        'decode_failed': 1
    }
    assert 'bgr8' in sink.warnings()[0] and 'cv_bridge exploded' in sink.warnings()[0]
    core.shutdown()


def test_fast_frames_slow_inference_memory_flat_and_drops_reported():
    """Frames arrive ~10x faster than inference: drops are reported and memory does not grow."""
    frame_bytes = 640 * 480 * 3
    template = _image(640, 480)

    def run(n_frames):
        pipe = FakePipeline(delay=0.02)
        core, sink = _core(pipe, clock=time.monotonic)
        tracemalloc.start()
        tracemalloc.clear_traces()  # resets the peak too (reset_peak is Python 3.9+)
        for i in range(n_frames):
            # every message owns its payload, as a subscription delivers it
            msg = T.Image(
                header=_header(i),
                height=480,
                width=640,
                encoding='bgr8',
                is_bigendian=0,
                step=640 * 3,
                data=template.data.copy(),
            )
            core.on_image(msg)
            del msg
            time.sleep(0.002)
        core.wait_idle(10.0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        st = core.stats()
        diag = core.diagnostics()
        core.shutdown()
        return peak, st, diag, sink

    peak_small, st_small, _, _ = run(30)
    peak_large, st_large, diag, sink = run(240)
    assert st_large['frames_received'] == 240
    assert st_large['frames_processed'] + st_large['dropped_frames'] == 240
    assert st_large['dropped_frames'] > 120
    assert int(diag['values']['dropped_frames']) == st_large['dropped_frames']
    assert sink.outputs[-1].header.stamp.sec == 239  # the latest frame is always processed
    # memory: a handful of frames (message being built, pending, in flight, converted copy), not
    # 240
    assert peak_large < 8 * frame_bytes
    assert peak_large < peak_small + 4 * frame_bytes


def test_diagnostics_fps_latency_backend_bundle():
    clock = FakeClock()
    pipe = FakePipeline(
        clock=clock, step=0.1, total_ms=12.0
    )  # each inference takes 0.1 s of fake time
    core, _ = _core(pipe, clock)
    diag = core.diagnostics()
    assert diag['level'] == M.DIAG_WARN and diag['message'] == 'no images received yet'
    for i in range(20):
        arrival = clock()
        core.on_image(_image(sec=i), stamp=arrival - 0.05)  # arrived 50 ms before the call
        core.wait_idle(2.0)
    diag = core.diagnostics()
    v = diag['values']
    assert diag['level'] == M.DIAG_OK and diag['hardware_id'] == 'fake' and diag['name']
    assert v['backend'] == 'fake' and v['bundle'] == 'tiny'
    assert v['fps'] == pytest.approx(10.0, rel=1e-6)
    assert v['latency_p50_ms'] == pytest.approx(150.0, abs=1e-6)  # 50 ms before + 100 ms inference
    assert v['latency_p95_ms'] == pytest.approx(150.0, abs=1e-6)
    assert v['pipeline_p50_ms'] == pytest.approx(12.0) and v['pipeline_p95_ms'] == pytest.approx(
        12.0
    )
    assert v['frames_processed'] == 20 and v['dropped_frames'] == 0
    # the diagnostics dict becomes a real DiagnosticArray
    msg = M.build_diagnostic_array([diag], _header(), T)
    msg = TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)
    kv = {x.key: x.value for x in msg.status[0].values}
    assert kv['fps'] == '10.000' and kv['backend'] == 'fake' and kv['dropped_frames'] == '0'
    # fps decays when frames stop
    clock.advance(10.0)
    assert core.diagnostics()['values']['fps'] == 0.0
    core.shutdown()


def test_latency_percentiles_over_window():
    clock = FakeClock()
    pipe = FakePipeline()
    core, _ = _core(pipe, clock, stats_window=10)
    for i in range(30):
        core.on_image(_image(sec=i), stamp=clock() - 0.001 * (i % 10 + 1))  # 1..10 ms, repeating
        core.wait_idle(2.0)
    s = core.stats()
    assert s['latency_ms_p50'] == pytest.approx(5.5)
    assert s['latency_ms_p95'] == pytest.approx(np.percentile(np.arange(1, 11), 95))
    core.shutdown()


def test_inference_failure_counted_next_frame_processed():
    class Flaky(FakePipeline):

        def __call__(self, image):
            if self.calls == 0:
                self.calls += 1
                raise FrameError('frame is empty')
            return super().__call__(image)

    core, sink = _core(Flaky())
    core.on_image(_image(sec=1))
    core.wait_idle(2.0)
    core.on_image(_image(sec=2))
    core.wait_idle(2.0)
    assert core.stats()['inference_failures'] == 1 and len(sink.outputs) == 1
    assert 'FrameError' in sink.warnings()[0]
    core.shutdown()


def test_compressed_frames():
    pipe = FakePipeline()
    core, sink = _core(pipe)
    ok, jpg = cv2.imencode('.jpg', np.full((30, 40, 3), 128, np.uint8))
    good = T.CompressedImage(header=_header(3), format='jpeg', data=jpg.reshape(-1))
    bad = T.CompressedImage(header=_header(4), format='jpeg', data=np.arange(20, dtype=np.uint8))
    empty = T.CompressedImage(header=_header(5), format='png', data=np.zeros(0, np.uint8))
    assert core.on_compressed(good)
    core.wait_idle(2.0)
    assert core.on_compressed(bad)
    core.wait_idle(2.0)
    assert core.on_compressed(empty) is False
    core.wait_idle(2.0)
    assert pipe.shapes == [(30, 40, 3)] and sink.outputs[0].image_size == (40, 30)
    assert core.stats()['conversion_failures_by_reason'] == {'decode_failed': 1, 'empty': 1}
    core.shutdown()


K = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]


def _camera_info(width=640, height=480):
    return T.CameraInfo(
        header=_header(),
        height=height,
        width=width,
        distortion_model='plumb_bob',
        d=np.zeros(5),
        k=np.array(K),
        r=np.eye(3).reshape(-1),
        p=np.array([500.0, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0]),
        binning_x=0,
        binning_y=0,
        roi=T.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


R_NADIR = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def test_targets_obstacles_and_clear_path():
    dets = [
        Detection(0, 'person', 0.9, (400.0, 200.0, 440.0, 240.0)),  # centre (420, 220)
        Detection(2, 'obstacle', 0.8, (300.0, 200.0, 340.0, 280.0)),  # in the centre region
        Detection(1, 'vehicle', 0.7, (0.0, 0.0, 20.0, 20.0)),
    ]
    lookups = []

    def pose_lookup(target, source, stamp):
        lookups.append((target, source, stamp.sec))
        return CameraPose(quat_from_matrix(R_NADIR), np.array([2.0, 3.0, 10.0]))

    sink = Sink()
    params = validate_params({'target_frame': 'map', 'publish_overlay': True}, LABELS)
    core = PerceptionCore(
        FakePipeline(dets), params, sink, clock=FakeClock(), log=sink.log, pose_lookup=pose_lookup
    )
    core.on_image(_image(640, 480, sec=7))
    core.wait_idle(2.0)
    out = sink.outputs[-1]
    assert out.obstacles is None  # no camera model yet
    assert out.targets is None and out.clear_path is False
    core.on_camera_info(_camera_info())
    core.on_image(_image(640, 480, sec=8))
    core.wait_idle(2.0)
    out = sink.outputs[-1]
    assert lookups[-1] == ('map', 'camera_optical', 8)
    # nadir camera at 10 m, f = 500: the box centre, 100 px right of and 20 px above the image
    # centre, is a 1.7 m person's mid-height point (0.85 m up): the person stands 0.2 * 9.15 m east
    # and 0.04 * 9.15 m north
    assert out.target_frame == 'map' and len(out.targets) == 1
    np.testing.assert_allclose(
        out.targets[0], (2.0 + 0.2 * 9.15, 3.0 + 0.04 * 9.15, 0.0), atol=1e-9
    )
    labels = [o.label for o in out.obstacles]
    assert labels == ['person', 'obstacle', 'vehicle']
    ob = out.obstacles[1]
    assert ob.azimuth == pytest.approx(0.0, abs=1e-12) and ob.angular_width == pytest.approx(
        2 * np.arctan(0.04)
    )
    assert out.clear_path is False
    assert out.overlay.shape == (480, 640, 3) and np.any(out.overlay != _image_pixels(640, 480))
    # the outputs become real messages
    arr = M.build_obstacle_array(out.obstacles, out.header, T)
    TYPESTORE.serialize_cdr(arr, arr.__msgtype__)
    poses = M.build_pose_array(out.targets, M.build_header(T, 8, 500, 'map'), T)
    TYPESTORE.serialize_cdr(poses, poses.__msgtype__)
    core.shutdown()


def _image_pixels(w, h):
    return np.asarray(_image(w, h).data).reshape(h, w, 3)


def test_missing_transform_warns_and_skips_targets():
    sink = Sink()
    params = validate_params({'target_frame': 'odom'}, LABELS)
    core = PerceptionCore(
        FakePipeline([Detection(0, 'person', 0.9, (0, 0, 10, 10))]),
        params,
        sink,
        clock=FakeClock(),
        log=sink.log,
        pose_lookup=lambda *a: None,
    )
    core.on_camera_info(_camera_info())
    core.on_image(_image(640, 480))
    core.wait_idle(2.0)
    assert sink.outputs[-1].targets is None
    assert any('odom' in w and 'camera_optical' in w for w in sink.warnings())
    core.shutdown()


def test_assumed_fov_gives_obstacles_without_camera_info():
    sink = Sink()
    params = validate_params({'assumed_hfov_deg': 90.0}, LABELS)
    core = PerceptionCore(
        FakePipeline([Detection(2, 'obstacle', 0.9, (0, 0, 64, 48))]),
        params,
        sink,
        clock=FakeClock(),
        log=sink.log,
    )
    core.on_image(_image(128, 96))
    core.wait_idle(2.0)
    (ob,) = sink.outputs[-1].obstacles
    assert ob.azimuth > 0 and ob.elevation > 0  # up-left quadrant of the image
    core.shutdown()


def test_camera_info_scaled_to_image_size_and_bad_info_ignored():
    core, sink = _core(FakePipeline())
    core.on_camera_info(_camera_info(1280, 960))
    cam = core.camera_for(640, 480)
    assert cam.fx == pytest.approx(250.0) and cam.principal_point == (160.0, 120.0)
    bad = _camera_info()
    bad.k = np.zeros(9)
    core.on_camera_info(bad)
    assert any('camera_info' in w for w in sink.warnings())
    core.shutdown()


@pytest.mark.parametrize(
    'name,value,fragment',
    [
        ('score_threshold', 1.5, '[0, 1]'),
        ('score_threshold', 'high', 'number'),
        ('nms_iou', 0.0, '(0, 1]'),
        ('backend', 'cuda', 'auto, tensorrt, onnxruntime'),
        ('transport', 'theora', 'raw, compressed'),
        ('qos_reliability', 'sometimes', 'best_effort, reliable'),
        ('max_detections', 0, '>= 1'),
        ('max_detections', 2.5, 'integer'),
        ('classes', ['person', 'dragon'], "'dragon'"),
        ('obstacle_classes', 'tree', "'tree'"),
        ('publish_overlay', 'yes', 'true or false'),
        ('clear_path_width_frac', 1.2, '(0, 1]'),
        ('assumed_hfov_deg', 200.0, '(0, 180)'),
        ('mono16_shift', 9, '[0, 8]'),
        ('diagnostics_period_s', 0.0, '> 0'),
        ('qos_depth', 0, '>= 1'),
        ('not_a_parameter', 1, 'unknown parameter'),
    ],
)
def test_param_validation_names_the_parameter(name, value, fragment):
    with pytest.raises(ParamError) as err:
        validate_params({name: value}, LABELS)
    assert err.value.name == name
    assert repr(name) in str(err.value) and fragment in str(err.value)


def test_param_defaults_and_sentinels():
    p = validate_params({}, LABELS)
    assert isinstance(p, NodeParams)
    assert (
        p.score_threshold is None
        and p.nms_iou is None
        and p.classes == []
        and p.mono16_shift is None
    )
    assert p.backend == 'auto' and p.transport == 'raw' and p.qos_reliability == 'best_effort'
    p = validate_params(
        {'score_threshold': 0.4, 'classes': 'person, vehicle', 'backend': 'TensorRT'}, LABELS
    )
    assert (
        p.score_threshold == 0.4 and p.classes == ['person', 'vehicle'] and p.backend == 'tensorrt'
    )
    assert validate_params({'classes': b''}).classes == []  # rclpy's empty byte array
    with pytest.raises(ParamError) as err:
        validate_params({'target_frame': 'map', 'person_label': 'human'}, LABELS)
    assert err.value.name == 'person_label'
    names = [s.name for s in PARAM_SPECS]
    assert len(names) == len(set(names)) and all(s.description for s in PARAM_SPECS)
    for required in (
        'bundle',
        'backend',
        'score_threshold',
        'nms_iou',
        'classes',
        'max_detections',
        'publish_overlay',
        'transport',
        'qos_reliability',
        'target_frame',
    ):
        assert required in names


def test_throttle():
    clock = FakeClock(0.0)
    th = Throttle(1.0, clock)
    assert th.check('a') == (True, 0)
    assert th.check('a') == (False, 0) and th.check('b') == (True, 0)
    clock.advance(0.5)
    assert th.check('a') == (False, 0)
    clock.advance(0.6)
    assert th.check('a') == (True, 2)


def test_draw_overlay_does_not_touch_input():
    img = np.zeros((60, 80, 3), np.uint8)
    out = render_frame(
        img,
        [Detection(0, 'person', 0.5, (10, 10, 40, 50))],
        fps=12.5,
        clear=True,
        region=(20, 15, 60, 45),
    )
    assert img.max() == 0 and out.shape == img.shape and out.max() > 0


def test_resolve_bundle_path(tmp_path):
    (tmp_path / 'b').mkdir()
    (tmp_path / 'b' / 'bundle.yaml').write_text('x: 1\n')
    assert resolve_bundle_path(str(tmp_path / 'b')) == str(tmp_path / 'b')
    with pytest.raises(ParamError) as err:
        resolve_bundle_path(str(tmp_path / 'missing'))
    assert err.value.name == 'bundle'


def test_create_pipeline_errors_name_parameters(tmp_path, tiny_detector_bundle):
    with pytest.raises(ParamError) as err:
        create_pipeline({'bundle': str(tmp_path / 'nothing')})
    assert err.value.name == 'bundle'
    with pytest.raises(ParamError) as err:
        create_pipeline({'bundle': str(tiny_detector_bundle), 'classes': ['dragon']})
    assert err.value.name == 'classes' and 'dragon' in str(err.value)


def test_core_with_real_pipeline_on_tiny_bundle(tiny_detector_bundle):
    """Integration: the runtime Pipeline on a tiny random-init bundle, through the core."""
    params, pipe = create_pipeline(
        {
            'bundle': str(tiny_detector_bundle),
            'backend': 'onnxruntime',
            'score_threshold': 0.0,
            'max_detections': 5,
        }
    )
    assert pipe.backend_name == 'onnxruntime'
    sink = Sink()
    core = PerceptionCore(pipe, params, sink, log=sink.log, bundle_name='tiny_detector')
    core.on_image(_image(160, 120, sec=42))
    assert core.wait_idle(30.0)
    core.shutdown()
    (out,) = sink.outputs
    assert out.header.stamp.sec == 42 and out.header.frame_id == 'camera_optical'
    assert out.image_size == (160, 120) and 0 < len(out.detections) <= 5
    msg = M.build_detection2d_array(out.detections, out.header, T)
    back = TYPESTORE.deserialize_cdr(
        TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__
    )
    assert back.header.stamp.sec == 42 and len(back.detections) == len(out.detections)
    for det in back.detections:
        assert det.results[0].hypothesis.class_id in ('person', 'vehicle', 'obstacle')
        assert 0 <= det.bbox.center.position.x <= 160 and 0 <= det.bbox.center.position.y <= 120
    assert core.diagnostics()['values']['backend'] == 'onnxruntime'


def test_core_with_shipped_bundle(shipped_bundle):
    """
    The shipped bundle runs end to end on a synthetic aerial frame.

    Skipped until the bundle is built.
    """
    from vitedge_ros.data.synthetic import generate_scene

    params, pipe = create_pipeline({'bundle': str(shipped_bundle), 'backend': 'onnxruntime'})
    scene = generate_scene(3, width=320, height=240)
    msg = T.Image(
        header=_header(5),
        height=240,
        width=320,
        encoding='bgr8',
        is_bigendian=0,
        step=320 * 3,
        data=np.ascontiguousarray(scene.image).reshape(-1),
    )
    sink = Sink()
    core = PerceptionCore(pipe, params, sink, log=sink.log, bundle_name=shipped_bundle.name)
    core.on_image(msg)
    assert core.wait_idle(60.0)
    core.shutdown()
    (out,) = sink.outputs
    assert out.image_size == (320, 240)
    for det in out.detections:
        assert det.label in pipe.labels and 0.0 <= det.score <= 1.0


def test_docs_list_every_parameter():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / 'docs' / 'ROS.md').read_text(encoding='utf-8')
    for spec in PARAM_SPECS:
        assert '| `{}` |'.format(spec.name) in doc, spec.name


# ------------------------------------------------ issue 16: frames as they come, overlay on demand
class OrderPipeline(FakePipeline):
    """A pipeline that takes the frame's channel order (and source size) like runtime.Pipeline."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def __call__(self, image, order='bgr', source_size=None):
        self.seen.append((image, order, source_size))
        size = source_size or (int(image.shape[1]), int(image.shape[0]))
        return FrameResult(
            list(self.detections),
            [],
            {'preprocess': 1.0, 'inference': 8.0, 'postprocess': 1.0, 'total': 10.0},
            size,
        )


def _rgb8(width=64, height=48, pad=8, sec=10):
    step = width * 3 + pad
    data = (np.arange(step * height) % 251).astype(np.uint8)
    return T.Image(
        header=_header(sec),
        height=height,
        width=width,
        encoding='rgb8',
        is_bigendian=0,
        step=step,
        data=data,
    )


def test_raw_frames_reach_the_pipeline_as_a_view_in_their_order():
    pipe = OrderPipeline()
    core, sink = _core(pipe)
    msg = _rgb8()
    assert core.on_image(msg) and core.wait_idle(2.0)
    image, order, source = pipe.seen[0]
    assert order == 'rgb' and source is None and image.shape == (48, 64, 3)
    assert np.shares_memory(image, msg.data)  # no copy, no swap, step padding left in place
    assert sink.outputs[0].image_size == (64, 48)
    # a one-argument pipeline (older drivers, fakes) still gets a contiguous BGR copy
    old = FakePipeline()
    core2, _ = _core(old)
    core2.on_image(_rgb8())
    assert core2.wait_idle(2.0) and old.shapes == [(48, 64, 3)]
    core.shutdown()
    core2.shutdown()


def test_overlay_is_drawn_only_when_wanted():
    wanted = {'now': False}
    sink = Sink()
    params = validate_params({'publish_overlay': True}, LABELS)
    core = PerceptionCore(
        OrderPipeline([Detection(0, 'person', 0.9, (4.0, 4.0, 20.0, 20.0))]),
        params,
        sink,
        clock=FakeClock(),
        log=sink.log,
        overlay_wanted=lambda: wanted['now'],
    )
    core.on_image(_image(sec=1))
    assert core.wait_idle(2.0) and sink.outputs[-1].overlay is None and core.overlays_skipped == 1
    wanted['now'] = True
    core.on_image(_image(sec=2))
    assert core.wait_idle(2.0)
    ov = sink.outputs[-1].overlay
    assert ov is not None and ov.shape == (48, 64, 3) and np.any(ov != _image_pixels(64, 48))
    off = PerceptionCore(
        OrderPipeline(),
        validate_params({}, LABELS),
        sink,
        clock=FakeClock(),
        log=sink.log,
        overlay_wanted=lambda: True,
    )
    off.on_image(_image(sec=3))
    assert (
        off.wait_idle(2.0) and sink.outputs[-1].overlay is None
    )  # publish_overlay off: never drawn
    core.shutdown()
    off.shutdown()


def test_large_jpeg_frames_are_decoded_reduced_with_boxes_in_full_pixels():
    import cv2

    class Spec:
        width, height = 96, 64

    pipe = OrderPipeline()
    pipe.bundle = type('B', (), {'input': Spec(), 'labels': LABELS})()
    core, sink = _core(pipe)
    img = np.random.default_rng(1).integers(0, 256, (160, 240, 3), dtype=np.uint8)  # >= 2x 96×64
    ok, jpg = cv2.imencode('.jpg', img)
    msg = T.CompressedImage(
        header=_header(1), format='jpeg', data=np.frombuffer(jpg.tobytes(), np.uint8)
    )
    for _ in range(2):
        assert core.on_compressed(msg) and core.wait_idle(2.0)
    first, second = pipe.seen
    assert (
        first[0].shape == (160, 240, 3) and first[2] is None
    )  # first frame: full decode, size learnt
    assert second[0].shape == (80, 120, 3) and second[2] == (240, 160)  # then half-size DCT decode
    assert [o.image_size for o in sink.outputs] == [(240, 160), (240, 160)]
    core.shutdown()

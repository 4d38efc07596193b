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
Segmentation through the node.

ROS-free core (fake pipeline), messages, and the node on rclpy stand-ins.
"""

import importlib
import importlib.util
import sys

from conftest import EXPORT_NEEDS, lane_bundle, require
import numpy as np
from plain_msgs import message_types
import pytest
from vitedge_ros.data.synthetic import SEG_CLASSES
from vitedge_ros.perception.overlay import render_frame
from vitedge_ros.ros import messages as M
from vitedge_ros.ros.core import (
    create_pipeline,
    landing_zone,
    ParamError,
    PerceptionCore,
    validate_params,
)
from vitedge_ros.runtime import FrameResult

TYPESTORE, T = message_types()
LABELS = list(SEG_CLASSES)
ROAD, WATER = LABELS.index('road'), LABELS.index('water')


def _label_map(w=80, h=60):
    """Road on the left half, water on the right; a 6×6 person square on the image centre."""
    lab = np.full((h, w), ROAD, np.uint8)
    lab[:, w // 2:] = WATER
    lab[h // 2 - 3:h // 2 + 3, w // 2 - 3:w // 2 + 3] = LABELS.index('person')
    return lab


class FakeSegPipeline:
    backend_name = 'fake'
    labels = LABELS

    def __call__(self, image):
        h, w = image.shape[:2]
        return FrameResult([], [], {'total': 5.0}, (w, h), _label_map(w, h))


def _image(width=80, height=60, sec=3):
    return T.Image(
        header=M.build_header(T, sec, 0, 'cam'),
        height=height,
        width=width,
        encoding='bgr8',
        is_bigendian=0,
        step=width * 3,
        data=np.full(width * height * 3, 90, np.uint8),
    )


def test_landing_zone_fractions():
    zone = landing_zone(_label_map(), LABELS, 0.5, ['background', 'road'], 0.9)
    assert zone.region == (20, 15, 60, 45)
    fr = dict(zone.fractions)
    assert list(fr) == LABELS and sum(fr.values()) == pytest.approx(1.0)
    assert fr['person'] == pytest.approx(36 / 1200)
    assert fr['road'] == pytest.approx((600 - 18) / 1200) and fr['water'] == pytest.approx(
        (600 - 18) / 1200
    )
    assert zone.safe_fraction == pytest.approx(fr['road']) and zone.safe is False
    assert zone.dominant in ('road', 'water')
    all_road = np.full((60, 80), ROAD, np.uint8)
    assert landing_zone(all_road, LABELS, 0.3, ['road'], 0.95).safe is True


def test_core_publishes_mono8_class_ids_and_centre_fractions():
    outputs = []
    params = validate_params(
        {'publish_overlay': True, 'landing_zone_frac': 0.5}, LABELS, task='segment'
    )
    assert params.publish_obstacles is False and not params.wants_camera_info
    core = PerceptionCore(FakeSegPipeline(), params, outputs.append, log=lambda level, text: None)
    try:
        assert core.on_image(_image(sec=3))
        assert core.wait_idle(5.0)
    finally:
        core.shutdown()
    (out,) = outputs
    assert out.detections == [] and out.obstacles is None and out.clear_path is None
    assert np.array_equal(out.segmentation, _label_map())
    msg = M.build_label_image(out.segmentation, out.header, T)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ('mono8', 80, 60, 80)
    assert msg.header.stamp.sec == 3 and msg.header.frame_id == 'cam'
    assert np.array_equal(np.asarray(msg.data).reshape(60, 80), _label_map())
    back = TYPESTORE.deserialize_cdr(
        TYPESTORE.serialize_cdr(msg, msg.__msgtype__), 'sensor_msgs/msg/Image'
    )
    assert np.array_equal(np.asarray(back.data).reshape(60, 80), _label_map())
    assert dict(out.landing_zone.fractions)['person'] == pytest.approx(36 / 1200)
    cls = M.build_classification(out.landing_zone.fractions, out.header, T)
    assert [r.class_id for r in cls.results] == LABELS
    assert cls.results[LABELS.index('person')].score == pytest.approx(0.03)
    raw = TYPESTORE.serialize_cdr(cls, cls.__msgtype__)
    assert (
        TYPESTORE.deserialize_cdr(raw, 'vision_msgs/msg/Classification').results[WATER].class_id
        == 'water'
    )
    assert out.overlay.shape == (60, 80, 3)
    assert tuple(out.overlay[30, 5]) != (90, 90, 90)  # road is tinted
    diag = core.diagnostics()['values']
    assert diag['landing_zone_safe'] == 'no' and diag[
        'landing_zone_fraction_person'
    ] == pytest.approx(0.03)
    assert diag['landing_zone_safe_fraction'] == pytest.approx(582 / 1200)


def test_segment_params_are_checked_against_labels():
    with pytest.raises(
        ParamError, match="landing_safe_classes.*'grass' not among the bundle labels"
    ):
        validate_params({'landing_safe_classes': ['grass']}, LABELS, task='segment')
    with pytest.raises(ParamError, match='target_frame.*need a detector bundle'):
        validate_params({'target_frame': 'map'}, LABELS, task='segment')
    with pytest.raises(ParamError, match='landing_zone_frac'):
        validate_params({'landing_zone_frac': 0.0}, LABELS, task='segment')
    with pytest.raises(ParamError, match='landing_min_safe_frac'):
        validate_params({'landing_min_safe_frac': 1.5}, LABELS, task='segment')
    # detector bundles do not check the landing classes
    assert (
        validate_params({}, ['person', 'vehicle', 'obstacle'], task='detect').publish_obstacles
        is True
    )


def test_overlay_draws_zone():
    lab = _label_map()
    zone = landing_zone(lab, LABELS, 0.5)
    img = render_frame(
        np.zeros((60, 80, 3), np.uint8),
        labels=LABELS,
        segmentation=lab,
        zone=zone,
        fps=10.0,
        legend=False,
    )
    # red border (not safe); the status lines cover the top left of so small a frame
    assert (
        tuple(img[44, 20]) == (0, 0, 255)
        and tuple(img[44, 59]) == (0, 0, 255)
        and tuple(img[20, 59]) == (0, 0, 255)
    )


def export_tiny_seg(out, opset=None):
    """
    Export the tiny random-init segmenter as a bundle at ``out`` (needs torch).

    The segmenter is test_segment_model.tiny_segmenter.
    """
    from test_segment_model import SPEC, tiny_segmenter
    from vitedge_ros.export import export_bundle
    from vitedge_ros.models import SegmenterExport

    export_bundle(
        SegmenterExport(tiny_segmenter()),
        out,
        name='tiny_seg',
        task='segment',
        labels=LABELS,
        input_spec=SPEC,
        decoder={'type': 'segmenter'},
        output_names=['logits'],
        **({} if opset is None else {'opset': opset}),
    )
    return out


@pytest.fixture(scope='module')
def seg_bundle(tmp_path_factory):
    made = lane_bundle('tiny_seg')
    if made is not None:
        return made
    require(*EXPORT_NEEDS)
    return export_tiny_seg(tmp_path_factory.mktemp('bundles') / 'tiny_seg')


def test_create_pipeline_accepts_segment_bundles(seg_bundle):
    params, pipe = create_pipeline({'bundle': str(seg_bundle), 'backend': 'onnxruntime'})
    try:
        assert params.publish_obstacles is False and pipe.bundle.task == 'segment'
        res = pipe(np.zeros((60, 80, 3), np.uint8))
        assert res.segmentation.shape == (60, 80)
    finally:
        pipe.close()


def test_node_on_standins_publishes_segmentation(monkeypatch, seg_bundle):
    if importlib.util.find_spec('rclpy') is not None:
        pytest.skip('real rclpy installed')
    from test_ros_node_stubbed import _modules

    for name, mod in _modules().items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setitem(sys.modules, 'cv_bridge', None)
    sys.modules.pop('vitedge_ros.ros.node', None)
    node_module = importlib.import_module('vitedge_ros.ros.node')
    node = node_module.VitedgeNode(
        parameter_overrides={
            'bundle': str(seg_bundle),
            'backend': 'onnxruntime',
            'publish_overlay': True,
        }
    )
    try:
        pubs = node.publishers
        assert {
            'segmentation',
            'landing_zone',
            'landing_zone/safe',
            'overlay',
            'detections',
        } <= set(pubs)
        assert 'obstacles' not in pubs and 'camera_info' not in node.subscriptions
        _, callback, _ = node.subscriptions['image']
        callback(_image(width=96, height=64, sec=9))
        assert node.core.wait_idle(30.0)
        (seg,) = pubs['segmentation'].sent
        assert (seg.encoding, seg.width, seg.height, seg.header.stamp.sec) == ('mono8', 96, 64, 9)
        assert int(np.asarray(seg.data).max()) < len(LABELS)
        (zone,) = pubs['landing_zone'].sent
        assert [r.class_id for r in zone.results] == LABELS
        assert sum(r.score for r in zone.results) == pytest.approx(1.0)
        (safe,) = pubs['landing_zone/safe'].sent
        assert safe.__msgtype__ == 'vision_msgs/msg/Classification'
        assert (safe.header.stamp.sec, safe.header.frame_id) == (9, zone.header.frame_id)
        assert [r.class_id for r in safe.results] in (['safe'], ['unsafe'])
        assert len(pubs['overlay'].sent) == 1
        (info,) = pubs['label_info'].sent
        assert [c.class_name for c in info.class_map] == LABELS and info.threshold == 0.0
        assert len(pubs['detections'].sent[0].detections) == 0
    finally:
        node.close()
        sys.modules.pop('vitedge_ros.ros.node', None)

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
Issue 15 items 2, 3 and 5: the replay drives the node core with the bag's camera and poses.

The replay drives the node's core with CameraInfo and poses from the bag, writes every node
output, and scores person positions, obstacle bearings and the clear-path flag.
"""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

IMAGE_TOPIC = '/camera/image_raw'


class CentrePipeline:
    """
    A fixed detector: one person box around the image centre.

    One obstacle on the right (fast, exact).
    """

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'fixed'

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        h, w = image.shape[:2]
        dets = [
            Detection(0, 'person', 0.9, (w / 2 - 4, h / 2 - 6, w / 2 + 4, h / 2 + 6)),
            Detection(2, 'obstacle', 0.8, (w - 20.0, 10.0, w - 4.0, 30.0)),
        ]
        times = dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1)
        return FrameResult(dets, [], times, (w, h))


def _copy_bag(src: Path, dst: Path, drop=(), keep_static=lambda link: True) -> None:
    """
    Copy a bag without the topics in ``drop``.

    /tf_static keeps only the transforms ``keep_static`` accepts.
    """
    from rosbags.highlevel import AnyReader
    from rosbags.rosbag2 import StoragePlugin, Writer

    with AnyReader([src]) as reader:
        store = reader.typestore
        writer = Writer(dst, version=9, storage_plugin=StoragePlugin.MCAP)
        with writer:
            conns = {
                c.id: writer.add_connection(c.topic, c.msgtype, typestore=store)
                for c in reader.connections
                if c.topic not in drop
            }
            for conn, log_ns, raw in reader.messages():
                if conn.id not in conns:
                    continue
                if conn.topic == '/tf_static':
                    msg = reader.deserialize(raw, conn.msgtype)
                    msg.transforms = [t for t in msg.transforms if keep_static(t)]
                    raw = store.serialize_cdr(msg, conn.msgtype)
                writer.write(conns[conn.id], log_ns, raw)


def _read(bag: Path, topic: str):
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        return [
            (raw, reader.deserialize(raw, c.msgtype))
            for c, _, raw in reader.messages(connections=conns)
        ]


@pytest.fixture(scope='module')
def tilted(tmp_path_factory):
    from conftest import require

    require('rosbags')
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    root = tmp_path_factory.mktemp('tilted')
    write_synthetic_bag(root / 'flight', 4, seed=5, width=640, height=480, tilt_deg=30.0)
    return root / 'flight'


def test_core_and_replay_publish_identical_outputs(tilted, shipped_bundle, tmp_path):
    """
    Acceptance: the node's rclpy-free core fed the same frames.

    CameraInfo and poses as the replay gives
    byte-identical detections, targets, obstacles, bearings and clear-path messages.
    """
    from rosbags.highlevel import AnyReader
    from vitedge_ros.geometry.tf_buffer import TransformBuffer
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.ros import messages as M
    from vitedge_ros.ros.core import PerceptionCore, validate_params
    from vitedge_ros.ros.rosbags_types import rosbags_types
    from vitedge_ros.runtime import Pipeline

    m = replay(tilted, shipped_bundle, IMAGE_TOPIC, tmp_path / 'out', backend='onnxruntime')
    assert (
        m['targets_total'] > 0
        and m['camera']['pose_lookups_ok'] == 4
        and not m['camera']['pose_failures']
    )
    out_bag = tmp_path / 'out' / 'output_bag'

    store, types = rosbags_types()
    buf = TransformBuffer()
    frames = []
    with AnyReader([tilted]) as reader:
        for conn, log_ns, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic in ('/tf', '/tf_static'):
                buf.add_message(msg, static=conn.topic == '/tf_static')
            elif conn.topic in ('/camera/camera_info', IMAGE_TOPIC):
                frames.append((log_ns, conn.topic == IMAGE_TOPIC, conn.topic, msg))
    frames = [
        f[2:] for f in sorted(frames, key=lambda f: f[:2])
    ]  # a frame's camera_info before its image
    pipe = Pipeline(shipped_bundle, backend='onnxruntime')
    params = validate_params({'target_frame': 'map'}, labels=list(pipe.labels), task='detect')
    outputs = []

    def lookup(target, source, stamp):
        return buf.lookup(target, source, stamp.sec * 10**9 + stamp.nanosec)

    core = PerceptionCore(
        pipe, params, outputs.append, pose_lookup=lookup, log=lambda level, text: None
    )
    try:
        for topic, msg in frames:
            if topic == IMAGE_TOPIC:
                assert core.on_image(msg)
                assert core.wait_idle(60)
            else:
                core.on_camera_info(msg)
    finally:
        core.shutdown()
        pipe.close()
    assert len(outputs) == 4
    built = {
        '/vitedge/detections': [],
        '/vitedge/targets': [],
        '/vitedge/obstacles': [],
        '/vitedge/obstacles/bearings': [],
        '/vitedge/clear_path': [],
    }
    for out in outputs:
        h = out.header
        built['/vitedge/detections'].append(M.build_detection2d_array(out.detections, h, types))
        th = M.build_header(types, h.stamp.sec, h.stamp.nanosec, out.target_frame)
        built['/vitedge/targets'].append(M.build_pose_array(out.targets, th, types))
        built['/vitedge/obstacles'].append(M.build_obstacle_array(out.obstacles, h, types))
        built['/vitedge/obstacles/bearings'].append(
            M.build_obstacle_bearings(out.obstacles, h, types)
        )
        built['/vitedge/clear_path'].append(
            M.build_verdict('clear' if out.clear_path else 'blocked', h, types)
        )
    for topic, msgs in built.items():
        recorded = [raw for raw, _ in _read(out_bag, topic)]
        assert len(recorded) == 4, topic
        for raw, msg in zip(recorded, msgs):
            assert bytes(raw) == bytes(store.serialize_cdr(msg, msg.__msgtype__)), topic
    targets = _read(out_bag, '/vitedge/targets')
    assert (
        all(msg.header.frame_id == 'map' for _, msg in targets)
        and sum(len(m.poses) for _, m in targets) > 0
    )
    assert len(_read(out_bag, '/diagnostics')) >= 1


def test_replay_without_camera_info_says_once_why(tilted, tmp_path, caplog):
    from vitedge_ros.replay.driver import replay

    bare = tmp_path / 'bare'
    _copy_bag(tilted, bare, drop=('/camera/camera_info', '/tf', '/tf_static'))
    with caplog.at_level(logging.WARNING):
        m = replay(bare, None, IMAGE_TOPIC, tmp_path / 'o', pipeline=CentrePipeline())
    why = [r.getMessage() for r in caplog.records if 'CameraInfo' in r.getMessage()]
    assert len(why) == 1 and 'detections only' in why[0] and 'no person targets' in why[0]
    assert m['frames_processed'] == 4 and m['output_topics']['/vitedge/detections'] == 4
    assert (
        '/vitedge/targets' not in m['output_topics']
        and '/vitedge/obstacles' not in m['output_topics']
    )
    assert m['output_topics']['/vitedge/clear_path'] == 4  # the verdict needs no camera model
    assert m['localisation'] is None and m['camera']['note'] == why[0] and m['targets_total'] == 0


def test_replay_names_a_camera_frame_missing_from_tf(tilted, tmp_path, caplog):
    from vitedge_ros.replay.driver import replay

    cut = tmp_path / 'cut'
    _copy_bag(tilted, cut, keep_static=lambda t: t.child_frame_id != 'camera_optical_frame')
    with caplog.at_level(logging.WARNING):
        m = replay(cut, None, IMAGE_TOPIC, tmp_path / 'o', pipeline=CentrePipeline())
    named = [r.getMessage() for r in caplog.records if "'camera_optical_frame'" in r.getMessage()]
    assert len(named) == 1 and 'does not exist in the TF tree' in named[0]
    assert m['camera']['pose_lookups_ok'] == 0
    assert sum(m['camera']['pose_failures'].values()) == 4
    assert m['output_topics']['/vitedge/targets'] == 0 and m['targets_total'] == 0
    # obstacle bearings need only the camera model
    assert m['output_topics']['/vitedge/obstacles/bearings'] == 4


def test_replay_targets_are_the_ground_points_of_the_boxes(tilted, tmp_path):
    """
    The fixed centre box's target is the ground point of the box.

    An upright 1.7 m person's feet (default), or the box centre with height 0.
    """
    from vitedge_ros.data.flights import GroundFlight
    from vitedge_ros.geometry.camera import PinholeCamera
    from vitedge_ros.geometry.person_ground import persons_on_ground
    from vitedge_ros.geometry.projection import pixels_to_ground
    from vitedge_ros.replay.driver import replay

    flight = GroundFlight(4, seed=5, width=640, height=480, tilt_deg=30.0)
    cam = PinholeCamera(flight.K, None, 640, 480, '')
    box = [[316.0, 234.0, 324.0, 246.0]]
    for name, params in (('upright', None), ('flat', {'person_height_m': 0.0})):
        m = replay(
            tilted,
            None,
            IMAGE_TOPIC,
            tmp_path / name,
            pipeline=CentrePipeline(),
            node_params=params,
        )
        got = [msg for _, msg in _read(tmp_path / name / 'output_bag', '/vitedge/targets')]
        assert len(got) == 4 and m['localisation']['frames_evaluated'] == 4
        for msg, body in zip(got, flight.bodies):
            pose = flight.camera_pose(body)
            if params is None:
                expected = persons_on_ground(cam, box, pose)[0]
                # a 1.7 m person at 15 m, 30 deg spans ~25 px on the image vertical; the 12 px box
                # is shorter, so the feet are cut at the box edge toward the nadir: the bottom
                # edge, near its centre (320, 246)
                feet = cam.project(((expected - pose.translation) @ pose.matrix)[None])[0]
                assert feet[1] == pytest.approx(246.0, abs=1e-6) and abs(feet[0] - 320.0) < 0.1
            else:
                expected = pixels_to_ground(cam, [[320.0, 240.0]], pose)[0]
            p = msg.poses[0].position
            assert np.allclose([p.x, p.y, p.z], expected, atol=1e-6)


@pytest.mark.needs(
    'scipy'
)  # the Hungarian optimum; without SciPy the fallback is greedy by distance
def test_matching_is_one_to_one_within_the_gate():
    from vitedge_ros.eval.localisation import ClearPathMeter, LocalisationMeter, match_one_to_one

    cost = np.array([[1.0, 2.0], [2.0, 100.0]])
    pairs, method = match_one_to_one(cost, 2.5)
    assert (
        pairs == [(0, 1), (1, 0)] and method == 'hungarian'
    )  # two matches; nearest-first would find one
    truth = np.array([[0.3, 0.4, 0], [10.0, 1.0, 0], [20.0, 20.0, 0]])
    meter = LocalisationMeter(gate_m=2.0)
    meter.add([(0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (50.0, 50.0, 0.0)], truth)
    meter.add(None, np.array([[1.0, 1.0, 0.0]]))
    r = meter.result()
    assert (r['persons_true'], r['persons_localised'], r['false_targets']) == (4, 2, 1)
    assert r['recall'] == 0.5 and r['median_m'] == pytest.approx(0.75) and r['within_1m'] == 0.5
    assert r['false_targets_per_frame'] == 0.5
    cp = ClearPathMeter()
    for est, truth in ((True, True), (False, True), (True, False), (False, False), (None, True)):
        cp.add(est, truth)
    c = cp.result()
    assert (c['false_alarms'], c['misses'], c['accuracy']) == (2, 1, 0.4)


def test_matching_falls_back_to_greedy_without_scipy(monkeypatch):
    import sys

    from vitedge_ros.eval.localisation import match_one_to_one

    monkeypatch.setitem(sys.modules, 'scipy.optimize', None)  # import fails as without SciPy
    pairs, method = match_one_to_one(np.array([[1.0, 2.0], [2.0, 100.0]]), 2.5)
    assert (pairs, method) == ([(0, 0)], 'greedy')


@pytest.mark.needs('rosbags')
@pytest.mark.parametrize('tilt', [0.0, 30.0])
def test_shipped_detector_localises_persons_on_synthetic_flights(shipped_bundle, tmp_path, tilt):
    """
    Acceptance (SYNTHETIC): the shipped detector localises persons on the synthetic flights.

    15 m, 640x480, 60 deg HFOV; median <= 0.5 m, p95 <= 1.5 m, >= 80 % localised.

    The seed-0 flights of docs/EVALUATION.md (`make eval-localisation`: make_bag defaults, 60
    frames). The figures depend on the world: the table there shows seeds 0-2. The world's persons
    are painted flat, so the replay runs with its NODE_PARAMS (``person_height_m: 0``, targets at
    the box centre): with the box's bottom centre, the rule before, tilted seed 0's median was
    0.504 m. The oblique views' small, far persons at the top of the image are the hard ones.
    """
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.replay.synthetic import NODE_PARAMS, write_synthetic_bag

    write_synthetic_bag(tmp_path / 'f', 60, seed=0, tilt_deg=tilt)
    m = replay(
        tmp_path / 'f',
        shipped_bundle,
        IMAGE_TOPIC,
        tmp_path / 'o',
        backend='onnxruntime',
        node_params=NODE_PARAMS,
    )
    loc = m['localisation']
    assert loc['persons_true'] >= 20
    assert loc['median_m'] <= 0.5 and loc['p95_m'] <= 1.5 and loc['recall'] >= 0.8, loc
    assert (tmp_path / 'o' / 'topdown.png').is_file() and m['clear_path']['frames_evaluated'] == 60


def test_eval_bag_cli_params_and_camera_info_topic(tilted, shipped_bundle, tmp_path, capsys):
    """
    eval_bag: --params sets node parameters, --camera-info-topic must name a CameraInfo.

    The parameters are validated like the node's.
    """
    from vitedge_ros.replay.cli import main

    bad = tmp_path / 'bad.yaml'
    bad.write_text('vitedge_node:\n  ros__parameters:\n    obstacle_classes: [person, boat]\n')
    args = [
        str(tilted),
        '--bundle',
        str(shipped_bundle),
        '--image-topic',
        IMAGE_TOPIC,
        '--no-progress',
        '-q',
        '--backend',
        'onnxruntime',
        '--max-frames',
        '2',
    ]
    assert main(args + ['--out', str(tmp_path / 'a'), '--params', str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'obstacle_classes'" in err[0] and "'boat'" in err[0]
    assert main(args + ['--out', str(tmp_path / 'b'), '--camera-info-topic', '/nope']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'/nope'" in err[0] and '/camera/camera_info' in err[0]
    good = tmp_path / 'good.yaml'
    good.write_text(
        'obstacle_classes: [vehicle]\nclear_path_width_frac: 1.0\nclear_path_height_frac: 1.0\n'
    )
    assert (
        main(args + ['--out', str(tmp_path / 'c'), '--params', str(good), '--target-frame', ''])
        == 0
    )
    m = json.loads((tmp_path / 'c' / 'metrics.json').read_text())
    assert '/vitedge/targets' not in m['output_topics'] and m['camera']['target_frame'] == ''
    bearings = [msg for _, msg in _read(tmp_path / 'c' / 'output_bag', '/vitedge/obstacles')]
    labels = {d.results[0].hypothesis.class_id for msg in bearings for d in msg.detections}
    assert labels <= {'vehicle'}


def test_localisation_block_is_replaced_in_place():
    from vitedge_ros.replay.flights_report import BEGIN_MARK, END_MARK, render_block, replace_block

    row = {
        'name': 'nadir',
        'flight': {'altitude': 15.0, 'width': 640, 'height': 480, 'hfov_deg': 60.0},
        'gsd_m': 0.027,
        'frames': 3,
        'seed': 0,
        'metrics': {
            'localisation': {
                'gate_m': 2.0,
                'persons_true': 10,
                'persons_localised': 9,
                'recall': 0.9,
                'median_m': 0.31,
                'p95_m': 0.8,
                'within_1m': 0.9,
                'false_targets_per_frame': 0.5,
            },
            'obstacles': None,
            'clear_path': None,
            'accuracy': None,
        },
    }
    block = render_block([row], 'models/x', 'make eval-localisation')
    assert block.startswith(BEGIN_MARK) and block.endswith(END_MARK) and 'SYNTHETIC' in block
    assert '| 10 | 9 (90.0%) | 0.31 | 0.80 | 90.0% | 0.50 |' in block and 'all seeds' not in block
    other = dict(
        row,
        seed=1,
        metrics=dict(
            row['metrics'],
            localisation=dict(
                row['metrics']['localisation'],
                persons_true=30,
                persons_localised=21,
                recall=0.7,
                within_1m=0.6,
                median_m=0.5,
                p95_m=1.1,
            ),
        ),
    )
    for r in (row, other):
        r['metrics']['localisation'].update(
            frames_evaluated=3,
            false_targets=int(round(r['metrics']['localisation']['false_targets_per_frame'] * 3)),
        )
    two = render_block([row, other], 'models/x', 'make eval-localisation')
    # pooled: 30 of 40 localised, (9 + 18) / 40 within 1 m, (2 + 2) / 6 false targets a frame;
    # ranges of the medians
    assert (
        '| 40 | 30 (75.0%) | 0.31 - 0.50 | 0.80 - 1.10 | 67.5% | 0.67 |' in two
        and 'seeds 0, 1' in two
    )
    doc = 'intro\n\n{}\n{}\n\nafter\n'.format(BEGIN_MARK, END_MARK)
    once = replace_block(doc, block)
    assert once.startswith('intro\n\n' + BEGIN_MARK) and once.endswith('\n\nafter\n')
    assert replace_block(once, block) == once
    assert replace_block('no block yet', block).endswith(block + '\n')
    with pytest.raises(ValueError, match='exactly one'):
        replace_block(once + once, block)
    text = (Path(__file__).resolve().parents[1] / 'docs' / 'EVALUATION.md').read_text(
        encoding='utf-8'
    )
    assert text.count(BEGIN_MARK) == text.count(END_MARK) == 1


def test_synthetic_world_params_file_matches_the_replay_constant():
    """
    config/synthetic_world.yaml says what make eval-localisation uses.

    The file is for eval_bag --params.
    """
    from vitedge_ros.perception.core import validate_params
    from vitedge_ros.replay.synthetic import NODE_PARAMS
    import yaml

    root = Path(__file__).resolve().parents[1]
    with open(str(root / 'config' / 'synthetic_world.yaml'), encoding='utf-8') as f:
        assert yaml.safe_load(f) == NODE_PARAMS
    assert (
        validate_params(dict(NODE_PARAMS), ['person', 'vehicle', 'obstacle']).person_height_m
        == 0.0
    )

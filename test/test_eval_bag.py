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
tools/eval_bag.py: replay of bags written by another program, metrics, bad input.

The rosbag2 bags come from another program; the output bag is checked too.
"""

import json
from pathlib import Path
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
N_FRAMES = 24
TRUNCATED = 9  # index of the truncated raw frame
ENCODINGS = ('bgr8', 'rgb8', 'mono8')
START_S = 1650000000


# -------------------------------------------------------------------------------------------------
# The acceptance bag: rosbags alone (no project code), real photos, mixed encodings, one truncated
# frame.
def _photos():
    from skimage import data

    names = (
        'astronaut',
        'camera',
        'coffee',
        'chelsea',
        'rocket',
        'coins',
        'immunohistochemistry',
        'moon',
    )
    out = []
    for name in names:
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out.append(
            cv2.resize(
                np.ascontiguousarray(img[:, :, :3]), (120, 90), interpolation=cv2.INTER_AREA
            )
        )
    return out  # RGB


def write_acceptance_bag(path: Path, storage: str, compression: str = 'none', fps: float = 20.0):
    """
    24 frames: raw Image (bgr8/rgb8/mono8, one truncated) + CompressedImage (jpeg).

    Return header stamps.
    """
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_HUMBLE)
    Image = store.types['sensor_msgs/msg/Image']
    CompressedImage = store.types['sensor_msgs/msg/CompressedImage']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    photos = _photos()
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    writer = Writer(path, version=9, storage_plugin=plugin)
    mode = {
        'none': CompressionMode.NONE,
        'message': CompressionMode.MESSAGE,
        'file': CompressionMode.FILE,
    }[compression]
    writer.set_compression(mode, CompressionFormat.ZSTD)
    stamps = []
    with writer:
        raw_c = writer.add_connection('/cam/image_raw', Image.__msgtype__, typestore=store)
        jpg_c = writer.add_connection(
            '/cam/image_raw/compressed', CompressedImage.__msgtype__, typestore=store
        )
        writer.add_connection('/cam/unused_info', 'std_msgs/msg/String', typestore=store)
        for i in range(N_FRAMES):
            rgb = photos[i % len(photos)]
            log_ns = START_S * 10**9 + int(i * 1e9 / fps)
            stamp = log_ns - 3_000_000 - i  # header stamp differs from the bag time on purpose
            stamps.append(stamp)
            header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id='cam')
            enc = ENCODINGS[i % 3]
            if enc == 'bgr8':
                px = rgb[:, :, ::-1]
            elif enc == 'rgb8':
                px = rgb
            else:
                px = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            px = np.ascontiguousarray(px)
            h, w = px.shape[:2]
            step = w * (1 if px.ndim == 2 else 3)
            data = px.reshape(-1)
            if i == TRUNCATED:
                data = data[: data.size // 2]
            msg = Image(
                header=header,
                height=h,
                width=w,
                encoding=enc,
                is_bigendian=0,
                step=step,
                data=data,
            )
            writer.write(raw_c, log_ns, store.serialize_cdr(msg, Image.__msgtype__))
            ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[:, :, ::-1]))
            assert ok
            cmsg = CompressedImage(header=header, format='jpeg', data=buf.reshape(-1))
            writer.write(jpg_c, log_ns, store.serialize_cdr(cmsg, CompressedImage.__msgtype__))
    return stamps


@pytest.fixture(scope='module')
def acceptance_bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('acceptance')
    bags = {}
    for storage, compression in (('mcap', 'none'), ('sqlite3', 'message')):
        path = root / storage
        stamps = write_acceptance_bag(path, storage, compression)
        bags[storage] = (path, stamps)
    return bags


def read_output(bag: Path):
    """Read an output bag with AnyReader and NO project typestore (embedded definitions only)."""
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.topic == '/vitedge/detections']
        assert len(conns) == 1 and conns[0].msgtype == 'vision_msgs/msg/Detection2DArray'
        assert 'vision_msgs/Detection2D' in conns[0].msgdef.data
        msgs = [
            reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=conns)
        ]
    return msgs


def _stamp(header):
    return header.stamp.sec * 10**9 + header.stamp.nanosec


# -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_raw_topic_mixed_encodings_one_truncated(
    acceptance_bags, tiny_detector_bundle, tmp_path, storage
):
    from vitedge_ros.replay.driver import replay

    bag, stamps = acceptance_bags[storage]
    m = replay(
        bag, tiny_detector_bundle, '/cam/image_raw', tmp_path / 'out', backend='onnxruntime'
    )
    assert (m['frames_in'], m['frames_processed'], m['frames_failed'], m['frames_dropped']) == (
        24,
        23,
        1,
        0,
    )
    assert m['failure_reasons'] == {'truncated': 1}
    fail = m['failures'][0]
    assert fail['index'] == TRUNCATED and fail['stamp_ns'] == stamps[TRUNCATED]
    assert ENCODINGS[TRUNCATED % 3] in fail['error'] and 'shorter than' in fail['error']
    assert (
        m['torch_imported'] is False or 'torch' in sys.modules
    )  # this process has torch from fixtures
    assert m['storage'] == storage and m['image_msgtype'] == 'sensor_msgs/msg/Image'
    for step in ('decode', 'preprocess', 'inference', 'postprocess', 'pipeline', 'end_to_end'):
        s = m['latency_ms'][step]
        assert s['n'] == 23 and 0 < s['median_ms'] <= s['p95_ms'] <= s['max_ms']
    assert m['latency_ms']['end_to_end']['mean_ms'] >= m['latency_ms']['inference']['mean_ms']
    assert m['fps'] > 0 and set(m['detections_per_class']) >= {'person', 'vehicle', 'obstacle'}
    assert sum(m['detections_per_class'].values()) == m['detections_total'] == 23 * 20
    out = tmp_path / 'out'
    saved = json.loads((out / 'metrics.json').read_text())
    assert saved['frames_processed'] == 23
    assert (out / 'metrics.md').read_text().startswith('# Bag replay')
    assert (out / 'latency.png').stat().st_size > 1000
    msgs = read_output(out / 'output_bag')
    expected = [s for i, s in enumerate(stamps) if i != TRUNCATED]
    assert [_stamp(x.header) for x in msgs] == expected
    assert all(x.header.frame_id == 'cam' for x in msgs)
    assert all(len(x.detections) == 20 for x in msgs)
    assert not [p for p in out.iterdir() if p.name.startswith('.')]


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_compressed_topic_all_frames(acceptance_bags, tiny_detector_bundle, tmp_path, storage):
    from vitedge_ros.replay.driver import replay

    bag, stamps = acceptance_bags[storage]
    m = replay(
        bag,
        tiny_detector_bundle,
        '/cam/image_raw/compressed',
        tmp_path / 'out',
        overlay=True,
        output_storage='sqlite3' if storage == 'mcap' else 'mcap',
    )
    assert (m['frames_in'], m['frames_processed'], m['frames_failed']) == (24, 24, 0)
    assert m['image_msgtype'] == 'sensor_msgs/msg/CompressedImage'
    topics = dict(m['output_topics'])
    assert topics.pop('/diagnostics') >= 1  # every diagnostics_period_s (1 s) of bag time
    # no CameraInfo in this bag: no targets, obstacles or bearings, but the clear-path verdict of
    # every frame
    assert topics == {'/vitedge/detections': 24, '/vitedge/overlay': 24, '/vitedge/clear_path': 24}
    msgs = read_output(tmp_path / 'out' / 'output_bag')
    assert [_stamp(x.header) for x in msgs] == stamps
    from rosbags.highlevel import AnyReader

    with AnyReader([tmp_path / 'out' / 'output_bag']) as reader:
        conn = [c for c in reader.connections if c.topic == '/vitedge/overlay'][0]
        _, _, raw = next(reader.messages(connections=[conn]))
        img = reader.deserialize(raw, conn.msgtype)
        assert (img.encoding, img.width, img.height) == ('bgr8', 120, 90)


def test_detection_boxes_match_pipeline(acceptance_bags, tiny_detector_bundle, tmp_path):
    """The output bag holds exactly what the runtime pipeline gives on the decoded frame."""
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.runtime import Pipeline

    bag, _ = acceptance_bags['mcap']
    replay(bag, tiny_detector_bundle, '/cam/image_raw/compressed', tmp_path / 'out')
    msgs = read_output(tmp_path / 'out' / 'output_bag')
    rgb = _photos()[0]
    ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(rgb[:, :, ::-1]))
    res = Pipeline(tiny_detector_bundle, backend='onnxruntime')(
        cv2.imdecode(buf, cv2.IMREAD_COLOR)
    )
    got = msgs[0].detections
    assert len(got) == len(res.detections)
    # the random-init model scores many cells within 1e-6 of each other, so their order may differ
    # between two sessions: match each reference detection to an identical message (label, score,
    # centre)
    rows = [
        (
            d.results[0].hypothesis.class_id,
            d.results[0].hypothesis.score,
            d.bbox.center.position.x,
            d.bbox.center.position.y,
        )
        for d in got
    ]
    for ref in res.detections:
        cx, cy = (ref.box[0] + ref.box[2]) / 2, (ref.box[1] + ref.box[3]) / 2
        assert any(
            lab == ref.label
            and abs(sc - ref.score) <= 1e-6
            and abs(x - cx) <= 1e-4
            and abs(y - cy) <= 1e-4
            for lab, sc, x, y in rows
        ), ref


# -------------------------------------------------------------------------------------------------
def test_cli_subprocess_never_imports_torch(acceptance_bags, tiny_detector_bundle, tmp_path):
    bag, _ = acceptance_bags['sqlite3']
    out = tmp_path / 'cli'
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'eval_bag.py'),
            str(bag),
            '--bundle',
            str(tiny_detector_bundle),
            '--image-topic',
            '/cam/image_raw',
            '--out',
            str(out),
            '--backend',
            'onnxruntime',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert '24 frames in, 23 processed, 1 failed' in proc.stdout
    assert 'frame/s' in proc.stderr  # tqdm progress bar with the rate
    m = json.loads((out / 'metrics.json').read_text())
    assert m['torch_imported'] is False
    assert 0 < m['peak_rss_mb'] < 400


def test_replay_subprocess_helper(acceptance_bags, tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.bench import replay_subprocess

    bag, _ = acceptance_bags['mcap']
    m = replay_subprocess(
        [
            bag,
            '--bundle',
            tiny_detector_bundle,
            '--image-topic',
            '/cam/image_raw/compressed',
            '--out',
            tmp_path / 'o',
            '-q',
        ],
        timeout=300,
    )
    assert m['frames_processed'] == 24 and m['torch_imported'] is False


# -------------------------------------------------------------------------------------------------
# Bad input
def test_missing_topic_lists_existing_topics(
    acceptance_bags, tiny_detector_bundle, tmp_path, capsys
):
    from vitedge_ros.replay.cli import main
    from vitedge_ros.replay.driver import BagReplayError, replay

    bag, _ = acceptance_bags['mcap']
    with pytest.raises(BagReplayError) as err:
        replay(bag, tiny_detector_bundle, '/camera/image_raw', tmp_path / 'out')
    text = str(err.value)
    assert "'/camera/image_raw' is not in bag" in text
    for topic in (
        '/cam/image_raw (sensor_msgs/msg/Image, 24 msgs)',
        '/cam/image_raw/compressed',
        '/cam/unused_info',
    ):
        assert topic in text
    with pytest.raises(BagReplayError, match='has type std_msgs/msg/String'):
        replay(bag, tiny_detector_bundle, '/cam/unused_info', tmp_path / 'out')
    assert not (tmp_path / 'out').exists()
    rc = main(
        [
            str(bag),
            '--bundle',
            str(tiny_detector_bundle),
            '--image-topic',
            '/nope',
            '--out',
            str(tmp_path / 'out'),
        ]
    )
    err_text = capsys.readouterr().err
    assert rc == 2 and '/cam/image_raw/compressed' in err_text and 'Traceback' not in err_text


def test_unreadable_bag(tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import BagReplayError, replay

    with pytest.raises(BagReplayError, match='bag not found'):
        replay(tmp_path / 'nothing', tiny_detector_bundle, '/x', tmp_path / 'out')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(BagReplayError, match='no metadata.yaml'):
        replay(empty, tiny_detector_bundle, '/x', tmp_path / 'out')
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'metadata.yaml').write_text(
        'rosbag2_bagfile_information: {version: 9, storage_identifier: mcap, '
        'relative_file_paths: [broken_0.mcap]}\n'
    )
    (broken / 'broken_0.mcap').write_bytes(b'\x89MCAP0\r\n' + b'garbage' * 50)
    with pytest.raises(BagReplayError, match='cannot read bag'):
        replay(broken, tiny_detector_bundle, '/x', tmp_path / 'out')
    junk = tmp_path / 'junk'
    junk.mkdir()
    (junk / 'metadata.yaml').write_text(': not yaml [')
    with pytest.raises(BagReplayError, match='cannot read bag'):
        replay(junk, tiny_detector_bundle, '/x', tmp_path / 'out')


def test_bundle_that_does_not_load(acceptance_bags, tiny_classifier_bundle, tmp_path):
    from vitedge_ros.replay.driver import BagReplayError, replay

    bag, _ = acceptance_bags['mcap']
    bad = tmp_path / 'bad_bundle'
    bad.mkdir()
    (bad / 'bundle.yaml').write_text('schema_version: 1\nname: bad\n')
    with pytest.raises(BagReplayError, match='bundle .*bad_bundle does not load'):
        replay(bag, bad, '/cam/image_raw', tmp_path / 'out')
    with pytest.raises(BagReplayError, match='does not load'):
        replay(bag, tmp_path / 'no_such_bundle', '/cam/image_raw', tmp_path / 'out')
    with pytest.raises(BagReplayError, match='needs a detector'):
        replay(bag, tiny_classifier_bundle, '/cam/image_raw', tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('realtime', [False, True])
def test_interrupted_run_leaves_no_output_bag(
    acceptance_bags, tiny_detector_bundle, tmp_path, realtime
):
    from vitedge_ros.replay.driver import replay

    bag, _ = acceptance_bags['mcap']
    out = tmp_path / 'out'

    def hook(index, record):
        if index >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay(
            bag,
            tiny_detector_bundle,
            '/cam/image_raw/compressed',
            out,
            on_frame=hook,
            realtime=realtime,
            rate=20.0,
        )
    assert out.is_dir()
    assert list(out.iterdir()) == []  # no output bag, no partial directory, no metrics


def test_outputs_of_earlier_run_need_overwrite(acceptance_bags, tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import BagReplayError, replay

    bag, _ = acceptance_bags['mcap']
    out = tmp_path / 'out'
    replay(bag, tiny_detector_bundle, '/cam/image_raw', out, max_frames=3)
    with pytest.raises(BagReplayError, match='--overwrite'):
        replay(bag, tiny_detector_bundle, '/cam/image_raw', out)
    m = replay(bag, tiny_detector_bundle, '/cam/image_raw/compressed', out, overwrite=True)
    assert m['frames_processed'] == 24 and len(read_output(out / 'output_bag')) == 24


# -------------------------------------------------------------------------------------------------
# Realtime clock
class SlowPipeline:
    """Wraps a Pipeline and sleeps in inference, like a model too slow for the camera rate."""

    def __init__(self, pipe, delay_s):
        self.pipe, self.delay_s = pipe, delay_s
        self.labels, self.bundle, self.backend_name = (
            pipe.labels,
            pipe.bundle,
            'slow-' + pipe.backend_name,
        )

    def __call__(self, image):
        res = self.pipe(image)
        time.sleep(self.delay_s)
        res.timings_ms['inference'] += self.delay_s * 1000.0
        res.timings_ms['total'] += self.delay_s * 1000.0
        return res


def test_realtime_drops_frames_of_a_slow_engine(acceptance_bags, tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.runtime import Pipeline

    bag, stamps = acceptance_bags[
        'mcap'
    ]  # 20 frames/s; rate 2 -> 40 frames/s against a 60 ms engine
    slow = SlowPipeline(Pipeline(tiny_detector_bundle, backend='onnxruntime'), 0.06)
    t0 = time.perf_counter()
    m = replay(
        bag, None, '/cam/image_raw', tmp_path / 'rt', realtime=True, rate=2.0, pipeline=slow
    )
    wall = time.perf_counter() - t0
    assert m['mode'] == 'realtime' and m['rate'] == 2.0
    assert wall >= 23 / 40.0  # it followed the bag's clock
    assert m['frames_dropped'] > 0
    assert m['frames_processed'] + m['frames_dropped'] + m['frames_failed'] == m['frames_in'] == 24
    assert m['frames_processed'] < 20
    e2e, inf = m['latency_ms']['end_to_end'], m['latency_ms']['inference']
    assert e2e['n'] == m['frames_processed'] and e2e['median_ms'] >= inf['median_ms'] >= 60.0
    assert m['fps'] < 1000.0 / 60.0 + 1
    msgs = read_output(tmp_path / 'rt' / 'output_bag')
    assert len(msgs) == m['frames_processed']
    assert {_stamp(x.header) for x in msgs} <= set(stamps)


class OneSlowFrame(SlowPipeline):
    """
    A pipeline slow on one call only (a hiccup).

    Its output would otherwise be logged after later frames' outputs.
    """

    def __init__(self, pipe, delay_s, slow_call=3):
        super().__init__(pipe, 0.0)
        self.slow_delay, self.slow_call, self.calls = delay_s, slow_call, 0

    def __call__(self, image):
        self.calls += 1
        self.delay_s = self.slow_delay if self.calls == self.slow_call else 0.0
        return super().__call__(image)


def test_output_log_times_follow_processing_order(acceptance_bags, tiny_detector_bundle, tmp_path):
    from rosbags.highlevel import AnyReader
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.runtime import Pipeline

    bag, stamps = acceptance_bags['mcap']  # frames 50 ms apart; one takes 150 ms more
    slow = OneSlowFrame(Pipeline(tiny_detector_bundle, backend='onnxruntime'), 0.15)
    m = replay(bag, None, '/cam/image_raw/compressed', tmp_path / 'o', pipeline=slow)
    assert m['frames_processed'] == 24 and m['latency_ms']['end_to_end']['max_ms'] >= 150.0
    with AnyReader([tmp_path / 'o' / 'output_bag']) as reader:
        conns = [c for c in reader.connections if c.topic == '/vitedge/detections']
        rows = [
            (t, _stamp(reader.deserialize(raw, c.msgtype).header))
            for c, t, raw in reader.messages(conns)
        ]
    times = [t for t, _ in rows]
    assert [st for _, st in rows] == stamps  # published in input order
    assert all(b > a for a, b in zip(times, times[1:]))  # strictly increasing log times


def test_realtime_keeps_up_with_fast_engine(acceptance_bags, tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import replay

    bag, _ = acceptance_bags['mcap']
    m = replay(
        bag,
        tiny_detector_bundle,
        '/cam/image_raw/compressed',
        tmp_path / 'rt',
        realtime=True,
        rate=0.25,
    )
    # played at a quarter speed, 200 ms between frames against a ~2 ms pipeline (the clock is real:
    # a margin so that a loaded 2-core test machine, which measured 4 drops at full speed, does not
    # fail it)
    assert m['frames_dropped'] <= 2 and m['frames_processed'] + m['frames_dropped'] == 24
    assert m['input_fps'] == pytest.approx(20.0, rel=1e-3)
    assert m['latency_ms']['end_to_end']['median_ms'] < 200.0


# -------------------------------------------------------------------------------------------------
# Ground truth
def _evaluate_files(gt_file, det_file):
    """Run faster-coco-eval directly on JSON files; AP@0.5 per category name and overall."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt = COCO(str(gt_file))
    dt = gt.loadRes(str(det_file))
    out = {}
    cats = {c['id']: c['name'] for c in json.loads(Path(gt_file).read_text())['categories']}
    for cat_id, name in list(cats.items()) + [(None, 'all')]:
        ev = COCOeval_faster(gt, dt, 'bbox', print_function=lambda *a, **k: None)
        if cat_id is not None:
            ev.params.catIds = [cat_id]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        out[name] = (float(ev.stats[1]), float(ev.stats[0]))
    return out


def test_gt_file_and_gt_topic(tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(
        tmp_path / 'flight', 6, seed=3, width=160, height=120, storage='sqlite3'
    )
    a = replay(
        info['bag'], tiny_detector_bundle, '/camera/image_raw', tmp_path / 'a', gt=info['gt_json']
    )
    b = replay(
        info['bag'],
        tiny_detector_bundle,
        '/camera/image_raw',
        tmp_path / 'b',
        gt_topic='/ground_truth/detections',
    )
    for m in (a, b):
        acc = m['accuracy']
        assert acc['images_evaluated'] == 6 and acc['frames_without_gt'] == 0
        assert 'person' in acc['per_class']
    assert a['accuracy']['map50'] == pytest.approx(b['accuracy']['map50'], abs=1e-9)
    assert a['accuracy']['per_class']['person'] == pytest.approx(
        b['accuracy']['per_class']['person'], abs=1e-9
    )
    direct = _evaluate_files(info['gt_json'], tmp_path / 'a' / 'detections_coco.json')
    assert a['accuracy']['map50'] == pytest.approx(direct['all'][0], abs=1e-6)
    assert a['accuracy']['per_class']['person']['ap50'] == pytest.approx(
        direct['person'][0], abs=1e-6
    )
    gt_json = json.loads((tmp_path / 'a' / 'gt_coco.json').read_text())
    assert len(gt_json['images']) == 6 and all('stamp_ns' in im for im in gt_json['images'])


def test_gt_file_without_stamps_is_rejected(acceptance_bags, tiny_detector_bundle, tmp_path):
    from vitedge_ros.replay.driver import BagReplayError, replay

    bad = tmp_path / 'gt.json'
    bad.write_text(
        json.dumps(
            {
                'images': [{'id': 1, 'file_name': 'a.png'}],
                'annotations': [],
                'categories': [{'id': 1, 'name': 'person'}],
            }
        )
    )
    bag, _ = acceptance_bags['mcap']
    with pytest.raises(BagReplayError, match='stamp_ns'):
        replay(bag, tiny_detector_bundle, '/cam/image_raw', tmp_path / 'out', gt=bad)
    with pytest.raises(BagReplayError, match='ground-truth topic'):
        replay(bag, tiny_detector_bundle, '/cam/image_raw', tmp_path / 'out', gt_topic='/gt')


@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_shipped_detector_map_on_synthetic_flight(shipped_bundle, tmp_path):
    """
    Acceptance: person mAP@0.5 reported = COCO evaluator on the written JSON.

    <400 MB; no torch.
    """
    from vitedge_ros.replay.bench import replay_subprocess
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(tmp_path / 'flight', 40, seed=11, storage='mcap', compressed=True)
    out = tmp_path / 'eval'
    m = replay_subprocess(
        [
            info['bag'],
            '--bundle',
            shipped_bundle,
            '--image-topic',
            '/camera/image_raw',
            '--out',
            out,
            '--gt',
            info['gt_json'],
            '--backend',
            'onnxruntime',
            '-q',
        ],
        timeout=600,
    )
    assert m['frames_processed'] == 40 and m['frames_failed'] == 0
    assert m['torch_imported'] is False
    assert m['peak_rss_mb'] < 400
    person = m['accuracy']['per_class']['person']['ap50']
    direct = _evaluate_files(info['gt_json'], out / 'detections_coco.json')
    assert person == pytest.approx(direct['person'][0], abs=1e-6)
    assert m['accuracy']['map50'] == pytest.approx(direct['all'][0], abs=1e-6)
    assert 0.0 <= person <= 1.0


class OraclePipeline:
    """Returns noisy ground-truth boxes (random scores) plus false positives, frame after frame."""

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'oracle'

    def __init__(self, gt_json, seed=0):
        self.gt = json.loads(Path(gt_json).read_text())
        self.rng = np.random.default_rng(seed)
        self.calls = -1

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        self.calls += 1
        if self.calls == 0:  # the warm-up frame
            return FrameResult(
                [],
                [],
                dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1),
                (image.shape[1], image.shape[0]),
            )
        img = self.gt['images'][self.calls - 1]
        dets = []
        for ann in self.gt['annotations']:
            if ann['image_id'] != img['id'] or self.rng.random() < 0.2:
                continue
            x, y, w, h = ann['bbox']
            jx, jy = self.rng.normal(0, 0.15 * max(w, 1.0), 2)
            label = self.labels[ann['category_id'] - 1]
            dets.append(
                Detection(
                    ann['category_id'] - 1,
                    label,
                    float(self.rng.random()),
                    (x + jx, y + jy, x + w + jx, y + h + jy),
                )
            )
        for _ in range(2):
            x, y = self.rng.random(2) * 100
            dets.append(
                Detection(0, 'person', float(self.rng.random()), (x, y, x + 12.0, y + 20.0))
            )
        return FrameResult(
            dets,
            [],
            dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1),
            (image.shape[1], image.shape[0]),
        )


@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_map_equals_coco_evaluator_on_written_json(tmp_path):
    """A non-trivial mAP (0 < AP < 1) equals faster-coco-eval run directly on the JSON files."""
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(
        tmp_path / 'flight', 8, seed=2, width=200, height=150, storage='mcap'
    )
    m = replay(
        info['bag'],
        None,
        '/camera/image_raw',
        tmp_path / 'o',
        gt=info['gt_json'],
        pipeline=OraclePipeline(info['gt_json']),
    )
    acc = m['accuracy']
    direct = _evaluate_files(info['gt_json'], tmp_path / 'o' / 'detections_coco.json')
    assert 0.05 < acc['per_class']['person']['ap50'] < 0.999
    assert acc['per_class']['person']['ap50'] == pytest.approx(direct['person'][0], abs=1e-6)
    assert acc['per_class']['person']['ap50_95'] == pytest.approx(direct['person'][1], abs=1e-6)
    assert acc['map50'] == pytest.approx(direct['all'][0], abs=1e-6)
    assert acc['map50_95'] == pytest.approx(direct['all'][1], abs=1e-6)
    again = _evaluate_files(
        tmp_path / 'o' / 'gt_coco.json', tmp_path / 'o' / 'detections_coco.json'
    )
    assert again['all'][0] == pytest.approx(acc['map50'], abs=1e-6)
    assert '| person |' in (tmp_path / 'o' / 'metrics.md').read_text()


def test_sigint_during_realtime_run_leaves_no_bag(acceptance_bags, tiny_detector_bundle, tmp_path):
    import signal

    bag, _ = acceptance_bags['mcap']
    out = tmp_path / 'sig'
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / 'tools' / 'eval_bag.py'),
            str(bag),
            '--bundle',
            str(tiny_detector_bundle),
            '--image-topic',
            '/cam/image_raw',
            '--out',
            str(out),
            '--realtime',
            '--rate',
            '0.1',
            '--no-progress',
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out.is_dir() and any(out.iterdir())):
            time.sleep(0.05)
        assert [p.name for p in out.iterdir()][0].startswith('.output_bag.partial-')
        time.sleep(0.3)  # the run takes 12 s of bag time at rate 0.1: it is still replaying
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert 'interrupted' in err and 'Traceback' not in err
    assert list(out.iterdir()) == []


def test_corrupt_cdr_and_bad_encodings_are_counted(tiny_detector_bundle, tmp_path):
    """
    Undeserializable messages and unsupported encodings are failed frames with reasons.

    The run goes on.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores
    from vitedge_ros.replay.driver import replay

    store = get_typestore(Stores.ROS2_HUMBLE)
    Image = store.types['sensor_msgs/msg/Image']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    bag = tmp_path / 'bag'
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection('/img', Image.__msgtype__, typestore=store)
        for i, enc in enumerate(['bgr8', 'CORRUPT', '32FC1', 'mono8', 'bgr8']):
            header = Header(stamp=Time(sec=100 + i, nanosec=0), frame_id='c')
            if enc == 'CORRUPT':
                writer.write(conn, (100 + i) * 10**9, b'\x00\x01\x00\x00\xff\xff\xff\x7f')
                continue
            ch = 3 if enc == 'bgr8' else (4 if enc == '32FC1' else 1)
            msg = Image(
                header=header,
                height=8,
                width=10,
                encoding=enc,
                is_bigendian=0,
                step=10 * ch,
                data=np.full(80 * ch, 128, np.uint8),
            )
            writer.write(conn, (100 + i) * 10**9, store.serialize_cdr(msg, Image.__msgtype__))
    m = replay(bag, tiny_detector_bundle, '/img', tmp_path / 'o')
    assert (m['frames_in'], m['frames_processed'], m['frames_failed']) == (5, 3, 2)
    assert m['failure_reasons'] == {'deserialize_failed': 1, 'unsupported_encoding': 1}
    assert (
        "'32FC1'"
        in [f for f in m['failures'] if f['reason'] == 'unsupported_encoding'][0]['error']
    )
    assert [_stamp(x.header) for x in read_output(tmp_path / 'o' / 'output_bag')] == [
        100 * 10**9,
        103 * 10**9,
        104 * 10**9,
    ]


def test_storage_error_mid_bag_is_reported(
    acceptance_bags, tiny_detector_bundle, tmp_path, monkeypatch
):
    from rosbags.highlevel import AnyReader
    from vitedge_ros.replay.driver import BagReplayError, replay

    original = AnyReader.messages

    def failing(self, *args, **kwargs):
        for k, item in enumerate(original(self, *args, **kwargs)):
            if k == 4:
                raise OSError('disk I/O error')
            yield item

    monkeypatch.setattr(AnyReader, 'messages', failing)
    bag, _ = acceptance_bags['mcap']
    with pytest.raises(
        BagReplayError, match='cannot read bag .* after 4 messages: OSError: disk I/O error'
    ):
        replay(bag, tiny_detector_bundle, '/cam/image_raw', tmp_path / 'o')
    assert list((tmp_path / 'o').iterdir()) == []

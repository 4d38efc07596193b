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
eval_bag ground truth.

Frames with zero or repeated header stamps, and GT topics of older vision_msgs releases.

Issue 14 items 5 and 6. The bags are written with rosbags alone (the replay's code is not used to
build them): stamps are rewritten on a copy of a tools/make_bag.py flight, and the old
Detection2DArray definitions (vision_msgs 2.0.0 Foxy, 3.0.2 Galactic, as carried in
vitedge_ros/ros/msg/) are registered with ``rosbags.typesys.get_types_from_msg`` and written with
their definitions into sqlite3 and mcap bags.
"""

import json
from pathlib import Path
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MSG_DIR = ROOT / 'vitedge_ros' / 'ros' / 'msg'
GT_TOPIC = '/ground_truth/detections'
IMAGE_TOPIC = '/camera/image_raw'


# -------------------------------------------------------------------------------------------------
# helpers
def rewrite_stamps(src: Path, dst: Path, stamp_of) -> None:
    """
    Copy a bag, replacing every header stamp by ``stamp_of(topic, k)`` ns.

    ``k`` is the message index on that topic.
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
            }
            seen = {}
            for conn, log_ns, raw in reader.messages():
                msg = reader.deserialize(raw, conn.msgtype)
                k = seen[conn.topic] = seen.get(conn.topic, -1) + 1
                ns = int(stamp_of(conn.topic, k))
                if hasattr(
                    msg, 'header'
                ):  # TFMessage has none: /tf and /tf_static are copied as they are
                    msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 10**9, ns % 10**9
                writer.write(conns[conn.id], log_ns, store.serialize_cdr(msg, conn.msgtype))


def run_eval_bag(*args):
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'eval_bag.py')]
        + [str(a) for a in args]
        + ['--no-progress', '--backend', 'onnxruntime'],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc


class EchoPipeline:
    """
    Returns frame k's ground-truth boxes (from the make_bag COCO file, by call order).

    Moved and rescored.

    Deterministic, so the mAP it gets is a fixed number: boxes are shifted by a fraction of their
    size that depends on the box, and one false person per frame is added with a high score.
    """

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'echo'

    def __init__(self, gt_json):
        self.gt = json.loads(Path(gt_json).read_text())
        self.calls = -1

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        self.calls += 1
        times = dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1)
        if self.calls == 0:  # the warm-up frame
            return FrameResult([], [], times, (image.shape[1], image.shape[0]))
        img = self.gt['images'][self.calls - 1]
        dets = []
        anns = [a for a in self.gt['annotations'] if a['image_id'] == img['id']]
        for j, ann in enumerate(anns):
            x, y, w, h = ann['bbox']
            shift = 0.08 * ((j * 7) % 5)  # 0 .. 0.32 of the box size
            dets.append(
                Detection(
                    ann['category_id'] - 1,
                    self.labels[ann['category_id'] - 1],
                    0.3 + 0.6 * ((j * 3) % 7) / 7.0,
                    (x + shift * w, y + shift * h, x + w + shift * w, y + h + shift * h),
                )
            )
        dets.append(Detection(0, 'person', 0.8, (2.0, 2.0, 14.0, 30.0)))
        return FrameResult(dets, [], times, (image.shape[1], image.shape[0]))


@pytest.fixture(scope='module')
def flight6(tmp_path_factory):
    """
    Write a 6-frame flight with tools/make_bag.py and copies with zero / repeated stamps.

    make_bag defaults otherwise: seed 0, 640x480.
    """
    pytest.importorskip('rosbags', reason='needs rosbags (tools/make_bag.py writes the bag)')
    root = tmp_path_factory.mktemp('flight6')
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'make_bag.py'),
            '--out',
            str(root / 'flight'),
            '--frames',
            '6',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    rewrite_stamps(root / 'flight', root / 'zero', lambda topic, k: 0)
    # frames 2 and 3 share a stamp; the ground-truth topic keeps one entry per frame
    start = 1700000000 * 10**9
    rewrite_stamps(
        root / 'flight',
        root / 'dup',
        lambda topic, k: start + min(k, 2) * 10**8 if k != 3 else start + 2 * 10**8,
    )
    return root


def _acc(out):
    return json.loads((Path(out) / 'metrics.json').read_text())['accuracy']


# ------------------------------------------------------------------ item 5: stamps do not identify
@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_zero_stamps_score_like_proper_stamps_with_shipped_detector(
    flight6, shipped_bundle, tmp_path
):
    """
    On the issue's 6-frame flight, stamps at 0 score like proper stamps.

    All 6 frames are scored in both cases.
    """
    good = run_eval_bag(
        flight6 / 'flight',
        '--bundle',
        shipped_bundle,
        '--image-topic',
        IMAGE_TOPIC,
        '--gt-topic',
        GT_TOPIC,
        '--out',
        tmp_path / 'good',
    )
    zero = run_eval_bag(
        flight6 / 'zero',
        '--bundle',
        shipped_bundle,
        '--image-topic',
        IMAGE_TOPIC,
        '--gt-topic',
        GT_TOPIC,
        '--out',
        tmp_path / 'zero',
    )
    assert good.returncode == 0 and zero.returncode == 0, zero.stderr
    a, b = _acc(tmp_path / 'good'), _acc(tmp_path / 'zero')
    assert a['matched_by'] == 'stamp' and b['matched_by'] == 'log_time'
    assert a['images_evaluated'] == b['images_evaluated'] == 6 and b['frames_without_gt'] == 0
    assert b['map50'] == pytest.approx(a['map50'], abs=1e-12)
    assert b['map50_95'] == pytest.approx(a['map50_95'], abs=1e-12)
    assert b['per_class'] == a['per_class']
    assert a['map50'] > 0.5  # before the fix the zero-stamp run scored one frame against all boxes
    warnings = [ln for ln in zero.stderr.splitlines() if 'matched to the frames' in ln]
    assert len(warnings) == 1 and 'bag log time' in warnings[0] and 'all 6 frames' in warnings[0]
    assert 'Traceback' not in zero.stderr and 'matched to the frames' not in good.stderr


@pytest.mark.parametrize(
    'bag,source,key',
    [
        ('zero', 'topic', 'log_time'),  # GT topic recorded with the images: bag log time
        ('zero', 'json', 'order'),  # COCO JSON with the original stamps: receive order
        ('dup', 'json', 'order'),  # two frames share a stamp: no frame may be dropped
        ('dup', 'topic', 'log_time'),
    ],
)
@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_echo_pipeline_value_under_each_key(flight6, tmp_path, bag, source, key):
    """A fixed detector's exact mAP on the 6-frame flight does not depend on the matching key."""
    from vitedge_ros.replay.driver import replay

    gt_json = flight6 / 'flight_gt.json'
    kw = {'gt_topic': GT_TOPIC} if source == 'topic' else {'gt': gt_json}
    ref = replay(
        flight6 / 'flight',
        None,
        IMAGE_TOPIC,
        tmp_path / 'ref',
        pipeline=EchoPipeline(gt_json),
        **kw,
    )
    m = replay(
        flight6 / bag, None, IMAGE_TOPIC, tmp_path / 'o', pipeline=EchoPipeline(gt_json), **kw
    )
    a, b = ref['accuracy'], m['accuracy']
    assert a['matched_by'] == 'stamp' and b['matched_by'] == key and b['match_warning']
    assert b['images_evaluated'] == 6 and b['frames_without_gt'] == 0
    assert a['map50'] == pytest.approx(
        0.353593, abs=1e-6
    )  # the default flight since issue 15 (15 m, nadir)
    assert b['map50'] == pytest.approx(a['map50'], abs=1e-12) and b['map50_95'] == pytest.approx(
        a['map50_95']
    )
    gt_written = json.loads((tmp_path / 'o' / 'gt_coco.json').read_text())
    assert len(gt_written['annotations']) == len(json.loads(gt_json.read_text())['annotations'])


def test_stamps_that_identify_nothing_exit_2(flight6, tmp_path):
    """
    Zero stamps, and ground truth that can be matched by neither log time nor order.

    One line, exit 2.
    """
    gt = json.loads((flight6 / 'flight_gt.json').read_text())
    gt['images'] = gt['images'][:5]
    gt['annotations'] = [a for a in gt['annotations'] if a['image_id'] <= 5]
    short = tmp_path / 'five.json'
    short.write_text(json.dumps(gt))
    out = tmp_path / 'o'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'vitedge_ros.replay.cli',
            str(flight6 / 'zero'),
            '--bundle',
            str(ROOT / 'models' / 'aerial_vit_tiny'),
            '--image-topic',
            IMAGE_TOPIC,
            '--gt',
            str(short),
            '--out',
            str(out),
            '--no-progress',
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(__import__('os').environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith('eval_bag: error: ground truth')
    assert 'do not identify the frames (all 6 frames carry the same value 0)' in lines[0]
    assert '5 entries, 6 frames' in lines[0] and 'Traceback' not in proc.stderr
    assert not (out / 'output_bag').exists() and not (out / 'metrics.json').exists()


def test_match_frames_rules():
    from vitedge_ros.eval.ground_truth import GroundTruthError
    from vitedge_ros.replay.ground_truth import match_frames

    gt = [{'id': 10, 'stamp_ns': 300}, {'id': 11, 'stamp_ns': 100}, {'id': 12, 'stamp_ns': 200}]
    m = match_frames([(0, 100, 5), (1, 200, 6), (2, 300, 7)], 3, gt, '/t', 'g')
    assert m.key == 'stamp' and m.image_of == {0: 11, 1: 12, 2: 10} and m.warning is None
    # frames 1 and 2 share a stamp: receive order, entries in stamp order
    m = match_frames([(0, 100, 5), (1, 200, 6), (2, 200, 7)], 3, gt, '/t', 'g')
    assert m.key == 'order' and m.image_of == {0: 11, 1: 12, 2: 10}
    assert '2 of 3 frames repeat a value (2 at 200)' in m.warning
    # ground truth that repeats stamps but carries log times
    gt2 = [{'id': 1, 'stamp_ns': 0, 'log_time_ns': 5}, {'id': 2, 'stamp_ns': 0, 'log_time_ns': 7}]
    m = match_frames([(0, 100, 5), (1, 200, 6), (2, 300, 7)], 3, gt2, '/t', 'g')
    assert m.key == 'log_time' and m.image_of == {0: 1, 2: 2}
    with pytest.raises(
        GroundTruthError,
        match=r'1 of 1 ground-truth entries have no stamp_ns;.*1 entries, 3 frames',
    ):
        match_frames([(0, 100, 5), (1, 200, 6), (2, 300, 7)], 3, [{'id': 1}], '/t', 'g')


@pytest.mark.needs('rosbags')
def test_zero_stamped_masks_are_matched_in_order(tmp_path):
    """Segmentation: frames at stamp 0 score against the k-th mask, as with proper stamps."""
    import shutil

    from vitedge_ros.data.synthetic import SEG_CLASSES
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(tmp_path / 'bag', 4, seed=3, width=160, height=120, masks=True)
    rewrite_stamps(tmp_path / 'bag', tmp_path / 'zero', lambda topic, k: 0)
    masks = Path(info['masks_dir'])

    class Seg:
        labels = list(SEG_CLASSES)
        backend_name = 'masks'

        def __init__(self):
            self.files = sorted(masks.glob('*.png'))
            self.calls = -1

        def __call__(self, image):
            import cv2
            from vitedge_ros.runtime import FrameResult

            self.calls += 1
            k = max(0, self.calls - 1)
            lab = cv2.imread(str(self.files[k]), cv2.IMREAD_UNCHANGED).astype(np.uint8)
            lab[:, :40] = 0  # wrong on purpose: a quarter of each frame called background
            return FrameResult(
                [],
                [],
                dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1),
                (image.shape[1], image.shape[0]),
                lab,
            )

    class Bundle:
        task = 'segment'
        name = 'masks'

    def pipe():
        p = Seg()
        p.bundle = Bundle()
        return p

    a = replay(tmp_path / 'bag', None, IMAGE_TOPIC, tmp_path / 'a', pipeline=pipe(), gt=masks)[
        'accuracy'
    ]
    b = replay(tmp_path / 'zero', None, IMAGE_TOPIC, tmp_path / 'b', pipeline=pipe(), gt=masks)[
        'accuracy'
    ]
    assert a['matched_by'] == 'stamp' and b['matched_by'] == 'order'
    assert a['frames_evaluated'] == b['frames_evaluated'] == 4
    assert b['miou'] == pytest.approx(a['miou'], abs=1e-12) and 0.3 < a['miou'] < 0.999
    shutil.rmtree(str(tmp_path / 'a'))


# ---------------------------------------------------------- item 6: older vision_msgs ground truth
def _typestore(distro):
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(
        {'foxy': Stores.ROS2_FOXY, 'galactic': Stores.ROS2_GALACTIC, 'humble': Stores.ROS2_HUMBLE}[
            distro
        ]
    )
    folder = MSG_DIR / ('vision_msgs' if distro == 'humble' else 'vision_msgs_' + distro)
    typs = {}
    for f in sorted(folder.glob('*.msg')):
        typs.update(get_types_from_msg(f.read_text(), 'vision_msgs/msg/' + f.stem))
    store.register(typs)
    return store


def _gt_message(store, distro, stamp, label='person'):
    """
    Return one Detection2DArray in ``distro``'s layout.

    It holds a box centred on (40, 30), 20 x 10 pixels, class ``label``.
    """
    t = store.types
    time = t['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9)
    header = t['std_msgs/msg/Header'](stamp=time, frame_id='cam')
    pose = t['geometry_msgs/msg/PoseWithCovariance'](
        pose=t['geometry_msgs/msg/Pose'](
            position=t['geometry_msgs/msg/Point'](x=0.0, y=0.0, z=0.0),
            orientation=t['geometry_msgs/msg/Quaternion'](x=0.0, y=0.0, z=0.0, w=1.0),
        ),
        covariance=np.zeros(36),
    )
    if distro == 'humble':
        centre = t['vision_msgs/msg/Pose2D'](
            position=t['vision_msgs/msg/Point2D'](x=40.0, y=30.0), theta=0.0
        )
    else:
        centre = t['geometry_msgs/msg/Pose2D'](x=40.0, y=30.0, theta=0.0)
    bbox = t['vision_msgs/msg/BoundingBox2D'](center=centre, size_x=20.0, size_y=10.0)
    hyp_t = t['vision_msgs/msg/ObjectHypothesisWithPose']
    if distro == 'foxy':
        results = [
            hyp_t(id=label, score=0.9, pose=pose),
            hyp_t(id='vehicle', score=0.1, pose=pose),
        ]
        empty = t['sensor_msgs/msg/Image'](
            header=header,
            height=0,
            width=0,
            encoding='',
            is_bigendian=0,
            step=0,
            data=np.zeros(0, np.uint8),
        )
        det = t['vision_msgs/msg/Detection2D'](
            header=header,
            results=results,
            bbox=bbox,
            source_img=empty,
            is_tracking=False,
            tracking_id='',
        )
    else:
        oh = t['vision_msgs/msg/ObjectHypothesis']
        results = [
            hyp_t(hypothesis=oh(class_id=label, score=0.9), pose=pose),
            hyp_t(hypothesis=oh(class_id='vehicle', score=0.1), pose=pose),
        ]
        det = t['vision_msgs/msg/Detection2D'](header=header, results=results, bbox=bbox, id='')
    return t['vision_msgs/msg/Detection2DArray'](header=header, detections=[det])


def write_gt_bag(path, distro, storage, strip_definitions=False, frames=3):
    """Images (80x60 bgr8) + a Detection2DArray GT topic recorded with ``distro``'s vision_msgs."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = _typestore(distro)
    t = store.types
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    writer = Writer(path, version=9, storage_plugin=plugin)
    with writer:
        img_c = writer.add_connection(IMAGE_TOPIC, 'sensor_msgs/msg/Image', typestore=store)
        gt_c = writer.add_connection(GT_TOPIC, 'vision_msgs/msg/Detection2DArray', typestore=store)
        for k in range(frames):
            stamp = 1650000000 * 10**9 + k * 10**8
            header = t['std_msgs/msg/Header'](
                stamp=t['builtin_interfaces/msg/Time'](sec=stamp // 10**9, nanosec=stamp % 10**9),
                frame_id='cam',
            )
            img = t['sensor_msgs/msg/Image'](
                header=header,
                height=60,
                width=80,
                encoding='bgr8',
                is_bigendian=0,
                step=240,
                data=np.full(60 * 240, 90 + k, np.uint8),
            )
            writer.write(img_c, stamp, store.serialize_cdr(img, 'sensor_msgs/msg/Image'))
            writer.write(
                gt_c,
                stamp + 1000,
                store.serialize_cdr(
                    _gt_message(store, distro, stamp), 'vision_msgs/msg/Detection2DArray'
                ),
            )
    if (
        strip_definitions
    ):  # what Foxy / Humble rosbag2 sqlite3 bags look like: no definitions at all
        db = next(Path(path).glob('*.db3'))
        with sqlite3.connect(str(db)) as con:
            con.execute('DELETE FROM message_definitions')
    return path


class BoxPipeline:
    """Detects exactly the ground-truth box (xyxy 30,25 - 50,35) on every frame."""

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'box'

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        return FrameResult(
            [Detection(0, 'person', 0.9, (30.0, 25.0, 50.0, 35.0))],
            [],
            dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1),
            (image.shape[1], image.shape[0]),
        )


@pytest.mark.parametrize(
    'distro,storage,strip,definition',
    [
        ('foxy', 'mcap', False, 'vision_msgs 2.x (Foxy)'),
        ('foxy', 'sqlite3', False, 'vision_msgs 2.x (Foxy)'),
        ('foxy', 'sqlite3', True, 'vision_msgs 2.x (Foxy)'),
        ('galactic', 'mcap', False, 'vision_msgs 3.x (Galactic)'),
        ('galactic', 'sqlite3', False, 'vision_msgs 3.x (Galactic)'),
        ('galactic', 'sqlite3', True, 'vision_msgs 4.x (Humble and later)'),  # same bytes as 4.x
        ('humble', 'mcap', False, 'vision_msgs 4.x (Humble and later)'),
    ],
)
@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_old_vision_msgs_ground_truth_is_read(tmp_path, distro, storage, strip, definition):
    from vitedge_ros.replay.driver import replay

    bag = write_gt_bag(tmp_path / 'bag', distro, storage, strip_definitions=strip)
    m = replay(bag, None, IMAGE_TOPIC, tmp_path / 'o', gt_topic=GT_TOPIC, pipeline=BoxPipeline())
    acc = m['accuracy']
    assert acc['gt_definition'] == definition and acc['gt_messages_unreadable'] == 0
    gt = json.loads((tmp_path / 'o' / 'gt_coco.json').read_text())
    assert [a['bbox'] for a in gt['annotations']] == [[30.0, 25.0, 20.0, 10.0]] * 3
    assert {a['category_id'] for a in gt['annotations']} == {1}  # person: the best hypothesis
    assert acc['images_evaluated'] == 3 and acc['map50'] == pytest.approx(1.0)


@pytest.mark.needs('rosbags')
def test_unreadable_ground_truth_definition_is_one_line(tmp_path):
    """
    A Detection2DArray whose bbox centre has unknown fields.

    Exit 2, one line naming topic and definition.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    store = get_typestore(Stores.ROS2_HUMBLE)
    defs = {
        'vision_msgs/msg/Detection2DArray': 'std_msgs/Header header\nDetection2D[] detections\n',
        'vision_msgs/msg/Detection2D': 'std_msgs/Header header\nBoundingBox2D bbox\nstring[] '
        'results\n',
        'vision_msgs/msg/BoundingBox2D': 'Corner center\nfloat64 size_x\nfloat64 size_y\n',
        'vision_msgs/msg/Corner': 'float64 u\nfloat64 v\n',
    }
    typs = {}
    for name, text in defs.items():
        typs.update(get_types_from_msg(text, name))
    store.register(typs)
    t = store.types
    bag = tmp_path / 'bag'
    writer = Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP)
    with writer:
        img_c = writer.add_connection(IMAGE_TOPIC, 'sensor_msgs/msg/Image', typestore=store)
        gt_c = writer.add_connection(GT_TOPIC, 'vision_msgs/msg/Detection2DArray', typestore=store)
        header = t['std_msgs/msg/Header'](
            stamp=t['builtin_interfaces/msg/Time'](sec=1, nanosec=0), frame_id='c'
        )
        img = t['sensor_msgs/msg/Image'](
            header=header,
            height=6,
            width=8,
            encoding='mono8',
            is_bigendian=0,
            step=8,
            data=np.zeros(48, np.uint8),
        )
        writer.write(img_c, 10**9, store.serialize_cdr(img, 'sensor_msgs/msg/Image'))
        bbox = t['vision_msgs/msg/BoundingBox2D'](
            center=t['vision_msgs/msg/Corner'](u=1.0, v=2.0), size_x=1.0, size_y=1.0
        )
        det = t['vision_msgs/msg/Detection2D'](header=header, bbox=bbox, results=[])
        msg = t['vision_msgs/msg/Detection2DArray'](header=header, detections=[det])
        writer.write(gt_c, 10**9, store.serialize_cdr(msg, 'vision_msgs/msg/Detection2DArray'))
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'vitedge_ros.replay.cli',
            str(bag),
            '--bundle',
            str(ROOT / 'models' / 'aerial_vit_tiny'),
            '--image-topic',
            IMAGE_TOPIC,
            '--gt-topic',
            GT_TOPIC,
            '--out',
            str(tmp_path / 'o'),
            '--no-progress',
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(__import__('os').environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(
        'eval_bag: error: ground-truth topic {}: cannot read its '
        'vision_msgs/msg/Detection2DArray definition'.format(GT_TOPIC)
    )
    assert 'vision_msgs/msg/Corner(u, v)' in lines[0] and 'Foxy' in lines[0]


def test_bad_gt_files_are_one_line(tmp_path, flight6):
    """
    --gt errors: a VisDrone .txt file, malformed JSON, a COCO file with a broken box.

    Exit 2, one line.
    """
    txt = tmp_path / '0000001.txt'
    txt.write_text('10,10,5,5,1,1,0,0\n')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    badbox = tmp_path / 'badbox.json'
    badbox.write_text(
        json.dumps(
            {
                'images': [{'id': 1, 'stamp_ns': 1}],
                'categories': [{'id': 1, 'name': 'person'}],
                'annotations': [{'image_id': 1, 'category_id': 1, 'bbox': [1, 2, 3]}],
            }
        )
    )
    expect = {
        txt: 'one VisDrone-DET annotation file; give the folder',
        broken: 'cannot read ground truth',
        badbox: 'annotations[0].bbox must be 4 numbers',
    }
    for path, text in expect.items():
        proc = subprocess.run(
            [
                sys.executable,
                '-m',
                'vitedge_ros.replay.cli',
                str(flight6 / 'flight'),
                '--bundle',
                str(ROOT / 'models' / 'aerial_vit_tiny'),
                '--image-topic',
                IMAGE_TOPIC,
                '--gt',
                str(path),
                '--out',
                str(tmp_path / path.stem),
                '--no-progress',
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(__import__('os').environ, PYTHONPATH=str(ROOT)),
        )
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and text in lines[0], proc.stderr

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

"""tools/make_bag.py: synthetic flight bags with ground truth, readable by rosbags alone."""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.needs('rosbags')
ROOT = Path(__file__).resolve().parents[1]


def _stamp(header):
    return header.stamp.sec * 10**9 + header.stamp.nanosec


@pytest.mark.parametrize(
    'storage,compression', [('sqlite3', 'file'), ('mcap', 'storage'), ('mcap', 'none')]
)
def test_synthetic_bag_reads_back_without_project_types(tmp_path, storage, compression):
    from rosbags.highlevel import AnyReader
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(
        tmp_path / 'flight',
        4,
        seed=1,
        width=160,
        height=120,
        fps=5.0,
        storage=storage,
        compressed=True,
        compression=compression,
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]
    gt = json.loads(Path(info['gt_json']).read_text())
    assert Path(info['gt_json']) == tmp_path / 'flight_gt.json'
    assert [c['name'] for c in gt['categories']] == ['person', 'vehicle', 'obstacle']
    stamps = [im['stamp_ns'] for im in gt['images']]
    assert [im['file_name'] for im in gt['images']] == ['{}.png'.format(s) for s in stamps]
    assert np.all(np.diff(stamps) == 200_000_000)
    with AnyReader([tmp_path / 'flight']) as reader:  # embedded definitions only
        topics = {c.topic: c for c in reader.connections}
        assert {t: c.msgtype for t, c in topics.items()} == {
            '/camera/image_raw': 'sensor_msgs/msg/Image',
            '/camera/image_raw/compressed': 'sensor_msgs/msg/CompressedImage',
            '/camera/camera_info': 'sensor_msgs/msg/CameraInfo',
            '/tf': 'tf2_msgs/msg/TFMessage',
            '/tf_static': 'tf2_msgs/msg/TFMessage',
            '/ground_truth/persons': 'geometry_msgs/msg/PoseArray',
            '/ground_truth/obstacles': 'geometry_msgs/msg/PoseArray',
            '/ground_truth/clear_path': 'vision_msgs/msg/Classification',
            '/ground_truth/detections': 'vision_msgs/msg/Detection2DArray',
        }
        msgs = {t: [] for t in topics}
        for conn, ts, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            stamp = (
                _stamp(msg.transforms[0].header)
                if conn.msgtype.startswith('tf2')
                else _stamp(msg.header)
            )
            assert stamp == ts
            msgs[conn.topic].append(msg)
    assert len(msgs.pop('/tf_static')) == 1
    assert all(len(v) == 4 for v in msgs.values())
    img = msgs['/camera/image_raw'][0]
    assert (img.encoding, img.width, img.height, img.step) == ('bgr8', 160, 120, 480)
    info_msg = msgs['/camera/camera_info'][0]
    assert info_msg.k[0] > 0 and info_msg.k[8] == 1.0 and info_msg.width == 160
    assert [_stamp(m.header) for m in msgs['/ground_truth/detections']] == stamps
    # the GT topic holds the same boxes as the JSON
    for k, msg in enumerate(msgs['/ground_truth/detections']):
        anns = [a for a in gt['annotations'] if a['image_id'] == gt['images'][k]['id']]
        assert len(msg.detections) == len(anns)
        for det, ann in zip(msg.detections, anns):
            assert (
                det.results[0].hypothesis.class_id
                == gt['categories'][ann['category_id'] - 1]['name']
            )
            x, y, w, h = ann['bbox']
            assert det.bbox.size_x == pytest.approx(
                w
            ) and det.bbox.center.position.x == pytest.approx(x + w / 2)
    assert (
        sum(len(m.detections) for m in msgs['/ground_truth/detections'])
        == len(gt['annotations'])
        > 0
    )


def test_same_seed_same_flight(tmp_path):
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    a = write_synthetic_bag(tmp_path / 'a', 2, seed=5, width=96, height=72)
    b = write_synthetic_bag(tmp_path / 'b', 2, seed=5, width=96, height=72)
    assert Path(a['gt_json']).read_text().replace('flight a', '') == Path(
        b['gt_json']
    ).read_text().replace('flight b', '')


def test_make_bag_cli(tmp_path):
    out = tmp_path / 'demo'
    cmd = [
        sys.executable,
        str(ROOT / 'tools' / 'make_bag.py'),
        '--out',
        str(out),
        '--frames',
        '3',
        '--width',
        '128',
        '--height',
        '96',
        '--storage',
        'sqlite3',
        '--compressed',
        '--no-raw',
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'ground truth' in proc.stdout and (tmp_path / 'demo_gt.json').is_file()
    assert list(out.glob('*.db3')) and (out / 'metadata.yaml').is_file()
    meta = (out / 'metadata.yaml').read_text()
    assert '/camera/image_raw/compressed' in meta and 'name: /camera/image_raw\n' not in meta
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and 'exists already' in again.stderr
    assert subprocess.run(cmd + ['--overwrite'], capture_output=True, timeout=120).returncode == 0


def test_make_bag_rejects_bad_options(tmp_path):
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    with pytest.raises(ValueError, match='nothing to write'):
        write_synthetic_bag(tmp_path / 'x', 2, raw=False, compressed=False)
    with pytest.raises(ValueError, match='needs storage mcap'):
        write_synthetic_bag(tmp_path / 'x', 2, storage='sqlite3', compression='storage')
    assert not (tmp_path / 'x').exists()

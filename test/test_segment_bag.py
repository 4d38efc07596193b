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
eval_bag with a segmentation bundle.

Label maps in the output bag, mIoU against mask folders, bad masks.
"""

import json
import shutil

import cv2
import numpy as np
import pytest
from vitedge_ros.data.synthetic import SEG_CLASSES
from vitedge_ros.replay.cli import main as eval_bag_main
from vitedge_ros.replay.driver import BagReplayError, replay
from vitedge_ros.replay.outputs import SEGMENTATION_TOPIC
from vitedge_ros.replay.synthetic import IMAGE_TOPIC, write_synthetic_bag

pytestmark = pytest.mark.needs('rosbags', 'torch', 'timm', 'onnx')


@pytest.fixture(scope='module')
def seg_bundle(tmp_path_factory):
    from test_segment_model import SPEC, tiny_segmenter
    from vitedge_ros.export import export_bundle
    from vitedge_ros.models import SegmenterExport

    out = tmp_path_factory.mktemp('bundles') / 'tiny_seg'
    export_bundle(
        SegmenterExport(tiny_segmenter()),
        out,
        name='tiny_seg',
        task='segment',
        labels=list(SEG_CLASSES),
        input_spec=SPEC,
        decoder={'type': 'segmenter'},
        output_names=['logits'],
    )
    return out


@pytest.fixture(scope='module')
def flight(tmp_path_factory):
    root = tmp_path_factory.mktemp('flight')
    info = write_synthetic_bag(root / 'bag', 4, seed=3, width=160, height=120, masks=True)
    return root, info


def _read_output(out_dir):
    from rosbags.rosbag2 import Reader
    from vitedge_ros.ros.rosbags_types import rosbags_types

    store, _ = rosbags_types()
    with Reader(out_dir / 'output_bag') as reader:
        conns = [c for c in reader.connections if c.topic == SEGMENTATION_TOPIC]
        return [
            store.deserialize_cdr(raw, c.msgtype)
            for c, _, raw in reader.messages(connections=conns)
        ]


def test_replay_scores_miou_and_writes_label_maps(seg_bundle, flight, tmp_path):
    root, info = flight
    masks = sorted((root / 'bag_masks').glob('*.png'))
    assert len(masks) == 4 and info['masks_dir'] == str(root / 'bag_masks')
    m = replay(
        root / 'bag',
        seg_bundle,
        IMAGE_TOPIC,
        tmp_path / 'out',
        backend='onnxruntime',
        gt=root / 'bag_masks',
        overlay=True,
    )
    assert m['task'] == 'segment' and m['frames_processed'] == 4
    acc = m['accuracy']
    assert (
        acc['frames_evaluated'] == 4
        and acc['frames_without_gt'] == 0
        and 0.0 <= acc['miou'] <= 1.0
    )
    assert set(acc['per_class_iou']) == set(SEG_CLASSES) and acc['pixels'] == 4 * 160 * 120
    assert m['output_topics'][SEGMENTATION_TOPIC] == 4 and m['torch_imported'] in (True, False)
    # the node's landing-zone outputs too (issue 15: every output in the output bag), no detector
    # outputs
    topics = m['output_topics']
    assert topics['/vitedge/landing_zone'] == topics['/vitedge/landing_zone/safe'] == 4
    assert not {'/vitedge/detections', '/vitedge/targets', '/vitedge/clear_path'} & set(topics)
    from rosbags.highlevel import AnyReader

    with AnyReader([tmp_path / 'out' / 'output_bag']) as reader:
        conns = [c for c in reader.connections if c.topic == '/vitedge/landing_zone/safe']
        verdicts = [
            reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=conns)
        ]
    assert {v.results[0].class_id for v in verdicts} <= {'safe', 'unsafe'}
    msgs = _read_output(tmp_path / 'out')
    assert [(x.encoding, x.width, x.height) for x in msgs] == [('mono8', 160, 120)] * 4
    assert int(np.asarray(msgs[0].data).max()) < len(SEG_CLASSES)
    assert 'mIoU' in (tmp_path / 'out' / 'metrics.md').read_text()
    saved = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    assert saved['accuracy']['miou'] == acc['miou']


def test_bad_masks_stop_with_clear_errors(seg_bundle, flight, tmp_path):
    root, _ = flight
    bad = tmp_path / 'bad_size'
    shutil.copytree(root / 'bag_masks', bad)
    first = sorted(bad.glob('*.png'))[1]
    cv2.imwrite(str(first), np.zeros((120, 150), np.uint8))
    with pytest.raises(
        BagReplayError,
        match=r'{}: size 150x120 \(WxH\) does not match the image size 160x120'.format(first.name),
    ):
        replay(
            root / 'bag', seg_bundle, IMAGE_TOPIC, tmp_path / 'o1', backend='onnxruntime', gt=bad
        )
    bad_ids = tmp_path / 'bad_ids'
    shutil.copytree(root / 'bag_masks', bad_ids)
    cv2.imwrite(str(sorted(bad_ids.glob('*.png'))[0]), np.full((120, 160), 42, np.uint8))
    rc = eval_bag_main(
        [
            str(root / 'bag'),
            '--bundle',
            str(seg_bundle),
            '--image-topic',
            IMAGE_TOPIC,
            '--out',
            str(tmp_path / 'o2'),
            '--gt',
            str(bad_ids),
            '--backend',
            'onnxruntime',
            '-q',
        ]
    )
    assert rc == 2 and not (tmp_path / 'o2' / 'output_bag').exists()
    with pytest.raises(BagReplayError, match=r'unknown class ids \[42\]'):
        replay(
            root / 'bag',
            seg_bundle,
            IMAGE_TOPIC,
            tmp_path / 'o3',
            backend='onnxruntime',
            gt=bad_ids,
        )
    with pytest.raises(BagReplayError, match='not COCO boxes'):
        replay(
            root / 'bag',
            seg_bundle,
            IMAGE_TOPIC,
            tmp_path / 'o4',
            backend='onnxruntime',
            gt=root / 'bag_gt.json',
        )
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BagReplayError, match='no ground-truth masks'):
        replay(
            root / 'bag',
            seg_bundle,
            IMAGE_TOPIC,
            tmp_path / 'o5',
            backend='onnxruntime',
            gt=tmp_path / 'empty',
        )


def test_detector_refuses_mask_folder(tiny_detector_bundle, flight, tmp_path):
    root, _ = flight
    with pytest.raises(
        BagReplayError, match='a folder of masks is ground truth for segmentation bundles'
    ):
        replay(
            root / 'bag',
            tiny_detector_bundle,
            IMAGE_TOPIC,
            tmp_path / 'o',
            backend='onnxruntime',
            gt=root / 'bag_masks',
        )

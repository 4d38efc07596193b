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
Compression recipe on a segmenter.

Prune + distilled fine-tune + low-rank and INT8 branches, mIoU in report.
"""

import json

import pytest
import torch
from vitedge_ros.checkpoint import save_checkpoint
from vitedge_ros.compress.runner import run_recipe
from vitedge_ros.data.synthetic import SEG_CLASSES
from vitedge_ros.models import create_model
from vitedge_ros.runtime import load_bundle, Pipeline

INPUT = {
    'width': 64,
    'height': 48,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.25] * 3,
    'resize': 'letterbox',
}


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp('segcx')
    torch.manual_seed(0)
    model = create_model(
        'vit_segmenter',
        task='segment',
        num_classes=7,
        img_size=(48, 64),
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=4,
        head_channels=16,
        detail_channels=8,
        conv_stem=True,
    )
    ckpt = save_checkpoint(
        tmp / 'seg.pt',
        model,
        name='tiny_seg',
        task='segment',
        labels=list(SEG_CLASSES),
        input_spec=INPUT,
        decoder={'type': 'segmenter', 'upsample': 'linear'},
        arch='vit_segmenter',
        model_config={'arch': 'vit_segmenter'},
    )
    recipe = {
        'name': 'tiny_seg',
        'seed': 0,
        'model': {'arch': 'vit_segmenter', 'task': 'segment', 'checkpoint': str(ckpt)},
        'data': {
            'name': 'synthetic-aerial',
            'train_size': 6,
            'val_size': 3,
            'seed': 0,
            'val_seed': 500,
            'width': 128,
            'height': 96,
            'cache_dir': str(tmp / 'cache'),
        },
        'measure': {'latency_runs': 3, 'warmup': 1, 'threads': 1},
        'stages': [
            {
                'prune': {
                    'ratio': 0.5,
                    'importance': 'magnitude',
                    'heads': True,
                    'mlp': True,
                    'embed': True,
                    'embed_ratio': 0.25,
                }
            },
            {
                'finetune': {
                    'epochs': 1,
                    'batch_size': 3,
                    'lr': 1e-3,
                    'distill': {
                        'type': 'logit',
                        'temperature': 2.0,
                        'alpha': 0.5,
                        'features': [
                            {'student': 'backbone.blocks.1', 'teacher': 'backbone.blocks.1'}
                        ],
                    },
                }
            },
            {'lowrank': {'energy': 0.9, 'branch': True}},
            {
                'quantize': {
                    'mode': 'int8',
                    'calib_batches': 1,
                    'calib_batch_size': 3,
                    'sensitivity': False,
                    'also': ['fp16'],
                    'branch': True,
                }
            },
        ],
    }
    return run_recipe(recipe, tmp / 'out', progress=False), tmp / 'out'


def test_segment_recipe_reports_miou_for_every_stage(report):
    rep, out = report
    stages = {s['name']: s for s in rep['stages']}
    assert list(stages)[:3] == ['baseline', 'prune', 'distill']
    assert any(n.startswith('lowrank') for n in stages) and any(
        n.startswith('int8') for n in stages
    )
    for s in rep['stages']:
        m = s['metric']
        assert 0.0 <= m['miou'] <= 1.0 and set(m['per_class_iou']) <= set(SEG_CLASSES)
    base, pruned = stages['baseline'], stages['prune']
    assert pruned['params'] < base['params'] and pruned['macs'] < base['macs']
    assert pruned['details']['after']['embed_dim'] == 24
    on_disk = json.loads((out / 'report.json').read_text())
    assert [s['name'] for s in on_disk['stages']] == [s['name'] for s in rep['stages']]
    assert 'miou' in (out / 'report.md').read_text().lower()


def test_segment_recipe_bundle_is_the_student_and_runs(report):
    rep, out = report
    bundle = load_bundle(out / 'bundle')
    assert bundle.task == 'segment' and bundle.labels == list(SEG_CLASSES)
    from vitedge_ros.export.trt_audit import audit_model, TRT_TARGETS

    assert bundle.trt_targets == TRT_TARGETS and all(
        audit_model(bundle.onnx_path, t) == [] for t in TRT_TARGETS
    )
    import numpy as np

    frame = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    res = Pipeline(bundle)(frame)
    assert res.segmentation.shape == (96, 128) and res.segmentation.dtype == np.uint8
    assert int(res.segmentation.max()) < len(SEG_CLASSES)

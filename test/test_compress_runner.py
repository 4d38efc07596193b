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
Recipe runner: tiny recipes end to end, report contents, resume after an interruption.

DDP fine-tuning.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGE_KEYS = {'name', 'metric', 'params', 'macs', 'onnx_bytes', 'latency_ms', 'estimates_ms'}


@pytest.fixture(scope='module')
def classifier_run(tmp_path_factory):
    from vitedge_ros.compress.runner import run_recipe

    out = tmp_path_factory.mktemp('cls')
    report = run_recipe(
        ROOT / 'config' / 'recipes' / 'test_tiny_classifier.yaml', out, progress=False
    )
    return out, report


def test_classifier_report_has_every_figure(classifier_run):
    out, report = classifier_run
    saved = json.loads((out / 'report.json').read_text())
    assert saved['recipe'] == 'test_tiny_classifier'
    names = [s['name'] for s in saved['stages']]
    assert names == ['baseline', 'prune', 'lowrank', 'distill', 'tome', 'int8']
    for s in saved['stages']:
        assert STAGE_KEYS <= set(s), s['name']
        assert 0.0 <= s['metric']['top1'] <= 1.0
        assert s['latency_ms'] > 0 and s['params'] > 0 and s['macs'] > 0 and s['onnx_bytes'] > 0
        assert all(v > 0 for v in s['estimates_ms'].values())
    by = {s['name']: s for s in saved['stages']}
    assert by['prune']['params'] < by['baseline']['params'] / 3
    assert by['tome']['branch'] and by['tome']['macs'] < by['distill']['macs']
    assert set(by['int8']['estimates_ms']) == {'jetson-nano-int8', 'orin-nano-int8'}
    assert (
        'agreement_with_source' in by['int8']['metric'] and by['int8']['source_stage'] == 'distill'
    )
    assert (
        by['int8']['details']['sensitivity']
        and by['int8']['details']['qdq']['nonzero_zero_points'] == 0
    )
    assert 'dynamic' in by['int8']['details']['variants']
    assert saved['summary']['stages']['int8']['agreement_with_source'] >= 0
    assert saved['estimates']['label'] == 'estimate (roofline lower bound)'
    md = (out / 'report.md').read_text()
    assert 'estimate (roofline lower bound)' in md and '| int8 |' in md
    assert (out / 'pareto.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    from vitedge_ros.runtime import load_bundle

    b = load_bundle(out / 'bundle')
    assert b.task == 'classify' and b.source['stage'] == 'int8'
    import onnx

    assert any(n.op_type == 'QuantizeLinear' for n in onnx.load(str(b.onnx_path)).graph.node)
    # CI's recipe bundle parses on every audited TensorRT (issue 12): QDQ INT8 at opset 13,
    # symmetric, float bias
    from vitedge_ros.export.trt_audit import audit_model, TRT_TARGETS

    assert b.trt_targets == TRT_TARGETS and b.source['export']['target'] == 'trt8.2'
    assert all(audit_model(b.onnx_path, t) == [] for t in TRT_TARGETS)
    assert onnx.load(str(b.onnx_path)).opset_import[0].version == 13
    # every stage records where its graph parses; the token-merging branch does not parse on
    # TensorRT 8.2
    assert all(s['export_target'] == 'trt8.2' for s in saved['stages'] if s['type'] != 'quantize')
    assert (
        by['baseline']['trt_targets'] == list(TRT_TARGETS)
        and 'trt8.2' not in by['tome']['trt_targets']
    )


def test_resume_reuses_finished_stages(classifier_run):
    from vitedge_ros.compress.runner import run_recipe

    out, _ = classifier_run
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / 'stages').glob('*.pt')}
    report = run_recipe(
        ROOT / 'config' / 'recipes' / 'test_tiny_classifier.yaml', out, resume=True, progress=False
    )
    assert report['executed_stages'] == []
    assert {p.name: p.stat().st_mtime_ns for p in (out / 'stages').glob('*.pt')} == stamps


def test_interrupted_run_resumes_from_the_next_stage(tmp_path, monkeypatch):
    from vitedge_ros.compress import runner as R

    recipe = {
        'name': 'interrupt',
        'model': {
            'arch': 'deit_tiny_patch16_224',
            'num_classes': 10,
            'img_size': 16,
            'kwargs': {'patch_size': 4, 'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'data': {'name': 'digits', 'img_size': 16, 'train_size': 256, 'val_size': 64},
        'measure': {'latency_runs': 3, 'warmup': 1},
        'stages': [
            {'finetune': {'epochs': 1, 'batch_size': 256}},
            {'prune': {'ratio': 0.5}},
            {'lowrank': {'energy': 0.5}},
        ],
    }
    real = R.Runner._execute

    def boom(self, idx, name, st, model):
        if name == 'lowrank':
            raise KeyboardInterrupt
        return real(self, idx, name, st, model)

    monkeypatch.setattr(R.Runner, '_execute', boom)
    with pytest.raises(KeyboardInterrupt):
        R.run_recipe(recipe, tmp_path, progress=False)
    done = {p.name: p.stat().st_mtime_ns for p in (tmp_path / 'stages').glob('*.pt')}
    assert set(done) == {'00-baseline.pt', '01-prune.pt'}
    monkeypatch.setattr(R.Runner, '_execute', real)
    report = R.run_recipe(recipe, tmp_path, resume=True, progress=False)
    assert report['executed_stages'] == ['lowrank']
    assert {k: (tmp_path / 'stages' / k).stat().st_mtime_ns for k in done} == done
    assert [s['name'] for s in report['stages']] == ['baseline', 'prune', 'lowrank']


def test_detector_recipe_from_checkpoint(tmp_path):
    """
    A detector recipe like config/recipes/aerial_detector.yaml runs from a checkpoint.

    The baseline is a checkpoint, measured before the stages.
    """
    from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
    from vitedge_ros.checkpoint import save_checkpoint
    from vitedge_ros.compress.runner import run_recipe
    from vitedge_ros.runtime import load_bundle

    ckpt = save_checkpoint(
        tmp_path / 'det.pt',
        make_tiny_detector(),
        name='tiny',
        task='detect',
        labels=DETECTOR_LABELS,
        input_spec=dict(TINY_DETECTOR_INPUT),
        decoder={'type': 'vit_center', 'score_threshold': 0.3, 'max_detections': 20},
    )
    recipe = yaml.safe_load((ROOT / 'config' / 'recipes' / 'test_tiny_detector.yaml').read_text())
    recipe['model'] = {'arch': 'vit_center', 'task': 'detect', 'checkpoint': str(ckpt)}
    recipe['stages'] = recipe['stages'][
        1:
    ]  # no training from scratch: the checkpoint is the baseline
    report = run_recipe(recipe, tmp_path / 'out', progress=False)
    names = [s['name'] for s in report['stages']]
    assert names == ['baseline', 'prune', 'distill', 'int8']
    assert (tmp_path / 'out' / 'stages' / '00-baseline.pt').is_file()
    for s in report['stages']:
        assert STAGE_KEYS <= set(s)
        assert {'map50', 'map50_95'} <= set(s['metric'])
    assert report['stages'][1]['details']['after']['embed_dim'] == 16
    bundle = load_bundle(tmp_path / 'out' / 'bundle')
    assert bundle.task == 'detect'
    from vitedge_ros.export.trt_audit import audit_model, TRT_TARGETS

    assert bundle.trt_targets == TRT_TARGETS and all(
        audit_model(bundle.onnx_path, t) == [] for t in TRT_TARGETS
    )


def test_detector_data_with_flight_frames():
    from vitedge_ros.compress.recipe import validate_recipe
    from vitedge_ros.compress.runner import load_data

    recipe = validate_recipe(
        {
            'model': {'arch': 'vit_center', 'task': 'detect', 'img_size': [48, 64]},
            'data': {
                'name': 'synthetic-aerial',
                'train_size': 3,
                'val_size': 2,
                'width': 160,
                'height': 120,
                'flights': {'count': 2, 'frames': 6, 'every': 2, 'seed': 9},
            },
            'stages': [{'finetune': {'epochs': 1}}],
        }
    )
    data = load_data(recipe, None, None)
    assert len(data.train.images) == 3 + 2 * 3 and len(data.val.images) == 2  # flights train only
    assert data.train.images.shape[1:] == (48, 64, 3) and len(data.train.boxes) == 9


def _ddp_worker(rank, world, init_file, out_dir):
    import torch.distributed as dist
    from vitedge_ros.compress import ddp
    from vitedge_ros.models import create_model
    from vitedge_ros.training.loop import train_classifier

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method='file://' + init_file, rank=rank, world_size=world)
    torch.manual_seed(0)
    model = create_model(
        'deit_tiny_patch16_224',
        num_classes=10,
        img_size=16,
        patch_size=8,
        embed_dim=16,
        depth=1,
        num_heads=2,
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    shard = ddp.shard_indices(len(x), rank, world, seed=0)
    net = ddp.wrap(model)
    train_classifier(
        net, x[shard], y[shard], epochs=1, batch_size=8, progress=False, augment=False
    )
    torch.save(
        {'before': before, 'after': model.state_dict(), 'shard': shard},
        '{}/rank{}.pt'.format(out_dir, rank),
    )
    dist.destroy_process_group()


def test_ddp_two_processes_end_identical(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pt', weights_only=False)
    r1 = torch.load(tmp_path / 'rank1.pt', weights_only=False)
    assert not set(r0['shard']) & set(r1['shard'])  # disjoint shards
    for k in r0['after']:
        assert torch.equal(r0['after'][k], r1['after'][k]), k
    assert any(not torch.equal(r0['before'][k], r0['after'][k]) for k in r0['after'])

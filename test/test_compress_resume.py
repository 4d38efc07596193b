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
Resume after a recipe change reruns what changed; training is never lost to a failing export.

Uses the tiny digits recipe of test/test_compress_runner.py
(config/recipes/test_tiny_classifier.yaml).
"""

import copy
import logging
from pathlib import Path

import onnx
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def digits_recipe(n_stages=4):
    """
    Return the tiny digits recipe.

    Its stages: baseline training, prune 0.5, low-rank, distilled fine-tuning.
    """
    rec = yaml.safe_load((ROOT / 'config' / 'recipes' / 'test_tiny_classifier.yaml').read_text())
    rec['stages'] = rec['stages'][:n_stages]
    return rec


def _mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / 'stages').glob('*.pt')}


def test_resume_after_a_recipe_change_reruns_that_stage_and_the_ones_after(tmp_path, caplog):
    from vitedge_ros.checkpoint import load_checkpoint
    from vitedge_ros.compress.runner import run_recipe
    from vitedge_ros.runtime import load_bundle

    out = tmp_path / 'run'
    first = run_recipe(digits_recipe(), out, progress=False, threads=1)
    assert first['executed_stages'] == ['baseline', 'prune', 'lowrank', 'distill']
    assert first['stages'][1]['details']['after']['embed_dim'] == 16  # ratio 0.5 of 32
    before = _mtimes(out)
    changed = digits_recipe()
    changed['stages'][1]['prune']['ratio'] = 0.2
    with caplog.at_level(logging.INFO, logger='vitedge_ros.compress.runner'):
        second = run_recipe(changed, out, resume=True, progress=False, threads=1)
    assert second['executed_stages'] == ['prune', 'lowrank', 'distill']
    assert second['resume'] == [
        {'stage': 'baseline', 'action': 'reused', 'reason': 'unchanged'},
        {'stage': 'prune', 'action': 'rerun', 'reason': 'its config changed: ratio 0.5 -> 0.2'},
        {'stage': 'lowrank', 'action': 'rerun', 'reason': 'an earlier stage (prune) is rerun'},
        {'stage': 'distill', 'action': 'rerun', 'reason': 'an earlier stage (prune) is rerun'},
    ]
    assert 'resume: stage prune rerun (its config changed: ratio 0.5 -> 0.2)' in caplog.text
    assert 'resume: stage baseline reused (unchanged)' in caplog.text
    after = _mtimes(out)
    assert after['00-baseline.pt'] == before['00-baseline.pt']
    assert all(after[k] != before[k] for k in ('01-prune.pt', '02-lowrank.pt', '03-distill.pt'))
    # the report, the stage checkpoints and the bundle describe ratio 0.2 now
    prune = second['stages'][1]
    assert (
        prune['details']['after']['embed_dim'] == 26
        and prune['params'] > first['stages'][1]['params']
    )
    ck = load_checkpoint(out / 'stages' / '01-prune.pt')
    assert ck['extra']['stage']['ratio'] == 0.2 and ck['structure']['widths']['embed_dim'] == 26
    assert (
        load_bundle(out / 'bundle').source['params']
        == second['stages'][-1]['params']
        != first['stages'][-1]['params']
    )
    # what every stage depends on (here the data) changed: everything reruns, and the run says what
    # changed
    data_changed = copy.deepcopy(changed)
    data_changed['data']['train_size'] = 256
    third = run_recipe(data_changed, out, resume=True, progress=False, threads=1)
    assert third['executed_stages'] == ['baseline', 'prune', 'lowrank', 'distill']
    assert third['resume'][0] == {
        'stage': 'baseline',
        'action': 'rerun',
        'reason': 'what it depends on changed: data.train_size 384 -> 256',
    }


def test_stage_checkpoint_is_written_before_the_export(tmp_path, monkeypatch):
    """An export that fails after training keeps the trained stage; resume only re-exports it."""
    from vitedge_ros.checkpoint import load_checkpoint
    from vitedge_ros.compress import runner as R
    from vitedge_ros.export import ExportError

    rec = digits_recipe(3)
    real_export = R.Runner._export

    def failing(self, model, path, stage=''):
        if 'lowrank' in path.name:
            raise ExportError('simulated export failure')
        return real_export(self, model, path)

    monkeypatch.setattr(R.Runner, '_export', failing)
    with pytest.raises(ExportError, match='simulated'):
        R.run_recipe(rec, tmp_path, progress=False, threads=1)
    ck = load_checkpoint(
        tmp_path / 'stages' / '02-lowrank.pt'
    )  # written before the export was tried
    assert 'onnx' not in ck['extra']['entry'] and ck['structure']['lowrank']
    assert 'top1' in ck['extra']['entry']['metric']
    monkeypatch.setattr(R.Runner, '_export', real_export)
    executed = []
    real_execute = R.Runner._execute

    def counting(self, idx, name, st, model):
        executed.append(name)
        return real_execute(self, idx, name, st, model)

    monkeypatch.setattr(R.Runner, '_execute', counting)
    report = R.run_recipe(rec, tmp_path, resume=True, progress=False, threads=1)
    assert executed == []  # nothing trained or pruned again
    assert report['resume'][2] == {
        'stage': 'lowrank',
        'action': 're-export only',
        'reason': 'trained model reused; its ONNX export is missing',
    }
    low = report['stages'][2]
    assert (tmp_path / low['onnx']).is_file() and low['parity_max_abs_err'] < 1e-4
    assert low['metric'] == ck['extra']['entry']['metric']


def _dynamic_recipe():
    """
    Return a recipe for a timm ViT with dynamic_img_size, trained and exported at 16x16.

    Its position grid is made for 32x32.
    """
    rec = digits_recipe(2)
    rec['model']['img_size'] = 32
    rec['model']['kwargs']['dynamic_img_size'] = True
    rec['data']['img_size'] = 16
    return rec


def test_dynamic_img_size_model_exports_at_the_bundle_size(tmp_path):
    from vitedge_ros.checkpoint import load_checkpoint
    from vitedge_ros.compress.runner import run_recipe
    from vitedge_ros.models.static_size import static_size_copy
    from vitedge_ros.runtime import load_bundle

    report = run_recipe(_dynamic_recipe(), tmp_path, progress=False, threads=1)
    for e in report['stages']:
        assert e['parity_max_abs_err'] < 1e-5
        graph = onnx.load(str(tmp_path / e['onnx'])).graph
        assert not any(
            n.op_type == 'Resize' for n in graph.node
        )  # the resampled grid is a constant
    assert load_bundle(tmp_path / 'bundle').input.width == 16
    model = load_checkpoint(tmp_path / 'stages' / '01-prune.pt')['model']
    assert model.dynamic_img_size and tuple(model.patch_embed.grid_size) == (
        8,
        8,
    )  # the checkpoint is untouched
    fixed = static_size_copy(model, (1, 3, 16, 16))
    assert not fixed.dynamic_img_size and tuple(fixed.pos_embed.shape) == (
        1,
        1 + 16,
        model.embed_dim,
    )
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert float((fixed(x) - model(x)).abs().max()) == 0.0


def test_trial_export_fails_before_any_training(tmp_path, monkeypatch, capsys):
    """
    Without the baked grid the resampling cannot export.

    The run stops in the trial export, untrained.
    """
    from vitedge_ros.compress.recipe import RecipeError
    from vitedge_ros.compress.runner import run_recipe
    from vitedge_ros.models import static_size

    monkeypatch.setattr(static_size, 'static_size_copy', lambda module, shape: module)

    def no_training(*a, **k):
        raise AssertionError('training ran before the trial export')

    monkeypatch.setattr('vitedge_ros.training.loop.train_classifier', no_training)
    with pytest.raises(RecipeError) as exc:
        run_recipe(_dynamic_recipe(), tmp_path / 'a', progress=False, threads=1)
    msg = str(exc.value)
    assert (
        msg.startswith(
            'model: trial export of the untrained deit_tiny_patch16_224 at 1x3x16x16 failed '
            'before '
            'any training:'
        )
        and 'upsample_bicubic2d_aa' in msg
        and '\n' not in msg
    )
    assert (
        not list((tmp_path / 'a' / 'stages').glob('*.pt'))
        if (tmp_path / 'a' / 'stages').exists()
        else True
    )
    recipe_file = tmp_path / 'dyn.yaml'
    recipe_file.write_text(yaml.safe_dump(_dynamic_recipe()))
    from vitedge_ros.compress import cli as tool  # what tools/compress.py calls

    assert tool.main(['--recipe', str(recipe_file), '--out', str(tmp_path / 'b'), '--quiet']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: model: trial export') and '\n' not in err


def test_training_trial_export_fails_before_the_first_epoch(tmp_path, monkeypatch):
    """tools/train.py's loop too: an unexportable model stops before any epoch, with one line."""
    from vitedge_ros.models import static_size
    from vitedge_ros.training.config import ConfigError
    from vitedge_ros.training.run import run_training

    monkeypatch.setattr(static_size, 'static_size_copy', lambda module, shape: module)
    cfg = {
        'name': 'dyn',
        'task': 'classify',
        'model': {
            'arch': 'deit_tiny_patch16_224',
            'num_classes': 10,
            'img_size': 32,
            'kwargs': {
                'patch_size': 4,
                'embed_dim': 32,
                'depth': 1,
                'num_heads': 2,
                'dynamic_img_size': True,
            },
        },
        'input': {
            'width': 16,
            'height': 16,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.5] * 3,
            'resize': 'stretch',
        },
        'data': {'name': 'digits', 'img_size': 16},
        'train': {'epochs': 1},
    }
    with pytest.raises(ConfigError) as exc:
        run_training(cfg, tmp_path, progress=False)
    assert str(exc.value).startswith(
        'model: trial export of the untrained deit_tiny_patch16_224 at 1x3x16x16'
    )
    assert not (tmp_path / 'last.pt').exists()
    monkeypatch.undo()  # with the grid baked in, the same config trains and exports
    res = run_training(cfg, tmp_path, progress=False)
    assert res['parity_max_abs_err'] < 1e-5

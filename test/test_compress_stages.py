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
Compression stages as plug-ins (issue 15, item 6).

The registry, each stage's schema, a fake stage end to end.
"""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _recipe(stages):
    """
    Return a tiny digits classifier recipe with the given stage list.

    First stage: the baseline fine-tuning.
    """
    return {
        'name': 'plugin',
        'seed': 0,
        'model': {
            'arch': 'deit_tiny_patch16_224',
            'num_classes': 10,
            'img_size': 16,
            'kwargs': {'patch_size': 4, 'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'data': {'name': 'digits', 'img_size': 16, 'train_size': 64, 'val_size': 40},
        'measure': {'latency_runs': 3, 'warmup': 0, 'threads': 1},
        'stages': stages,
    }


def test_registry_lists_every_recipe_stage_type():
    from vitedge_ros.compress.stages import BASELINE, get_stage, stage_types, STAGES

    assert stage_types() == ('finetune', 'prune', 'lowrank', 'tome', 'quantize')
    for name in stage_types():
        st = get_stage(name)
        assert st.name == name and callable(st.schema) and callable(st.run)
        assert type(st).__module__ == 'vitedge_ros.compress.stages.base'
        assert st.run.__module__ == 'vitedge_ros.compress.stages.' + name  # its own module
    assert 'baseline' not in STAGES and BASELINE.exports  # the runner's stage 0 is no recipe key
    # what the runner branches on is declared, not a name
    assert [n for n in stage_types() if not STAGES[n].exports] == ['quantize']
    assert [n for n in stage_types() if STAGES[n].distributed] == ['finetune']
    assert [n for n in stage_types() if STAGES[n].copy_input] == ['tome']


@pytest.mark.parametrize('name', ['finetune', 'prune', 'lowrank', 'tome', 'quantize'])
def test_every_stage_schema_rejects_an_unknown_key_in_one_line(name):
    from vitedge_ros.compress.recipe import RecipeError, validate_recipe
    from vitedge_ros.compress.stages import STAGES

    assert name in STAGES
    rec = _recipe([{'finetune': {}}, {name: {'colour': 'red'}}])
    with pytest.raises(RecipeError) as err:
        validate_recipe(rec)
    msg = str(err.value)
    assert '\n' not in msg
    assert msg.startswith(
        'stages[1].{}.colour: unknown key (known: name, branch, '.format(name)
    ), msg
    # and directly on the stage's schema
    with pytest.raises(RecipeError, match=r'^x\.colour: unknown key'):
        STAGES[name].schema({'colour': 'red'}, 'x')


def test_registry_sweep_covers_plugins_too(monkeypatch):
    """
    Every registered schema rejects an unknown key with a one-line RecipeError.

    A plug-in schema included.
    """
    from vitedge_ros.compress.recipe import RecipeError
    from vitedge_ros.compress.stages import STAGES

    monkeypatch.setitem(STAGES, 'scale', _scale_stage())
    for name, stage in STAGES.items():
        with pytest.raises(RecipeError) as err:
            stage.schema({'no_such_key': 1}, 'stages[3].' + name)
        assert str(err.value).startswith('stages[3].{}.no_such_key: unknown key'.format(name))
        assert '\n' not in str(err.value)


def test_unknown_stage_names_the_registered_ones(monkeypatch):
    from vitedge_ros.compress.recipe import RecipeError, validate_recipe
    from vitedge_ros.compress.stages import get_stage, STAGES

    with pytest.raises(
        RecipeError,
        match=r'^stages\[1\]\.sparsify: unknown stage \(known: finetune, prune, '
        r'lowrank, tome, quantize\)$',
    ):
        validate_recipe(_recipe([{'finetune': {}}, {'sparsify': {}}]))
    with pytest.raises(RecipeError, match=r'^stages\.baseline: unknown stage'):
        get_stage('baseline')  # the runner's stage 0 is not a recipe key
    monkeypatch.setitem(STAGES, 'scale', _scale_stage())
    with pytest.raises(RecipeError, match=r'quantize, scale\)$'):
        validate_recipe(_recipe([{'finetune': {}}, {'sparsify': {}}]))


def test_register_refuses_a_taken_name():
    from vitedge_ros.compress.stages import register, Stage

    for name in ('prune', 'baseline'):
        with pytest.raises(ValueError, match='already registered'):
            register(Stage(name, None, lambda ctx, params: None))


def test_data_fields_are_explicit():
    from vitedge_ros.compress.runner import Data
    from vitedge_ros.runtime.bundle import InputSpec

    spec = InputSpec(16, 16, 'rgb', (0.5,) * 3, (0.25,) * 3, 'stretch')
    x = np.zeros((4, 3, 16, 16), np.float32)
    d = Data(
        'classify',
        spec,
        ['a', 'b'],
        x_train=x,
        y_train=np.zeros(4, np.int64),
        x_test=x,
        y_test=np.zeros(4, np.int64),
    )
    assert d.sampler is None and d.train is None and d.val is None
    assert d.calibration(2).shape == (2, 3, 16, 16)
    with pytest.raises(TypeError):
        Data(
            'classify', spec, ['a'], x_trian=x
        )  # a misspelt field is an error, not a hidden attribute


# --------------------------------------------------------------------------------- a plug-in stage

CALLS = []


def _scale_stage():
    """
    Return a fake stage ``scale``.

    The classifier head's weights times ``factor``, its bias set to favour ``favour``.
    """
    from vitedge_ros.compress.stages.base import Stage, stage_schema, StageResult
    from vitedge_ros.compress.stages.fields import integer, num

    schema = stage_schema({'factor': (num(0), 1.0), 'favour': (integer(0, 9), 0)})

    def run(ctx, params):
        CALLS.append(
            {
                'index': ctx.index,
                'name': ctx.name,
                'n_train': len(ctx.data.x_train),
                'labels': list(ctx.data.labels),
                'teacher': ctx.teacher is not None,
            }
        )
        head = ctx.model.head
        with torch.no_grad():
            head.weight.mul_(params['factor'])
            head.bias.zero_()
            head.bias[params['favour']] = 1.0
        return StageResult(
            ctx.model, details={'factor': params['factor']}, notes=['scaled the head']
        )

    return Stage('scale', schema, run, label=lambda p: 'scaled{}'.format(p['favour']))


def test_a_registered_stage_is_picked_up_by_the_runner(tmp_path, monkeypatch):
    """
    A stage type registered with a tiny run function validates, runs, is measured.

    Exported and reported.
    """
    from vitedge_ros.compress.runner import run_recipe
    from vitedge_ros.compress.stages import STAGES
    from vitedge_ros.data.digits import load_digits_split

    monkeypatch.setitem(STAGES, 'scale', _scale_stage())
    CALLS.clear()
    rec = _recipe(
        [{'finetune': {'epochs': 1, 'batch_size': 64}}, {'scale': {'factor': 0.0, 'favour': 3}}]
    )
    report = run_recipe(rec, tmp_path, progress=False, threads=1)
    assert CALLS == [
        {
            'index': 1,
            'name': 'scaled3',
            'n_train': 64,
            'labels': [str(i) for i in range(10)],
            'teacher': True,
        }
    ]
    assert [s['name'] for s in report['stages']] == ['baseline', 'scaled3']
    entry = report['stages'][1]
    assert (
        entry['type'] == 'scale'
        and entry['details'] == {'factor': 0.0}
        and 'scaled the head' in entry['notes']
    )
    # the runner measured the stage's model: with a zero head every image is class 3
    yte = load_digits_split(img_size=16, seed=0, test_fraction=0.2)[3][:40]
    assert entry['metric']['top1'] == pytest.approx(float(np.mean(yte == 3)))
    # ... exported it (checked for parity), checkpointed it and bundled it
    onnx_path = tmp_path / entry['onnx']
    assert onnx_path.name == '01-scaled3.onnx' and entry['parity_max_abs_err'] < 1e-4
    logits = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider']).run(
        None, {'input': np.random.default_rng(0).normal(size=(1, 3, 16, 16)).astype(np.float32)}
    )[0]
    assert int(np.argmax(logits)) == 3
    assert (tmp_path / 'stages' / '01-scaled3.pt').is_file()
    assert (tmp_path / 'bundle' / 'model.onnx').read_bytes() == onnx_path.read_bytes()
    # resume reuses it like any stage
    CALLS.clear()
    again = run_recipe(rec, tmp_path, resume=True, progress=False, threads=1)
    assert CALLS == [] and again['executed_stages'] == []
    assert again['resume'][1] == {'stage': 'scaled3', 'action': 'reused', 'reason': 'unchanged'}

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

"""Recipe validation: every error names the bad key's path; example recipes are valid."""

import copy
from pathlib import Path
import subprocess
import sys

import pytest
import yaml

#: the recipe's stage schemas live in the stage plug-ins (vitedge_ros/compress/stages/), which
#: import torch
pytestmark = pytest.mark.needs('torch')

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    'model': {'arch': 'deit_tiny_patch16_224', 'num_classes': 10, 'img_size': 32},
    'data': {'name': 'digits'},
    'stages': [
        {'finetune': {'epochs': 1}},
        {'prune': {'ratio': 0.5}},
        {'quantize': {'mode': 'int8'}},
    ],
}


def _err(mut):
    from vitedge_ros.compress.recipe import RecipeError, validate_recipe

    raw = copy.deepcopy(BASE)
    mut(raw)
    with pytest.raises(RecipeError) as exc:
        validate_recipe(raw)
    return str(exc.value)


def test_valid_recipe_gets_defaults_and_names():
    from vitedge_ros.compress.recipe import stage_names, validate_recipe

    r = validate_recipe(copy.deepcopy(BASE))
    assert r['teacher'] == 'baseline'
    assert (
        r['stages'][1]['importance'] == 'magnitude' and r['stages'][2]['calibration'] == 'minmax'
    )
    assert stage_names(r) == ['baseline', 'prune', 'int8']


@pytest.mark.parametrize(
    'mut,path',
    [
        (
            lambda r: r['stages'][1]['prune'].update(ratio=1.5),
            'stages[1].prune.ratio: expected a number in (0, 1)',
        ),
        (
            lambda r: r['stages'][1]['prune'].update(ratio='half'),
            'stages[1].prune.ratio: expected a number',
        ),
        (
            lambda r: r['stages'][0]['finetune'].update(epochz=3),
            'stages[0].finetune.epochz: unknown key',
        ),
        (
            lambda r: r['stages'][1]['prune'].update(importance='random'),
            'stages[1].prune.importance: expected one of',
        ),
        (
            lambda r: r['stages'][2]['quantize'].update(keep_fp32=['head', 'bogus']),
            'stages[2].quantize.keep_fp32[1]',
        ),
        (
            lambda r: r['stages'][2]['quantize'].update(calibration='mse'),
            'stages[2].quantize.calibration',
        ),
        (
            lambda r: r['stages'].insert(1, {'lowrank': {'energy': 0.9, 'params': 0.5}}),
            'stages[1].lowrank:',
        ),
        (lambda r: r['stages'].insert(1, {'sparsify': {}}), 'stages[1].sparsify: unknown stage'),
        (
            lambda r: r['stages'].insert(1, {'prune': {'ratio': 0.5}, 'lowrank': {}}),
            'stages[1]: expected a mapping',
        ),
        (lambda r: r['model'].update(kwargs=[1]), 'model.kwargs: expected a mapping'),
        (lambda r: r['data'].update(name='imagenet'), 'data.name: expected one of'),
        (lambda r: r.update(stages=[]), 'stages: expected a non-empty list'),
        (lambda r: r.update(extra=1), 'extra: unknown key'),
        (
            lambda r: r['stages'][0]['finetune'].update(
                distill={'type': 'logit', 'temperature': -1}
            ),
            'stages[0].finetune.distill.temperature',
        ),
        (
            lambda r: r['stages'].insert(
                1, {'finetune': {'distill': {'features': [{'student': 'blocks.0'}]}}}
            ),
            'stages[1].finetune.distill.features[0].teacher: required key is missing',
        ),
        (
            lambda r: r['stages'].insert(0, {'quantize': {}}),
            'stages[0].quantize: quantize must be the last stage',
        ),
        (lambda r: r['stages'].insert(1, {'tome': {'r': -1}}), 'stages[1].tome.r'),
        (
            lambda r: r['stages'][1]['prune'].update(conv_groups=['neck', 'head']),
            'stages[1].prune.conv_groups[1]',
        ),
        (
            lambda r: r['stages'][0]['finetune'].update(distill={'type': 'logit'}),
            'stages[0].finetune.distill',
        ),
        (
            lambda r: r['data'].update(flights={'count': 2, 'frames': 10, 'seed': 1}),
            'data.flights: flight frames',
        ),
        (
            lambda r: r['data'].update(flights={'count': 2, 'frames': 10}),
            'data.flights.seed: required key',
        ),
        (
            lambda r: r['data'].update(flights={'count': 0, 'frames': 10, 'seed': 1}),
            'data.flights.count',
        ),
    ],
)
def test_errors_carry_the_key_path(mut, path):
    msg = _err(mut)
    assert msg.startswith(path), msg


@pytest.mark.parametrize(
    'name',
    [
        'digits_vit.yaml',
        'aerial_detector.yaml',
        'test_tiny_classifier.yaml',
        'test_tiny_detector.yaml',
    ],
)
def test_shipped_recipes_are_valid(name):
    from vitedge_ros.compress.recipe import load_recipe

    r = load_recipe(ROOT / 'config' / 'recipes' / name)
    assert r['stages']


@pytest.mark.needs('torch', 'onnx')
def test_cli_rejects_bad_recipe_before_any_work(tmp_path):
    raw = copy.deepcopy(BASE)
    raw['stages'][1]['prune']['ratio'] = 2
    rec = tmp_path / 'bad.yaml'
    rec.write_text(yaml.safe_dump(raw))
    out = tmp_path / 'out'
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'compress.py'),
            '--recipe',
            str(rec),
            '--out',
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert 'stages[1].prune.ratio' in res.stderr
    assert not out.exists()


@pytest.mark.needs(
    'torch', 'onnx'
)  # tools/compress.py is a workstation tool (setup.py tools extra)
def test_check_needs_no_out_and_bad_yaml_is_one_line(tmp_path):
    """
    --check validates without --out, and a YAML syntax error is one line.

    The error line gives its position; a run needs --out.
    """
    tool = [sys.executable, str(ROOT / 'tools' / 'compress.py')]
    bad = tmp_path / 'bad.yaml'
    bad.write_text('stages: [{prune: {ratio: 0.5}}\n  oops: [\n')
    res = subprocess.run(
        tool + ['--recipe', str(bad), '--check'], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and 'Traceback' not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: {}: not valid YAML: line 2, column 3: expected ',' or "
        "']', but got '<scalar>'".format(bad)
    ]
    good = ROOT / 'config' / 'recipes' / 'digits_vit.yaml'
    res = subprocess.run(
        tool + ['--recipe', str(good), '--check'], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0 and 'ok (' in res.stdout, res.stderr
    res = subprocess.run(
        tool + ['--recipe', str(good)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2 and res.stderr.strip() == (
        'error: --out DIR is required to run a recipe (only --check runs without it)'
    )

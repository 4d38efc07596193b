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
The one data builder.

Training configs and recipes build the same arrays from the same entry and seeds.

The hashes were computed at the start of the change (trainer.py / training.py / compress/runner.py,
with the old training-config names ``train_scenes``, ``val_scenes``, ``scene_width``,
``scene_height``): the move to one vocabulary and one builder changes no scene, box, label, mask or
pixel.
"""

import hashlib

import numpy as np
import pytest

pytestmark = pytest.mark.needs('torch', 'skimage', 'sklearn')

SPEC = {
    'width': 64,
    'height': 48,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.25] * 3,
    'resize': 'letterbox',
}
SYNTH = {
    'name': 'synthetic-aerial',
    'train_size': 6,
    'val_size': 3,
    'width': 160,
    'height': 120,
    'seed': 40,
    'val_seed': 99,
    'real_backgrounds': 0.5,
    'real_negatives': 0.34,
    'flights': {'count': 1, 'frames': 4, 'every': 2, 'seed': 7, 'real_backgrounds': 0.5},
}
#: sha256[:16] of the sets the code before the change made from these entries (see the module
#: docstring)
BEFORE = {
    'detect_train': '838c25c5ae723185',
    'detect_val': '9ce0c3eaf0d711e1',
    'flight_val': '7f4dce9c08fd25e4',
    'defaults_train': '1af3d5c090fe09f5',
    'defaults_val': 'c0da8564de429af0',
    'segment_train': '46400fd0dc78217f',
    'segment_val': '445bc92b511e5e7f',
    'recipe_segment_val': '3b5a23a4eb5374bc',
    'train_digits': '2a92488f60278c0b',
    'recipe_digits': '35f19419a89de942',
}


def _hash(*arrays):
    m = hashlib.sha256()
    for a in arrays:
        if a is None:
            m.update(b'none')
            continue
        for x in a if isinstance(a, (list, tuple)) else [a]:
            x = np.ascontiguousarray(x)
            m.update(str((x.dtype.str, x.shape)).encode())
            m.update(x.tobytes())
    return m.hexdigest()[:16]


def _det(ds):
    return _hash(ds.images, ds.boxes, ds.labels, ds.ignored)


def _config(task, data, model='vit_center'):
    return {
        'name': 't',
        'task': task,
        'model': {'arch': model},
        'input': dict(SPEC),
        'data': data,
        'train': {'epochs': 1},
    }


def _spec():
    from vitedge_ros.runtime.bundle import parse_input_spec

    return parse_input_spec(SPEC, 'input')


def test_training_config_detection_data_is_unchanged():
    from vitedge_ros.training.config import validate_config
    from vitedge_ros.training.data import build_detection, flight_validation

    cfg = validate_config(
        _config('detect', dict(SYNTH, val_flights={'count': 1, 'frames': 3, 'seed': 11}))
    )
    built = build_detection(cfg['data'], _spec())
    assert (_det(built.train), _det(built.val)) == (BEFORE['detect_train'], BEFORE['detect_val'])
    assert _det(flight_validation(cfg['data'], _spec())) == BEFORE['flight_val']
    # the training config's defaults: seed 0, val_seed 1000000 (sizes kept small here)
    cfg = validate_config(
        _config('detect', {'name': 'synthetic-aerial', 'train_size': 2, 'width': 96, 'height': 72})
    )
    assert (cfg['data']['seed'], cfg['data']['val_seed'], cfg['data']['val_size']) == (
        0,
        1000000,
        200,
    )
    cfg['data']['val_size'] = 2
    built = build_detection(cfg['data'], _spec())
    assert (_det(built.train), _det(built.val)) == (
        BEFORE['defaults_train'],
        BEFORE['defaults_val'],
    )


def test_recipe_detection_data_is_the_training_configs():
    from vitedge_ros.compress.recipe import validate_recipe
    from vitedge_ros.compress.runner import load_data

    r = validate_recipe(
        {
            'model': {'arch': 'vit_center', 'task': 'detect', 'img_size': [48, 64]},
            'data': SYNTH,
            'stages': [{'finetune': {'epochs': 1}}],
        }
    )
    d = load_data(r, _spec(), None)
    assert (_det(d.train), _det(d.val)) == (BEFORE['detect_train'], BEFORE['detect_val'])
    assert d.labels == ['person', 'vehicle', 'obstacle']


def test_segmentation_data_is_unchanged_from_both_tools():
    from vitedge_ros.compress.recipe import validate_recipe
    from vitedge_ros.compress.runner import load_data
    from vitedge_ros.training.config import validate_config
    from vitedge_ros.training.data import build_segmentation

    data = {'name': 'synthetic-aerial', 'train_size': 3, 'val_size': 2, 'width': 128, 'height': 96}
    train, val, labels = build_segmentation(
        validate_config(_config('segment', data, 'vit_segmenter'))['data'], _spec()
    )
    assert _hash(train.images, train.masks) == BEFORE['segment_train']
    assert _hash(val.images, val.masks, val.frame_masks) == BEFORE['segment_val']
    r = validate_recipe(
        {
            'model': {'arch': 'vit_seg', 'task': 'segment', 'img_size': [48, 64]},
            'data': data,
            'stages': [{'finetune': {'epochs': 1}}],
        }
    )
    d = load_data(r, _spec(), None)
    assert _hash(d.train.images, d.train.masks) == BEFORE['segment_train']
    # recipes validate from val_seed 100000 by default, training configs from 1000000
    assert _hash(d.val.images, d.val.masks, d.val.frame_masks) == BEFORE['recipe_segment_val']
    assert d.labels == labels


def test_digits_are_unchanged_from_both_tools():
    from vitedge_ros.compress.recipe import validate_recipe
    from vitedge_ros.compress.runner import load_data
    from vitedge_ros.training.config import validate_config
    from vitedge_ros.training.data import build_classification

    cfg = _config(
        'classify', {'name': 'digits', 'img_size': 16, 'seed': 3, 'test_fraction': 0.25}, 'x'
    )
    cfg['input'].update(width=16, height=16, resize='stretch')
    cfg = validate_config(cfg)
    arrays, labels = build_classification(cfg['data'], _spec(), cfg['data']['img_size'])
    assert _hash(*arrays) == BEFORE['train_digits'] and labels == [str(i) for i in range(10)]
    r = validate_recipe(
        {
            'model': {'arch': 'x', 'task': 'classify'},
            'data': {
                'name': 'digits',
                'img_size': 16,
                'seed': 3,
                'test_fraction': 0.25,
                'train_size': 50,
                'val_size': 20,
            },
            'stages': [{'finetune': {'epochs': 1}}],
        }
    )
    d = load_data(r, None, None)
    assert _hash(d.x_train, d.y_train, d.x_test, d.y_test) == BEFORE['recipe_digits']
    assert (len(d.x_train), len(d.x_test)) == (50, 20)


@pytest.mark.parametrize(
    'old, new',
    [
        ('train_scenes', 'train_size'),
        ('val_scenes', 'val_size'),
        ('scene_width', 'width'),
        ('scene_height', 'height'),
    ],
)
def test_old_data_keys_name_their_new_name(old, new):
    from vitedge_ros.compress.recipe import RecipeError, validate_recipe
    from vitedge_ros.training.config import ConfigError, validate_config

    with pytest.raises(ConfigError) as err:
        validate_config(_config('detect', {'name': 'synthetic-aerial', old: 4}))
    assert str(err.value) == 'data.{}: renamed data.{}'.format(old, new)
    with pytest.raises(ConfigError) as err:
        validate_config(
            _config('detect', {'mix': [{'name': 'synthetic-aerial', old: 4, 'weight': 1}]})
        )
    assert str(err.value) == 'data.mix[0].{}: renamed data.mix[0].{}'.format(old, new)
    with pytest.raises(RecipeError) as err:
        validate_recipe(
            {
                'model': {'arch': 'x', 'task': 'detect'},
                'data': {'name': 'synthetic-aerial', old: 4},
                'stages': [{'finetune': {}}],
            }
        )
    assert str(err.value) == 'data.{}: renamed data.{}'.format(old, new)


def test_shipped_configs_and_recipes_speak_the_one_vocabulary():
    from pathlib import Path

    from vitedge_ros.compress.recipe import load_recipe
    from vitedge_ros.training.config import DATA_RENAMED, load_config
    import yaml

    root = Path(__file__).resolve().parents[1] / 'config'
    for path in sorted((root / 'train').glob('*.yaml')):
        text = path.read_text()
        assert not [k for k in DATA_RENAMED if k + ':' in text], path
        data = load_config(path)['data']
        for item in data.get('mix', [data]):
            if item['name'] == 'synthetic-aerial':
                assert {'train_size', 'val_size', 'width', 'height'} <= set(item), path
    for path in sorted((root / 'recipes').glob('*.yaml')):
        assert not [k for k in DATA_RENAMED if k + ':' in path.read_text()], path
        assert load_recipe(path)['data'], path
        yaml.safe_load(path.read_text())


def test_one_training_package():
    from pathlib import Path
    import subprocess
    import sys

    import vitedge_ros.training as training

    assert all(hasattr(training, name) for name in training.__all__)
    pkg = Path(training.__file__).resolve().parents[1]
    assert not (pkg / 'trainer.py').exists() and not (pkg / 'training.py').exists()
    # the config schema is checked without torch (tools and drone-side code may read configs)
    code = (
        'import sys, vitedge_ros.training.config, vitedge_ros.schema; '
        'print("torch" in sys.modules)'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == 'False', out.stderr

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
Training configs of tools/train.py: the schema and its validation.

The schema is written in the one config language (:mod:`vitedge_ros.schema`). A config is checked
completely before any work; every error is one line starting with the path of the bad key
(``train.lr: expected a number >= 0, got 'fast'``). The ``data`` entry speaks the recipes'
vocabulary (``train_size``, ``val_size``, ``width``, ``height``); the older training-config names
are refused with their new name (``data.train_scenes: renamed data.train_size``). Nothing here
imports torch.

Schema (defaults of the synthetic-aerial data in brackets)::

    name: str
    task: detect | classify | segment
    model: {arch, backbone, img_size, pretrained, pretrained_file, head_channels, stem_channels,
            checkpoint, max_detections, upsample, kwargs, num_classes, detail_channels,
            conv_stem, box: centre | ltrb}
    input: {width, height, color, mean, std, resize}  (vitedge_ros.runtime.bundle.parse_input_spec)
    data: {name: synthetic-aerial, train_size [2000], val_size [200], width [640], height [480],
           seed [0], val_seed [1000000], flights: {count, frames, every, seed, real_backgrounds},
           val_flights: {count, frames, every, seed}, real_backgrounds [0], real_negatives [0],
           cache_dir}
        | {name: digits, img_size [32], seed [0], test_fraction [0.2], train_size, val_size}
        | {name: masks, root, val_root, classes, cache_dir}
        | a real source or a mix (vitedge_ros.data.sources), with epoch_size beside it
    train: {epochs, batch_size, lr, weight_decay, seed, val_every, trainable: [module names, the
            rest frozen]; detect: giou_weight,
            size_weight, heatmap_sigma, heatmap_class_weights: {label: weight};
            segment: dice_weight, class_weight_power}
    export: {score_threshold: auto | a number in [0, 1], max_detections, top_k,
             upsample: linear | nearest, min_precision, min_recall}
"""

from pathlib import Path
from typing import Any, Dict

from ..runtime.bundle import TASKS
from ..runtime.errors import VitedgeError
from ..schema import (
    ABSENT,
    any_mapping,
    boolean,
    choice,
    convert,
    either,
    img_size,
    integer,
    list_of,
    mapping,
    mapping_of,
    num,
    optional,
    read_yaml,
    SchemaError,
    string,
)
from ..tasks import all_tasks, get_task, is_task


class ConfigError(VitedgeError, ValueError):
    """An invalid training config (the message gives the path of the bad key)."""


#: Old training-config names of ``data`` fields -> the one vocabulary (the recipes').
DATA_RENAMED = {
    'train_scenes': 'train_size',
    'val_scenes': 'val_size',
    'scene_width': 'width',
    'scene_height': 'height',
}
#: Which sources each task reads.
TASK_DATA = {
    name: get_task(name).training_sources for name in TASKS
}  # bundle.yaml's order: detect, classify, ...
#: Defaults of a training config's synthetic-aerial entry (the recipes have their own:
#: vitedge_ros.compress.recipe).
SYNTHETIC_DEFAULTS = {
    'train_size': 2000,
    'val_size': 200,
    'width': 640,
    'height': 480,
    'seed': 0,
    'val_seed': 1000000,
}

_A = ABSENT
FRACTION = num(0, 1)
FLIGHTS = mapping(
    {
        'count': (integer(1), _A),
        'frames': (integer(1), _A),
        'every': (integer(1), _A),
        'seed': (integer(0), _A),
        'real_backgrounds': (FRACTION, _A),
    },
    required=('count', 'frames', 'seed'),
)
VAL_FLIGHTS = mapping(
    {
        'count': (integer(1), _A),
        'frames': (integer(1), _A),
        'every': (integer(1), _A),
        'seed': (integer(0), _A),
    },
    required=('count', 'frames', 'seed'),
)
_SIZES = {
    'train_size': (integer(1), SYNTHETIC_DEFAULTS['train_size']),
    'val_size': (integer(1), SYNTHETIC_DEFAULTS['val_size']),
    'width': (integer(16), SYNTHETIC_DEFAULTS['width']),
    'height': (integer(16), SYNTHETIC_DEFAULTS['height']),
    'seed': (integer(0), SYNTHETIC_DEFAULTS['seed']),
    'val_seed': (integer(0), SYNTHETIC_DEFAULTS['val_seed']),
}
BUILTIN_DATA = {
    'synthetic-aerial': mapping(
        dict(
            _SIZES,
            **{
                'name': (string, _A),
                'flights': (optional(FLIGHTS), _A),
                'val_flights': (optional(VAL_FLIGHTS), _A),
                'real_backgrounds': (FRACTION, _A),
                'real_negatives': (FRACTION, _A),
                'cache_dir': (string, _A),
            },
        ),
        renamed=DATA_RENAMED,
    ),
    'digits': mapping(
        {
            'name': (string, _A),
            'img_size': (integer(8), _A),
            'seed': (integer(0), _A),
            'test_fraction': (num(0, 1, True, True), _A),
            'train_size': (integer(1), _A),
            'val_size': (integer(1), _A),
        },
        renamed=DATA_RENAMED,
    ),
    'masks': mapping(
        {
            'name': (string, _A),
            'root': (string, _A),
            'val_root': (string, _A),
            'classes': (list_of(string), _A),
            'cache_dir': (string, _A),
        },
        required=('root', 'val_root', 'classes'),
        renamed=DATA_RENAMED,
    ),
}
#: The detector's box heads (``vitedge_ros.models.vit_detector.BOX_KINDS``; this module keeps
#: torch out).
BOX_KINDS = ('centre', 'ltrb')
#: Real photo texture fractions of a synthetic-aerial entry (detection only;
#: vitedge_ros.data.textures).
TEXTURE_FRACTIONS = (('real_backgrounds',), ('real_negatives',), ('flights', 'real_backgrounds'))

MODEL = mapping(
    {
        'arch': (string, _A),
        'backbone': (string, _A),
        'img_size': (img_size, _A),
        'pretrained': (boolean, _A),
        'pretrained_file': (optional(string), _A),
        'head_channels': (integer(1), _A),
        'stem_channels': (integer(0), _A),
        'checkpoint': (optional(string), _A),
        'max_detections': (integer(1), _A),
        'upsample': (integer(0), _A),
        'kwargs': (any_mapping, _A),
        'num_classes': (integer(1), _A),
        'detail_channels': (integer(0), _A),
        'conv_stem': (boolean, _A),
        'box': (choice(*BOX_KINDS), _A),
    },
    required=('arch',),
)
TRAIN = mapping(
    {
        'epochs': (integer(1), _A),
        'batch_size': (integer(1), _A),
        'lr': (num(0, lo_open=True), _A),
        'weight_decay': (num(0), _A),
        'seed': (integer(0), _A),
        'dice_weight': (num(0), _A),
        'class_weight_power': (num(0), _A),
        'giou_weight': (num(0), _A),
        'size_weight': (num(0), _A),
        'heatmap_sigma': (num(0, lo_open=True), _A),
        'heatmap_class_weights': (mapping_of(num(0, lo_open=True)), _A),
        'val_every': (integer(0), _A),
        'trainable': (list_of(string), _A),
    },
    required=('epochs',),
)
EXPORT = mapping(
    {
        'score_threshold': (either(num(0, 1), choice('auto')), _A),
        'max_detections': (integer(1), _A),
        'top_k': (integer(1), _A),
        'upsample': (choice('linear', 'nearest'), _A),
        'min_precision': (FRACTION, _A),
        'min_recall': (FRACTION, _A),
    }
)
TOP = mapping(
    {
        'name': (string, _A),
        'task': (choice(*TASK_DATA), _A),
        'model': (MODEL, _A),
        'input': (any_mapping, _A),
        'data': (any_mapping, _A),
        'train': (TRAIN, _A),
        'export': (EXPORT, _A),
    },
    required=('name', 'task', 'model', 'input', 'data', 'train'),
)


def _check_texture_fractions(item: Dict[str, Any], path: str, task: str) -> None:
    """
    Refuse real photo texture fractions outside detection on synthetic-aerial scenes.

    Raises :class:`SchemaError` naming the key.
    """
    for keys in TEXTURE_FRACTIONS:
        v: Any = item
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v and (
            not (is_task(task) and get_task(task).scene_extras)
            or item.get('name') != 'synthetic-aerial'
        ):
            raise SchemaError(
                '{}.{}'.format(path, '.'.join(keys)),
                'real photo textures are for detection '
                'training on synthetic-aerial scenes (task {}, data {})'.format(
                    task, item.get('name')
                ),
            )


def _check_data(raw: Any, task: str) -> Dict[str, Any]:
    """
    Return the ``data`` entry checked and normalised.

    Real sources and mixes by the shared schema, the rest here.
    """
    from ..data.sources import check_data, check_task, DataConfigError

    def builtin(name: str) -> Any:
        def check(v: Any, path: str) -> Dict[str, Any]:
            out = BUILTIN_DATA[name](v, path)
            _check_texture_fractions(out, path, task)
            return out

        return check

    try:
        if isinstance(raw, dict) and ('mix' in raw or isinstance(raw.get('name'), str)):
            check_task(raw, task, TASK_DATA)  # data of another task: say so before its keys
        data = check_data(
            raw,
            'data',
            {name: builtin(name) for name in BUILTIN_DATA},
            {'epoch_size': (integer(1), None)},
        )
        check_task(data, task, TASK_DATA)
    except DataConfigError as exc:
        raise ConfigError(str(exc)) from None
    return data


def validate_config(cfg: Any) -> Dict[str, Any]:
    """
    Check a training config before any work.

    Returns it with ``data`` normalised (defaults filled in).

    Raises :class:`ConfigError`, one line naming the bad key (``data.train_scenes: renamed
    data.train_size``).
    """
    from ..runtime.bundle import parse_input_spec

    try:
        out = TOP(cfg, '')
        out['data'] = _check_data(out['data'], out['task'])
    except SchemaError as exc:
        raise ConfigError(str(exc)) from None
    try:
        parse_input_spec(out['input'], 'input')
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    mine = get_task(out['task']).train_keys
    for other in all_tasks():  # a key another task's loop reads would be silently ignored here
        for key in other.train_keys:
            if key in out['train'] and key not in mine:
                raise ConfigError(
                    'train.{}: a {} setting (this config trains task {})'.format(
                        key, other.name, out['task']
                    )
                )
    ex = out.get('export', {})
    for key in ('min_precision', 'min_recall'):
        if key in ex and ex.get('score_threshold', 'auto') != 'auto':
            raise ConfigError(
                (
                    'export.{}: a target for score_threshold: auto (the threshold is given here)'
                ).format(key)
            )
    return out


def load_config(path: Path) -> Dict[str, Any]:
    """
    Read and validate a YAML config.

    Raises :class:`ConfigError` naming the file when it is missing or not YAML.
    """
    return validate_config(convert(ConfigError, read_yaml, path, 'config'))


__all__ = [
    'ConfigError',
    'DATA_RENAMED',
    'SYNTHETIC_DEFAULTS',
    'TASK_DATA',
    'load_config',
    'validate_config',
]

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
Compression recipes: YAML schema and validation.

A recipe is checked completely before any work starts. Every error names the path of the bad key,
e.g. ``stages[1].prune.ratio: expected a number in (0, 1), got 1.5``; unknown keys are rejected.

Schema (defaults in brackets)::

    name: str                                   [file stem]
    seed: int                                   [0]
    model: {arch, task: classify|detect|segment [classify], num_classes [the data's class count],
            img_size, pretrained [false], pretrained_file [null] (local timm weights),
            checkpoint [null], kwargs: {timm arguments}}
    teacher: baseline | {arch, task, num_classes, img_size, checkpoint, kwargs}     [baseline]
    data: {name: digits|synthetic-aerial, img_size, seed, test_fraction, train_size, val_size,
           val_seed, width, height, cache_dir (segment: synthetic scenes cached there as .npz),
           flights: {count, frames, every [1], seed, real_backgrounds [0]} (detect: generated
           drone-flight frames join training), real_backgrounds [0], real_negatives [0]
           (detect: real photo texture as ground / as object-free scenes,
           vitedge_ros.training.data.make_detection_set)}
        | {name: imagefolder, root, val_root, seed, test_fraction, img_size, train_size, val_size}
        | {name: coco | visdrone, ... (vitedge_ros.data.sources), img_size, train_size, val_size}
        | {mix: [{name, weight, ...}, ...], img_size, train_size, val_size}
      (real detection data: ``train_size`` [512] random crops drawn once for pruning and INT8
      calibration, fresh crops every fine-tuning epoch; ``val_size`` caps the validation images)
    measure: {latency_runs [50], warmup [10], threads [1]}   (onnxruntime CPU threads for latency)
    stages: list of one-key mappings, applied in order (each stage type's schema lives in its
            module, vitedge_ros/compress/stages/<type>.py; the registry there lists them):
      - finetune: {epochs, lr, batch_size, weight_decay, label_smoothing, augment, distill}
      - prune: {ratio, importance: taylor|magnitude, heads, head_dims, mlp, embed, global,
                embed_ratio, heads_ratio, mlp_ratio, calib_batches, round_to,
                convs, conv_ratio, conv_groups: [neck, fuse, stem] (detector conv channels)}
      - lowrank: {energy | params, only_if_saves, min_rank, max_macs_ratio, include, exclude}
      - tome: {r, sweep}
      - quantize: {mode: int8|fp16|dynamic, calibration: minmax|entropy|percentile, percentile,
                   calib_batches, calib_batch_size, exclude, keep_fp32, per_channel, sensitivity,
                   sensitivity_samples, also}
    Every stage also takes ``name`` (report label) and ``branch`` (measure it, but let the next
    stage start from the model before it).
"""

from pathlib import Path
from typing import Any, Dict, List, Union

from ..runtime.errors import VitedgeError
from ..schema import (
    any_mapping,
    boolean,
    choice,
    convert,
    img_size,
    integer,
    mapping,
    num,
    optional,
    read_yaml,
    SchemaError,
    string,
)
from ..tasks import all_tasks, get_task
from ..training.config import DATA_RENAMED

DATA_NAMES = (
    'digits',
    'synthetic-aerial',
)  # generated or bundled here; real sources: vitedge_ros.data.sources
TASK_DATA = {
    task.name: task.recipe_sources for task in all_tasks()
}  # by name: classify, detect, segment


class RecipeError(VitedgeError, ValueError):
    """An invalid recipe; the message starts with the path of the bad key."""


def _fail(path: str, msg: str) -> RecipeError:
    return RecipeError('{}: {}'.format(path, msg))


# --- the schema (checkers: the shared config language, vitedge_ros.schema)
# --------------------------------------------

MODEL = mapping(
    {
        'arch': (string, None),
        'task': (choice(*TASK_DATA), 'classify'),
        'num_classes': (optional(integer(1)), None),
        'img_size': (optional(img_size), None),
        'pretrained': (boolean, False),
        'pretrained_file': (optional(string), None),
        'checkpoint': (optional(string), None),
        'kwargs': (any_mapping, {}),
    }
)

FLIGHTS = mapping(
    {
        'count': (integer(1), None),
        'frames': (integer(1), None),
        'every': (integer(1), 1),
        'seed': (integer(0), None),
        'real_backgrounds': (num(0, 1), 0.0),
    },
    required=('count', 'frames', 'seed'),
)

BUILTIN_DATA = mapping(
    {
        'name': (choice(*DATA_NAMES), None),
        'img_size': (optional(img_size), None),
        'seed': (integer(0), 0),
        'test_fraction': (num(0, 1, True, True), 0.2),
        'train_size': (optional(integer(1)), None),
        'val_size': (optional(integer(1)), None),
        'val_seed': (integer(0), 100000),
        'width': (integer(16), 640),
        'height': (integer(16), 480),
        'cache_dir': (optional(string), None),
        'flights': (optional(FLIGHTS), None),
        'real_backgrounds': (num(0, 1), 0.0),
        'real_negatives': (num(0, 1), 0.0),
    },
    required=('name',),
    renamed=DATA_RENAMED,
)
REAL_DATA_EXTRA = {
    'img_size': (optional(img_size), None),
    'train_size': (optional(integer(1)), None),
    'val_size': (optional(integer(1)), None),
}


def DATA(v: Any, path: str) -> Dict[str, Any]:  # noqa: N802 - a checker like the mappings above
    """
    Return the ``data`` entry.

    Digits / synthetic-aerial here, real sources and mixes by the shared schema.
    """
    from ..data.sources import check_data, DataConfigError

    try:
        return check_data(v, path, dict.fromkeys(DATA_NAMES, BUILTIN_DATA), REAL_DATA_EXTRA)
    except DataConfigError as exc:
        raise RecipeError(str(exc)) from None


MEASURE = mapping(
    {'latency_runs': (integer(3), 50), 'warmup': (integer(0), 10), 'threads': (integer(1), 1)}
)


def _stage(v: Any, path: str) -> Dict[str, Any]:
    """One stage entry, checked by its stage type's schema (:mod:`vitedge_ros.compress.stages`)."""
    from .stages import get_stage, stage_types

    if not isinstance(v, dict) or len(v) != 1:
        raise _fail(
            path,
            'expected a mapping with exactly one stage key ({}), got {!r}'.format(
                ', '.join(stage_types()), v
            ),
        )
    ((kind, body),) = v.items()
    cfg = get_stage(kind, path).schema(body, '{}.{}'.format(path, kind))
    return {'type': kind, **cfg}


TOP = {
    'name': (optional(string), None),
    'seed': (integer(0), 0),
    'model': (MODEL, None),
    'teacher': (None, 'baseline'),
    'data': (DATA, None),
    'measure': (MEASURE, {}),
    'stages': (None, None),
}


def validate_recipe(raw: Any, source: str = 'recipe') -> Dict[str, Any]:
    """
    Check a parsed recipe and return it normalised (defaults filled in).

    Raises :class:`RecipeError`.
    """
    try:
        return _validate_recipe(raw, source)
    except SchemaError as exc:
        raise RecipeError(str(exc)) from None


def _validate_recipe(raw: Any, source: str) -> Dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(source, 'expected a mapping at top level, got {}'.format(type(raw).__name__))
    for k in raw:
        if k not in TOP:
            raise _fail(k, 'unknown key (known: {})'.format(', '.join(TOP)))
    for k in ('model', 'data', 'stages'):
        if k not in raw:
            raise _fail(k, 'required key is missing')
    out: Dict[str, Any] = {}
    out['name'] = optional(string)(raw.get('name'), 'name')
    out['seed'] = integer(0)(raw.get('seed', 0), 'seed')
    out['model'] = MODEL(raw['model'], 'model')
    if out['model']['arch'] is None:
        raise _fail('model.arch', 'required key is missing')
    teacher = raw.get('teacher', 'baseline')
    if teacher is None or teacher == 'baseline':
        out['teacher'] = 'baseline'
    else:
        out['teacher'] = MODEL(teacher, 'teacher')
        if out['teacher']['arch'] is None and out['teacher']['checkpoint'] is None:
            raise _fail('teacher', "expected 'baseline' or a mapping with arch and/or checkpoint")
    out['data'] = DATA(raw['data'], 'data')
    from ..data.sources import check_task, DataConfigError

    try:
        check_task(out['data'], out['model']['task'], TASK_DATA)
    except DataConfigError as exc:
        raise RecipeError('{} (model.task)'.format(exc)) from None
    extras = get_task(out['model']['task']).scene_extras
    if out['data'].get('flights') and not extras:
        raise _fail('data.flights', 'flight frames are detection data; model.task must be detect')
    for key in ('real_backgrounds', 'real_negatives'):
        if out['data'].get(key) and not extras:
            raise _fail(
                'data.' + key, 'real-texture scenes are detection data; model.task must be detect'
            )
    out['measure'] = MEASURE(raw.get('measure'), 'measure')
    stages = raw['stages']
    if not isinstance(stages, list) or not stages:
        raise _fail('stages', 'expected a non-empty list of stages, got {!r}'.format(stages))
    out['stages'] = [_stage(s, 'stages[{}]'.format(i)) for i, s in enumerate(stages)]
    from .stages import get_stage

    for i, st in enumerate(
        out['stages']
    ):  # each stage type's rules against the rest of the recipe
        get_stage(st['type']).check(out, i)
    names = stage_names(out)
    seen = set()
    for i, n in enumerate(names):
        if n in seen:
            raise _fail(
                'stages[{}].{}.name'.format(i, out['stages'][i]['type']),
                'duplicate stage name {!r}'.format(n),
            )
        seen.add(n)
    return out


def trains_baseline(recipe: Dict[str, Any]) -> bool:
    """
    Return True when the first stage trains the baseline.

    That is a finetune on a model without a checkpoint or weights.
    """
    m = recipe['model']
    return (
        recipe['stages'][0]['type'] == 'finetune'
        and not m['checkpoint']
        and not m['pretrained']
        and not m['pretrained_file']
    )


def stage_names(recipe: Dict[str, Any]) -> List[str]:
    """
    Report names of the recipe's stages.

    ``baseline`` for a stage 0 that trains the baseline.
    """
    names: List[str] = []
    counts: Dict[str, int] = {}
    for i, st in enumerate(recipe['stages']):
        if st.get('name'):
            names.append(st['name'])
            continue
        if i == 0 and trains_baseline(recipe):
            names.append('baseline')
            continue
        from .stages import get_stage

        base = get_stage(st['type']).label(st)
        counts[base] = counts.get(base, 0) + 1
        names.append(base if counts[base] == 1 else '{}{}'.format(base, counts[base]))
    return names


def load_recipe(path: Union[str, Path]) -> Dict[str, Any]:
    """
    Read and validate a recipe file.

    Errors carry the key path (file name prefixed for YAML errors).
    """
    path = Path(path)
    recipe = validate_recipe(convert(RecipeError, read_yaml, path, 'recipe'))
    if recipe['name'] is None:
        recipe['name'] = path.stem
    recipe['path'] = str(path)
    return recipe

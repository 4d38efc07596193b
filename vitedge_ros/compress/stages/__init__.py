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
Compression stages as plug-ins.

One module per stage type, each with its schema and its run function.

``STAGES`` maps a recipe's stage key to its :class:`~vitedge_ros.compress.stages.base.Stage`, in
the order the recipe errors list them. A new stage type is one module defining ``STAGE =
Stage(name, schema, run, ...)`` and one :func:`register` call (or an entry here); the recipe
validator (:mod:`vitedge_ros.compress.recipe`) and the runner (:mod:`vitedge_ros.compress.runner`)
find it by its key and branch on no stage name.

``baseline`` (:data:`BASELINE`) is the runner's own stage 0 when the model is not trained by the
first stage (a checkpoint or pretrained weights): the model measured as loaded. It is not a recipe
key.
"""

from typing import Dict, Tuple

from . import finetune, lowrank, prune, quantize, tome
from .base import RunError, Stage, StageContext, StageResult
from .fields import fail, RecipeError

__all__ = [
    'BASELINE',
    'STAGES',
    'RecipeError',
    'RunError',
    'Stage',
    'StageContext',
    'StageResult',
    'get_stage',
    'register',
    'stage_for',
    'stage_types',
]

STAGES: Dict[str, Stage] = {}


def register(stage: Stage) -> Stage:
    """
    Add a stage type to the registry under ``stage.name``.

    ValueError when the name is taken or reserved.
    """
    if stage.name in STAGES or stage.name == BASELINE.name:
        raise ValueError('stage type {!r} is already registered'.format(stage.name))
    STAGES[stage.name] = stage
    return stage


def stage_types() -> Tuple[str, ...]:
    """Return the recipe's stage keys, in registration order."""
    return tuple(STAGES)


def get_stage(name: str, path: str = 'stages') -> Stage:
    """
    Return the stage type of recipe key ``name``.

    Raises :class:`RecipeError` ``PATH.NAME: unknown stage (known: ...)``.
    """
    try:
        return STAGES[name]
    except KeyError:
        raise fail(
            '{}.{}'.format(path, name), 'unknown stage (known: {})'.format(', '.join(STAGES))
        ) from None


def stage_for(kind: str) -> Stage:
    """
    Return the stage type of a run's stage entry (``type``).

    It is a registered stage, or :data:`BASELINE`. Raises :class:`RecipeError` for a type that is
    neither (e.g. a report entry of a removed plug-in).
    """
    return BASELINE if kind == BASELINE.name else get_stage(kind)


def _baseline(ctx: StageContext, params: Dict[str, object]) -> StageResult:
    """Return the model as loaded: nothing changes; the runner measures and exports it."""
    return StageResult(ctx.model)


BASELINE = Stage('baseline', None, _baseline)

for _module in (finetune, prune, lowrank, tome, quantize):
    register(_module.STAGE)

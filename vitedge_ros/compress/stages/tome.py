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
The ``tome`` stage: token merging in a ViT classifier's blocks (``r`` tokens merged per block).

Algorithm: :mod:`vitedge_ros.compress.tome` (Bolya et al., "Token Merging: Your ViT but Faster",
ICLR 2023). The stage works on a copy of its input model; ``sweep`` measures top-1 for other ``r``
values too.
"""

import copy
from typing import Any, Dict, List, Union

import torch

from .base import Stage, stage_schema, StageContext, StageResult
from .fields import fail, integer, list_of
from ...tasks import get_task

_WEIGHT_STAGES = ('prune', 'lowrank', 'finetune')


def _tome_r(v: Any, path: str) -> Union[int, List[int]]:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return int(v)
    if (
        isinstance(v, list)
        and v
        and all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in v)
    ):
        return [int(a) for a in v]
    raise fail(
        path, 'expected an integer >= 0 or a list of them (one per block), got {!r}'.format(v)
    )


SCHEMA = stage_schema({'r': (_tome_r, 0), 'sweep': (list_of(integer(0)), [])})


def check(recipe: Dict[str, Any], index: int) -> None:
    """
    Token merging is for ViT classifiers.

    And comes after the stages that change weights (unless a branch).
    """
    st = recipe['stages'][index]
    if not get_task(recipe['model']['task']).token_merging:
        raise fail('stages[{}].tome'.format(index), 'token merging is for ViT classifiers only')
    if not st['branch'] and any(
        s['type'] in _WEIGHT_STAGES for s in recipe['stages'][index + 1:]
    ):
        raise fail(
            'stages[{}].tome'.format(index),
            'tome must come after prune/lowrank/finetune stages (or be a branch: true stage)',
        )


def run(ctx: StageContext, st: Dict[str, Any]) -> StageResult:
    """
    Patch ``ctx.model`` (a copy) with ToMe at ``st['r']``.

    The details are r, the tokens per block and the sweep.
    """
    from ..evaluation import evaluate_torch
    from ..tome import apply_tome, token_counts

    model, data = ctx.model, ctx.data
    sweep = []
    for r in st['sweep']:
        probe = apply_tome(copy.deepcopy(model), r)
        m = evaluate_torch(probe, data)
        probe(torch.from_numpy(data.eval_inputs(1)))
        sweep.append({'r': r, 'metric': m.get('top1'), 'tokens': token_counts(probe)})
    apply_tome(model, st['r'])
    model.eval()(torch.from_numpy(data.eval_inputs(1)))
    details = {'r': st['r'], 'tokens_per_block': token_counts(model)}
    if sweep:
        details['tome_sweep'] = sweep
    return StageResult(model, details=details)


STAGE = Stage('tome', SCHEMA, run, check=check, copy_input=True)

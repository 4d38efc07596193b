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
The ``lowrank`` stage.

SVD factorisation of linear layers (retained energy per layer, or a global budget).

Algorithm: :func:`vitedge_ros.compress.lowrank.factorize`.
"""

from typing import Any, Dict

from .base import Stage, stage_schema, StageContext, StageResult
from .fields import boolean, fail, integer, list_of, num, optional, string

_FIELDS = stage_schema(
    {
        'energy': (optional(num(0, 1, lo_open=True)), None),
        'params': (optional(num(0, 1, True, True)), None),
        'only_if_saves': (boolean, True),
        'min_rank': (integer(1), 1),
        'max_macs_ratio': (num(0, 1, True), 1.0),
        'include': (list_of(string), ['blocks.']),
        'exclude': (list_of(string), []),
    }
)


def SCHEMA(v: Any, path: str) -> Dict[str, Any]:  # noqa: N802 - a checker like the mappings
    """
    Return the stage's mapping.

    Exactly one of ``energy`` and ``params`` (RecipeError naming the stage path).
    """
    cfg = _FIELDS(v, path)
    if (cfg['energy'] is None) == (cfg['params'] is None):
        raise fail(
            path,
            "give exactly one of 'energy' (retained energy per layer) "
            "or 'params' (global fraction of parameters kept)",
        )
    return cfg


def run(ctx: StageContext, st: Dict[str, Any]) -> StageResult:
    """
    Factorize ``ctx.model``'s linear layers in place.

    The details are ``factorize``'s per-layer report.
    """
    from ..lowrank import factorize

    details = factorize(
        ctx.model,
        energy=st['energy'],
        params=st['params'],
        include=st['include'],
        exclude=st['exclude'],
        only_if_saves=st['only_if_saves'],
        min_rank=st['min_rank'],
        max_macs_ratio=st['max_macs_ratio'],
    )
    return StageResult(ctx.model, details=details)


STAGE = Stage('lowrank', SCHEMA, run)

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
The schema field checkers stage modules build their schemas from: the one config language.

Each checker (:mod:`vitedge_ros.schema`) takes ``(value, path)`` and returns the normalised value
or raises a one-line error naming ``path``; :func:`vitedge_ros.compress.stages.base.stage_schema`
and :func:`vitedge_ros.compress.recipe.validate_recipe` raise it as
:class:`~vitedge_ros.compress.recipe.RecipeError`; ``fail(path, problem)`` makes a RecipeError
directly.
"""

from ..recipe import _fail as fail
from ..recipe import RecipeError
from ...schema import boolean, choice, integer, list_of, mapping, num, optional, string

__all__ = [
    'RecipeError',
    'boolean',
    'choice',
    'fail',
    'integer',
    'list_of',
    'mapping',
    'num',
    'optional',
    'string',
]

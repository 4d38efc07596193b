"""The schema field checkers stage modules build their schemas from: the one config language.

Each checker (:mod:`vitedge_ros.schema`) takes ``(value, path)`` and returns the normalised value or raises a
one-line error naming ``path``; :func:`vitedge_ros.compress.stages.base.stage_schema` and
:func:`vitedge_ros.compress.recipe.validate_recipe` raise it as :class:`~vitedge_ros.compress.recipe.RecipeError`;
``fail(path, problem)`` makes a RecipeError directly.
"""
from ...schema import boolean, choice, integer, list_of, mapping, num, optional, string
from ..recipe import RecipeError
from ..recipe import _fail as fail

__all__ = ['RecipeError', 'boolean', 'choice', 'fail', 'integer', 'list_of', 'mapping', 'num', 'optional', 'string']

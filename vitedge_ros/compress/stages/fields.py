"""The schema field checkers stage modules build their schemas from (one place to change if they move).

Each checker takes ``(value, path)`` and returns the normalised value or raises a one-line
:class:`~vitedge_ros.compress.recipe.RecipeError` naming ``path`` (defined in :mod:`vitedge_ros.compress.recipe`).
"""
from ..recipe import RecipeError, boolean, choice, integer, list_of, mapping, num, optional, string
from ..recipe import _fail as fail

__all__ = ['RecipeError', 'boolean', 'choice', 'fail', 'integer', 'list_of', 'mapping', 'num', 'optional', 'string']

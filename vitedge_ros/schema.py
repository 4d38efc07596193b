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
The one config language.

Field checkers for compression recipes, training configs and node parameters.

A checker is a function ``(value, path) -> normalised value`` that raises :class:`SchemaError`
whose message starts with the path of the bad key and says what was expected (the allowed range or
choices) and what it got, e.g. ``stages[1].prune.ratio: expected a number in (0, 1), got 1.5``.
Checkers compose: :func:`mapping` holds ``{key: (checker, default)}``, :func:`list_of` and
:func:`optional` wrap another checker.

Each user turns :class:`SchemaError` into its own class at its entry point (``RecipeError`` in
:mod:`vitedge_ros.compress.recipe`, ``ConfigError`` in :mod:`vitedge_ros.training.config`,
``ParamError`` in :mod:`vitedge_ros.perception.core`), keeping the message.

Python 3.6 (the drone's JetPack 4.6 Python: the node validates its parameters with these), no
torch, no numpy: numbers are recognised through :mod:`numbers`, so numpy scalars (``np.float32``,
``np.int64``) pass as the Python numbers they are.
"""

import copy
import math
import numbers
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .runtime.errors import VitedgeError

Checker = Callable[[Any, str], Any]

#: The default of a :func:`mapping` field that stays out of the result when the key is not given.
ABSENT = object()


class SchemaError(VitedgeError, ValueError):
    """
    A value that fails its checker.

    ``.path`` is the key path, ``.problem`` what is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__('{}: {}'.format(path, problem))


def fail(path: str, problem: str) -> SchemaError:
    """Return the error for the key ``path`` (``data.mix[1].weight``); raise it."""
    return SchemaError(path, problem)


def is_bool(v: Any) -> bool:
    """
    Return True for ``True`` / ``False`` and numpy's booleans.

    ``np.bool_``; named ``bool`` in numpy 2.
    """
    return isinstance(v, bool) or (
        type(v).__module__ == 'numpy' and type(v).__name__ in ('bool_', 'bool')
    )


def is_number(v: Any) -> bool:
    """Return True for a finite real number that is not a bool (numpy scalars included)."""
    if is_bool(v) or not isinstance(v, numbers.Real):
        return False
    return math.isfinite(float(v))


def is_integer(v: Any) -> bool:
    """Return True for a whole number type (int, numpy integers), not a bool."""
    return isinstance(v, numbers.Integral) and not is_bool(v)


def _range(lo: Optional[float], hi: Optional[float], lo_open: bool, hi_open: bool) -> str:
    """`` in [lo, hi]`` / `` >= lo`` / `` < hi`` / ``''``: the allowed range in words."""
    if lo is None and hi is None:
        return ''
    if hi is None:
        return ' {} {}'.format('>' if lo_open else '>=', lo)
    if lo is None:
        return ' {} {}'.format('<' if hi_open else '<=', hi)
    return ' in {}{}, {}{}'.format('(' if lo_open else '[', lo, hi, ')' if hi_open else ']')


def num(
    lo: Optional[float] = None,
    hi: Optional[float] = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Checker:
    """
    Return a finite number (float), optionally in a range.

    The message says the range (``in (0, 1]``, ``> 0``).
    """

    def check(v: Any, path: str) -> float:
        ok = is_number(v)
        if ok and lo is not None:
            ok = v > lo if lo_open else v >= lo
        if ok and hi is not None:
            ok = v < hi if hi_open else v <= hi
        if not ok:
            raise fail(
                path, 'expected a number{}, got {!r}'.format(_range(lo, hi, lo_open, hi_open), v)
            )
        return float(v)

    return check


def integer(lo: Optional[int] = None, hi: Optional[int] = None) -> Checker:
    """Return a whole number (int, not a bool) within [lo, hi]; the message says the range."""

    def check(v: Any, path: str) -> int:
        ok = is_integer(v)
        if ok and lo is not None and v < lo:
            ok = False
        if ok and hi is not None and v > hi:
            ok = False
        if not ok:
            raise fail(
                path, 'expected an integer{}, got {!r}'.format(_range(lo, hi, False, False), v)
            )
        return int(v)

    return check


def boolean(v: Any, path: str) -> bool:
    """Check for ``true`` / ``false`` (numpy's bool too)."""
    if not is_bool(v):
        raise fail(path, 'expected true or false, got {!r}'.format(v))
    return bool(v)


def string(v: Any, path: str) -> str:
    """Return a non-empty string."""
    if not isinstance(v, str) or not v:
        raise fail(path, 'expected a non-empty string, got {!r}'.format(v))
    return v


def text(v: Any, path: str) -> str:
    """Return a string, empty allowed, surrounding blanks stripped."""
    if not isinstance(v, str):
        raise fail(path, 'expected a string, got {!r}'.format(v))
    return v.strip()


def choice(*options: str) -> Checker:
    """One of a fixed set of strings; the message lists them."""

    def check(v: Any, path: str) -> str:
        if not isinstance(v, str) or v not in options:
            raise fail(path, 'expected one of {}, got {!r}'.format(', '.join(options), v))
        return v

    return check


def optional(inner: Checker) -> Checker:
    """``null`` or what ``inner`` accepts."""

    def check(v: Any, path: str) -> Any:
        return None if v is None else inner(v, path)

    return check


def either(*checkers: Checker) -> Checker:
    """
    Return the first of ``checkers`` that accepts the value.

    Else one error giving every alternative.
    """

    def check(v: Any, path: str) -> Any:
        problems = []
        for c in checkers:
            try:
                return c(v, path)
            except SchemaError as exc:
                problems.append(exc.problem.split(', got ')[0].replace('expected ', '', 1))
        raise fail(path, 'expected {}, got {!r}'.format(' or '.join(problems), v))

    return check


def _same(v: Any, want: Any) -> bool:
    if is_integer(want):
        return is_integer(v) and v == want
    if is_number(want):
        return is_number(v) and v == want
    return type(v) is type(want) and v == want


def exactly(*values: Any, what: Optional[str] = None) -> Checker:
    """
    One of a few literal values (``-1`` as a sentinel, say).

    An integer matches integers only, a float any number; ``what`` words them in the message
    (``-1 (the bundle's value)``).
    """

    def check(v: Any, path: str) -> Any:
        for want in values:
            if _same(v, want):
                return want
        raise fail(
            path, 'expected {}, got {!r}'.format(what or ' or '.join(repr(w) for w in values), v)
        )

    return check


def list_of(inner: Checker) -> Checker:
    """Return a list whose items pass ``inner`` (item paths ``path[i]``)."""

    def check(v: Any, path: str) -> List[Any]:
        if not isinstance(v, list):
            raise fail(path, 'expected a list, got {!r}'.format(v))
        return [inner(item, '{}[{}]'.format(path, i)) for i, item in enumerate(v)]

    return check


def mapping_of(inner: Checker) -> Checker:
    """Return a mapping with string keys whose values pass ``inner`` (value paths ``path.key``)."""

    def check(v: Any, path: str) -> Dict[str, Any]:
        return {k: inner(item, _join(path, k)) for k, item in any_mapping(v, path).items()}

    return check


def any_mapping(v: Any, path: str) -> Dict[str, Any]:
    """Return a mapping with string keys (contents free, e.g. timm kwargs)."""
    if not isinstance(v, dict):
        raise fail(path, 'expected a mapping, got {!r}'.format(v))
    for k in v:
        if not isinstance(k, str):
            raise fail(path, 'keys must be strings, got {!r}'.format(k))
    return dict(v)


def img_size(v: Any, path: str) -> Union[int, List[int]]:
    """Return a positive int or ``[height, width]``."""
    if is_integer(v) and v > 0:
        return int(v)
    if isinstance(v, list) and len(v) == 2 and all(is_integer(a) and a > 0 for a in v):
        return [int(v[0]), int(v[1])]
    raise fail(path, 'expected a positive integer or [height, width], got {!r}'.format(v))


def _join(path: str, key: Any) -> str:
    return '{}.{}'.format(path, key) if path else str(key)


def mapping(
    fields: Dict[str, Tuple[Checker, Any]],
    required: Sequence[str] = (),
    renamed: Optional[Dict[str, str]] = None,
) -> Checker:
    """
    Return a mapping with known keys.

    ``fields`` maps key -> (checker, default); unknown keys are errors.

    A missing key takes a deep copy of its default (:data:`ABSENT`: left out); ``null`` for a whole
    mapping is an empty one. ``renamed`` ({old key: new key}) turns an old key into ``PATH.old:
    renamed PATH.new``. ``path`` '' is the top level (keys are then named bare).
    """
    renamed = dict(renamed or {})

    def check(v: Any, path: str) -> Dict[str, Any]:
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise fail(path or 'config', 'expected a mapping, got {!r}'.format(v))
        for k in v:
            if k in renamed and k not in fields:
                raise fail(_join(path, k), 'renamed {}'.format(_join(path, renamed[k])))
            if k not in fields:
                raise fail(_join(path, k), 'unknown key (known: {})'.format(', '.join(fields)))
        for k in required:
            if k not in v:
                raise fail(_join(path, k), 'required key is missing')
        out = {}
        for k, (checker, default) in fields.items():
            if k in v:
                out[k] = checker(v[k], _join(path, k))
            elif default is not ABSENT:
                out[k] = copy.deepcopy(default)
        return out

    return check


def convert(error: Callable[[str], Exception], checker: Checker, value: Any, path: str) -> Any:
    """
    Return ``checker(value, path)``, a :class:`SchemaError` re-raised as ``error(message)``.

    The message text stays the same.
    """
    try:
        return checker(value, path)
    except SchemaError as exc:
        raise error(str(exc)) from None


def read_yaml(path: Any, what: str = 'config') -> Any:
    """
    Return the parsed YAML file ``path``.

    Raises :class:`SchemaError` naming the file when it is missing or not valid YAML.

    The YAML problem is one line with its position
    (:func:`vitedge_ros.runtime.errors.yaml_error_line`): ``cfg.yaml: not valid YAML: line 2,
    column 3: expected ',' or ']'``.
    """
    import os

    import yaml

    if not os.path.isfile(str(path)):
        raise fail(str(path), '{} file does not exist'.format(what))
    try:
        with open(str(path)) as f:
            return yaml.safe_load(f.read())
    except yaml.YAMLError as exc:
        from .runtime.errors import yaml_error_line

        raise fail(str(path), 'not valid YAML: {}'.format(yaml_error_line(exc))) from None


__all__ = [
    'ABSENT',
    'Checker',
    'SchemaError',
    'fail',
    'is_bool',
    'is_number',
    'is_integer',
    'num',
    'integer',
    'boolean',
    'string',
    'text',
    'choice',
    'optional',
    'either',
    'exactly',
    'list_of',
    'any_mapping',
    'img_size',
    'mapping',
    'convert',
    'read_yaml',
]

"""Shared ending of the command-line tools: one-line errors with exit 2, exit 130 on Ctrl-C."""
import sys
from typing import Any, Callable, Optional, Tuple, Type

from .runtime.errors import VitedgeError

__all__ = ['run_guarded']


def run_guarded(prog: str, func: Callable[[], Any],
                errors: Tuple[Type[BaseException], ...] = (VitedgeError,),
                interrupted: str = 'interrupted') -> Tuple[int, Optional[Any]]:
    """Call ``func`` and turn its expected failures into exit statuses.

    Returns ``(0, result)``; ``(2, None)`` after printing ``prog: error: <message>`` to stderr for one of
    ``errors`` (default: ``VitedgeError``, the base of every project error, so any input mistake the library
    names); ``(130, None)`` after ``prog: <interrupted>`` on KeyboardInterrupt. No traceback either way.
    """
    try:
        return 0, func()
    except errors as exc:
        print('{}: error: {}'.format(prog, exc), file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print('{}: {}'.format(prog, interrupted), file=sys.stderr)
        return 130, None

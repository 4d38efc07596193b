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
Shared ending of the command-line tools: one-line errors with exit 2, exit 130 on Ctrl-C.

Every ``tools/*.py`` file is a thin entry point over a library ``main(argv)`` (also installed as a
console script, setup.py); the library mains use :func:`run_guarded` for their expected failures
and :func:`workstation_tool` so that a tool run without its optional workstation packages
(setup.py's ``tools``
extra: torch, timm, onnx, ...) says which package is missing in one line instead of a traceback.
Python 3.6 syntax: ``tools/build_engine.py`` and ``tools/eval_bag.py`` run on the drone.
"""

import functools
import sys
from typing import Any, Callable, List, Optional, Tuple, Type

from .runtime.errors import VitedgeError

__all__ = [
    'EXIT_MISSING_PACKAGE',
    'WORKSTATION_PACKAGES',
    'missing_workstation_package',
    'run_guarded',
    'workstation_tool',
]

#: Import name -> pip distribution of setup.py's ``tools`` extra (test/test_tools_thin.py keeps
#: them equal).
WORKSTATION_PACKAGES = {
    'torch': 'torch',
    'torchvision': 'torchvision',
    'timm': 'timm',
    'onnx': 'onnx',
    'onnxslim': 'onnxslim',
    'onnxscript': 'onnxscript',
    'torch_pruning': 'torch-pruning',
    'rosbags': 'rosbags',
    'faster_coco_eval': 'faster-coco-eval',
    'sklearn': 'scikit-learn',
    'skimage': 'scikit-image',
    'matplotlib': 'matplotlib',
    'tqdm': 'tqdm',
    'mcap': 'mcap',
    'scipy': 'scipy',
}
#: Exit status of a tool whose workstation package is missing (the tools' "bad input or
#: environment" status).
EXIT_MISSING_PACKAGE = 2


def run_guarded(
    prog: str,
    func: Callable[[], Any],
    errors: Tuple[Type[BaseException], ...] = (VitedgeError,),
    interrupted: str = 'interrupted',
) -> Tuple[int, Optional[Any]]:
    """
    Call ``func`` and turn its expected failures into exit statuses.

    Returns ``(0, result)``; ``(2, None)`` after printing ``prog: error: <message>`` to stderr for
    one of ``errors`` (default: ``VitedgeError``, the base of every project error, so any input
    mistake the library names); ``(130, None)`` after ``prog: <interrupted>`` on KeyboardInterrupt.
    No traceback either way.
    """
    try:
        return 0, func()
    except errors as exc:
        print('{}: error: {}'.format(prog, exc), file=sys.stderr)
        return 2, None
    except KeyboardInterrupt:
        print('{}: {}'.format(prog, interrupted), file=sys.stderr)
        return 130, None


def missing_workstation_package(exc: BaseException) -> Optional[str]:
    """
    Return the pip distribution of the ``tools`` extra whose absence raised ``exc``, else None.

    Only a ``ModuleNotFoundError`` naming one of :data:`WORKSTATION_PACKAGES` (or a submodule of
    one) counts; any other import error is a fault of the program and is left to raise.
    """
    name = getattr(exc, 'name', None) if isinstance(exc, ModuleNotFoundError) else None
    return WORKSTATION_PACKAGES.get(name.split('.')[0]) if name else None


def workstation_tool(prog: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """
    Decorate a tool's ``main(argv=None) -> int`` to report a missing workstation package.

    A missing workstation package becomes one line and exit 2.

    The line is ``prog: error: <dist> is not installed: this tool needs the workstation packages
    (pip install "vitedge_ros[tools]")``, on stderr.
    """

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def guarded(argv: Optional[List[str]] = None) -> int:
            try:
                return main(argv)
            except ModuleNotFoundError as exc:
                dist = missing_workstation_package(exc)
                if dist is None:
                    raise
                print(
                    '{}: error: {} is not installed: this tool needs the workstation packages '
                    '(pip install "vitedge_ros[tools]")'.format(prog, dist),
                    file=sys.stderr,
                )
                return EXIT_MISSING_PACKAGE

        return guarded

    return wrap

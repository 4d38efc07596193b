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

"""Exceptions raised by the runtime, each with a message that names the problem."""


class VitedgeError(Exception):
    """Base class of all vitedge_ros runtime errors."""


class BundleError(VitedgeError, ValueError):
    """A model bundle is missing, incomplete or malformed (the message names the file or field)."""


class FrameError(VitedgeError, ValueError):
    """An input frame cannot be processed (empty, wrong dtype, wrong shape)."""


class EngineError(VitedgeError, RuntimeError):
    """An inference engine cannot be created or run (missing backend, mismatched engine file)."""


def yaml_error_line(exc: Exception) -> str:
    """
    One line for a PyYAML error.

    ``line L, column C: problem`` (PyYAML's ``MarkedYAMLError`` fields).

    Callers put their own prefix before it (``not valid YAML: ...``, ``malformed YAML: ...``).

    PyYAML's own text spans several lines (context, mark, snippet); a user mistake gets one line
    (house rule). ``problem_mark`` line/column are 0-based in PyYAML; they are printed 1-based as
    editors show them.
    """
    mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
    problem = getattr(exc, 'problem', None) or getattr(exc, 'context', None)
    if mark is not None and problem:
        return 'line {}, column {}: {}'.format(mark.line + 1, mark.column + 1, problem)
    return ' '.join(str(exc).split()) or type(exc).__name__

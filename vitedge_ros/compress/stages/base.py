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
What a compression stage is: its recipe schema, its run function, and what the runner hands it.

A stage module (``vitedge_ros/compress/stages/<name>.py``) defines ``STAGE = Stage(name, schema,
run, ...)``; the registry (:mod:`vitedge_ros.compress.stages`) maps the recipe key to it. The
runner calls ``stage.run(ctx, params) -> StageResult`` with a :class:`StageContext` (explicit
attributes only) and the stage's validated recipe entry (``params``: the schema's output plus
``type``), then evaluates, checkpoints and exports the result (see
:mod:`vitedge_ros.compress.runner`). The algorithms themselves live in the library modules
(:mod:`vitedge_ros.compress.prune`, ``lowrank``, ``tome``, ``quantize``, ``distill``); stage
modules are the thin recipe-facing adapters; they build their schemas from
:mod:`vitedge_ros.compress.stages.fields`.
"""

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from torch import nn

from .fields import boolean, mapping, optional, RecipeError, string
from ...runtime.errors import VitedgeError
from ...schema import convert


class RunError(VitedgeError, RuntimeError):
    """A recipe run failed (the message names the stage)."""


COMMON = {'name': (optional(string), None), 'branch': (boolean, False)}


def stage_schema(
    fields: Dict[str, Any], required: tuple = ()
) -> Callable[[Any, str], Dict[str, Any]]:
    """
    Return a stage's mapping checker.

    ``fields`` (key -> (checker, default)) plus the keys every stage takes.

    Every stage takes ``name`` (report label) and ``branch`` (measure it, but let the next stage
    start from the model before it). Unknown keys are a one-line :class:`RecipeError` naming the
    key path.
    """
    check = mapping(dict(COMMON, **fields), required=required)

    def schema(v: Any, path: str) -> Dict[str, Any]:
        return convert(RecipeError, check, v, path)

    return schema


class StageContext:
    """
    What the runner gives a stage's run function.

    All attributes explicit; nothing computed lazily.

    ``model`` is the stage's working model: a copy when the stage is a branch or
    ``Stage.copy_input``, else the previous stage's model itself (changed in place). ``data`` is
    the run's :class:`~vitedge_ros.compress.runner.Data`; ``meta`` the model's bundle metadata
    (task, labels, input, decoder, arch, model_config); ``teacher`` the distillation teacher
    (``None`` until the baseline exists); ``entries`` the report entries of the stages before this
    one; ``fingerprint`` this stage's resume fingerprint.
    """

    def __init__(
        self,
        *,
        index: int,
        name: str,
        model: nn.Module,
        data: Any,
        meta: Dict[str, Any],
        teacher: Optional[nn.Module],
        seed: int,
        rank: int,
        world: int,
        progress: bool,
        resume: bool,
        threads: int,
        out: Path,
        stages_dir: Path,
        onnx_dir: Path,
        fingerprint: str,
        target: str,
        entries: List[Dict[str, Any]],
    ) -> None:
        self.index = index
        self.name = name
        self.model = model
        self.data = data
        self.meta = meta
        self.teacher = teacher
        self.seed = seed
        self.rank = rank
        self.world = world
        self.progress = progress
        self.resume = resume
        self.threads = threads
        self.out = out
        self.stages_dir = stages_dir
        self.onnx_dir = onnx_dir
        self.fingerprint = fingerprint
        self.target = target
        self.entries = entries

    def onnx_path(self, label: Optional[str] = None) -> Path:
        """``OUT/onnx/NN-<label>.onnx`` (``label`` defaults to the stage name)."""
        return self.onnx_dir / '{:02d}-{}.onnx'.format(self.index, label or self.name)

    @property
    def partial_path(self) -> Path:
        """
        Return ``OUT/stages/NN-name.partial.pt``, the stage's progress file.

        It holds a stage's progress within itself (fine-tuning epochs).
        """
        return self.stages_dir / '{:02d}-{}.partial.pt'.format(self.index, self.name)

    def relative(self, path: Path) -> str:
        """``path`` relative to the output directory, as report entries record files."""
        return str(Path(path).relative_to(self.out))


class StageResult:
    """
    What a stage's run function returns.

    ``model``: the stage's output model. ``details``: the report entry's ``details``. ``notes``:
    lines appended to the entry's notes. ``fields``: further report-entry keys, in order (a stage
    that writes its own ONNX graphs, ``Stage.exports`` false, gives ``metric``, ``onnx`` and
    ``onnx_bytes`` here; for the others the runner measures the torch model and exports it).
    """

    def __init__(
        self,
        model: nn.Module,
        details: Optional[Dict[str, Any]] = None,
        notes: Optional[List[str]] = None,
        fields: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.model = model
        self.details = details if details is not None else {}
        self.notes = list(notes or [])
        self.fields = dict(fields or {})


class Stage:
    """
    A compression stage type.

    ``name``: its recipe key. ``schema(value, path) -> params``: checks the stage's mapping
    (one-line :class:`RecipeError` naming the key path). ``run(ctx, params) -> StageResult``.
    ``label(params)``: the report name's base when the recipe gives none (default ``name``).
    ``check(recipe, index)``: rules against the rest of the validated recipe (the model's task, the
    stages around it), raising :class:`RecipeError`. ``exports``: the runner exports the stage's
    model as an FP32 ONNX graph (false: the stage writes its own graphs, so a resume cannot
    re-export it alone). ``distributed``: runs on every process of a multi-process run (else on
    rank 0 only). ``copy_input``: runs on a copy of its input model even when not a branch.
    """

    def __init__(
        self,
        name: str,
        schema: Optional[Callable[[Any, str], Dict[str, Any]]],
        run: Callable[[StageContext, Dict[str, Any]], StageResult],
        *,
        label: Optional[Callable[[Dict[str, Any]], str]] = None,
        check: Optional[Callable[[Dict[str, Any], int], None]] = None,
        exports: bool = True,
        distributed: bool = False,
        copy_input: bool = False,
    ) -> None:
        self.name = name
        self.schema = schema
        self.run = run
        self._label = label
        self._check = check
        self.exports = exports
        self.distributed = distributed
        self.copy_input = copy_input

    def label(self, params: Dict[str, Any]) -> str:
        """Return the base of the stage's report name when the recipe gives none."""
        return self._label(params) if self._label is not None else self.name

    def check(self, recipe: Dict[str, Any], index: int) -> None:
        """Check stage ``index`` of a validated recipe against the rest of it (RecipeError)."""
        if self._check is not None:
            self._check(recipe, index)

    def __repr__(self) -> str:
        return 'Stage({!r})'.format(self.name)

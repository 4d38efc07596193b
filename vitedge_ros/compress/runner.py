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
Run a compression recipe: stages in order, each measured, checkpointed and exported.

The report comes last. The runner is orchestration only: it loads the recipe and its data, runs
each stage through the stage registry (:mod:`vitedge_ros.compress.stages`: one module per stage
type with its schema and ``run(ctx, params)``), measures, checkpoints, exports, resumes and
reports. It branches on no stage type: what differs between stages is declared on their
:class:`~vitedge_ros.compress.stages.base.Stage` (``exports``, ``distributed``, ``copy_input``).

Output directory layout::

    OUT/stages/NN-name.pt          checkpoint after each stage (save_checkpoint; the report entry
                                   in extra)
    OUT/stages/NN-name.partial.pt  fine-tuning progress (epoch + optimizer state), removed when
                                   the stage ends
    OUT/onnx/NN-name.onnx          the stage's ONNX graph (QDQ/FP16/dynamic graphs for quantize
                                   stages)
    OUT/report.json, OUT/report.md, OUT/pareto.png
    OUT/bundle/                    the last non-branch stage as a model bundle

Every stage's ONNX graph is exported for the run's TensorRT parser target (``target``, default
``trt8.2``: opset 13, LayerNorm decomposed; see :mod:`vitedge_ros.export.targets`) and its parity
with torch is checked against the same tolerance as ``tools/export_onnx.py``
(:data:`vitedge_ros.export.onnx_export.PARITY_ATOL`; above it the run stops with
:class:`~vitedge_ros.export.onnx_export.ParityError`). The bundle's graph is audited for every
public target: blockers for the run's target stop the run
(:class:`~vitedge_ros.export.onnx_export.ExportTargetError`, naming the nodes), and the targets it
parses on are written to bundle.yaml ``trt_targets``.

Each stage checkpoint records the stage's config and a fingerprint of everything it depended on
(the model, teacher, data and seed config, the model/teacher checkpoint files' SHA-256, and the
previous stage's fingerprint). On ``resume`` a stage is reused only when its fingerprint matches; a
changed stage and every stage after it rerun, and the run logs which stages were reused or rerun
and why (also in ``report.json['resume']``). A fine-tuning stage interrupted mid-way restarts from
its last finished epoch (when its fingerprint matches). Before any stage runs, the untrained model
is exported once at the bundle's static size (a trial export: a model that cannot be exported fails
in seconds, not after training); each stage's checkpoint is written before its ONNX export, so an
export failure loses no training (``resume`` then only re-exports). Every latency in the report is
measured at the end, in this process, interleaved across stages.
"""

import copy
import hashlib
import json
import logging
from pathlib import Path
import platform
import shutil
import time
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from . import ddp
from .evaluation import evaluate_torch
from .measure import (
    count_params,
    estimate_assumptions,
    graph_stats,
    measure_latencies,
    onnx_bytes,
    roofline_estimates,
)
from .recipe import load_recipe, RecipeError, stage_names, trains_baseline, validate_recipe
from .report import markdown, pareto_plot, summarize, write_json
from .stages import RunError, stage_for, StageContext
from ..checkpoint import CheckpointError, file_sha256, load_checkpoint, save_checkpoint
from ..data.common import DatasetError
from ..data.sources import DataConfigError
from ..export.targets import check_target, DEFAULT_TARGET
from ..runtime.bundle import InputSpec, parse_input_spec
from ..tasks import get_task

LOG = logging.getLogger(__name__)


# --- data
# -------------------------------------------------------------------------------------------------


class Data:
    """
    Training / evaluation data of a recipe (fields a task does not use are ``None``).

    ``task``: classify | detect | segment; ``spec``: the model input; ``labels``: class names.
    Classifiers: ``x_train``, ``x_test`` (N×3×H×W float32, normalised) and ``y_train``,
    ``y_test`` (N int64). Detectors and segmenters: ``train`` and ``val``
    (:class:`vitedge_ros.training.data.DetectionSet` / ``SegmentationSet``); real detection data
    also ``sampler`` (:class:`vitedge_ros.data.sources.DetectionSampler`, fresh crops for every
    fine-tuning epoch).
    """

    def __init__(
        self,
        task: str,
        spec: InputSpec,
        labels: List[str],
        *,
        train: Any = None,
        val: Any = None,
        sampler: Any = None,
        x_train: Optional[np.ndarray] = None,
        y_train: Optional[np.ndarray] = None,
        x_test: Optional[np.ndarray] = None,
        y_test: Optional[np.ndarray] = None,
    ) -> None:
        self.task = task
        self.spec = spec
        self.labels = labels
        self.train = train
        self.val = val
        self.sampler = sampler
        self.x_train = x_train
        self.y_train = y_train
        self.x_test = x_test
        self.y_test = y_test

    def calibration(self, n: int) -> np.ndarray:
        """``n`` normalised training inputs (N×3×H×W float32) for quantization calibration."""
        return get_task(self.task).calibration_inputs(self, n)

    def eval_inputs(self, n: Optional[int] = None) -> np.ndarray:
        """Normalised evaluation inputs."""
        return get_task(self.task).eval_inputs(self, n)


def data_classes(recipe: Dict[str, Any], task: str) -> List[str]:
    """
    Label names of the recipe's data, read before any work.

    :func:`vitedge_ros.training.data.data_labels`.
    """
    from ..training.data import data_labels

    return data_labels(recipe['data'], task)


def load_data(
    recipe: Dict[str, Any],
    spec: Optional[InputSpec],
    labels: Optional[List[str]],
    task: Optional[str] = None,
) -> Data:
    """
    Return the recipe's data, made by the training data builder.

    :func:`vitedge_ros.training.data.recipe_data`.

    ``labels``: the class names the model was checked against (:func:`data_classes`).
    """
    from ..training.data import recipe_data

    return Data(**recipe_data(recipe, spec, labels, task)._asdict())


# --- models
# -------------------------------------------------------------------------------------------------


def build_model(
    cfg: Dict[str, Any], num_classes: Optional[int] = None, allow_pickle: bool = False
) -> Tuple[nn.Module, Dict[str, Any]]:
    """
    Return the recipe's model (from its checkpoint, or created) and its bundle metadata.

    A created model has ``cfg['num_classes']`` outputs, or ``num_classes`` (the data's) when that
    is unset. A checkpoint is read without running code from it
    (:func:`vitedge_ros.checkpoint.load_checkpoint`: ``CheckpointError`` naming the file and what
    it is) unless ``allow_pickle`` (old pickled files).
    """
    if cfg.get('checkpoint'):
        ck = load_checkpoint(cfg['checkpoint'], allow_pickle=allow_pickle)
        meta = {
            'task': ck['task'],
            'labels': list(ck['labels']),
            'input': parse_input_spec(ck['input']),
            'decoder': dict(ck['decoder']),
            'arch': ck.get('arch') or cfg.get('arch') or '',
            'model_config': ck.get('model_config') or {},
        }
        return ck['model'].float(), meta
    from ..models import create_model

    kwargs = dict(cfg.get('kwargs') or {})
    n_out = cfg['num_classes'] if cfg.get('num_classes') is not None else (num_classes or 10)
    model = create_model(
        cfg['arch'],
        task=cfg['task'],
        num_classes=n_out,
        img_size=cfg['img_size'],
        pretrained=cfg['pretrained'],
        pretrained_file=cfg.get('pretrained_file'),
        **kwargs,
    )
    decoder = get_task(cfg['task']).recipe_decoder(model)
    meta = {
        'task': cfg['task'],
        'labels': None,
        'input': None,
        'decoder': dict(decoder),
        'arch': cfg['arch'],
        'model_config': {
            'arch': cfg['arch'],
            'num_classes': n_out,
            'img_size': cfg['img_size'],
            **kwargs,
        },
    }
    return model, meta


def export_module(model: nn.Module, task: str) -> Tuple[nn.Module, List[str]]:
    """
    Return the module to export and its output names.

    :meth:`vitedge_ros.tasks.Task.export_module`.
    """
    return get_task(task).export_module(model)


# --- the runner
# -----------------------------------------------------------------------------------------------


def _digest(obj: Any) -> str:
    """Short SHA-256 of a plain object's canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _model_dependency(cfg: Any) -> Any:
    """
    Return a model/teacher config for fingerprinting.

    The checkpoint path replaced by its file's SHA-256.
    """
    if not isinstance(cfg, dict):
        return cfg
    out = dict(cfg)
    ck = out.get('checkpoint')
    if ck:
        out['checkpoint'] = 'sha256:' + (file_sha256(ck) if Path(ck).is_file() else 'missing')
    return out


def recipe_dependencies(recipe: Dict[str, Any]) -> Dict[str, Any]:
    """
    Return what every stage depends on beyond the stages before it.

    These are the model, teacher, data and seed config.
    """
    return {
        'model': _model_dependency(recipe['model']),
        'teacher': _model_dependency(recipe['teacher']),
        'data': recipe['data'],
        'seed': recipe['seed'],
    }


def stage_fingerprint(
    depends: Dict[str, Any], index: int, name: str, stage: Dict[str, Any], previous: str
) -> str:
    """
    Fingerprint of a stage.

    Its config, position, the recipe's dependencies and the previous stage's one.
    """
    return _digest(
        {'depends': depends, 'index': index, 'name': name, 'stage': stage, 'previous': previous}
    )


def _config_changes(old: Dict[str, Any], new: Dict[str, Any], prefix: str = '') -> List[str]:
    """``key old -> new`` for every changed key of two (nested) config mappings."""
    out: List[str] = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, '<unset>'), new.get(k, '<unset>')
        if isinstance(a, dict) and isinstance(b, dict):
            out += _config_changes(a, b, '{}{}.'.format(prefix, k))
        elif a != b:
            out.append(
                '{}{} {} -> {}'.format(
                    prefix, k, json.dumps(a, default=str), json.dumps(b, default=str)
                )
            )
    return out


class Runner:
    """Holds the state of one recipe run (see :func:`run_recipe`)."""

    def __init__(
        self,
        recipe: Dict[str, Any],
        out_dir: Union[str, Path],
        resume: bool = False,
        progress: bool = True,
        threads: int = 2,
        target: str = DEFAULT_TARGET,
        allow_pickle: bool = False,
    ) -> None:
        self.recipe = recipe
        self.target = target
        self.out = Path(out_dir)
        self.resume = resume
        self.progress = progress
        self.threads = threads
        self.allow_pickle = allow_pickle
        self.rank, self.world = ddp.rank_world()
        self.stages_dir = self.out / 'stages'
        self.onnx_dir = self.out / 'onnx'
        self.entries: List[Dict[str, Any]] = []
        self.teacher: Optional[nn.Module] = None
        self.stage_runs: List[
            str
        ] = []  # names of stages actually executed (not resumed) in this run
        self.resume_log: List[
            Dict[str, str]
        ] = []  # per stage: reused / rerun / re-export, and why
        self.depends: Dict[str, Any] = {}
        self.fingerprints: Dict[str, str] = {}
        self.plan: Dict[
            str, Tuple[str, Any]
        ] = {}  # stage name -> (action, loaded checkpoint or None)
        self.meta: Dict[
            str, Any
        ] = {}  # the model's bundle metadata (build_model), set before any stage
        self.data: Optional[Data] = None  # the recipe's data (load_data), set before any stage
        self._trt: Dict[
            str, Any
        ] = {}  # the last export's TensorRT audit (trt_targets, trt_blockers)

    # -- helpers
    def _ckpt_path(self, idx: int, name: str) -> Path:
        return self.stages_dir / '{:02d}-{}.pt'.format(idx, name)

    def _onnx_path(self, idx: int, name: str, suffix: str = '') -> Path:
        return self.onnx_dir / '{:02d}-{}{}.onnx'.format(idx, name, suffix)

    def _save(
        self, path: Path, model: nn.Module, entry: Dict[str, Any], st: Dict[str, Any]
    ) -> None:
        name = entry['name']
        extra = {
            'entry': entry,
            'recipe': self.recipe['name'],
            'stage': st,
            'depends': self.depends,
            'fingerprint': self.fingerprints.get(name, ''),
        }
        save_checkpoint(
            path,
            model,
            name='{}:{}'.format(self.recipe['name'], name),
            task=self.meta['task'],
            labels=self.data.labels,
            input_spec=self.data.spec.to_dict(),
            decoder=self.meta['decoder'],
            arch=self.meta['arch'],
            model_config=self.meta['model_config'],
            metrics=entry.get('metric') or {},
            extra=extra,
        )

    def _export(self, model: nn.Module, path: Path, stage: str = '') -> float:
        """
        Export a stage for the run's target.

        Its parity error, checked against PARITY_ATOL (ParityError).

        The stage graph is audited but not refused here (a branch such as token merging may not
        parse on the target; ``self._trt`` keeps what the audit found); the bundle step refuses.
        """
        from ..export.onnx_export import (
            check_parity,
            check_parity_tolerance,
            export_onnx,
            PARITY_ATOL,
        )

        module, names = export_module(model, self.meta['task'])
        shape = (1, 3, self.data.spec.height, self.data.spec.width)
        path.parent.mkdir(parents=True, exist_ok=True)
        info: Dict[str, Any] = {}
        export_onnx(
            module, path, shape, output_names=names, target=self.target, strict=False, info=info
        )
        self._trt = {'trt_targets': info['trt_targets'], 'trt_blockers': info['trt_blockers']}
        samples = self.data.eval_inputs(2)
        err = float(check_parity(module, path, shape, samples=samples))
        check_parity_tolerance(err, PARITY_ATOL, what='stage {!r}: onnxruntime'.format(stage))
        return err

    def _static_size(self) -> Optional[Tuple[int, int]]:
        """
        Return the bundle's (H, W) when known before loading data.

        The checkpoint's input, or an explicit img_size.
        """
        if self.meta['input'] is not None:
            return (int(self.meta['input'].height), int(self.meta['input'].width))
        size = self.recipe['data'].get('img_size') or self.recipe['model'].get('img_size')
        if size is None:
            return None
        return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))

    def _trial_export(self, model: nn.Module, size: Tuple[int, int]) -> None:
        """
        Export the untrained model at the bundle's static size.

        Raises a one-line RecipeError when it cannot.
        """
        from ..trial_export import trial_export, TrialExportError

        module, names = export_module(model, self.meta['task'])
        try:
            trial_export(
                module,
                (1, 3, int(size[0]), int(size[1])),
                names,
                what=self.meta['arch'] or type(model).__name__,
                target=self.target,
            )
        except TrialExportError as exc:
            raise RecipeError('model: {}'.format(exc)) from exc

    def _finish_entry(
        self, entry: Dict[str, Any], model: nn.Module, onnx_path: Path
    ) -> Dict[str, Any]:
        entry['params'] = count_params(model)
        entry['onnx'] = str(onnx_path.relative_to(self.out))
        entry['onnx_bytes'] = onnx_bytes(onnx_path)
        return entry

    def _context(self, idx: int, name: str, model: nn.Module) -> StageContext:
        """
        Return the context stage ``name``'s run function gets.

        That is its working ``model``, the data, teacher and run settings.
        """
        return StageContext(
            index=idx,
            name=name,
            model=model,
            data=self.data,
            meta=self.meta,
            teacher=self.teacher,
            seed=self.recipe['seed'],
            rank=self.rank,
            world=self.world,
            progress=self.progress,
            resume=self.resume,
            threads=self.threads,
            out=self.out,
            stages_dir=self.stages_dir,
            onnx_dir=self.onnx_dir,
            fingerprint=self.fingerprints.get(name, ''),
            target=self.target,
            entries=self.entries,
        )

    # -- resume planning
    def _plan(self, stages: List[Tuple[int, str, Dict[str, Any]]]) -> None:
        """
        Fingerprint every stage.

        On resume decide per stage: reuse, re-export only, or run (and log why).
        """
        self.depends = recipe_dependencies(self.recipe)
        prev = _digest(self.depends)
        for idx, name, st in stages:
            prev = self.fingerprints[name] = stage_fingerprint(self.depends, idx, name, st, prev)
        expected = {self._ckpt_path(idx, name).name for idx, name, _ in stages}
        expected |= {'{:02d}-{}.partial.pt'.format(idx, name) for idx, name, st in stages}
        if self.resume and self.rank == 0 and self.stages_dir.is_dir():
            for p in sorted(self.stages_dir.glob('*.pt')):
                if p.name not in expected:
                    LOG.info('resume: removing %s (no such stage in the recipe now)', p.name)
                    p.unlink()
        earlier: Optional[str] = None
        for idx, name, st in stages:
            path = self._ckpt_path(idx, name)
            if not self.resume:
                self.plan[name] = ('run', None)
                continue
            action, reason, ck = 'run', '', None
            if earlier is not None:
                reason = 'an earlier stage ({}) is rerun'.format(earlier)
            elif not path.is_file():
                reason = 'no checkpoint from an earlier run'
            else:
                try:
                    ck = load_checkpoint(path)
                except CheckpointError as exc:
                    reason = 'its checkpoint cannot be used ({})'.format(
                        str(exc).split(': ', 1)[-1][:160]
                    )
                if ck is not None:
                    extra = ck.get('extra') or {}
                    if extra.get('fingerprint') == self.fingerprints[name]:
                        entry = extra.get('entry') or {}
                        onnx = entry.get('onnx')
                        if onnx and (self.out / onnx).is_file():
                            action, reason = 'reuse', 'unchanged'
                        elif not stage_for(st['type']).exports:  # the stage writes its own graphs
                            reason = 'its ONNX graphs are missing'
                        else:
                            action, reason = (
                                'export',
                                'trained model reused; its ONNX export is missing',
                            )
                    else:
                        reason = self._why_changed(extra, st)
                    if action == 'run':
                        ck = None
            if action == 'run' and earlier is None:
                earlier = name
            self.plan[name] = (action, ck)
            verb = {'reuse': 'reused', 'export': 're-export only', 'run': 'rerun'}[action]
            self.resume_log.append({'stage': name, 'action': verb, 'reason': reason})
            LOG.info('resume: stage %s %s (%s)', name, verb, reason)

    def _why_changed(self, extra: Dict[str, Any], st: Dict[str, Any]) -> str:
        if 'fingerprint' not in extra:
            return 'its checkpoint records no fingerprint (written by an older version)'
        changes = _config_changes(extra.get('stage') or {}, st)
        if changes:
            return 'its config changed: {}'.format('; '.join(changes))
        dep = _config_changes(extra.get('depends') or {}, self.depends)
        if dep:
            return 'what it depends on changed: {}'.format('; '.join(dep))
        return 'its position or an earlier stage changed'

    # -- stages
    def run(self) -> Dict[str, Any]:
        """Run every stage (skipping finished ones when resuming), then measure and report."""
        torch.manual_seed(self.recipe['seed'])
        np.random.seed(self.recipe['seed'])
        model, labels = self._checked_model('model')
        if (
            self.recipe['teacher'] != 'baseline'
        ):  # read before any work: a bad teacher file fails now
            self.teacher, _ = self._checked_model('teacher')
        names = stage_names(self.recipe)
        stages: List[Tuple[int, str, Dict[str, Any]]] = []
        offset = 0
        if not trains_baseline(self.recipe):
            offset = 1
            stages.append((0, 'baseline', {'type': 'baseline', 'branch': False}))
        stages += [
            (i + offset, name, st)
            for i, (st, name) in enumerate(zip(self.recipe['stages'], names))
        ]
        self._plan(stages)
        trial = any(self.plan[name][0] == 'run' for _, name, _ in stages)
        size = self._static_size()
        if trial and size is not None:  # before the data is even made
            self._trial_export(model, size)
        try:
            self.data = load_data(self.recipe, self.meta['input'], labels, task=self.meta['task'])
        except (DataConfigError, DatasetError) as exc:
            raise RecipeError(str(exc)) from None
        self.out.mkdir(parents=True, exist_ok=True)
        if self.meta['labels'] is None:
            self.meta['labels'] = self.data.labels
        if trial and size is None:  # the size comes from the data's defaults
            self._trial_export(model, (self.data.spec.height, self.data.spec.width))
        for idx, name, st in stages:
            model = self._stage(idx, name, st, model)
        if self.rank != 0:
            return {}
        return self.report()

    def _checked_model(self, key: str) -> Tuple[nn.Module, List[str]]:
        """
        Return the ``model`` (or ``teacher``) of the recipe and the data's labels.

        The two are checked to agree before any work. Raises :class:`RecipeError` naming both sides
        for a class mismatch (checkpoint labels or ``num_classes`` against the data), and for
        unreadable data, checkpoints or pretrained weights.
        """
        from ..data.sources import check_model_classes
        from ..models.pretrained import PretrainedError

        cfg = self.recipe[key]
        try:
            if cfg['checkpoint']:
                try:
                    model, meta = build_model(cfg, allow_pickle=self.allow_pickle)
                except CheckpointError as exc:
                    raise RecipeError('{}.checkpoint: {}'.format(key, exc)) from None
                labels = data_classes(self.recipe, meta['task'])
                check_model_classes(
                    meta['labels'],
                    '{}.checkpoint {}'.format(key, cfg['checkpoint']),
                    labels,
                    'data',
                )
            else:
                labels = data_classes(self.recipe, cfg['task'])
                check_model_classes(
                    None,
                    '{}.num_classes'.format(key),
                    labels,
                    'data',
                    num_classes=cfg['num_classes'],
                )
                model, meta = build_model(cfg, num_classes=len(labels))
        except (DataConfigError, DatasetError) as exc:
            raise RecipeError(str(exc)) from None
        except PretrainedError as exc:
            raise RecipeError('{}.{}: {}'.format(key, exc.key, exc)) from None
        if key == 'model':
            self.meta = meta
        return model, labels

    def _stage(self, idx: int, name: str, st: Dict[str, Any], model: nn.Module) -> nn.Module:
        path = self._ckpt_path(idx, name)
        action, ck = self.plan.pop(name)
        if action in ('reuse', 'export'):
            entry = ck['extra']['entry']
            new_model = ck['model']
            done_for = entry.get('export_target', 'trt8.6 (opset 17, before export targets)')
            if action == 'reuse' and done_for != self.target:
                raise RunError(
                    'stage {}: its ONNX graph in {} was exported for {}, this run targets {}: '
                    'rerun '
                    'without --resume, or with --target {}'.format(
                        name, self.out, done_for, self.target, done_for.split()[0]
                    )
                )
            if action == 'export':
                entry['export_target'] = self.target
                new_model, entry = self._complete(
                    idx, name, st, new_model, entry, path, saved=True
                )
                self.stage_runs.append(name)
            else:
                LOG.info('stage %s: resumed from %s', name, path)
        else:
            if self.world > 1 and not stage_for(st['type']).distributed:
                entry = {}
                if self.rank == 0:
                    new_model, entry = self._execute(idx, name, st, model)
                new_model, entry = self._complete(
                    idx, name, st, new_model if self.rank == 0 else model, entry, path
                )
            else:
                new_model, entry = self._execute(idx, name, st, model)
                new_model, entry = self._complete(idx, name, st, new_model, entry, path)
            self.stage_runs.append(name)
        self.entries.append(entry)
        if self.teacher is None and self.recipe['teacher'] == 'baseline' and name == 'baseline':
            self.teacher = copy.deepcopy(new_model).eval()
        return model if st.get('branch') else new_model

    def _complete(
        self,
        idx: int,
        name: str,
        st: Dict[str, Any],
        model: nn.Module,
        entry: Dict[str, Any],
        path: Path,
        saved: bool = False,
    ) -> Tuple[nn.Module, Dict[str, Any]]:
        """
        Checkpoint the stage (before its export), export it, checkpoint again.

        Ranks > 0 read the checkpoint back.
        """
        if self.rank == 0:
            if not saved:
                self._save(path, model, entry, st)
            if stage_for(st['type']).exports and not (
                entry.get('onnx') and (self.out / entry['onnx']).is_file()
            ):
                self._export_stage(idx, name, model, entry)
                self._save(path, model, entry, st)
        ddp.barrier()
        if self.rank != 0:
            ck = load_checkpoint(path)
            return ck['model'], ck['extra']['entry']
        return model, entry

    def _execute(
        self, idx: int, name: str, st: Dict[str, Any], model: nn.Module
    ) -> Tuple[nn.Module, Dict[str, Any]]:
        """
        Run a stage up to (not including) its FP32 ONNX export.

        Stages writing their own graphs are complete here.
        """
        kind = st['type']
        stage = stage_for(kind)
        t0 = time.perf_counter()
        work = copy.deepcopy(model) if st.get('branch') or stage.copy_input else model
        entry: Dict[str, Any] = {
            'name': name,
            'type': kind,
            'branch': bool(st.get('branch')),
            'details': {},
            'notes': [],
            'export_target': self.target,
        }
        result = stage.run(self._context(idx, name, work), st)
        work = result.model
        entry.update(result.fields)
        entry['details'] = result.details
        entry['notes'] += result.notes
        if not stage.exports:  # measured on its own graphs (quantize)
            entry['params'] = count_params(work)
            entry['seconds'] = round(time.perf_counter() - t0, 2)
            return work, entry
        if self.rank != 0:  # a distributed stage: rank 0 measures, the others read its checkpoint
            return work, entry
        work.eval()
        entry['metric'] = evaluate_torch(work, self.data)
        entry['seconds'] = round(time.perf_counter() - t0, 2)
        LOG.info('stage %s: %s', name, entry['metric'])
        return work, entry

    def _export_stage(self, idx: int, name: str, model: nn.Module, entry: Dict[str, Any]) -> None:
        """
        Return the stage's FP32 ONNX export and parity.

        The stage checkpoint is already written.
        """
        t0 = time.perf_counter()
        onnx_path = self._onnx_path(idx, name)
        model.eval()
        entry['parity_max_abs_err'] = self._export(model, onnx_path, name)
        entry.update(
            self._trt
        )  # the TensorRT targets this stage's graph parses on (a blocker summary if not)
        entry['notes'] = [
            n for n in entry.get('notes', []) if not n.startswith('not parseable by TensorRT')
        ]
        if entry['trt_blockers']:
            entry['notes'].append(
                'not parseable by TensorRT {}: {}'.format(self.target, entry['trt_blockers'])
            )
        agree = get_task(self.data.task).onnx_agreement(model, onnx_path, self.data)
        if agree is not None:
            entry['parity_argmax_agreement'] = round(agree, 6)
        self._finish_entry(entry, model, onnx_path)
        entry['seconds'] = round(float(entry.get('seconds', 0.0)) + time.perf_counter() - t0, 2)

    # -- report
    def report(self) -> Dict[str, Any]:
        """
        Measure every stage's ONNX graph in this process and write the outputs.

        These are report.json, report.md, the plot and the bundle.
        """
        import onnxruntime

        m = self.recipe['measure']
        paths = {e['name']: self.out / e['onnx'] for e in self.entries}
        for e in self.entries:
            for k, v in ((e.get('details') or {}).get('variants') or {}).items():
                if 'error' not in v:
                    paths['{}/{}'.format(e['name'], k)] = self.out / v['onnx']
        lat = measure_latencies(
            paths, runs=m['latency_runs'], warmup=m['warmup'], threads=m['threads']
        )
        for e in self.entries:
            e['latency'] = lat[e['name']]
            e['latency_ms'] = round(lat[e['name']]['median_ms'], 4)
            gs = graph_stats(self.out / e['onnx'])
            e['macs'] = gs['macs']
            e['graph'] = {'nodes': gs['nodes'], 'weight_bytes': gs['weight_bytes']}
            prec = e.get('precision', 'fp32')
            e['estimates_ms'] = roofline_estimates(
                gs['macs'],
                gs['weight_elements'],
                gs['activation_elements'],
                ['int8'] if prec == 'int8' else (['fp16'] if prec == 'fp16' else ['fp32', 'fp16']),
            )
            for k, v in ((e.get('details') or {}).get('variants') or {}).items():
                key = '{}/{}'.format(e['name'], k)
                if key in lat:
                    v['latency_ms'] = round(lat[key]['median_ms'], 4)
        report = {
            'recipe': self.recipe['name'],
            'recipe_path': self.recipe.get('path', ''),
            'task': self.meta['task'],
            'stages': self.entries,
            'measure': {
                'threads': m['threads'],
                'latency_runs': m['latency_runs'],
                'warmup': m['warmup'],
                'provider': 'CPUExecutionProvider',
                'batch': 1,
                'same_process': True,
            },
            'estimates': estimate_assumptions(),
            'onnxruntime_version': onnxruntime.__version__,
            'torch_version': torch.__version__,
            'cpu': _cpu_name(),
            'python': platform.python_version(),
            'executed_stages': list(self.stage_runs),
            'processes': self.world,
            'resume': list(self.resume_log),
        }
        report['summary'] = summarize(self.entries)
        write_json(report, self.out / 'report.json')
        (self.out / 'report.md').write_text(markdown(report))
        pareto_plot(report, self.out / 'pareto.png')
        self._bundle(report)
        return report

    def _bundle(self, report: Dict[str, Any]) -> None:
        """
        Write the last non-branch stage as OUT/bundle, audited for every public TensorRT target.

        Raises ExportTargetError when the run's target refuses the graph (nothing is written then).
        """
        import onnx

        from ..export.onnx_export import ExportTargetError
        from ..export.targets import require_target, TargetError
        from ..runtime.bundle import load_bundle, write_bundle_yaml

        final = [e for e in self.entries if not e.get('branch')][-1]
        graph = self.out / final['onnx']
        try:
            trt_targets = require_target(
                onnx.load(str(graph)),
                self.target,
                what='the bundle graph {} (stage {})'.format(final['onnx'], final['name']),
            )
        except TargetError as exc:
            raise ExportTargetError(str(exc)) from None
        bdir = self.out / 'bundle'
        if bdir.exists():
            shutil.rmtree(bdir)
        bdir.mkdir(parents=True)
        shutil.copyfile(graph, bdir / 'model.onnx')
        metric = {k: v for k, v in (final.get('metric') or {}).items() if k != 'per_class'}
        src = {
            'arch': self.meta['arch'],
            'recipe': self.recipe['name'],
            'stage': final['name'],
            'precision': final.get('precision', 'fp32'),
            'metrics': metric,
            'params': final.get('params'),
            'latency_ms_ort_cpu': final.get('latency_ms'),
            'export': {'target': self.target},
        }
        write_bundle_yaml(
            bdir,
            {
                'name': '{}'.format(self.recipe['name']),
                'task': self.meta['task'],
                'input': self.data.spec.to_dict(),
                'labels': list(self.data.labels),
                'trt_targets': trt_targets,
                'decoder': dict(self.meta['decoder']),
                'source': src,
            },
        )
        load_bundle(bdir)


def _cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or platform.machine()


def run_recipe(
    recipe: Union[str, Path, Dict[str, Any]],
    out_dir: Union[str, Path],
    *,
    resume: bool = False,
    progress: bool = True,
    threads: int = 2,
    target: str = DEFAULT_TARGET,
    allow_pickle: bool = False,
) -> Dict[str, Any]:
    """
    Validate the recipe (before any work), run it.

    And return the report (an empty dict on ranks > 0).

    ``target``: the TensorRT parser target every stage's ONNX graph and the bundle are exported for
    (``trt8.2`` default; ValueError for an unknown one). ``allow_pickle`` lets the model/teacher
    checkpoints be old pickled files (that runs code from them: trusted files only). Raises
    :class:`~vitedge_ros.compress.recipe.RecipeError` (one line, naming the key) for an invalid
    recipe, an unreadable ``model.checkpoint`` / ``teacher.checkpoint``, or a model whose trial
    export fails, all before any training; :class:`RunError`,
    :class:`~vitedge_ros.export.onnx_export.ParityError` (a stage's ONNX differs from torch above
    the export tolerance) or :class:`~vitedge_ros.export.onnx_export.ExportTargetError` (the bundle
    graph has blockers for ``target``).
    """
    check_target(target)
    if isinstance(recipe, (str, Path)):
        rec = load_recipe(recipe)
    else:
        rec = validate_recipe(recipe)
        rec['name'] = rec['name'] or 'recipe'
    torch.set_num_threads(threads)
    ddp.init_from_env()
    out = Path(out_dir)
    if not resume and ddp.rank_world()[0] == 0 and (out / 'stages').is_dir():
        for p in (out / 'stages').glob('*.pt'):
            p.unlink()
    ddp.barrier()
    return Runner(
        rec,
        out,
        resume=resume,
        progress=progress,
        threads=threads,
        target=target,
        allow_pickle=allow_pickle,
    ).run()

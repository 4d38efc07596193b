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
Training from a validated config (tools/train.py).

Model, data, epochs, checkpoints, resume, bundle export.

The orchestration only: the schema is :mod:`.config`, the data :mod:`.data` (the builder the
compression recipes share), the loops :mod:`.loop`, the scoring :mod:`.evaluate`, the threshold
pick :mod:`.threshold`.
"""

import functools
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from .config import ConfigError, validate_config
from .data import data_labels, flight_validation, is_real_detection_data
from .evaluate import evaluate_classifier, evaluate_detector
from .loop import class_weights_from_masks, default_detection_loss
from .threshold import pick_threshold
from ..checkpoint import load_checkpoint, save_checkpoint
from ..export import export_bundle
from ..models import create_model, resize_detector, ViTCenterDetector, with_box
from ..runtime.bundle import atomic_write_bytes, InputSpec, parse_input_spec
from ..tasks import get_task

LOG = logging.getLogger(__name__)


def _data_errors(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """
    Return ``fn(*args, **kwargs)``, turning data errors into a one-line :class:`ConfigError`.

    Data errors are a bad key or an unreadable dataset.
    """
    from ..data.common import DatasetError
    from ..data.sources import DataConfigError

    try:
        return fn(*args, **kwargs)
    except (DataConfigError, DatasetError) as exc:
        raise ConfigError(str(exc)) from None


def build_model(cfg: Dict[str, Any], num_classes: int) -> torch.nn.Module:
    """Return the model described by ``cfg['model']``."""
    m = cfg['model']
    kwargs = dict(m.get('kwargs', {}))
    for key in get_task(cfg['task']).model_keys:
        if key in m:
            kwargs[key] = m[key]
    from ..models.pretrained import PretrainedError

    try:
        return create_model(
            m['arch'],
            task=cfg['task'],
            num_classes=m.get('num_classes', num_classes),
            img_size=m.get('img_size'),
            pretrained=m.get('pretrained', False),
            pretrained_file=m.get('pretrained_file'),
            **kwargs,
        )
    except PretrainedError as exc:
        raise ConfigError('model.{}: {}'.format(exc.key, exc)) from None


def check_classes(
    cfg: Dict[str, Any], labels: List[str], ckpt: Optional[Dict[str, Any]], ckpt_where: str
) -> None:
    """
    Fail before any work when the model's classes differ from the data's.

    The model's classes are its checkpoint labels or ``model.num_classes``.
    """
    from ..data.sources import check_model_classes, DataConfigError

    try:
        if ckpt is not None:
            check_model_classes(ckpt['labels'], ckpt_where, labels, 'data')
        elif 'num_classes' in cfg['model']:
            check_model_classes(
                None, 'model.num_classes', labels, 'data', num_classes=cfg['model']['num_classes']
            )
    except DataConfigError as exc:
        raise ConfigError(str(exc)) from None


def _start_model(
    cfg: Dict[str, Any],
    labels: List[str],
    spec: InputSpec,
    out_dir: Path,
    resume: bool,
    allow_pickle: bool = False,
) -> Tuple[torch.nn.Module, int, Any, List[Dict[str, float]]]:
    """
    Return the model to train (resumed, warm-started or new).

    Checked against the data's classes before any work.

    Returns (model, start epoch, optimizer state, history). ``allow_pickle`` lets
    ``model.checkpoint`` be an old pickled checkpoint (unpickling runs code from it: trusted files
    only).
    """
    from ..checkpoint import CheckpointError

    last = out_dir / 'last.pt'
    if resume and last.is_file():
        try:
            ckpt = load_checkpoint(last)
        except CheckpointError as exc:
            raise ConfigError('--resume: {}'.format(exc)) from None
        check_classes(cfg, labels, ckpt, 'resumed checkpoint {}'.format(last))
        LOG.info('resuming from %s at epoch %d', last, int(ckpt['epoch']))
        return (
            ckpt['model'],
            int(ckpt['epoch']),
            ckpt['extra'].get('optimizer'),
            list(ckpt['extra'].get('history', [])),
        )
    if cfg['model'].get(
        'checkpoint'
    ):  # warm start (fine-tune) from an earlier checkpoint of the same task
        try:
            ckpt = load_checkpoint(cfg['model']['checkpoint'], allow_pickle=allow_pickle)
        except CheckpointError as exc:
            raise ConfigError('model.checkpoint: {}'.format(exc)) from None
        check_classes(cfg, labels, ckpt, 'model.checkpoint {}'.format(cfg['model']['checkpoint']))
        model = ckpt['model'].train()
        want = (spec.height, spec.width)
        if isinstance(model, ViTCenterDetector) and tuple(model.img_size) != want:
            LOG.info(
                'checkpoint input %s -> %s: resampling the position embedding',
                model.img_size,
                want,
            )
            model = resize_detector(model, want)
        if isinstance(model, ViTCenterDetector) and 'box' in cfg['model']:
            try:
                model = with_box(model, cfg['model']['box'])
            except ValueError as exc:
                raise ConfigError('model.{}'.format(exc)) from None
        return model, 0, None, []
    check_classes(cfg, labels, None, '')
    return build_model(cfg, len(labels)), 0, None, []


def trainable_modules(
    model: torch.nn.Module, names: Optional[List[str]]
) -> Optional[torch.nn.ModuleList]:
    """
    Return the submodules ``train.trainable`` names and freeze every other parameter.

    ``None`` (train everything) without names. A linear probe, e.g. ``[box_ltrb]``, trains a new
    head on frozen features. Raises ConfigError, before any work, for a name the model lacks
    (listing its top-level modules).
    """
    if not names:
        return None
    found = []
    for name in names:
        try:
            found.append(model.get_submodule(name))
        except AttributeError:
            raise ConfigError(
                'train.trainable: the model has no module {!r} (top level: {})'.format(
                    name, ', '.join(n for n, _ in model.named_children())
                )
            ) from None
    model.requires_grad_(False)
    return torch.nn.ModuleList(found).requires_grad_(True)


def label_weights(
    weights: Optional[Dict[str, float]], labels: List[str], path: str
) -> Optional[List[float]]:
    """
    Return one weight per label (in ``labels``' order, 1 where unnamed) from ``{label: weight}``.

    ``None`` without weights. Raises ConfigError naming ``path`` for a label the data lack
    (listing the data's labels); called before the data are built, so a typo costs no work.
    """
    if not weights:
        return None
    unknown = sorted(set(weights) - set(labels))
    if unknown:
        raise ConfigError(
            '{}: the data have no label {} (labels: {})'.format(
                path, ', '.join(repr(u) for u in unknown), ', '.join(labels)
            )
        )
    return [float(weights.get(name, 1.0)) for name in labels]


def _trial(
    cfg: Dict[str, Any],
    module: torch.nn.Module,
    names: List[str],
    spec: InputSpec,
    start_epoch: int,
) -> None:
    """
    Export a trial model before the first epoch (skipped when nothing is left to train).

    Raises ConfigError when the export fails.
    """
    from ..trial_export import trial_export, TrialExportError

    if start_epoch >= int(cfg['train']['epochs']):
        return
    try:
        trial_export(module, (1, 3, spec.height, spec.width), names, what=cfg['model']['arch'])
    except TrialExportError as exc:
        raise ConfigError('model: {}'.format(exc)) from exc


def run_training(
    cfg: Dict[str, Any],
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    export: bool = True,
    allow_pickle: bool = False,
) -> Dict[str, Any]:
    """
    Train, checkpoint every epoch to ``out_dir/last.pt``, evaluate, export ``out_dir/bundle``.

    The data's classes are checked against the model's (checkpoint labels, ``model.num_classes``)
    before any work. Detectors and classifiers are validated after every ``train.val_every`` epochs
    (default 1): mAP@0.5 and mAP@0.5:0.95 (or top-1) are logged and kept in ``history`` as
    ``val_map50`` / ``val_map50_95`` / ``val_top1``. Raises :class:`ConfigError` (one line, key
    path first) for bad configs, data or weights, and for a model that cannot be exported (a trial
    export of the untrained model, before any data work, when ``export``). ``allow_pickle`` accepts
    an old pickled ``model.checkpoint`` (runs code from it). What differs by task (decoder, data,
    validation, metrics, export module) the task object answers (:class:`vitedge_ros.tasks.Task`).
    """
    return _run_task(
        validate_config(cfg),
        Path(out_dir),
        resume=resume,
        progress=progress,
        export=export,
        allow_pickle=allow_pickle,
    )


def run_segment_training(
    cfg: Dict[str, Any],
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    export: bool = True,
    allow_pickle: bool = False,
) -> Dict[str, Any]:
    """
    Run :func:`run_training` for a segmentation config (validated).

    The loss is CE + Dice; mIoU is measured in input-image pixels.
    """
    return _run_task(
        cfg,
        Path(out_dir),
        resume=resume,
        progress=progress,
        export=export,
        allow_pickle=allow_pickle,
    )


def _run_task(
    cfg: Dict[str, Any],
    out_dir: Path,
    resume: bool,
    progress: bool,
    export: bool,
    allow_pickle: bool,
) -> Dict[str, Any]:
    """:func:`run_training` of a validated config."""
    task = get_task(cfg['task'])
    spec = parse_input_spec(cfg['input'], 'input')
    torch.manual_seed(cfg['train'].get('seed', 0))
    labels = _data_errors(data_labels, cfg['data'], task.name)
    decoder = task.training_decoder(cfg.get('export', {}))
    model, start_epoch, opt_state, history = _start_model(
        cfg, labels, spec, out_dir, resume, allow_pickle
    )
    trainable = trainable_modules(model, cfg['train'].get('trainable'))
    task.check_train(cfg['train'], labels)
    if export:
        _trial(cfg, *task.export_module(model), spec=spec, start_epoch=start_epoch)
    data = _data_errors(task.training_data, cfg, spec, labels)
    labels = data.labels
    out_dir.mkdir(parents=True, exist_ok=True)
    tc = cfg['train']
    arch = cfg['model']['arch']
    val_every = int(tc.get('val_every', 1))

    def on_epoch_end(
        epoch: int, mdl: torch.nn.Module, opt: torch.optim.Optimizer, stats: Dict[str, float]
    ) -> None:
        if val_every and not epoch % val_every:
            task.validate_epoch(mdl, data, stats, epoch, tc['epochs'])
        history.append(stats)
        save_checkpoint(
            out_dir / 'last.pt',
            mdl,
            name=cfg['name'],
            task=task.name,
            labels=labels,
            input_spec=spec.to_dict(),
            decoder=decoder,
            arch=arch,
            model_config=cfg['model'],
            epoch=epoch,
            extra={'optimizer': opt.state_dict(), 'history': history},
        )

    common = {
        'epochs': tc['epochs'],
        'batch_size': tc.get('batch_size', task.train_batch_size),
        'lr': tc.get('lr', 1e-3),
        'weight_decay': tc.get('weight_decay', 0.05),
        'seed': tc.get('seed', 0),
        'progress': progress,
        'on_epoch_end': on_epoch_end,
        'start_epoch': start_epoch,
        'optimizer_state': opt_state,
    }
    if trainable is not None:
        common['trainable'] = trainable
    common.update(task.train_options(tc, data))
    if start_epoch < tc['epochs']:
        task.train(model, data, **common)
    metrics: Dict[str, Any] = task.final_metrics(model, data, cfg, decoder)
    final = save_checkpoint(
        out_dir / 'final.pt',
        model,
        name=cfg['name'],
        task=task.name,
        labels=labels,
        input_spec=spec.to_dict(),
        decoder=decoder,
        arch=arch,
        model_config=cfg['model'],
        epoch=tc['epochs'],
        metrics=metrics,
    )
    result: Dict[str, Any] = {
        'name': cfg['name'],
        'task': task.name,
        'metrics': metrics,
        'history': history,
        'checkpoint': str(final),
    }
    if export:
        module, names = task.export_module(model)
        bundle, err = export_bundle(
            module,
            out_dir / 'bundle',
            name=cfg['name'],
            task=task.name,
            labels=labels,
            input_spec=spec,
            decoder=decoder,
            output_names=names,
            samples=task.export_samples(data),
            source={
                'arch': arch,
                'config': cfg,
                'metrics': metrics,
                'trained_epochs': tc['epochs'],
            },
        )
        result['bundle'] = str(out_dir / 'bundle')
        result['parity_max_abs_err'] = err
        agree = task.onnx_agreement(model, bundle.onnx_path, data)
        if agree is not None:
            result['parity_argmax_agreement'] = agree
    atomic_write_bytes(
        out_dir / 'train_result.json', json.dumps(result, indent=2, default=float).encode()
    )
    return result


# --- the tasks' training steps (named by vitedge_ros/tasks/*.py)
# --------------------------------------------------


def validate_classifier(
    model: torch.nn.Module, data: Any, stats: Dict[str, float], epoch: int, epochs: int
) -> None:
    """Epoch validation of a classifier: ``stats['val_top1']`` on the test arrays, logged."""
    stats['val_top1'] = evaluate_classifier(model, data.x_test, data.y_test)
    LOG.info(
        'epoch %d/%d: loss %.4f, validation top-1 %.4f',
        epoch,
        epochs,
        stats.get('loss', float('nan')),
        stats['val_top1'],
    )


def validate_detector(
    model: torch.nn.Module, data: Any, stats: Dict[str, float], epoch: int, epochs: int
) -> None:
    """
    Epoch validation of a detector.

    ``stats['val_map50']`` and ``['val_map50_95']`` on ``data.val``, logged.
    """
    res = evaluate_detector(model, data.val, data.labels)
    stats['val_map50'], stats['val_map50_95'] = float(res['map50']), float(res['map50_95'])
    LOG.info(
        'epoch %d/%d: loss %.4f, validation mAP@0.5 %.4f, mAP@0.5:0.95 %.4f (%d images)',
        epoch,
        epochs,
        stats.get('loss', float('nan')),
        stats['val_map50'],
        stats['val_map50_95'],
        len(data.val.images),
    )


def detector_metrics(
    model: torch.nn.Module, data: Any, cfg: Dict[str, Any], decoder: Dict[str, Any]
) -> Dict[str, Any]:
    """
    Return a trained detector's mAP and its score threshold.

    The mAP includes ``flight_val`` on the config's flight frames when there are any.

    ``export.score_threshold`` ``auto`` (default) picks it on the flight frames or the validation
    set (:func:`.threshold.pick_threshold`) and records ``person_at_threshold`` /
    ``threshold_picked_on``; the threshold is written to ``decoder['score_threshold']``.
    """
    labels = data.labels
    metrics = evaluate_detector(model, data.val, labels)
    thr = cfg.get('export', {}).get('score_threshold', 'auto')
    flight_val = flight_validation(cfg['data'], data.spec)
    if flight_val is not None:  # what the drone's camera sees: pick the threshold there
        metrics['flight_val'] = evaluate_detector(model, flight_val, labels)
    if thr == 'auto':
        ex = cfg.get('export', {})
        thr, pr = pick_threshold(
            model,
            flight_val if flight_val is not None else data.val,
            class_id=labels.index('person') if 'person' in labels else 0,
            min_precision=ex.get('min_precision'),
            min_recall=ex.get('min_recall'),
        )
        metrics['person_at_threshold'] = pr
        metrics['threshold_picked_on'] = (
            'val_flights'
            if flight_val is not None
            else (
                'validation scenes'
                if not is_real_detection_data(cfg['data'])
                else 'validation set'
            )
        )
    decoder['score_threshold'] = float(thr)
    return metrics


def detector_options(train: Dict[str, Any], data: Any) -> Dict[str, Any]:
    """
    Detector loop keywords.

    ``train.giou_weight`` (default 0: CenterNet's L1 box loss alone) adds the GIoU loss of the
    centre-cell boxes with that weight; ``train.size_weight`` (default 1) weights the log-size L1
    term; ``train.heatmap_sigma`` (default 0.15) is the centre Gaussian's width factor;
    ``train.heatmap_class_weights`` (``{label: weight}``, default 1) weight the classes' heatmap
    terms (:func:`label_weights`).
    """
    out: Dict[str, Any] = {}
    loss: Dict[str, Any] = {
        k: float(train[k]) for k in ('giou_weight', 'size_weight') if k in train
    }
    if train.get('heatmap_class_weights'):
        loss['heatmap_weights'] = label_weights(
            train['heatmap_class_weights'], list(data.labels), 'train.heatmap_class_weights'
        )
    if loss:
        out['loss_fn'] = functools.partial(default_detection_loss, **loss)
    if 'heatmap_sigma' in train:
        out['sigma_factor'] = float(train['heatmap_sigma'])
    return out


def check_detector_train(train: Dict[str, Any], labels: List[str]) -> None:
    """
    Check a detector config's ``train`` keys that name labels, before any data are built.

    Raises ConfigError for a ``train.heatmap_class_weights`` label the data lack.
    """
    label_weights(train.get('heatmap_class_weights'), labels, 'train.heatmap_class_weights')


def segmenter_options(train: Dict[str, Any], data: Any) -> Dict[str, Any]:
    """
    Segmenter loop keywords.

    ``class_weights`` and ``dice_weight`` (0.5) of the config's ``train`` section.

    Class weights come from the training masks (``class_weight_power`` 0.5; 0: none).
    """
    power = float(train.get('class_weight_power', 0.5))
    weights = (
        class_weights_from_masks(data.train.masks, len(data.labels), power) if power > 0 else None
    )
    return {'class_weights': weights, 'dice_weight': float(train.get('dice_weight', 0.5))}


__all__ = ['build_model', 'run_training', 'run_segment_training']

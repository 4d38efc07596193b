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
The ``finetune`` stage.

Training epochs, optionally distilled from the teacher (then reported as ``distill``).

Algorithms: :mod:`vitedge_ros.training.loop` (the training loops) and
:mod:`vitedge_ros.compress.distill` (logit / feature / attention distillation). Progress is
checkpointed after every epoch to ``OUT/stages/NN-name.partial.pt`` (epoch, optimizer and
projection state); a resumed run with the same stage fingerprint continues from the last finished
epoch, and the file is removed when the stage ends.
"""

import contextlib
import logging
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from torch import nn

from .base import RunError, Stage, stage_schema, StageContext, StageResult
from .fields import boolean, choice, fail, integer, list_of, mapping, num, optional, string
from .. import ddp
from ...checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ...tasks import get_task

LOG = logging.getLogger(__name__)
DISTILL_TYPES = ('logit', 'mse', 'token', 'none')

LAYER_PAIR = mapping(
    {'student': (string, None), 'teacher': (string, None), 'weight': (num(0), 1.0)},
    required=('student', 'teacher'),
)

DISTILL = mapping(
    {
        'type': (choice(*DISTILL_TYPES), 'logit'),
        'temperature': (num(0, lo_open=True), 4.0),
        'alpha': (num(0, 1), 0.7),
        'hard': (boolean, False),
        'features': (list_of(LAYER_PAIR), []),
        'attention': (list_of(LAYER_PAIR), []),
        'box_weight': (num(0), 1.0),
    }
)

SCHEMA = stage_schema(
    {
        'epochs': (integer(1), 1),
        'lr': (num(0, lo_open=True), 1e-3),
        'batch_size': (integer(1), 64),
        'weight_decay': (num(0), 0.05),
        'label_smoothing': (num(0, 1, hi_open=True), 0.0),
        'augment': (boolean, True),
        'distill': (optional(DISTILL), None),
    }
)


def distills(params: Dict[str, Any]) -> bool:
    """Return True when the stage's ``distill`` has a loss type other than ``none``."""
    return bool(params.get('distill')) and params['distill']['type'] != 'none'


def label(params: Dict[str, Any]) -> str:
    """``distill`` for a distilled fine-tuning, else ``finetune``."""
    return 'distill' if distills(params) else 'finetune'


def check(recipe: Dict[str, Any], index: int) -> None:
    """
    Check that a distilling first stage has a teacher.

    The teacher is a ``teacher`` entry or a model checkpoint as the baseline.
    """
    if (
        distills(recipe['stages'][index])
        and index == 0
        and recipe['teacher'] == 'baseline'
        and not recipe['model']['checkpoint']
    ):
        raise fail(
            'stages[0].finetune.distill',
            'the baseline teacher does not exist yet in the first stage',
        )


def _resume_progress(ctx: StageContext, model: nn.Module, notes: List[str]) -> Dict[str, Any]:
    """
    Return the epoch, optimizer and projection state of an interrupted run of this stage.

    The interrupted run's weights are loaded into ``model``.
    """
    partial = ctx.partial_path
    state: Dict[str, Any] = {'epoch': 0, 'optimizer': None, 'proj': None}
    if not (ctx.resume and partial.is_file()):
        return state
    try:
        ck: Optional[Dict[str, Any]] = load_checkpoint(partial)
    except CheckpointError as exc:
        LOG.info('stage %s: fine-tuning progress not usable, starting over (%s)', ctx.name, exc)
        ck = None
    if ck is not None and ck['extra'].get('fingerprint') != ctx.fingerprint:
        LOG.info(
            'stage %s: fine-tuning progress in %s is from another config; starting over',
            ctx.name,
            partial.name,
        )
        ck = None
    if ck is not None:
        model.load_state_dict(ck['state_dict'])
        state = {
            'epoch': int(ck['epoch']),
            'optimizer': ck['extra'].get('optimizer'),
            'proj': ck['extra'].get('proj'),
        }
        notes.append('resumed fine-tuning at epoch {}'.format(state['epoch']))
    return state


def run(ctx: StageContext, st: Dict[str, Any]) -> StageResult:
    """
    Fine-tune ``ctx.model`` in place for ``st['epochs']`` (classifier / detector / segmenter loop).

    Raises :class:`RunError` when the stage distills and there is no teacher yet.
    """
    from ..distill import Distiller

    model, data, name = ctx.model, ctx.data, ctx.name
    notes: List[str] = []
    progress = _resume_progress(ctx, model, notes)
    dist_cfg = st.get('distill')
    distiller = None
    if dist_cfg and (dist_cfg['type'] != 'none' or dist_cfg['features'] or dist_cfg['attention']):
        if ctx.teacher is None:
            raise RunError(
                'stage {}: distillation needs a teacher (the baseline does not exist yet)'.format(
                    name
                )
            )
        example = torch.from_numpy(data.eval_inputs(2))
        distiller = Distiller(model, ctx.teacher, dist_cfg, task=data.task, example=example)
        if progress['proj']:
            distiller.proj.load_state_dict(progress['proj'])
        ddp.sync_grads(distiller.proj)
    trainable = (
        nn.ModuleList([model, distiller.proj])
        if distiller is not None and len(distiller.proj)
        else None
    )
    net = ddp.wrap(model)
    partial = ctx.partial_path

    def on_epoch_end(
        epoch: int, _m: nn.Module, opt: torch.optim.Optimizer, stats: Dict[str, float]
    ) -> None:
        if ctx.rank == 0:
            LOG.info(
                'stage %s: epoch %d/%d %s',
                name,
                epoch,
                st['epochs'],
                ', '.join('{} {:.4g}'.format(k, v) for k, v in stats.items() if k != 'epoch'),
            )
        if ctx.rank == 0 and epoch < st['epochs']:
            extra_e = {
                'entry': {'name': name},
                'optimizer': opt.state_dict(),
                'fingerprint': ctx.fingerprint,
                'proj': distiller.proj.state_dict() if distiller is not None else None,
            }
            with distiller.hooks_removed() if distiller is not None else contextlib.nullcontext():
                save_checkpoint(
                    partial,
                    model,
                    name=name,
                    task=ctx.meta['task'],
                    labels=data.labels,
                    input_spec=data.spec.to_dict(),
                    decoder=ctx.meta['decoder'],
                    arch=ctx.meta['arch'],
                    epoch=epoch,
                    extra=extra_e,
                )

    common = {
        'epochs': st['epochs'],
        'lr': st['lr'],
        'weight_decay': st['weight_decay'],
        'seed': ctx.seed + ctx.index,
        'progress': ctx.progress and ctx.rank == 0,
        'on_epoch_end': on_epoch_end,
        'start_epoch': progress['epoch'],
        'optimizer_state': progress['optimizer'],
        'trainable': trainable,
        'augment': st['augment'],
    }
    bs = max(1, st['batch_size'] // ctx.world)
    try:
        hist = get_task(data.task).finetune(ctx, net, bs, distiller, st, common)
    finally:
        if distiller is not None:
            distiller.close()
    model.eval()
    if ctx.rank == 0 and partial.is_file():
        partial.unlink()
    return StageResult(
        model,
        details={
            'epochs': st['epochs'],
            'history': hist,
            'processes': ctx.world,
            'distill': dist_cfg,
        },
        notes=notes,
    )


def finetune_classifier(
    ctx: StageContext,
    net: nn.Module,
    bs: int,
    distiller: Any,
    st: Dict[str, Any],
    common: Dict[str, Any],
) -> List[Dict[str, float]]:
    """
    Fine-tune a classifier on this process's shard of the training arrays.

    Logit and feature distillation are added when the stage asks for them.
    """
    from ...training.loop import train_classifier

    data = ctx.data
    shard = (
        ddp.shard_indices(len(data.x_train), ctx.rank, ctx.world, ctx.seed)
        if ctx.world > 1
        else np.arange(len(data.x_train))
    )

    def kd_loss(m, xb, yb):
        return distiller.classifier_loss(m, xb, yb, label_smoothing=st['label_smoothing'])

    loss_fn = kd_loss if distiller is not None else None
    return train_classifier(
        net,
        data.x_train[shard],
        data.y_train[shard],
        batch_size=bs,
        loss_fn=loss_fn,
        label_smoothing=st['label_smoothing'],
        **common,
    )


def finetune_detector(
    ctx: StageContext,
    net: nn.Module,
    bs: int,
    distiller: Any,
    st: Dict[str, Any],
    common: Dict[str, Any],
) -> List[Dict[str, float]]:
    """
    Detector fine-tuning.

    Real data's fresh crops each epoch (one process) or this process's shard.
    """
    from ...training.loop import train_detector

    data = ctx.data
    train = data.sampler or data.train  # real data: fresh crops each epoch
    if ctx.world > 1:
        from ...training.data import DetectionSet

        train = data.train
        sh = ddp.shard_indices(len(train.images), ctx.rank, ctx.world, ctx.seed)
        train = DetectionSet(
            train.images[sh],
            [train.boxes[i] for i in sh],
            [train.labels[i] for i in sh],
            train.spec,
            None if train.ignored is None else [train.ignored[i] for i in sh],
        )
    return train_detector(
        net,
        train,
        batch_size=bs,
        loss_fn=distiller.detector_loss if distiller is not None else None,
        **common,
    )


def finetune_segmenter(
    ctx: StageContext,
    net: nn.Module,
    bs: int,
    distiller: Any,
    st: Dict[str, Any],
    common: Dict[str, Any],
) -> List[Dict[str, float]]:
    """
    Segmenter fine-tuning.

    CE + Dice with the teacher's class weights, + pixel KD when distilling.
    """
    from ...training.data import SegmentationSet
    from ...training.loop import class_weights_from_masks, train_segmenter

    train = ctx.data.train
    weights = class_weights_from_masks(train.masks, len(ctx.data.labels))
    if ctx.world > 1:
        sh = ddp.shard_indices(len(train.images), ctx.rank, ctx.world, ctx.seed)
        train = SegmentationSet(train.images[sh], train.masks[sh], train.spec)

    def distill_loss(
        m: nn.Module, x: torch.Tensor, masks: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        return distiller.segmenter_loss(m, x, masks, class_weights=weights)

    return train_segmenter(
        net,
        train,
        batch_size=bs,
        loss_fn=distill_loss if distiller is not None else None,
        class_weights=weights,
        **common,
    )


STAGE = Stage('finetune', SCHEMA, run, label=label, check=check, distributed=True)

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
The ``prune`` stage: structured pruning of heads, MLP channels, embedding width and conv channels.

Algorithm: :func:`vitedge_ros.compress.prune.prune_vit`; Taylor importance takes its gradients from
``calib_batches`` batches of the training data (:func:`calibration_loss`).
"""

from typing import Any, Callable, Dict, Iterator

import numpy as np
import torch
from torch import nn

from .base import Stage, stage_schema, StageContext, StageResult
from .fields import boolean, choice, integer, list_of, num, optional
from ...tasks import get_task

SCHEMA = stage_schema(
    {
        'ratio': (num(0, 1, True, True), None),
        'importance': (choice('taylor', 'magnitude'), 'magnitude'),
        'heads': (boolean, True),
        'head_dims': (boolean, False),
        'mlp': (boolean, True),
        'embed': (boolean, False),
        'global': (boolean, False),
        'embed_ratio': (optional(num(0, 1, hi_open=True)), None),
        'heads_ratio': (optional(num(0, 1, hi_open=True)), None),
        'mlp_ratio': (optional(num(0, 1, hi_open=True)), None),
        'calib_batches': (integer(1), 4),
        'round_to': (integer(1), 1),
        'convs': (boolean, False),
        'conv_ratio': (optional(num(0, 1, hi_open=True)), None),
        'conv_groups': (list_of(choice('neck', 'fuse', 'stem')), ['neck', 'fuse', 'stem']),
    },
    required=('ratio',),
)


def calibration_loss(
    data: Any, n_batches: int, batch_size: int = 32
) -> Callable[[nn.Module], Iterator[torch.Tensor]]:
    """
    Return ``gen(model)``, yielding the task loss of up to ``n_batches`` training batches.

    The losses feed the Taylor importance.

    The task decides (:meth:`vitedge_ros.tasks.Task.calibration_losses`): classifiers:
    cross-entropy on ``batch_size`` images (:func:`classifier_losses`); segmenters and detectors:
    their training loss on batches of at most 16 (:func:`segmenter_losses`,
    :func:`detector_losses`).
    """

    def gen(model: nn.Module) -> Iterator[torch.Tensor]:
        return get_task(data.task).calibration_losses(model, data, n_batches, batch_size)

    return gen


def classifier_losses(
    model: nn.Module, data: Any, n_batches: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """Cross-entropy of up to ``n_batches`` batches of ``batch_size`` training arrays."""
    import torch.nn.functional as F

    for b in range(n_batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        xb = torch.from_numpy(data.x_train[sl])
        if len(xb) == 0:
            break
        out = model(xb)
        out = out[0] if isinstance(out, (tuple, list)) else out
        yield F.cross_entropy(out, torch.from_numpy(data.y_train[sl]))


def segmenter_losses(
    model: nn.Module, data: Any, n_batches: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """
    Yield the segmentation loss of up to ``n_batches`` batches (<= 16 images each).

    The loss is :func:`vitedge_ros.models.vit_segmenter.segmentation_loss`.
    """
    from ...models.vit_segmenter import segmentation_loss
    from ...training.data import images_to_tensor

    bs = min(batch_size, 16)
    for b in range(n_batches):
        sl = slice(b * bs, (b + 1) * bs)
        if len(data.train.images[sl]) == 0:
            break
        x = images_to_tensor(data.train.images[sl], data.spec)
        masks = torch.from_numpy(data.train.masks[sl][:, ::2, ::2].astype(np.int64))
        yield segmentation_loss(model(x), masks)['loss']


def detector_losses(
    model: nn.Module, data: Any, n_batches: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """
    Yield the detection loss of up to ``n_batches`` batches (<= 16 images each).

    The loss is :func:`vitedge_ros.models.vit_detector.detection_loss`.
    """
    from ...models.vit_detector import build_targets, detection_loss
    from ...training.data import images_to_tensor

    det = getattr(model, 'detector', model)
    bs = min(batch_size, 16)
    for b in range(n_batches):
        idx = list(range(b * bs, min((b + 1) * bs, len(data.train.images))))
        if not idx:
            break
        x = images_to_tensor(data.train.images[idx], data.spec)
        tg = build_targets(
            [torch.from_numpy(data.train.boxes[i]) for i in idx],
            [torch.from_numpy(data.train.labels[i]) for i in idx],
            det.num_classes,
            det.map_size,
            det.stride,
            box=det.box,
        )
        yield detection_loss(model(x), tg)['loss']


def run(ctx: StageContext, st: Dict[str, Any]) -> StageResult:
    """
    Prune ``ctx.model`` in place.

    Details: the structure before and after (``prune_vit``'s report).
    """
    from ..prune import prune_vit

    details = prune_vit(
        ctx.model,
        st['ratio'],
        importance=st['importance'],
        heads=st['heads'],
        head_dims=st['head_dims'],
        mlp=st['mlp'],
        embed=st['embed'],
        global_ranking=st['global'],
        embed_ratio=st['embed_ratio'],
        heads_ratio=st['heads_ratio'],
        mlp_ratio=st['mlp_ratio'],
        round_to=st['round_to'],
        convs=st['convs'],
        conv_ratio=st['conv_ratio'],
        conv_groups=st['conv_groups'],
        calib_loss=calibration_loss(ctx.data, st['calib_batches']),
    )
    return StageResult(ctx.model, details=details)


STAGE = Stage('prune', SCHEMA, run)

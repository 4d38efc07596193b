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
Multi-process fine-tuning with DistributedDataParallel (gloo on CPU, nccl where CUDA is used).

Launch the whole recipe under ``torchrun --nproc_per_node N tools/compress.py ...``: every rank
runs the fine-tuning stages on its own shard of the training set (a seeded permutation split into
equal parts, so every rank takes the same number of steps), gradients are averaged by DDP, and rank
0 alone evaluates, exports, writes checkpoints and the report. Stages other than fine-tuning run on
rank 0; the other ranks wait and then load rank 0's stage checkpoint, so every rank starts each
stage from identical weights (the output directory must be on a file system that all ranks see).
"""

import os
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def init_from_env(backend: Optional[str] = None) -> Tuple[int, int]:
    """
    Return (rank, world_size) from the torchrun environment.

    Initialises the default process group when torchrun set ``WORLD_SIZE > 1``.
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend or ('nccl' if torch.cuda.is_available() else 'gloo'))
    return dist.get_rank(), dist.get_world_size()


def rank_world() -> Tuple[int, int]:
    """(rank, world_size) of the initialised group, or (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Synchronise all ranks (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def shard_indices(n: int, rank: int, world: int, seed: int = 0) -> np.ndarray:
    """
    Return the sample indices of this rank.

    They are this rank's part of a seeded permutation of ``range(n)`` cut into ``world``
    equal parts.
    """
    perm = np.random.default_rng(seed).permutation(n)
    per = n // world
    if per == 0:
        raise ValueError('{} samples cannot be shared by {} processes'.format(n, world))
    return np.sort(perm[rank * per:(rank + 1) * per])


class DDPModel(DistributedDataParallel):
    """
    DDP wrapper that forwards unknown attributes to the wrapped model.

    For example ``num_classes`` and ``map_size``.
    """

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(model: nn.Module) -> nn.Module:
    """
    Wrap ``model`` for DDP when a process group with more than one rank exists.

    Otherwise ``model`` is returned unchanged.
    """
    rank, world = rank_world()
    if world <= 1:
        return model
    return DDPModel(model)


def sync_grads(module: nn.Module) -> None:
    """
    Average the gradients of parameters outside the DDP model.

    These are parameters DDP does not synchronise, e.g. the distillation projections.
    """
    _, world = rank_world()
    if world <= 1:
        return

    def hook(g: torch.Tensor) -> torch.Tensor:
        g = g.clone()
        dist.all_reduce(g)
        return g / world

    for p in module.parameters():
        if p.requires_grad:
            p.register_hook(hook)


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy ``src``'s parameters and buffers to every rank (same structure required)."""
    _, world = rank_world()
    if world <= 1:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src)

"""Checkpoints: one file that rebuilds the model (pruned and factorised ones included) and its bundle metadata.

A checkpoint is a ``torch.save`` dict::

    {'format': 'vitedge-checkpoint', 'version': 1, 'name', 'task', 'arch', 'model_config',
     'model': <the nn.Module itself, so structurally changed models load as they are>,
     'state_dict', 'labels', 'input' (InputSpec dict), 'decoder' (bundle decoder dict),
     'epoch', 'metrics', 'extra' (optimizer/scheduler state for resuming, optional)}

Files are written atomically (temporary file + rename).
"""
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

FORMAT = 'vitedge-checkpoint'
VERSION = 1


class CheckpointError(ValueError):
    """The file is not a readable vitedge checkpoint (the message names the file and the problem)."""


def save_checkpoint(path: Union[str, Path], model: nn.Module, *, name: str, task: str, labels: Any,
                    input_spec: Dict[str, Any], decoder: Dict[str, Any], arch: str = '',
                    model_config: Optional[Dict[str, Any]] = None, epoch: int = 0,
                    metrics: Optional[Dict[str, Any]] = None, extra: Optional[Dict[str, Any]] = None) -> Path:
    """Write a checkpoint atomically; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {'format': FORMAT, 'version': VERSION, 'name': name, 'task': task, 'arch': arch,
               'model_config': dict(model_config or {}), 'model': model, 'state_dict': model.state_dict(),
               'labels': list(labels), 'input': dict(input_spec), 'decoder': dict(decoder), 'epoch': int(epoch),
               'metrics': dict(metrics or {}), 'extra': extra or {}}
    fd, tmp = tempfile.mkstemp(prefix='.' + path.name + '.', suffix='.tmp', dir=str(path.parent))
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; the model is in ``ckpt['model']`` (eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError('{}: checkpoint file does not exist'.format(path))
    try:
        ckpt = torch.load(str(path), map_location='cpu', weights_only=False)
    except Exception as exc:
        raise CheckpointError('{}: cannot read checkpoint (truncated or not a torch file): {}'.format(
            path, exc)) from exc
    if not isinstance(ckpt, dict) or ckpt.get('format') != FORMAT:
        raise CheckpointError('{}: not a vitedge checkpoint (no format: {})'.format(path, FORMAT))
    for key in ('model', 'task', 'labels', 'input', 'decoder'):
        if key not in ckpt:
            raise CheckpointError('{}: checkpoint lacks {!r}'.format(path, key))
    model = ckpt['model']
    model.load_state_dict(ckpt['state_dict'])
    ckpt['model'] = model.eval()
    return ckpt

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
Pretrained weights for timm models: a local file, or the model hub.

The hub fails fast, with a clear message, when offline.

``model.pretrained_file: PATH`` loads a ``.safetensors`` or ``.pth``/``.pt``/``.bin`` state dict of
the timm model into it through timm's own mechanism, ``timm.create_model(name, pretrained=True,
pretrained_cfg_overlay=dict(file=PATH))`` (timm 1.0 ``_builder.load_pretrained``): timm's
checkpoint filter resamples the position embedding to the model's grid and adapts the patch
embedding to another patch size or number of input channels, and a classifier head whose class
count differs from the file's is dropped and left freshly initialised. ``.pth`` files are read with
``torch.load(weights_only=True)``: no code runs. Before timm loads anything the file's tensors are
compared with the model's; a shape mismatch fails with one line naming the tensors.

``pretrained: true`` without a file uses timm's hub download only where it can work: a copy already
in the Hugging Face or torch hub cache is loaded as a local file (no network); otherwise the hub is
probed with a 3 s deadline (nothing at all when ``HF_HUB_OFFLINE`` is set) and, when unreachable,
:class:`PretrainedError` says in one line how to give a file instead of waiting out the hub's
retries.
"""

import logging
import os
import socket
import threading
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from ..runtime.errors import VitedgeError

LOG = logging.getLogger(__name__)
PROBE_SECONDS = 3.0
WEIGHT_SUFFIXES = ('.safetensors', '.pth', '.pt', '.bin')
HUB_FILENAMES = (
    'model.safetensors',
    'open_clip_model.safetensors',
    'pytorch_model.bin',
    'open_clip_pytorch_model.bin',
)  # what timm's load_state_dict_from_hf looks for, in order


class PretrainedError(VitedgeError, ValueError):
    """
    Pretrained weights cannot be had.

    ``key`` is the config key at fault (``pretrained_file`` or ``pretrained``).
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _offline() -> bool:
    return any(
        os.environ.get(k, '').strip().lower() in ('1', 'true', 'yes', 'on')
        for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')
    )


def _probe(host: str, port: int = 443, seconds: float = PROBE_SECONDS) -> Optional[str]:
    """
    None when a TCP connection to ``host:port`` opens within ``seconds`` (name lookup included).

    Else why not.
    """
    result: Dict[str, Optional[str]] = {'error': 'no answer within {:.0f} s'.format(seconds)}

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=seconds):
                result['error'] = None
        except OSError as exc:
            result['error'] = str(exc) or type(exc).__name__

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(seconds)
    return result['error']


def _cached_hub_file(name: str) -> Tuple[Optional[str], str, str]:
    """
    Locate timm's default weights of ``name``.

    Returns (path of a cached copy or None, hub host, what to download).
    """
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise PretrainedError(
            'pretrained',
            'timm has no pretrained weights for {!r}: give model.pretrained_file: '
            'PATH (a .safetensors or .pth state dict) or set pretrained: false'.format(name),
        )
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in [cfg.hf_hub_filename] if cfg.hf_hub_filename else list(HUB_FILENAMES):
            path = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if (
                isinstance(path, str)
                and os.path.isfile(path)
                and path.lower().endswith(WEIGHT_SUFFIXES)
            ):
                return path, '', ''
        endpoint = os.environ.get('HF_ENDPOINT') or 'https://huggingface.co'
        return (
            None,
            urlparse(endpoint).hostname or 'huggingface.co',
            'model.safetensors of hf-hub:{}'.format(cfg.hf_hub_id),
        )
    path = os.path.join(
        torch.hub.get_dir(), 'checkpoints', os.path.basename(urlparse(cfg.url).path)
    )
    if os.path.isfile(path) and path.lower().endswith(WEIGHT_SUFFIXES):
        return path, '', ''
    return None, urlparse(cfg.url).hostname or cfg.url, cfg.url


def hub_weights(name: str) -> Optional[str]:
    """
    Return a local path for timm's default pretrained weights of ``name`` (cached copy).

    Or None to download.

    Raises :class:`PretrainedError` at once (no network call) when ``HF_HUB_OFFLINE`` is set and
    nothing is cached, and after at most :data:`PROBE_SECONDS` when the hub does not answer.
    """
    path, host, what = _cached_hub_file(name)
    if path is not None:
        LOG.info('pretrained weights of %s: cached copy %s', name, path)
        return path
    why = 'HF_HUB_OFFLINE is set' if _offline() else _probe(host)
    if why is None:
        return None
    raise PretrainedError(
        'pretrained',
        'no model hub for the pretrained weights of {!r} ({}: {}) and no cached '
        'copy: fetch {} where there is a network and give it as model.pretrained_file: PATH '
        '(.safetensors or .pth), or set pretrained: false'.format(name, host, why, what),
    )


def _classifier_names(name: str) -> Tuple[str, ...]:
    cfg = timm.models.get_pretrained_cfg(name)
    names = getattr(cfg, 'classifier', None) if cfg is not None else None
    if names is None:
        return ('head', 'fc', 'classifier')
    return (names,) if isinstance(names, str) else tuple(names)


def _square(n: int) -> bool:
    return n >= 1 and int(round(n**0.5)) ** 2 == n


def _resampled_by_timm(key: str, got: Tuple[int, ...], want: Tuple[int, ...]) -> bool:
    """
    Shape differences timm's checkpoint filter fixes: position grid, patch size, input channels.

    timm's ``resample_abs_pos_embed`` infers the file's token grid as a square (with or without a
    class token), so a non-square grid of another size cannot be resampled.
    """
    if key.endswith('pos_embed'):
        return got[-1] == want[-1] and len(got) == 3 and (_square(got[1]) or _square(got[1] - 1))
    if key.endswith('patch_embed.proj.weight'):
        return len(got) == len(want) == 4 and got[0] == want[0]
    return False


def _shape(t: torch.Tensor) -> str:
    return '[{}]'.format(', '.join(str(int(d)) for d in t.shape))


def check_weights(
    name: str, path: str, file_sd: Dict[str, torch.Tensor], model_sd: Dict[str, torch.Tensor]
) -> List[str]:
    """
    Tensors of ``file_sd`` that do not fit ``model_sd``.

    Raises :class:`PretrainedError` on a shape mismatch.

    Returns the model tensors the file lacks (left at their fresh initialisation). Classifier
    tensors are exempt when the class counts differ (timm drops them).
    """
    heads = tuple(h + '.' for h in _classifier_names(name))
    bad = []
    for key, t in file_sd.items():
        if key not in model_sd or not hasattr(t, 'shape'):
            continue
        want = model_sd[key]
        if (
            tuple(t.shape) == tuple(want.shape)
            or key.startswith(heads)
            or _resampled_by_timm(key, tuple(t.shape), tuple(want.shape))
        ):
            continue
        bad.append('{} file {} vs model {}'.format(key, _shape(t), _shape(want)))
    if bad:
        raise PretrainedError(
            'pretrained_file',
            '{}: {} tensor(s) do not fit {!r} (check the architecture and its '
            'kwargs: embed_dim, depth, num_heads, ...): {}'.format(
                path, len(bad), name, '; '.join(bad[:4]) + ('; ...' if len(bad) > 4 else '')
            ),
        )
    common = [k for k in model_sd if k in file_sd]
    if not common:
        raise PretrainedError(
            'pretrained_file',
            '{}: none of its {} tensors is a tensor of {!r} (file keys: {}; model '
            'keys: {})'.format(
                path,
                len(file_sd),
                name,
                ', '.join(list(file_sd)[:3]),
                ', '.join(list(model_sd)[:3]),
            ),
        )
    return [k for k in model_sd if k not in file_sd and not k.startswith(heads)]


def read_weights(path: str) -> Dict[str, torch.Tensor]:
    """
    Return a state dict from a .safetensors or torch file (``weights_only``).

    Via timm's ``load_state_dict``.
    """
    from timm.models import load_state_dict

    if not os.path.isfile(path):
        raise PretrainedError('pretrained_file', '{}: no such file'.format(path))
    if not path.lower().endswith(WEIGHT_SUFFIXES):
        raise PretrainedError(
            'pretrained_file', '{}: expected a {} file'.format(path, ' / '.join(WEIGHT_SUFFIXES))
        )
    try:
        sd = load_state_dict(path)
    except Exception as exc:  # safetensors / torch raise many types for a corrupt or foreign file
        raise PretrainedError(
            'pretrained_file',
            '{}: cannot read weights ({}: {})'.format(
                path, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else ''
            ),
        ) from None
    if not isinstance(sd, dict) or not sd:
        raise PretrainedError('pretrained_file', '{}: holds no state dict of tensors'.format(path))
    return sd


def create_timm(
    name: str, pretrained: bool = False, pretrained_file: Optional[str] = None, **kwargs: Any
) -> nn.Module:
    """
    Return ``timm.create_model(name, **kwargs)`` with weights from a file or the hub.

    The weights come from ``pretrained_file``, or from the hub when ``pretrained``.
    ``kwargs`` go to timm (``num_classes``, ``img_size``, ``embed_dim`` ...). Raises
    :class:`PretrainedError` (one line) for an unreadable or unfitting file and for an unreachable
    hub without a cached copy.
    """
    if pretrained_file is None and pretrained:
        pretrained_file = hub_weights(name)
        if pretrained_file is None:
            return timm.create_model(name, pretrained=True, **kwargs)
    if pretrained_file is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    path = os.fspath(pretrained_file)
    file_sd = read_weights(path)
    model_sd = timm.create_model(name, pretrained=False, **kwargs).state_dict()
    heads = _classifier_names(name)
    head_w = next((file_sd[h + '.weight'] for h in heads if h + '.weight' in file_sd), None)
    file_classes = int(head_w.shape[0]) if head_w is not None else 0
    missing = check_weights(name, path, file_sd, model_sd)
    try:
        overlay = {
            'file': path, 'num_classes': file_classes
        }  # a head of another class count is dropped
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    except (RuntimeError, ValueError, AssertionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PretrainedError(
            'pretrained_file', '{}: timm cannot load it into {!r}: {}'.format(path, name, first)
        ) from None
    if missing:
        LOG.warning(
            '%s: %d tensor(s) of %s are not in the file and keep their fresh initialisation: %s',
            path,
            len(missing),
            name,
            ', '.join(missing[:6]) + (' ...' if len(missing) > 6 else ''),
        )
    return model


__all__ = ['PretrainedError', 'create_timm', 'hub_weights', 'read_weights', 'check_weights']

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
A plain description of a model's structure, and the model rebuilt from it (no pickled code needed).

A checkpoint (:mod:`vitedge_ros.checkpoint`) stores tensors and this description; the module is
rebuilt by building the *unpruned* model from the factory
(:func:`vitedge_ros.models.create_model`), applying the recorded structural edits and then loading
the tensors strictly. The description is JSON/YAML-able::

    {'version': 1,
     'factory': {'arch', 'task', 'num_classes', 'img_size', 'kwargs'},      # create_model
     arguments 'widths': {'embed_dim': 96,                                             # the ViT
     (backbone)
                'blocks': [{'num_heads', 'head_dim', 'qkv': [in, out], 'proj': [in, out],
                            'fc1': [in, out], 'fc2': [in, out]}, ...],
                'convs': {'neck.0': 32, 'fuse.0': 32, 'stem.0': 16, ...}},   # detector conv groups
     'lowrank': {'blocks.0.mlp.fc1': {'in': 96, 'out': 384, 'rank': 20, 'bias': True}, ...},  #
     Linear -> 2
     'tome': {'r': [2, 2, 2], 'prop_attn': True} | None}

Structural edits replayed, in the order the compression stages make them:

1. pruning (:mod:`vitedge_ros.compress.prune`): the same surgery functions as the pruner, keeping
   the first ``n`` channels/heads of each coupled group (the loaded tensors then fill them), so
   every tensor the pruner touches (tokens, position embedding, LayerNorms, LayerScales, heads,
   detector neck/fusion/stem) follows;
2. low-rank factorisation (:mod:`vitedge_ros.compress.lowrank`): each recorded ``nn.Linear``
   becomes a :class:`~vitedge_ros.compress.lowrank.LowRankLinear` of the recorded rank;
3. token merging (:mod:`vitedge_ros.compress.tome`): ``apply_tome`` with the recorded per-block
   ``r``.

``widths`` is recorded for every ViT model, pruned or not: a rebuilt model is checked against it,
so a description that does not match the model fails loudly instead of loading into the wrong
shapes.
"""

import copy
import json
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

from .runtime.errors import VitedgeError
from .tasks import all_tasks, task_of_arch

STRUCTURE_VERSION = 1
FACTORY_ATTR = 'vitedge_factory'
_FACTORY_KEYS = (
    'arch',
    'task',
    'num_classes',
    'img_size',
    'kwargs',
    'pretrained',
    'checkpoint',
    'path',
    'pretrained_file',
)


class StructureError(VitedgeError, ValueError):
    """
    A model that cannot be described.

    Or a description that does not rebuild (the message says which part).
    """


def plain(value: Any, where: str = 'value') -> Any:
    """
    ``value`` as plain JSON/YAML data (dict with str keys, list, str, int, float, bool, None).

    Tuples become lists, numpy scalars/arrays become Python numbers/lists. Raises
    :class:`StructureError` naming ``where`` for anything else (a module, a function, a class
    instance).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StructureError('{}: key {!r} is not a string'.format(where, k))
            out[k] = plain(v, '{}.{}'.format(where, k))
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v, '{}[{}]'.format(where, i)) for i, v in enumerate(value)]
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, '__fspath__'):
        return str(value)
    raise StructureError(
        '{}: {} is not plain data (str, number, bool, list, mapping)'.format(
            where, type(value).__name__
        )
    )


# --- the factory: how to build the unpruned model
# ----------------------------------------------------------


def record_factory(
    model: nn.Module, arch: str, task: str, num_classes: int, img_size: Any, kwargs: Dict[str, Any]
) -> nn.Module:
    """
    Remember on ``model`` the arguments it was built with.

    These are the :func:`~vitedge_ros.models.create_model` arguments.
    """
    try:
        setattr(
            model,
            FACTORY_ATTR,
            plain(
                {
                    'arch': arch,
                    'task': task,
                    'num_classes': int(num_classes),
                    'img_size': img_size,
                    'kwargs': dict(kwargs),
                },
                'model',
            ),
        )
    except (
        StructureError
    ):  # non-plain kwargs (e.g. a norm_layer function): not rebuildable from a description
        pass
    return model


def _config_factory(model: nn.Module) -> Optional[Dict[str, Any]]:
    """
    Return the factory arguments of the project's own architectures from their ``config()``.

    The own architectures are the detector and the segmenter.
    """
    for task in all_tasks():
        for arch in task.model_archs:
            if isinstance(model, task.model_class(arch)):
                cfg = dict(model.config())
                num_classes = cfg.pop('num_classes')
                img_size = cfg.pop('img_size')
                return {
                    'arch': arch,
                    'task': task.name,
                    'num_classes': int(num_classes),
                    'img_size': list(img_size),
                    'kwargs': cfg,
                }
    return None


def _model_config_factory(
    model: nn.Module, model_config: Dict[str, Any]
) -> Optional[Dict[str, Any]]:
    """
    Return the factory arguments of a timm classifier.

    Read from a recipe/training ``model`` mapping (and the module).
    """
    arch = model_config.get('arch')
    if not arch or task_of_arch(arch) is not None:
        return None
    kwargs = dict(model_config.get('kwargs') or {})
    kwargs.update({k: v for k, v in model_config.items() if k not in _FACTORY_KEYS})
    num_classes = model_config.get('num_classes', getattr(model, 'num_classes', None))
    img_size = model_config.get('img_size')
    if img_size is None and hasattr(getattr(model, 'patch_embed', None), 'img_size'):
        img_size = list(model.patch_embed.img_size)
    return {
        'arch': arch,
        'task': 'classify',
        'num_classes': None if num_classes is None else int(num_classes),
        'img_size': img_size,
        'kwargs': kwargs,
    }


def factory_of(model: nn.Module, model_config: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """
    Return the ``create_model`` arguments that build ``model`` before its structural edits.

    Taken from what :func:`~vitedge_ros.models.create_model` recorded on the module, else from the
    detector's/segmenter's ``config()``, else from ``model_config`` (a recipe's or training
    config's ``model``
    mapping: ``arch`` and the timm ``kwargs``). Raises :class:`StructureError` when none applies.
    """
    fac = getattr(model, FACTORY_ATTR, None) or _config_factory(model)
    if fac is None and model_config:
        fac = _model_config_factory(model, model_config)
    if fac is None:
        raise StructureError(
            'cannot tell how to rebuild a {} (build it with vitedge_ros.models.create_model, or '
            'pass model_config with its arch and kwargs)'.format(type(model).__name__)
        )
    return plain(copy.deepcopy(fac), 'factory')


# --- widths, low-rank and ToMe edits
# -------------------------------------------------------------------------


def _is_pair(m: nn.Module) -> bool:
    return (
        isinstance(m, nn.Sequential)
        and len(m) == 2
        and all(type(x) is nn.Linear for x in m)
        and m[0].out_features == m[1].in_features
    )


def _in_out(layer: nn.Module) -> List[int]:
    if _is_pair(layer):
        return [int(layer[0].in_features), int(layer[1].out_features)]
    return [int(layer.in_features), int(layer.out_features)]


def _linear_like(layer: Any) -> bool:
    return (
        isinstance(layer, nn.Linear)
        or _is_pair(layer)
        or (hasattr(layer, 'in_features') and hasattr(layer, 'out_features'))
    )


def _detector(model: nn.Module) -> Optional[nn.Module]:
    det = getattr(model, 'detector', model)
    return det if hasattr(det, 'neck') and hasattr(det, 'heatmap') else None


def widths_of(model: nn.Module) -> Optional[Dict[str, Any]]:
    """
    Return the embedding width, per-block attention/MLP shapes and detector conv widths.

    None without a timm ViT.
    """
    from .compress.prune import conv_widths, find_vit, PruneError

    try:
        vit = find_vit(model)
    except PruneError:
        return None
    blocks = []
    for b in vit.blocks:
        attn, mlp = getattr(b, 'attn', None), getattr(b, 'mlp', None)
        if (
            attn is None
            or mlp is None
            or not all(
                _linear_like(m)
                for m in (
                    getattr(attn, 'qkv', None),
                    getattr(attn, 'proj', None),
                    getattr(mlp, 'fc1', None),
                    getattr(mlp, 'fc2', None),
                )
            )
        ):
            # not a timm Attention/Mlp block: no widths to record (nothing this project prunes)
            return None
        blocks.append(
            {
                'num_heads': int(attn.num_heads),
                'head_dim': int(attn.head_dim),
                'qkv': _in_out(attn.qkv),
                'proj': _in_out(attn.proj),
                'fc1': _in_out(mlp.fc1),
                'fc2': _in_out(mlp.fc2),
            }
        )
    out: Dict[str, Any] = {'embed_dim': int(vit.patch_embed.proj.out_channels), 'blocks': blocks}
    det = _detector(model)
    if det is not None:
        out['convs'] = conv_widths(det)
    return out


def lowrank_of(model: nn.Module) -> Dict[str, Any]:
    """
    Every factorised Linear by module name: in/out features, rank, biases.

    A :class:`~vitedge_ros.compress.lowrank.LowRankLinear` or any ``nn.Sequential`` of two
    ``nn.Linear`` (``in → rank → out``) counts; the rebuilt pair is a ``LowRankLinear`` with the
    same tensor names.
    """
    out: Dict[str, Any] = {}
    for name, m in model.named_modules():
        if name and _is_pair(m):
            spec = {
                'in': int(m[0].in_features),
                'out': int(m[1].out_features),
                'rank': int(m[0].out_features),
                'bias': m[1].bias is not None,
            }
            if m[0].bias is not None:
                spec['bias_first'] = True
            out[name] = spec
    return out


def tome_of(model: nn.Module) -> Optional[Dict[str, Any]]:
    """
    Token-merging settings (``r`` per block, proportional attention) of a ToMe-patched ViT.

    Else None.
    """
    info = getattr(model, '_tome_info', None)
    if info is None:
        return None
    return {
        'r': [int(getattr(b, '_tome_r', 0)) for b in model.blocks],
        'prop_attn': bool(info.get('prop_attn', True)),
    }


def describe_structure(
    model: nn.Module, model_config: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """
    Return the plain structure description of ``model`` (see the module docstring).

    Raises :class:`StructureError`.
    """
    return {
        'version': STRUCTURE_VERSION,
        'factory': factory_of(model, model_config),
        'widths': widths_of(model),
        'lowrank': lowrank_of(model),
        'tome': tome_of(model),
    }


# --- rebuilding
# -----------------------------------------------------------------------------------------------


def _check_shape(where: str, want: List[int], got: List[int]) -> None:
    if list(want) != list(got):
        raise StructureError(
            '{}: recorded in/out {} but the rebuilt layer has {}'.format(where, want, got)
        )


def _apply_widths(model: nn.Module, widths: Dict[str, Any]) -> None:
    from .compress.prune import (
        apply_conv_widths,
        find_vit,
        prune_attention,
        prune_embed,
        prune_mlp,
        PruneError,
    )

    try:
        vit = find_vit(model)
    except PruneError as exc:
        raise StructureError('widths: {}'.format(exc)) from exc
    blocks = widths.get('blocks') or []
    if len(blocks) != len(vit.blocks):
        raise StructureError(
            'widths: {} blocks recorded, the factory builds {}'.format(
                len(blocks), len(vit.blocks)
            )
        )
    for i, (b, w) in enumerate(zip(vit.blocks, blocks)):
        attn, mlp = b.attn, b.mlp
        h, hd, hidden = int(w['num_heads']), int(w['head_dim']), int(w['fc1'][1])
        if h > attn.num_heads or hd > attn.head_dim or hidden > mlp.fc1.out_features:
            raise StructureError(
                'widths.blocks[{}]: {} heads x {} dims, MLP {} exceed the unpruned block ({} x '
                '{}, '
                '{})'.format(i, h, hd, hidden, attn.num_heads, attn.head_dim, mlp.fc1.out_features)
            )
        if (h, hd) != (attn.num_heads, attn.head_dim):
            prune_attention(attn, list(range(h)), list(range(hd)))
        if hidden != mlp.fc1.out_features:
            prune_mlp(mlp, list(range(hidden)))
    embed = int(widths['embed_dim'])
    current = int(vit.patch_embed.proj.out_channels)
    if embed > current:
        raise StructureError(
            "widths.embed_dim: {} exceeds the unpruned model's {}".format(embed, current)
        )
    if embed < current:
        prune_embed(model, vit, list(range(embed)))
    if widths.get('convs'):
        det = _detector(model)
        if det is None:
            raise StructureError('widths.convs: the factory model has no detector head')
        try:
            apply_conv_widths(det, widths['convs'])
        except PruneError as exc:
            raise StructureError('widths.convs: {}'.format(exc)) from exc
    for i, (b, w) in enumerate(zip(vit.blocks, blocks)):
        for owner, name in ((b.attn, 'qkv'), (b.attn, 'proj'), (b.mlp, 'fc1'), (b.mlp, 'fc2')):
            _check_shape(
                'widths.blocks[{}].{}'.format(i, name), w[name], _in_out(getattr(owner, name))
            )


def _apply_lowrank(model: nn.Module, lowrank: Dict[str, Any]) -> None:
    from .compress.lowrank import LowRankLinear, set_module

    for name, spec in sorted(lowrank.items()):
        try:
            layer = model.get_submodule(name)
        except AttributeError as exc:
            raise StructureError(
                'lowrank.{}: no such layer in the rebuilt model'.format(name)
            ) from exc
        if type(layer) is not nn.Linear:
            raise StructureError(
                'lowrank.{}: expected an nn.Linear to factorise, found {}'.format(
                    name, type(layer).__name__
                )
            )
        _check_shape('lowrank.{}'.format(name), [spec['in'], spec['out']], _in_out(layer))
        pair = LowRankLinear(
            int(spec['in']), int(spec['out']), int(spec['rank']), bias=bool(spec['bias'])
        )
        if spec.get('bias_first'):
            pair[0] = nn.Linear(int(spec['in']), int(spec['rank']), bias=True)
        set_module(model, name, pair)


def build_skeleton(structure: Dict[str, Any]) -> nn.Module:
    """
    Return the model ``structure`` describes.

    With freshly initialised tensors (load a state dict into it).

    The global torch random state is left as it was. Raises :class:`StructureError` for a
    description that does not rebuild (unknown arch, widths larger than the factory model, a
    missing layer).
    """
    from .models import create_model

    if (
        not isinstance(structure, dict)
        or int(structure.get('version', 0) or 0) != STRUCTURE_VERSION
    ):
        raise StructureError(
            'structure: expected a version {} description, got {!r}'.format(
                STRUCTURE_VERSION,
                structure.get('version') if isinstance(structure, dict) else structure,
            )
        )
    fac = structure.get('factory') or {}
    if not fac.get('arch'):
        raise StructureError('structure.factory: no arch')
    kwargs = dict(fac.get('kwargs') or {})
    with torch.random.fork_rng(devices=[]):
        try:
            model = create_model(
                fac['arch'],
                task=fac.get('task') or 'classify',
                num_classes=int(fac['num_classes'])
                if fac.get('num_classes') is not None
                else 1000,
                img_size=fac.get('img_size'),
                pretrained=False,
                **kwargs,
            )
        except (TypeError, ValueError, RuntimeError, KeyError, AssertionError) as exc:
            raise StructureError(
                'structure.factory: cannot build {!r} with {}: {}'.format(
                    fac['arch'],
                    kwargs,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                )
            ) from exc
        if structure.get('widths'):
            _apply_widths(model, structure['widths'])
        if structure.get('lowrank'):
            _apply_lowrank(model, structure['lowrank'])
        tome = structure.get('tome')
        if tome:
            from .compress.tome import apply_tome

            try:
                apply_tome(
                    model, [int(r) for r in tome['r']], prop_attn=bool(tome.get('prop_attn', True))
                )
            except (TypeError, ValueError) as exc:
                raise StructureError('structure.tome: {}'.format(exc)) from exc
    return model


def rebuild_model(structure: Dict[str, Any], state_dict: Dict[str, torch.Tensor]) -> nn.Module:
    """
    Build the skeleton of ``structure`` and load ``state_dict`` strictly; returns it in eval mode.

    Raises :class:`StructureError` when a tensor is missing, unexpected or of another shape.
    """
    model = build_skeleton(structure)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        raise StructureError(
            'tensors do not fit the described structure: {}'.format(
                ' '.join(lines[1:3]) if len(lines) > 1 else lines[0] if lines else exc
            )
        ) from exc
    return model.eval()


_SHAPES_CACHE: Dict[str, Dict[str, Tuple[int, ...]]] = {}


def check_rebuilds(structure: Dict[str, Any], model: nn.Module) -> None:
    """
    Raise :class:`StructureError` unless ``structure`` rebuilds ``model``'s tensor names/shapes.

    Cached per description, so saving a checkpoint every epoch builds the skeleton once.
    """
    key = json.dumps(structure, sort_keys=True)
    shapes = _SHAPES_CACHE.get(key)
    if shapes is None:
        shapes = {k: tuple(v.shape) for k, v in build_skeleton(structure).state_dict().items()}
        _SHAPES_CACHE[key] = shapes
    have = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if have != shapes:
        missing = sorted(set(have) - set(shapes))
        extra = sorted(set(shapes) - set(have))
        diff = sorted(k for k in set(have) & set(shapes) if have[k] != shapes[k])
        what = (
            'tensors {} absent from the rebuilt model'.format(missing[:3])
            if missing
            else 'the rebuilt model has extra tensors {}'.format(extra[:3])
            if extra
            else '{}: shape {} but the rebuilt model has {}'.format(
                diff[0], have[diff[0]], shapes[diff[0]]
            )
        )
        raise StructureError(
            'the structure description does not rebuild this {}: {}'.format(
                type(model).__name__, what
            )
        )

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
Structured pruning of timm ViT/DeiT models that really shrinks tensors.

It also prunes the detector's ViT backbone.

Three kinds of coupled channel groups are removed, each with magnitude or first-order Taylor
importance:

* **attention heads** (``heads``) and **head dimensions** (``head_dims``, the same dims in every
  head of a layer, so all heads keep one ``head_dim``): rows of ``qkv`` (in its q, k and v thirds)
  and columns of ``proj``;
* **MLP hidden channels** (``mlp``): rows of ``fc1`` and columns of ``fc2``;
* the **embedding (residual) dimension** (``embed``), one group across the whole network: the
  patch-embedding conv, cls/dist/register tokens, position embedding, every LayerNorm and
  LayerScale, the input columns of ``qkv``/``fc1``/the classifier heads, the output rows of
  ``proj``/``fc2``, and the detector neck's first conv input.

After surgery the timm attributes (``Attention.num_heads/head_dim/attn_dim/scale``,
``VisionTransformer.embed_dim/num_features/head_hidden_size``) are updated so that forward, ONNX
export and checkpoint loading work. When the head dim shrinks, the query rows are rescaled by
``sqrt(new/old)`` so that the kept part of every attention logit is unchanged (timm's fused
attention uses ``1/sqrt(head_dim)``).

Ratios are per layer by default; with ``global_ranking`` heads and MLP channels are ranked across
layers (importance normalised by each layer's mean) and every layer keeps at least one head /
``round_to`` channels. Torch-Pruning's dependency graph does not model timm's fused ``qkv`` + head
reshape, and its LayerNorm pruner does not sort the kept indices, so the surgery here is done by
hand with index slicing.
"""

import math
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn

from ..runtime.errors import VitedgeError

CalibLoss = Callable[[nn.Module], Iterable[torch.Tensor]]


class PruneError(VitedgeError, ValueError):
    """The model has a structure this pruner does not handle."""


def find_vit(model: nn.Module) -> nn.Module:
    """
    Return the timm VisionTransformer inside ``model``.

    Itself, ``.backbone``, or ``.detector.backbone``.
    """
    for cand in (
        model,
        getattr(model, 'backbone', None),
        getattr(getattr(model, 'detector', None), 'backbone', None),
    ):
        if cand is not None and hasattr(cand, 'blocks') and hasattr(cand, 'patch_embed'):
            return cand
    raise PruneError('no timm VisionTransformer found in {}'.format(type(model).__name__))


def _check_block(i: int, blk: nn.Module) -> None:
    attn, mlp = getattr(blk, 'attn', None), getattr(blk, 'mlp', None)
    for owner, names in ((attn, ('qkv', 'proj')), (mlp, ('fc1', 'fc2'))):
        for n in names:
            if owner is None or not isinstance(getattr(owner, n, None), nn.Linear):
                raise PruneError(
                    'blocks.{}: expected timm Attention(qkv, proj) and Mlp(fc1, fc2) with '
                    'nn.Linear '
                    'layers (prune before low-rank factorisation)'.format(i)
                )
    if getattr(attn, 'gate', None) is not None:
        raise PruneError('blocks.{}.attn: gated attention is not supported'.format(i))


# --- importance
# ---------------------------------------------------------------------------------------------


def _score(p: torch.Tensor, kind: str) -> torch.Tensor:
    w = p.detach()
    if kind == 'taylor':
        if p.grad is None:
            return torch.zeros_like(w)
        return (w * p.grad.detach()).abs()
    return w * w


def _sum_except(t: torch.Tensor, dim: int) -> torch.Tensor:
    dims = [d for d in range(t.dim()) if d != dim % t.dim()]
    return t.sum(dim=dims) if dims else t


def head_importance(attn: nn.Module, kind: str) -> torch.Tensor:
    """Import per head (H)."""
    h, hd = attn.num_heads, attn.head_dim
    w = _score(attn.qkv.weight, kind).view(3, h, hd, -1).sum(dim=(0, 2, 3))
    if attn.qkv.bias is not None:
        w = w + _score(attn.qkv.bias, kind).view(3, h, hd).sum(dim=(0, 2))
    w = w + _score(attn.proj.weight, kind).view(-1, h, hd).sum(dim=(0, 2))
    return w


def head_dim_importance(attn: nn.Module, kind: str) -> torch.Tensor:
    """Import per head dimension (hd), summed over heads."""
    h, hd = attn.num_heads, attn.head_dim
    w = _score(attn.qkv.weight, kind).view(3, h, hd, -1).sum(dim=(0, 1, 3))
    if attn.qkv.bias is not None:
        w = w + _score(attn.qkv.bias, kind).view(3, h, hd).sum(dim=(0, 1))
    w = w + _score(attn.proj.weight, kind).view(-1, h, hd).sum(dim=(0, 1))
    return w


def mlp_importance(mlp: nn.Module, kind: str) -> torch.Tensor:
    """Import per hidden channel."""
    w = _sum_except(_score(mlp.fc1.weight, kind), 0)
    if mlp.fc1.bias is not None:
        w = w + _score(mlp.fc1.bias, kind)
    return w + _sum_except(_score(mlp.fc2.weight, kind), 1)


def _embed_params(model: nn.Module, vit: nn.Module) -> List[tuple]:
    """(tensor, dim) pairs coupled to the embedding dimension."""
    out: List[tuple] = []
    pe = vit.patch_embed.proj
    out += [(pe.weight, 0)] + ([(pe.bias, 0)] if pe.bias is not None else [])
    for name in ('cls_token', 'dist_token', 'reg_token', 'pos_embed'):
        t = getattr(vit, name, None)
        if isinstance(t, torch.Tensor):
            out.append((t, -1))
    norms = [
        getattr(vit.patch_embed, 'norm', None),
        getattr(vit, 'norm_pre', None),
        getattr(vit, 'norm', None),
        getattr(vit, 'fc_norm', None),
    ]
    for blk in vit.blocks:
        norms += [blk.norm1, blk.norm2]
        for ls in (getattr(blk, 'ls1', None), getattr(blk, 'ls2', None)):
            if ls is not None and hasattr(ls, 'gamma'):
                out.append((ls.gamma, 0))
        out += [
            (blk.attn.qkv.weight, 1),
            (blk.attn.proj.weight, 0),
            (blk.mlp.fc1.weight, 1),
            (blk.mlp.fc2.weight, 0),
        ]
        out += [(b, 0) for b in (blk.attn.proj.bias, blk.mlp.fc2.bias) if b is not None]
    for n in norms:
        if isinstance(n, nn.LayerNorm):
            out += [(t, 0) for t in (n.weight, n.bias) if t is not None]
    for head in _heads(vit):
        out.append((head.weight, 1))
    neck = _neck_conv(model)
    if neck is not None:
        out.append((neck.weight, 1))
    return out


def embed_importance(model: nn.Module, vit: nn.Module, kind: str) -> torch.Tensor:
    """Import per embedding channel (D)."""
    total = None
    for t, dim in _embed_params(model, vit):
        s = _sum_except(_score(t, kind), dim)
        total = s if total is None else total + s
    return total


def _heads(vit: nn.Module) -> List[nn.Linear]:
    return [
        h
        for h in (getattr(vit, 'head', None), getattr(vit, 'head_dist', None))
        if isinstance(h, nn.Linear)
    ]


def _neck_conv(model: nn.Module) -> Optional[nn.Conv2d]:
    det = getattr(model, 'detector', model)
    neck = getattr(det, 'neck', None)
    if isinstance(neck, nn.Sequential) and isinstance(neck[0], nn.Conv2d):
        return neck[0]
    return None


# --- selection
# ----------------------------------------------------------------------------------------------


def _n_keep(n: int, ratio: float, round_to: int = 1, minimum: int = 1) -> int:
    keep = n - int(round(ratio * n))
    if round_to > 1:
        keep = max(round_to, int(round(keep / round_to)) * round_to)
    return int(min(n, max(minimum, keep)))


def _topk_keep(scores: torch.Tensor, n_keep: int) -> List[int]:
    idx = torch.argsort(scores, descending=True, stable=True)[:n_keep]
    return sorted(int(i) for i in idx)


def _global_keep(
    scores: List[torch.Tensor], ratio: float, minimum: int, round_to: int = 1
) -> List[List[int]]:
    """
    Rank normalised scores across layers.

    Prune the lowest ``ratio`` of all channels, each layer ≥ minimum.
    """
    normed = [s / (s.mean() + 1e-12) for s in scores]
    total = sum(int(s.numel()) for s in scores)
    n_prune = int(round(ratio * total))
    flat = torch.cat(normed)
    owner = torch.cat(
        [torch.full((s.numel(),), i, dtype=torch.long) for i, s in enumerate(scores)]
    )
    order = torch.argsort(flat, stable=True)
    removed = [0] * len(scores)
    drop = [set() for _ in scores]
    offsets = [0]
    for s in scores[:-1]:
        offsets.append(offsets[-1] + int(s.numel()))
    for j in order.tolist():
        if n_prune <= 0:
            break
        li = int(owner[j])
        if scores[li].numel() - removed[li] <= minimum:
            continue
        drop[li].add(j - offsets[li])
        removed[li] += 1
        n_prune -= 1
    keeps = []
    for li, s in enumerate(scores):
        keep = [i for i in range(s.numel()) if i not in drop[li]]
        if round_to > 1 and len(keep) % round_to:
            want = max(round_to, int(round(len(keep) / round_to)) * round_to)
            keep = _topk_keep(normed[li], min(want, s.numel()))
        keeps.append(keep)
    return keeps


# --- surgery
# ------------------------------------------------------------------------------------------------


def _param(t: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(t.detach().clone().contiguous())


def _slice_param(owner: nn.Module, name: str, idx: torch.Tensor, dim: int) -> None:
    p = getattr(owner, name)
    if p is None:
        return
    new = torch.index_select(p.detach(), dim, idx)
    if isinstance(p, nn.Parameter):
        setattr(owner, name, nn.Parameter(new.contiguous(), requires_grad=p.requires_grad))
    else:
        setattr(owner, name, new.contiguous())


def linear_keep_out(layer: nn.Linear, keep: List[int]) -> None:
    """Keep output rows ``keep`` of a Linear."""
    idx = torch.as_tensor(keep, dtype=torch.long)
    _slice_param(layer, 'weight', idx, 0)
    if layer.bias is not None:
        _slice_param(layer, 'bias', idx, 0)
    layer.out_features = len(keep)


def linear_keep_in(layer: nn.Linear, keep: List[int]) -> None:
    """Keep input columns ``keep`` of a Linear."""
    _slice_param(layer, 'weight', torch.as_tensor(keep, dtype=torch.long), 1)
    layer.in_features = len(keep)


def _layernorm_keep(ln: nn.Module, keep: List[int]) -> None:
    if not isinstance(ln, nn.LayerNorm):
        return
    idx = torch.as_tensor(keep, dtype=torch.long)
    if ln.weight is not None:
        _slice_param(ln, 'weight', idx, 0)
    if ln.bias is not None:
        _slice_param(ln, 'bias', idx, 0)
    ln.normalized_shape = (len(keep),)


def prune_attention(attn: nn.Module, keep_heads: List[int], keep_dims: List[int]) -> None:
    """Keep heads ``keep_heads`` and, in each, dims ``keep_dims``; update the timm attributes."""
    h, hd = attn.num_heads, attn.head_dim
    rows = [p * h * hd + hh * hd + j for p in range(3) for hh in keep_heads for j in keep_dims]
    cols = [hh * hd + j for hh in keep_heads for j in keep_dims]
    new_hd = len(keep_dims)
    linear_keep_out(attn.qkv, rows)
    linear_keep_in(attn.proj, cols)
    for nname in ('q_norm', 'k_norm'):
        _layernorm_keep(getattr(attn, nname, None), keep_dims)
    if isinstance(getattr(attn, 'norm', None), nn.LayerNorm):
        _layernorm_keep(attn.norm, cols)
    if new_hd != hd and not isinstance(getattr(attn, 'q_norm', None), nn.LayerNorm):
        # keep q·k·scale unchanged for the kept dims although scale becomes 1/sqrt(new_hd)
        factor = math.sqrt(new_hd / hd)
        nq = len(keep_heads) * new_hd
        with torch.no_grad():
            attn.qkv.weight[:nq] *= factor
            if attn.qkv.bias is not None:
                attn.qkv.bias[:nq] *= factor
    attn.num_heads = len(keep_heads)
    attn.head_dim = new_hd
    if hasattr(attn, 'attn_dim'):
        attn.attn_dim = len(keep_heads) * new_hd
    attn.scale = new_hd**-0.5


def prune_mlp(mlp: nn.Module, keep: List[int]) -> None:
    """Keep hidden channels ``keep`` of a timm Mlp."""
    linear_keep_out(mlp.fc1, keep)
    linear_keep_in(mlp.fc2, keep)
    _layernorm_keep(getattr(mlp, 'norm', None), keep)


def prune_embed(model: nn.Module, vit: nn.Module, keep: List[int]) -> None:
    """Keep embedding channels ``keep`` everywhere they appear."""
    idx = torch.as_tensor(keep, dtype=torch.long)
    pe = vit.patch_embed.proj
    _slice_param(pe, 'weight', idx, 0)
    if pe.bias is not None:
        _slice_param(pe, 'bias', idx, 0)
    pe.out_channels = len(keep)
    for name in ('cls_token', 'dist_token', 'reg_token', 'pos_embed'):
        t = getattr(vit, name, None)
        if isinstance(t, torch.Tensor):
            _slice_param(vit, name, idx, t.dim() - 1)
    for n in (
        getattr(vit.patch_embed, 'norm', None),
        getattr(vit, 'norm_pre', None),
        getattr(vit, 'norm', None),
        getattr(vit, 'fc_norm', None),
    ):
        _layernorm_keep(n, keep)
    for blk in vit.blocks:
        _layernorm_keep(blk.norm1, keep)
        _layernorm_keep(blk.norm2, keep)
        for ls in (getattr(blk, 'ls1', None), getattr(blk, 'ls2', None)):
            if ls is not None and hasattr(ls, 'gamma'):
                _slice_param(ls, 'gamma', idx, 0)
        linear_keep_in(blk.attn.qkv, keep)
        linear_keep_out(blk.attn.proj, keep)
        linear_keep_in(blk.mlp.fc1, keep)
        linear_keep_out(blk.mlp.fc2, keep)
    for head in _heads(vit):
        linear_keep_in(head, keep)
    neck = _neck_conv(model)
    if neck is not None:
        _slice_param(neck, 'weight', idx, 1)
        neck.in_channels = len(keep)
    for attr in ('embed_dim', 'num_features', 'head_hidden_size'):
        if hasattr(vit, attr):
            setattr(vit, attr, len(keep))
    if hasattr(vit.patch_embed, 'embed_dim'):
        vit.patch_embed.embed_dim = len(keep)


# --- detector convolutions (neck, fusion, conv stem)
# ---------------------------------------------------------


def _conv_out_dim(conv: nn.Module) -> int:
    return 1 if isinstance(conv, nn.ConvTranspose2d) else 0


def _conv_in_dim(conv: nn.Module) -> int:
    return 0 if isinstance(conv, nn.ConvTranspose2d) else 1


def conv_keep_out(conv: nn.Module, keep: List[int]) -> None:
    """Keep output channels ``keep`` of a Conv2d / ConvTranspose2d."""
    idx = torch.as_tensor(keep, dtype=torch.long)
    _slice_param(conv, 'weight', idx, _conv_out_dim(conv))
    if conv.bias is not None:
        _slice_param(conv, 'bias', idx, 0)
    conv.out_channels = len(keep)


def conv_keep_in(
    conv: nn.Module, keep: List[int], start: int = 0, length: Optional[int] = None
) -> None:
    """
    Keep input channels ``start + keep`` of the range ``[start, start+length)``.

    Input channels outside that range are all kept.
    """
    dim = _conv_in_dim(conv)
    n = conv.weight.shape[dim]
    length = n - start if length is None else length
    full = list(range(start)) + [start + k for k in keep] + list(range(start + length, n))
    if conv.groups != 1:
        raise PruneError('grouped convolutions are not supported')
    _slice_param(conv, 'weight', torch.as_tensor(full, dtype=torch.long), dim)
    conv.in_channels = len(full)


def _bn_keep(bn: nn.Module, keep: List[int]) -> None:
    idx = torch.as_tensor(keep, dtype=torch.long)
    for name in ('weight', 'bias'):
        if getattr(bn, name, None) is not None:
            _slice_param(bn, name, idx, 0)
    for name in ('running_mean', 'running_var'):
        buf = getattr(bn, name, None)
        if buf is not None:
            setattr(bn, name, buf.index_select(0, idx).contiguous())
    bn.num_features = len(keep)


def _conv_groups(det: nn.Module) -> List[Dict[str, Any]]:
    """
    Coupled channel groups of the detector's convolutions.

    Producer, its BatchNorm, consumers (conv, start).
    """
    from ..models.vit_detector import BOX_KINDS, BOX_MODULES

    names = ('heatmap',) + tuple(n for kind in BOX_KINDS for n in BOX_MODULES[kind])
    heads = [m for m in (getattr(det, n, None) for n in names) if isinstance(m, nn.Conv2d)]
    fuse = getattr(det, 'fuse', None)
    fuse_conv = fuse[0] if isinstance(fuse, nn.Sequential) else None
    groups: List[Dict[str, Any]] = []
    neck = [m for m in det.neck if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    for i, conv in enumerate(neck):
        if i + 1 < len(neck):
            consumers = [(neck[i + 1], 0)]
        elif fuse_conv is not None:
            consumers = [(fuse_conv, 0)]
        else:
            consumers = [(h, 0) for h in heads]
        groups.append(
            {
                'name': 'neck.{}'.format(list(det.neck).index(conv)),
                'producer': conv,
                'bn': None,
                'consumers': consumers,
            }
        )
    if fuse_conv is not None:
        groups.append(
            {
                'name': 'fuse.0',
                'producer': fuse_conv,
                'bn': None,
                'consumers': [(h, 0) for h in heads],
            }
        )
    stem = getattr(det, 'stem', None)
    if isinstance(stem, nn.Sequential):
        mods = list(stem)
        convs = [(i, m) for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]
        for j, (i, conv) in enumerate(convs):
            bn = (
                mods[i + 1]
                if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d)
                else None
            )
            if j + 1 < len(convs):
                consumers = [(convs[j + 1][1], 0)]
            else:
                # the stem output feeds the ViT patch embedding and the fusion conv (after the neck
                # channels)
                consumers = [(find_vit(det).patch_embed.proj, 0)]
                if fuse_conv is not None:
                    consumers.append((fuse_conv, 'stem'))
            groups.append(
                {'name': 'stem.{}'.format(i), 'producer': conv, 'bn': bn, 'consumers': consumers}
            )
    return groups


def _conv_importance(group: Dict[str, Any], kind: str, neck_width: int) -> torch.Tensor:
    prod = group['producer']
    s = _sum_except(_score(prod.weight, kind), _conv_out_dim(prod))
    if prod.bias is not None:
        s = s + _score(prod.bias, kind)
    bn = group['bn']
    if bn is not None and bn.weight is not None:
        s = s + _score(bn.weight, kind) + _score(bn.bias, kind)
    n = s.numel()
    for conv, start in group['consumers']:
        start = neck_width if start == 'stem' else start
        per_in = _sum_except(_score(conv.weight, kind), _conv_in_dim(conv))
        s = s + per_in[start:start + n]
    return s


def _keep_conv_group(det: nn.Module, g: Dict[str, Any], keep: List[int], neck_width: int) -> None:
    """
    Keep output channels ``keep`` of group ``g``'s producer.

    Its BatchNorm and its consumers' inputs are cut to match.
    """
    prod = g['producer']
    n = prod.out_channels
    conv_keep_out(prod, keep)
    if g['bn'] is not None:
        _bn_keep(g['bn'], keep)
    for conv, start in g['consumers']:
        if start == 'stem':
            conv_keep_in(conv, keep, start=neck_width, length=n)
        else:
            conv_keep_in(conv, keep, start=0, length=n)


def _neck_width(det: nn.Module, g: Dict[str, Any]) -> int:
    """Input channels of the fusion conv that come from the neck (the stem's come after them)."""
    fuse = getattr(det, 'fuse', None)
    if fuse is not None and g['name'].startswith('stem'):
        return int(fuse[0].in_channels - g['producer'].out_channels)
    return 0


def _sync_conv_attrs(det: nn.Module) -> None:
    if getattr(det, 'fuse', None) is not None:
        det.head_channels = int(det.fuse[0].out_channels)
    if getattr(det, 'stem_channels', 0):
        det.stem_channels = (
            int(det.stem[-3].out_channels) if len(det.stem) >= 3 else det.stem_channels
        )


def conv_widths(det: nn.Module) -> Dict[str, int]:
    """
    Return the output channels of every prunable conv group of a detector.

    Groups are named ``neck.N``, ``fuse.0`` and ``stem.N``.
    """
    det = getattr(det, 'detector', det)
    return {g['name']: int(g['producer'].out_channels) for g in _conv_groups(det)}


def apply_conv_widths(det: nn.Module, widths: Dict[str, int]) -> None:
    """
    Shrink a detector's conv groups to ``widths``, keeping the first channels.

    ``widths`` comes from :func:`conv_widths`.

    Rebuilds the structure a pruned checkpoint describes; the weights are loaded afterwards. Raises
    :class:`PruneError` for an unknown group or a width above the current one.
    """
    det = getattr(det, 'detector', det)
    groups = _conv_groups(det)
    unknown = sorted(set(widths) - {g['name'] for g in groups})
    if unknown:
        raise PruneError(
            'unknown conv groups {} (the model has {})'.format(
                unknown, [g['name'] for g in groups]
            )
        )
    for g in groups:
        n = int(g['producer'].out_channels)
        w = int(widths.get(g['name'], n))
        if w > n or w < 1:
            raise PruneError('{}: width {} outside [1, {}]'.format(g['name'], w, n))
        if w < n:
            _keep_conv_group(det, g, list(range(w)), _neck_width(det, g))
    _sync_conv_attrs(det)


def prune_detector_convs(
    det: nn.Module,
    ratio: float,
    importance: str = 'magnitude',
    round_to: int = 1,
    only: Optional[Sequence[str]] = None,
) -> Dict[str, Any]:
    """
    Prune output channels of the detector's neck.

    Fusion and stem convolutions (and their consumers).

    ``only`` restricts the groups by name (``neck.0``, ``neck.2``, ``neck.4``, ``fuse.0``,
    ``stem.N``).
    """
    det = getattr(det, 'detector', det)
    if not hasattr(det, 'neck'):
        raise PruneError('convs: only the ViT centre detector has a convolutional neck')
    out: Dict[str, Any] = {}
    for g in _conv_groups(det):
        if only is not None and g['name'] not in only:
            continue
        n = g['producer'].out_channels
        neck_width = _neck_width(det, g)
        scores = _conv_importance(g, importance, neck_width)
        keep = _topk_keep(scores, _n_keep(n, ratio, round_to))
        if len(keep) == n:
            continue
        _keep_conv_group(det, g, keep, neck_width)
        out[g['name']] = [n, len(keep)]
    _sync_conv_attrs(det)
    return out


# --- entry point
# --------------------------------------------------------------------------------------------


def _taylor_grads(model: nn.Module, calib_loss: CalibLoss) -> int:
    was_training = model.training
    model.zero_grad(set_to_none=True)
    model.eval()  # deterministic (no dropout); gradients still flow
    n = 0
    with torch.enable_grad():
        for loss in calib_loss(model):
            loss.backward()
            n += 1
    model.train(was_training)
    if n == 0:
        raise PruneError('taylor importance needs at least one calibration batch')
    return n


def prune_vit(
    model: nn.Module,
    ratio: float,
    *,
    importance: str = 'magnitude',
    heads: bool = True,
    head_dims: bool = False,
    mlp: bool = True,
    embed: bool = False,
    global_ranking: bool = False,
    embed_ratio: Optional[float] = None,
    heads_ratio: Optional[float] = None,
    mlp_ratio: Optional[float] = None,
    round_to: int = 1,
    convs: bool = False,
    conv_ratio: Optional[float] = None,
    conv_groups: Sequence[str] = ('neck', 'fuse', 'stem'),
    calib_loss: Optional[CalibLoss] = None,
) -> Dict[str, Any]:
    """
    Prune ``model`` in place; returns a summary (dims before/after per block).

    ``calib_loss(model)`` yields losses on calibration batches; it is required for
    ``importance='taylor'``.
    """
    if importance not in ('magnitude', 'taylor'):
        raise PruneError("importance must be 'magnitude' or 'taylor', got {!r}".format(importance))
    if not 0 < ratio < 1:
        raise PruneError('ratio must be in (0, 1), got {!r}'.format(ratio))
    vit = find_vit(model)
    if getattr(vit, 'attn_pool', None) is not None:
        raise PruneError('attention-pool heads are not supported')
    for i, blk in enumerate(vit.blocks):
        _check_block(i, blk)
    if importance == 'taylor':
        if calib_loss is None:
            raise PruneError('taylor importance needs calibration batches (calib_loss)')
        _taylor_grads(model, calib_loss)
    before = describe(model)
    attn_r = ratio if heads_ratio is None else heads_ratio
    r_heads = r_dims = 0.0
    if heads and head_dims:
        r_heads = r_dims = 1.0 - math.sqrt(1.0 - attn_r)
    elif heads:
        r_heads = attn_r
    elif head_dims:
        r_dims = attn_r
    mlp_r = ratio if mlp_ratio is None else mlp_ratio
    blocks = list(vit.blocks)
    # importance is computed on the unpruned weights for every group before any surgery
    h_scores = [head_importance(b.attn, importance) for b in blocks]
    d_scores = [head_dim_importance(b.attn, importance) for b in blocks]
    m_scores = [mlp_importance(b.mlp, importance) for b in blocks]
    e_scores = embed_importance(model, vit, importance) if embed else None
    if global_ranking:
        keep_h = (
            _global_keep(h_scores, r_heads, 1)
            if r_heads > 0
            else [list(range(s.numel())) for s in h_scores]
        )
        keep_d = (
            _global_keep(d_scores, r_dims, 1)
            if r_dims > 0
            else [list(range(s.numel())) for s in d_scores]
        )
        keep_m = (
            _global_keep(m_scores, mlp_r, round_to, round_to)
            if mlp
            else [list(range(s.numel())) for s in m_scores]
        )
    else:
        keep_h = [_topk_keep(s, _n_keep(s.numel(), r_heads)) for s in h_scores]
        keep_d = [_topk_keep(s, _n_keep(s.numel(), r_dims)) for s in d_scores]
        keep_m = [
            _topk_keep(s, _n_keep(s.numel(), mlp_r if mlp else 0.0, round_to)) for s in m_scores
        ]
    for b, kh, kd, km in zip(blocks, keep_h, keep_d, keep_m):
        if len(kh) != b.attn.num_heads or len(kd) != b.attn.head_dim:
            prune_attention(b.attn, kh, kd)
        if len(km) != b.mlp.fc1.out_features:
            prune_mlp(b.mlp, km)
    if embed:
        e_r = ratio if embed_ratio is None else embed_ratio
        keep_e = _topk_keep(e_scores, _n_keep(e_scores.numel(), e_r, round_to))
        if len(keep_e) != e_scores.numel():
            prune_embed(model, vit, keep_e)
    result: Dict[str, Any] = {}
    if convs:
        if importance == 'taylor':  # gradients again, on the pruned ViT
            _taylor_grads(model, calib_loss)
        names = [
            g['name']
            for g in _conv_groups(getattr(model, 'detector', model))
            if g['name'].split('.')[0] in conv_groups
        ]
        result['convs'] = prune_detector_convs(
            model, ratio if conv_ratio is None else conv_ratio, importance, round_to, only=names
        )
    model.zero_grad(set_to_none=True)
    after = describe(model)
    result.update(
        {
            'before': before,
            'after': after,
            'importance': importance,
            'global': bool(global_ranking),
        }
    )
    return result


def describe(model: nn.Module) -> Dict[str, Any]:
    """Embedding width and per-block heads × head_dim and MLP width of a ViT (or detector)."""
    vit = find_vit(model)
    blocks = []
    for b in vit.blocks:
        fc1 = b.mlp.fc1
        hidden = (
            fc1.out_features
            if isinstance(fc1, nn.Linear)
            else int(getattr(fc1, 'out_features', -1))
        )
        blocks.append(
            {'heads': int(b.attn.num_heads), 'head_dim': int(b.attn.head_dim), 'mlp': int(hidden)}
        )
    return {'embed_dim': int(vit.patch_embed.proj.out_channels), 'blocks': blocks}

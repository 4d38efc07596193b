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
Token merging (ToMe, Bolya et al. 2023) for timm ViT/DeiT classifiers, applied without retraining.

In every block, after attention, the tokens are split alternately into two sets A and B; each A
token is matched to its most similar B token (cosine similarity of the attention keys averaged over
heads) and the ``r`` most similar pairs are merged by a size-weighted average. Prefix tokens (class
/ distillation / register) are never merged and keep their positions. Attention is made
proportional to token size (``+ log(size)`` on the logits) so that a merged token counts as the
tokens it stands for.

``apply_tome(model, r)`` patches the model's classes in place (``r`` an int for every block or a
list, one per block); ``r=0`` leaves the function unchanged. ``remove_tome`` restores the plain
classes. The merge uses argsort/gather/scatter-add, which export to ONNX
(TopK/GatherElements/ScatterElements).
"""

from typing import List, Sequence, Tuple, Union

from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import Attention, Block, VisionTransformer
import torch
from torch import nn


def bipartite_soft_matching(metric: torch.Tensor, r: int, n_prefix: int):
    """
    Return ``merge(x, mode)`` that reduces B×N×C to B×(N−r)×C.

    Returns None instead when nothing is merged.
    """
    n = metric.shape[1]
    r = min(r, (n - n_prefix) // 2)
    if r <= 0:
        return None, 0
    with torch.no_grad():
        metric = metric / metric.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        a, b = metric[..., ::2, :], metric[..., 1::2, :]
        scores = a @ b.transpose(-1, -2)
        na_prefix = (n_prefix + 1) // 2  # prefix tokens in A (even positions)
        nb_prefix = n_prefix // 2  # prefix tokens in B (odd positions)
        if na_prefix:
            scores[..., :na_prefix, :] = -float('inf')
        if nb_prefix:
            scores[..., :, :nb_prefix] = -float('inf')
        node_max, node_idx = scores.max(dim=-1)
        edge_idx = node_max.argsort(dim=-1, descending=True)[..., None]
        unm_idx = edge_idx[..., r:, :]
        src_idx = edge_idx[..., :r, :]
        dst_idx = node_idx[..., None].gather(dim=-2, index=src_idx)
        unm_idx = unm_idx.sort(dim=1)[0]  # keep order: prefix A tokens stay first

    def merge(x: torch.Tensor) -> torch.Tensor:
        src, dst = x[..., ::2, :], x[..., 1::2, :]
        bsz, t1, c = src.shape
        unm = src.gather(dim=-2, index=unm_idx.expand(bsz, t1 - r, c))
        src = src.gather(dim=-2, index=src_idx.expand(bsz, r, c))
        dst = dst.scatter_add(-2, dst_idx.expand(bsz, r, c), src)
        if n_prefix == 0:
            return torch.cat([unm, dst], dim=1)
        # restore the prefix order a0, b0, a1, b1, ... in front of the rest
        prefix = []
        for i in range(n_prefix):
            prefix.append(
                unm[:, i // 2:i // 2 + 1] if i % 2 == 0 else dst[:, i // 2:i // 2 + 1]
            )
        return torch.cat(prefix + [unm[:, na_prefix:], dst[:, nb_prefix:]], dim=1)

    return merge, r


def merge_wavg(merge, x: torch.Tensor, size: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Size-weighted average merge of tokens; returns (x, size)."""
    x = merge(x * size)
    size = merge(size)
    return x / size, size


class ToMeAttention(Attention):
    """
    timm Attention with proportional attention.

    It also returns the key mean as the similarity metric for merging.
    """

    def forward(self, x: torch.Tensor, size: torch.Tensor = None):  # type: ignore[override]
        """Return (output, metric)."""
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if size is not None:
            attn = attn + size.log()[:, None, None, :, 0]
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        out = (attn @ v).transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim)
        out = self.norm(out)
        out = self.proj_drop(self.proj(out))
        return out, k.mean(dim=1)


class ToMeBlock(Block):
    """timm Block that merges ``self._tome_r`` tokens after attention."""

    def forward(self, x: torch.Tensor, attn_mask=None, is_causal: bool = False) -> torch.Tensor:
        """Run the block on tokens ``x`` (B×N×C), merging ``self._tome_r`` after attention."""
        info = self._tome_info
        size = info['size']
        attn_size = size if info['prop_attn'] else None
        x_attn, metric = self.attn(self.norm1(x), attn_size)
        x = x + self.drop_path1(self.ls1(x_attn))
        merge, r = bipartite_soft_matching(metric, self._tome_r, info['n_prefix'])
        if merge is not None:
            if size is None:
                size = torch.ones_like(x[..., :1])
            x, size = merge_wavg(merge, x, size)
            info['size'] = size
        info['tokens'].append(int(x.shape[1]))
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x


class _ToMeMixin:
    """Resets the per-forward merge state (token sizes) before each forward."""

    def forward(self, x, *args, **kwargs):  # noqa: D102
        self._tome_info['size'] = None
        self._tome_info['tokens'] = []
        return super().forward(x, *args, **kwargs)

    def forward_head(self, x, pre_logits: bool = False):  # noqa: D102
        size = self._tome_info.get('size')
        if self.global_pool == 'avg' and size is not None:
            p = self.num_prefix_tokens
            w = size[:, p:]
            x_pool = (x[:, p:] * w).sum(dim=1) / w.sum(dim=1)
            x_pool = self.fc_norm(x_pool)
            x_pool = self.head_drop(x_pool)
            return x_pool if pre_logits else self.head(x_pool)
        return super().forward_head(x, pre_logits=pre_logits)


_TOME_CLASSES = {}


def _tome_class(cls: type) -> type:
    if cls not in _TOME_CLASSES:
        _TOME_CLASSES[cls] = type(
            'ToMe' + cls.__name__, (_ToMeMixin, cls), {'__module__': __name__}
        )
        globals()['ToMe' + cls.__name__] = _TOME_CLASSES[cls]
    return _TOME_CLASSES[cls]


ToMeVisionTransformer = _tome_class(VisionTransformer)
ToMeVisionTransformerDistilled = _tome_class(VisionTransformerDistilled)


def apply_tome(
    model: nn.Module, r: Union[int, Sequence[int]], prop_attn: bool = True
) -> nn.Module:
    """Patch a timm VisionTransformer (or subclass) in place to merge ``r`` tokens per block."""
    if not isinstance(model, VisionTransformer):
        raise TypeError(
            'token merging applies to timm VisionTransformer classifiers, got {}'.format(
                type(model).__name__
            )
        )
    if getattr(model, 'attn_pool', None) is not None:
        raise TypeError('token merging does not support attention-pool heads')
    base = type(model)
    if not issubclass(base, _ToMeMixin):
        model.__class__ = _tome_class(base)
    n_blocks = len(model.blocks)
    rs: List[int] = [int(r)] * n_blocks if isinstance(r, int) else [int(v) for v in r]
    if len(rs) != n_blocks:
        raise ValueError('r has {} entries for {} blocks'.format(len(rs), n_blocks))
    model._tome_info = {
        'size': None,
        'prop_attn': prop_attn,
        'n_prefix': int(model.num_prefix_tokens),
        'tokens': [],
    }
    for blk, rb in zip(model.blocks, rs):
        if not isinstance(blk, Block) or not isinstance(blk.attn, Attention):
            raise TypeError('token merging needs timm Block/Attention blocks')
        blk.__class__ = ToMeBlock
        blk.attn.__class__ = ToMeAttention
        blk._tome_r = rb
        blk._tome_info = model._tome_info
    return model


def remove_tome(model: nn.Module) -> nn.Module:
    """Undo :func:`apply_tome`."""
    if isinstance(model, _ToMeMixin):
        model.__class__ = type(model).__mro__[2]
    for blk in model.blocks:
        if isinstance(blk, ToMeBlock):
            blk.__class__ = Block
            blk.attn.__class__ = Attention
            del blk._tome_r, blk._tome_info
    if hasattr(model, '_tome_info'):
        del model._tome_info
    return model


def token_counts(model: nn.Module) -> List[int]:
    """Tokens after each block in the last forward of a ToMe-patched model."""
    return list(getattr(model, '_tome_info', {}).get('tokens', []))

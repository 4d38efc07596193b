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
Low-rank factorisation of Linear layers from a truncated SVD.

``Linear(in, out)`` becomes ``Linear(in, k, bias=False) → Linear(k, out)`` with ``W ≈ (U_k
√S_k)(√S_k V_kᵀ)``.

The rank is chosen per layer by retained energy (smallest k with Σ_{i<k} s_i² ≥ energy · Σ s_i²)
or, with a global parameter budget, by greedily keeping the singular values with the most
normalised energy per parameter across all selected layers. A layer is factorised only where it
saves MACs (k·(in+out) < in·out), unless ``only_if_saves`` is off.
"""

import fnmatch
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn


class LowRankLinear(nn.Sequential):
    """
    Two Linears in sequence.

    ``first``: in→rank without bias, ``second``: rank→out with the bias.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__(
            nn.Linear(in_features, rank, bias=False), nn.Linear(rank, out_features, bias=bias)
        )
        self.in_features = in_features
        self.out_features = out_features
        self.rank = rank

    @classmethod
    def from_linear(
        cls, layer: nn.Linear, rank: int, svd: Optional[Tuple[torch.Tensor, ...]] = None
    ) -> 'LowRankLinear':
        """Factorise ``layer`` at ``rank`` (reusing a precomputed SVD when given)."""
        w = layer.weight.detach().double()
        u, s, vh = svd if svd is not None else torch.linalg.svd(w, full_matrices=False)
        root = s[:rank].sqrt()
        out = cls(layer.in_features, layer.out_features, rank, bias=layer.bias is not None)
        with torch.no_grad():
            out[0].weight.copy_((root[:, None] * vh[:rank]).to(layer.weight.dtype))
            out[1].weight.copy_((u[:, :rank] * root[None, :]).to(layer.weight.dtype))
            if layer.bias is not None:
                out[1].bias.copy_(layer.bias.detach())
        return out


def breakeven_rank(in_features: int, out_features: int) -> int:
    """Largest rank whose factorisation still has fewer MACs than the dense layer."""
    return (in_features * out_features - 1) // (in_features + out_features)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(p in name or fnmatch.fnmatch(name, p) for p in patterns)


def select_linears(
    model: nn.Module, include: Sequence[str] = ('blocks.',), exclude: Sequence[str] = ()
) -> List[Tuple[str, nn.Linear]]:
    """Return the (name, nn.Linear) pairs matching an ``include`` and no ``exclude`` pattern."""
    out = []
    for name, mod in model.named_modules():
        if type(mod) is nn.Linear and _matches(name, include) and not _matches(name, exclude):
            out.append((name, mod))
    return out


def energy_rank(s: torch.Tensor, energy: float) -> int:
    """Smallest k with cumulative squared singular values ≥ ``energy`` of the total."""
    e = s.double() ** 2
    total = float(e.sum())
    if total <= 0:
        return 1
    frac = torch.cumsum(e, 0) / total
    return int(
        min(
            len(s),
            int(torch.searchsorted(frac, torch.tensor(energy - 1e-12, dtype=frac.dtype))) + 1,
        )
    )


def budget_ranks(
    svals: List[torch.Tensor], shapes: List[Tuple[int, int]], params_fraction: float
) -> List[int]:
    """
    Ranks under a global budget: keep ``params_fraction`` of the layers' dense parameters.

    Greedy: each singular value costs (in+out) parameters and is worth its share of its layer's
    energy; the most valuable per parameter are kept until the budget is spent (each layer keeps at
    least one).
    """
    budget = params_fraction * sum(i * o for i, o in shapes)
    items = []
    for li, (s, (i, o)) in enumerate(zip(svals, shapes)):
        e = s.double() ** 2
        e = e / e.sum().clamp(min=1e-30)
        for k, v in enumerate(e.tolist()):
            items.append((v / (i + o), li, k))
    ranks = [1] * len(svals)
    spent = sum(i + o for i, o in shapes)
    for _, li, k in sorted(items, key=lambda t: -t[0]):
        if k == 0:
            continue
        i, o = shapes[li]
        if spent + i + o > budget:
            continue
        if k == ranks[li]:  # singular values are kept in order within a layer
            ranks[li] += 1
            spent += i + o
    return ranks


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule called ``name`` (dotted path) of ``model`` by ``new``."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def factorize(
    model: nn.Module,
    *,
    energy: Optional[float] = None,
    params: Optional[float] = None,
    include: Sequence[str] = ('blocks.',),
    exclude: Sequence[str] = (),
    only_if_saves: bool = True,
    min_rank: int = 1,
    max_macs_ratio: float = 1.0,
) -> Dict[str, Any]:
    """
    Factorise selected Linears in place.

    Returns per-layer ranks and the layers left dense (and why).

    With ``only_if_saves`` a layer is factorised only when ``rank·(in+out) / (in·out) <
    max_macs_ratio`` (1.0: any MAC saving; lower values demand a larger saving, which pays for the
    extra op on small layers).
    """
    if (energy is None) == (params is None):
        raise ValueError('give exactly one of energy or params')
    layers = select_linears(model, include, exclude)
    svds, shapes = [], []
    for _, lin in layers:
        svds.append(torch.linalg.svd(lin.weight.detach().double(), full_matrices=False))
        shapes.append((lin.in_features, lin.out_features))
    if energy is not None:
        ranks = [energy_rank(s, energy) for _, s, _ in svds]
    else:
        ranks = budget_ranks([s for _, s, _ in svds], shapes, params)
    report: Dict[str, Any] = {'layers': {}, 'skipped': {}}
    for (name, lin), svd, k, (i, o) in zip(layers, svds, ranks, shapes):
        k = max(int(min_rank), min(int(k), min(i, o)))
        be = breakeven_rank(i, o)
        ratio = k * (i + o) / (i * o)
        if only_if_saves and (k > be or ratio >= max_macs_ratio):
            report['skipped'][name] = (
                'rank {}: MACs ratio {:.3f} (break-even rank {}, limit {})'.format(
                    k, ratio, be, max_macs_ratio
                )
            )
            continue
        set_module(model, name, LowRankLinear.from_linear(lin, k, svd))
        report['layers'][name] = {
            'rank': k,
            'in': i,
            'out': o,
            'macs_ratio': round(k * (i + o) / (i * o), 4),
        }
    return report

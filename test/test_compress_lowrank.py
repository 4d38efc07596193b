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
Low-rank factorisation.

Exact at full energy, fewer params/MACs below it, only where it saves MACs.
"""

import numpy as np
import torch
from torch import nn


def _model():
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    return create_model(
        'deit_tiny_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        depth=2,
        embed_dim=64,
        num_heads=2,
    ).eval()


def test_full_energy_factorisation_is_exact():
    from vitedge_ros.compress.lowrank import factorize, LowRankLinear

    model = _model()
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    rep = factorize(model, energy=1.0, only_if_saves=False)
    assert len(rep['layers']) == 8
    assert isinstance(model.blocks[0].mlp.fc1, LowRankLinear)
    assert torch.allclose(model(x), ref, atol=1e-4)


def test_full_energy_is_skipped_when_it_would_not_save_macs():
    from vitedge_ros.compress.lowrank import factorize

    model = _model()
    rep = factorize(model, energy=1.0)
    assert rep['layers'] == {} and len(rep['skipped']) == 8
    assert all(
        type(m) is nn.Linear
        for n, m in model.named_modules()
        if n.startswith('blocks') and n.endswith(('qkv', 'fc1', 'fc2', 'proj'))
    )


def test_low_energy_reduces_params_and_macs(tmp_path):
    from vitedge_ros.compress.lowrank import breakeven_rank, factorize
    from vitedge_ros.compress.measure import count_params, graph_stats
    from vitedge_ros.export import check_parity, export_onnx

    model = _model()
    export_onnx(model, tmp_path / 'a.onnx', (1, 3, 32, 32), ['logits'])
    p0, m0 = count_params(model), graph_stats(tmp_path / 'a.onnx')['macs']
    with (
        torch.no_grad()
    ):  # make fc1 of block 0 nearly rank 4 so that 0.9 energy picks a small rank
        w = model.blocks[0].mlp.fc1.weight
        w.copy_(
            torch.randn(w.shape[0], 4) @ torch.randn(4, w.shape[1]) + 1e-3 * torch.randn_like(w)
        )
    rep = factorize(model, energy=0.9)
    fc1 = rep['layers']['blocks.0.mlp.fc1']
    assert fc1['rank'] <= 4 and fc1['rank'] <= breakeven_rank(64, 256)
    for name, info in rep['layers'].items():
        assert info['rank'] * (info['in'] + info['out']) < info['in'] * info['out'], name
    export_onnx(model, tmp_path / 'b.onnx', (1, 3, 32, 32), ['logits'])
    assert count_params(model) < p0
    assert graph_stats(tmp_path / 'b.onnx')['macs'] < m0
    assert check_parity(model, tmp_path / 'b.onnx', (1, 3, 32, 32)) < 1e-4


def test_parameter_budget_mode():
    from vitedge_ros.compress.lowrank import factorize
    from vitedge_ros.compress.measure import count_params

    model = _model()
    before = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and 'blocks' in n
    )
    factorize(model, params=0.3)
    after = sum(
        m.weight.numel()
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and 'blocks' in n
    )
    assert after <= 0.3 * before + 1
    assert count_params(model) > 0
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_energy_rank():
    from vitedge_ros.compress.lowrank import energy_rank

    s = torch.tensor([3.0, 2.0, 1.0, 0.0])
    assert energy_rank(s, 9 / 14) == 1
    assert energy_rank(s, 0.9) == 2
    assert energy_rank(s, 1.0) == 3
    assert np.isclose(13 / 14, 0.9285714)

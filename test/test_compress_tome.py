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

"""Token merging: r=0 is the plain model, r>0 removes r tokens per block, exports to ONNX."""

import copy

import pytest
import torch


def _model(arch='deit_tiny_patch16_224', **kw):
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    return create_model(
        arch, num_classes=10, img_size=32, patch_size=4, depth=3, embed_dim=32, num_heads=2, **kw
    ).eval()


@pytest.mark.parametrize('arch', ['deit_tiny_patch16_224', 'deit_tiny_distilled_patch16_224'])
def test_r0_equals_plain_and_r_reduces_tokens(arch):
    from vitedge_ros.compress.tome import apply_tome, remove_tome, token_counts

    model = _model(arch)
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    n0 = 64 + model.num_prefix_tokens
    same = apply_tome(copy.deepcopy(model), 0)
    assert torch.allclose(same(x), ref, atol=1e-5)
    assert token_counts(same) == [n0] * 3
    merged = apply_tome(copy.deepcopy(model), 5)
    y = merged(x)
    assert y.shape == ref.shape
    assert token_counts(merged) == [n0 - 5, n0 - 10, n0 - 15]
    per_block = apply_tome(copy.deepcopy(model), [1, 0, 3])
    per_block(x)
    assert token_counts(per_block) == [n0 - 1, n0 - 1, n0 - 4]
    assert torch.allclose(remove_tome(merged)(x), ref, atol=1e-6)


def test_prefix_tokens_are_never_merged():
    from vitedge_ros.compress.tome import bipartite_soft_matching

    x = torch.zeros(1, 8, 4)
    x[:, 0] = 1.0  # cls token identical to token 1's key: still must not merge
    x[:, 1] = 1.0
    metric = torch.ones(1, 8, 4)
    merge, r = bipartite_soft_matching(metric, 2, n_prefix=2)
    out = merge(x)
    assert r == 2 and out.shape == (1, 6, 4)
    assert torch.equal(out[:, 0], x[:, 0]) and torch.equal(out[:, 1], x[:, 1])


def test_tome_avg_pool_and_onnx(tmp_path):
    from vitedge_ros.compress.tome import apply_tome
    from vitedge_ros.export import check_parity, export_onnx
    from vitedge_ros.export.onnx_export import ExportTargetError

    model = apply_tome(_model(global_pool='avg'), 4)
    # Token merging sorts INT64 indices with TopK(largest=0): TensorRT 8.2 refuses it (the bundle
    # gate says so) ...
    with pytest.raises(ExportTargetError, match=r'refused by the trt8.2 parser: .*\(TopK\)'):
        export_onnx(model, tmp_path / 't82.onnx', (1, 3, 32, 32), ['logits'])
    # ... TensorRT 8.6 / 10 parse it
    path = export_onnx(model, tmp_path / 't.onnx', (1, 3, 32, 32), ['logits'], target='trt8.6')
    assert check_parity(model, path, (1, 3, 32, 32)) < 1e-4

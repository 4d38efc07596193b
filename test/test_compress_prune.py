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
Structured pruning really shrinks tensors.

Pruned models run, export to ONNX, run in onnxruntime and reload.
"""

from conftest import make_tiny_detector
import numpy as np
import pytest
import torch
import torch.nn.functional as F

ARCHS = ['deit_tiny_patch16_224', 'vit_small_patch16_224', 'deit_tiny_distilled_patch16_224']


def _classifier(arch, **kw):
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    args = {'num_classes': 10, 'img_size': 32, 'patch_size': 8, 'depth': 2}
    args.update(kw)
    return create_model(arch, **args).eval()


def _calib(shape, n=2):
    x = torch.randn(4, *shape[1:], generator=torch.Generator().manual_seed(1))

    def gen(model):
        for _ in range(n):
            out = model(x)
            if isinstance(out, dict):
                yield out['heatmap'].pow(2).mean()
            else:
                out = out[0] if isinstance(out, (tuple, list)) else out
                yield F.cross_entropy(out, torch.arange(4) % 10)

    return gen


def _onnx_roundtrip(module, shape, names, tmp_path):
    import onnxruntime as ort
    from vitedge_ros.export import check_parity, export_onnx

    path = export_onnx(module, tmp_path / 'm.onnx', shape, output_names=names)
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    out = sess.run(None, {sess.get_inputs()[0].name: np.zeros(shape, np.float32)})
    assert all(np.isfinite(o).all() for o in out)
    assert check_parity(module, path, shape) < 1e-4
    return path


@pytest.mark.parametrize('arch,importance', list(zip(ARCHS, ['taylor', 'magnitude', 'taylor'])))
def test_prune_timm_classifier_shrinks_and_exports(arch, importance, tmp_path):
    from vitedge_ros.compress.prune import prune_vit

    model = _classifier(arch)
    p0 = sum(p.numel() for p in model.parameters())
    d0 = model.embed_dim
    h0 = model.blocks[0].attn.num_heads
    summary = prune_vit(
        model,
        0.5,
        importance=importance,
        heads=True,
        head_dims=True,
        mlp=True,
        embed=True,
        calib_loss=_calib((1, 3, 32, 32)),
    )
    p1 = sum(p.numel() for p in model.parameters())
    assert p1 < 0.4 * p0
    blk = model.blocks[0]
    assert model.embed_dim == d0 // 2 == blk.norm1.weight.shape[0] == model.pos_embed.shape[-1]
    assert blk.attn.qkv.weight.shape == (3 * blk.attn.num_heads * blk.attn.head_dim, d0 // 2)
    assert blk.attn.num_heads < h0 or blk.attn.head_dim < 64
    assert blk.mlp.fc1.weight.shape[0] == 2 * d0  # 4x mlp ratio halved
    assert model.head.weight.shape == (10, d0 // 2)
    assert summary['after']['embed_dim'] == d0 // 2
    y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10)
    _onnx_roundtrip(model, (1, 3, 32, 32), ['logits'], tmp_path)
    # checkpoints describe the pruned structure, so it reloads
    from vitedge_ros.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(
        tmp_path / 'p.pt',
        model,
        name='p',
        task='classify',
        labels=list('0123456789'),
        input_spec={'width': 32, 'height': 32},
        decoder={'type': 'classifier'},
    )
    again = load_checkpoint(tmp_path / 'p.pt')['model']
    x = torch.randn(1, 3, 32, 32)
    assert torch.allclose(again(x), model(x), atol=1e-6)


def test_prune_detector_backbone_and_neck(tmp_path):
    from vitedge_ros.compress.prune import prune_vit
    from vitedge_ros.models import DetectorExport

    det = make_tiny_detector().eval()
    summary = prune_vit(
        det,
        0.5,
        importance='taylor',
        heads=True,
        mlp=True,
        embed=True,
        calib_loss=_calib((1, 3, 64, 96)),
    )
    assert summary['after']['embed_dim'] == 16
    assert det.neck[0].weight.shape[1] == 16
    assert det.backbone.blocks[0].attn.num_heads == 1
    maps = det(torch.randn(1, 3, 64, 96))
    assert maps['heatmap'].shape[1] == 3
    wrapper = DetectorExport(det)
    _onnx_roundtrip(wrapper, (1, 3, 64, 96), list(wrapper.output_names), tmp_path)


@pytest.mark.parametrize('stem', [0, 16])
def test_prune_detector_convs(stem, tmp_path):
    """
    Neck, fusion and conv-stem channels shrink with their consumers.

    BatchNorm, patch embedding, heads.
    """
    from vitedge_ros.compress.prune import prune_vit
    from vitedge_ros.models import create_model, DetectorExport

    torch.manual_seed(0)
    det = create_model(
        'vit_center',
        task='detect',
        num_classes=3,
        img_size=(64, 96),
        head_channels=16,
        stem_channels=stem,
        max_detections=20,
        backbone='vit_tiny_patch16_224',
        embed_dim=32,
        depth=1,
        num_heads=2,
    ).eval()
    summary = prune_vit(
        det, 0.5, importance='taylor', embed=True, convs=True, calib_loss=_calib((1, 3, 64, 96))
    )
    assert det.neck[0].out_channels == 8 and det.heatmap.in_channels == 8
    if stem:
        assert summary['convs']['stem.6'] == [16, 8]
        assert det.stem[7].num_features == 8 and det.backbone.patch_embed.proj.in_channels == 8
        assert det.fuse[0].in_channels == 16 and det.fuse[0].out_channels == 8
    wrapper = DetectorExport(det)
    _onnx_roundtrip(wrapper, (1, 3, 64, 96), list(wrapper.output_names), tmp_path)


def test_conv_groups_select_what_is_pruned():
    from vitedge_ros.compress.prune import prune_vit
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    det = create_model(
        'vit_center',
        task='detect',
        num_classes=3,
        img_size=(64, 96),
        head_channels=16,
        stem_channels=16,
        backbone='vit_tiny_patch16_224',
        embed_dim=32,
        depth=1,
        num_heads=2,
    ).eval()
    summary = prune_vit(det, 0.5, convs=True, conv_groups=['neck', 'fuse'])
    assert set(summary['convs']) == {'neck.0', 'neck.2', 'neck.4', 'fuse.0'}
    assert det.stem[6].out_channels == 16 and det.fuse[0].in_channels == 8 + 16
    assert det(torch.randn(1, 3, 64, 96))['heatmap'].shape == (1, 3, 8, 12)


@pytest.mark.parametrize('box', ['centre', 'ltrb'])
def test_dead_conv_channels_are_removed_without_changing_outputs(box):
    from vitedge_ros.compress.prune import prune_detector_convs

    det = make_tiny_detector(box=box).eval()
    heads = ('heatmap', 'box_ltrb') if box == 'ltrb' else ('heatmap', 'box_size', 'offset')
    with torch.no_grad():  # half of neck.4's output channels do nothing
        det.neck[4].weight[8:] = 0
        det.neck[4].bias[8:] = 0  # GELU(0) = 0
        for head in heads:
            getattr(det, head).weight[:, 8:] = 0
    x = torch.randn(1, 3, 64, 96)
    ref = det(x)
    prune_detector_convs(det, 0.5, only=['neck.4'])
    assert det.neck[4].out_channels == 8
    for k, v in det(x).items():
        assert torch.allclose(v, ref[k], atol=1e-4), k


def test_removing_dead_heads_and_channels_keeps_function():
    """
    A head / MLP channel whose weights are zero carries nothing.

    Pruning it leaves outputs unchanged.
    """
    from vitedge_ros.compress.prune import prune_vit

    model = _classifier('vit_small_patch16_224', depth=1, embed_dim=48, num_heads=3)
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    hd = attn.head_dim
    with torch.no_grad():
        for part in range(3):  # zero head 1 in q, k and v
            rows = slice(part * 3 * hd + hd, part * 3 * hd + 2 * hd)
            attn.qkv.weight[rows] = 0
            attn.qkv.bias[rows] = 0
        attn.proj.weight[:, hd:2 * hd] = 0
        dead = torch.arange(0, mlp.fc1.out_features, 2)  # every other hidden channel does nothing
        mlp.fc1.weight[dead] = 0
        mlp.fc1.bias[dead] = 0
        mlp.fc2.weight[:, dead] = 0
    x = torch.randn(3, 3, 32, 32)
    ref = model(x)
    prune_vit(model, 1 / 3, heads=True, mlp=False)
    assert model.blocks[0].attn.num_heads == 2
    prune_vit(model, 0.5, heads=False, mlp=True)
    assert model.blocks[0].mlp.fc1.out_features == 96
    assert torch.allclose(model(x), ref, atol=1e-5)


def test_head_dim_pruning_keeps_kept_logits():
    """Pruning head dims rescales q so that q·k·scale of the kept dims is unchanged."""
    from vitedge_ros.compress.prune import prune_attention

    model = _classifier('deit_tiny_patch16_224', depth=1, embed_dim=32, num_heads=2)
    attn = model.blocks[0].attn
    with torch.no_grad():
        hd = attn.head_dim
        for part in range(3):
            for h in range(2):
                base = part * 2 * hd + h * hd
                attn.qkv.weight[base + hd // 2:base + hd] = 0
                attn.qkv.bias[base + hd // 2:base + hd] = 0
        attn.proj.weight.view(32, 2, hd)[:, :, hd // 2:] = 0
    x = torch.randn(2, 3, 32, 32)
    ref = model(x)
    prune_attention(attn, [0, 1], list(range(hd // 2)))
    assert attn.head_dim == hd // 2 and attn.qkv.out_features == 3 * 2 * hd // 2
    assert torch.allclose(model(x), ref, atol=1e-5)


def test_global_ranking_keeps_a_head_per_layer():
    from vitedge_ros.compress.prune import prune_vit

    model = _classifier('vit_small_patch16_224', depth=3, embed_dim=48, num_heads=4)
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight.mul_(
            0.01
        )  # block 0 unimportant: global ranking prunes it most
    prune_vit(model, 0.5, heads=True, mlp=True, global_ranking=True)
    heads = [b.attn.num_heads for b in model.blocks]
    assert sum(heads) == 6 and min(heads) >= 1 and heads[0] == min(heads)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_pruned_distilled_model_checkpoint_rebuilds(tmp_path):
    """
    A pruned DeiT with a distillation head reloads from tensors + structure.

    No pickled module.
    """
    from vitedge_ros.checkpoint import load_checkpoint, save_checkpoint
    from vitedge_ros.compress.prune import prune_vit

    model = _classifier('deit_tiny_distilled_patch16_224')
    prune_vit(model, 0.5, embed=True, head_dims=True)
    save_checkpoint(
        tmp_path / 'p.pt',
        model,
        name='p',
        task='classify',
        labels=list('0123456789'),
        input_spec={'width': 32, 'height': 32},
        decoder={'type': 'classifier'},
    )
    raw = torch.load(str(tmp_path / 'p.pt'), weights_only=True)
    assert raw['structure']['widths']['embed_dim'] == 96
    again = load_checkpoint(tmp_path / 'p.pt')['model']
    assert again.embed_dim == 96 and again.head_dist.in_features == 96
    assert again.blocks[0].attn.head_dim == model.blocks[0].attn.head_dim < 64
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert float((again(x) - model(x)).abs().max()) == 0.0

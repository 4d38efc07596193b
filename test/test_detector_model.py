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

from conftest import make_tiny_detector
import numpy as np
import onnx
import pytest
import torch
from vitedge_ros.export import check_parity, export_bundle, export_onnx, ExportError
from vitedge_ros.models import (
    build_targets,
    create_model,
    detection_loss,
    DetectorExport,
    resize_detector,
)
from vitedge_ros.runtime import Pipeline


def test_maps_shapes_and_stride():
    det = make_tiny_detector()
    maps = det(torch.zeros(2, 3, 64, 96))
    assert maps['heatmap'].shape == (2, 3, 8, 12) and det.stride == 8
    assert maps['size'].shape == (2, 2, 8, 12) and maps['offset'].shape == (2, 2, 8, 12)


def test_decode_recovers_a_planted_peak():
    det = make_tiny_detector()
    h, w = det.map_size
    heat = torch.full((1, 3, h, w), -10.0)
    heat[0, 1, 3, 5] = 4.0
    size = torch.zeros(1, 2, h, w)
    size[0, :, 3, 5] = torch.log(torch.tensor([2.0, 3.0]))  # 2×3 cells = 16×24 px
    offset = torch.zeros(1, 2, h, w)  # sigmoid(0) = 0.5: cell centre
    rows = det.decode({'heatmap': heat, 'size': size, 'offset': offset})[0]
    top = rows[0].tolist()
    cx, cy = (5 + 0.5) * 8, (3 + 0.5) * 8
    assert top[4] == pytest.approx(float(torch.sigmoid(torch.tensor(4.0))), rel=1e-5)
    assert top[5] == 1
    assert top[:4] == pytest.approx([cx - 8, cy - 12, cx + 8, cy + 12], abs=1e-4)


def test_targets_and_loss_decrease_on_one_batch():
    torch.manual_seed(0)
    det = make_tiny_detector()
    boxes = [torch.tensor([[10.0, 10.0, 26.0, 30.0]]), torch.tensor([[40.0, 20.0, 60.0, 44.0]])]
    labels = [torch.tensor([0]), torch.tensor([2])]
    t = build_targets(boxes, labels, 3, det.map_size, det.stride)
    assert (
        t['mask'].sum() == 2
        and t['heatmap'][0, 0].max() == 1.0
        and t['heatmap'][1, 2].max() == 1.0
    )
    x = torch.randn(2, 3, 64, 96)
    opt = torch.optim.AdamW(det.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss = detection_loss(det(x), t)['loss']
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


def test_detector_onnx_matches_torch_within_1e4(tmp_path):
    det = make_tiny_detector(seed=3)
    wrapper = DetectorExport(det).eval()
    path = export_onnx(
        wrapper, tmp_path / 'd.onnx', (1, 3, 64, 96), output_names=wrapper.output_names
    )
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 13  # default target trt8.2 (Jetson Nano)
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64, 96]
    ops = {n.op_type for n in model.graph.node}
    assert {'TopK', 'MaxPool'} <= ops
    assert all(n.domain in ('', 'ai.onnx') for n in model.graph.node)  # no custom ops
    assert check_parity(wrapper, path, (1, 3, 64, 96), n_samples=4) < 1e-4


def test_pipeline_matches_torch_decode(tiny_detector_bundle):
    """Boxes from the runtime (ORT + inverse letterbox) equal torch's decode mapped by hand."""
    det = make_tiny_detector()
    pipe = Pipeline(
        tiny_detector_bundle, backend='onnxruntime', score_threshold=0.0, max_detections=5
    )
    img = np.random.default_rng(0).integers(
        0, 255, (64, 96, 3), dtype=np.uint8
    )  # same size: no letterbox
    x, _ = pipe.preprocess(img)
    rows = DetectorExport(det, with_maps=False).eval()(torch.from_numpy(x))[0].detach().numpy()
    res = pipe(img)
    got = np.array([d.box + (d.score,) for d in res.detections])
    ref = rows[np.argsort(-rows[:, 4])][:5]
    ref[:, 0:4] = np.clip(ref[:, 0:4], 0, [96, 64, 96, 64])
    assert np.allclose(got[:, 4], ref[:, 4], atol=1e-5)
    assert np.allclose(got[:, :4], ref[:, :4], atol=1e-3)


def test_parity_failure_is_reported(tmp_path):
    det = make_tiny_detector()
    wrapper = DetectorExport(det).eval()
    with pytest.raises(ExportError, match='parity'):
        export_bundle(
            wrapper,
            tmp_path / 'b',
            name='x',
            task='detect',
            labels=['a', 'b', 'c'],
            input_spec={'width': 96, 'height': 64},
            decoder={'type': 'vit_center'},
            output_names=wrapper.output_names,
            atol=-1.0,
        )
    assert not (tmp_path / 'b' / 'model.onnx').exists()


@pytest.mark.parametrize(
    'arch, kwargs',
    [
        ('deit_tiny_patch16_224', {'depth': 1}),
        ('deit_tiny_distilled_patch16_224', {'depth': 1}),
        ('vit_small_patch16_224', {'depth': 1}),
    ],
)
def test_detector_on_timm_backbones(arch, kwargs):
    det = create_model(
        'vit_center', task='detect', backbone=arch, num_classes=2, img_size=(32, 48), **kwargs
    )
    rows = DetectorExport(det, with_maps=False).eval()(torch.zeros(1, 3, 32, 48))
    assert rows.shape == (1, 24, 6)


def test_conv_stem_detector_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    det = create_model(
        'vit_center',
        task='detect',
        num_classes=3,
        img_size=(64, 96),
        backbone='vit_tiny_patch16_224',
        embed_dim=32,
        depth=1,
        num_heads=2,
        head_channels=16,
        stem_channels=16,
        max_detections=10,
    )
    assert det.stride == 8 and det.grid == (4, 6) and det.map_size == (8, 12)
    assert det.backbone.patch_embed.proj.in_channels == 16  # the ViT reads the stem's map
    wrapper = DetectorExport(det).eval()
    path = export_onnx(
        wrapper, tmp_path / 's.onnx', (1, 3, 64, 96), output_names=wrapper.output_names
    )
    assert check_parity(wrapper, path, (1, 3, 64, 96), n_samples=2) < 1e-4
    cfg = {k: v for k, v in det.config().items() if k != 'num_classes'}
    rebuilt = create_model('vit_center', task='detect', num_classes=3, **cfg)
    rebuilt.load_state_dict(det.state_dict())


def test_resize_detector_resamples_position_grid_and_keeps_weights():
    torch.manual_seed(0)
    det = create_model(
        'vit_center',
        task='detect',
        num_classes=3,
        img_size=(64, 96),
        backbone='vit_tiny_patch16_224',
        embed_dim=32,
        depth=1,
        num_heads=2,
        head_channels=16,
        stem_channels=16,
    ).eval()
    big = resize_detector(det, (96, 128))
    assert big.img_size == (96, 128) and big.grid == (6, 8) and big.map_size == (12, 16)
    assert big.backbone.pos_embed.shape == (1, 1 + 6 * 8, 32) and not big.training
    # every weight except the position grid is carried over unchanged
    a, b = det.state_dict(), big.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k != 'backbone.pos_embed')
    assert torch.equal(
        a['backbone.pos_embed'][:, :1], b['backbone.pos_embed'][:, :1]
    )  # cls token position
    maps = big(torch.zeros(1, 3, 96, 128))
    assert maps['heatmap'].shape == (1, 3, 12, 16)
    # resizing to the same size is the identity on outputs
    same = resize_detector(det, (64, 96)).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.allclose(same(x)['heatmap'], det(x)['heatmap'], atol=1e-6)


def _maps_that_decode_to(t):
    """Network maps whose centre-cell boxes are exactly the targets' (logit of the offset)."""
    off = t['offset'].clamp(1e-4, 1 - 1e-4)
    return {
        'heatmap': torch.zeros_like(t['heatmap']),
        'size': t['size'].clone(),
        'offset': torch.log(off / (1 - off)),
    }


def test_giou_loss_is_zero_on_exact_boxes_and_the_known_value_on_a_larger_one():
    from vitedge_ros.models.vit_detector import centre_cell_boxes

    boxes = [torch.tensor([[12.0, 12.0, 28.0, 28.0]])]  # 16×16 px = 2×2 cells at stride 8
    t = build_targets(boxes, [torch.tensor([1])], 3, (8, 12), 8)
    maps = _maps_that_decode_to(t)
    pred, tgt = centre_cell_boxes(maps, t)
    assert pred.shape == (1, 4) and torch.allclose(pred, tgt, atol=1e-3)
    assert torch.allclose(tgt, torch.tensor([[-0.5, -0.5, 1.5, 1.5]]))
    parts = detection_loss(maps, t, giou_weight=2.0)
    assert float(parts['giou']) < 1e-3
    # twice the width and height, same centre: IoU = 4 / 16, enclosing box = the prediction, so
    # GIoU = 0.25 and the loss 0.75
    maps['size'] = maps['size'] + float(np.log(2.0)) * t['mask']
    parts = detection_loss(maps, t, giou_weight=2.0)
    assert float(parts['giou']) == pytest.approx(0.75, abs=1e-4)
    plain = detection_loss(maps, t)
    assert 'giou' not in plain
    assert float(parts['loss']) == pytest.approx(float(plain['loss']) + 2.0 * 0.75, abs=1e-4)


def test_giou_loss_has_gradients_for_size_and_offset_only():
    from torchvision.ops import generalized_box_iou_loss
    from vitedge_ros.models.vit_detector import centre_cell_boxes

    box = torch.tensor([[10.0, 10.0, 26.0, 30.0]])
    t = build_targets([box], [torch.tensor([0])], 3, (8, 12), 8)
    m = t['mask'].bool().expand(-1, 2, -1, -1)

    def grads(size_shift, offset_shift):
        maps = _maps_that_decode_to(t)
        maps['size'] = (maps['size'] + size_shift * t['mask']).requires_grad_()
        maps['offset'] = (maps['offset'] + offset_shift * t['mask']).requires_grad_()
        maps['heatmap'].requires_grad_()
        giou = detection_loss(maps, t, giou_weight=1.0)['giou']
        assert 0.0 < float(giou) < 1.0
        generalized_box_iou_loss(*centre_cell_boxes(maps, t), reduction='sum').backward()
        assert maps['heatmap'].grad is None
        assert maps['size'].grad[~m].abs().sum() == 0 and maps['offset'].grad[~m].abs().sum() == 0
        return maps['size'].grad[m], maps['offset'].grad[m]

    size_grad, _ = grads(-0.5, 0.0)  # too small, same centre: grow it
    assert (size_grad < 0).all()
    _, offset_grad = grads(0.0, 3.0)  # right size, off centre (+0.6 cells): move it back
    assert (offset_grad > 0).all()

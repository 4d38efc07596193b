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
The ltrb (TTFNet) box head of the ViT detector.

Targets, loss, decoding, export, host decoding.
"""

import math
from pathlib import Path
import subprocess
import sys

from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
import numpy as np
import onnx
import pytest
import torch
from vitedge_ros.checkpoint import save_checkpoint
from vitedge_ros.models import build_targets, detection_loss, DetectorExport, with_box
from vitedge_ros.models.vit_detector import BOX_KINDS, BOX_MAPS, ltrb_targets
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.runtime.decoders import (
    decode_vit_center_ltrb_maps,
    VIT_CENTER_LTRB_MAPS,
    VIT_CENTER_MAPS,
)
from vitedge_ros.runtime.errors import EngineError
from vitedge_ros.training import config as train_config

ROOT = Path(__file__).resolve().parents[1]
STRIDE = 8
MAP = (8, 12)  # the tiny detector's maps at 64×96 input


def test_ltrb_targets_train_the_central_cells_with_the_distances_to_the_sides():
    # box 30×38 px centred at (25, 31): the central 0.54 rectangle (16.2×20.5 px) holds the cell
    # centres x in {20, 28}, y in {28, 36}, i.e. cells (row 3..4, col 2..3)
    ltrb, weight = ltrb_targets([torch.tensor([[10.0, 12.0, 40.0, 50.0]])], MAP, STRIDE)
    trained = {tuple(c) for c in torch.nonzero(weight[0, 0] > 0).tolist()}
    assert trained == {(3, 2), (3, 3), (4, 2), (4, 3)}
    assert float(weight.sum()) == pytest.approx(math.log(30 * 38), rel=1e-5)
    assert float(weight[0, 0, 3, 3]) > float(weight[0, 0, 4, 2])  # nearer the centre weighs more
    # cell (3, 3) has its centre at (28, 28): 18, 16, 12, 22 px to the left, top, right, bottom
    got = (torch.exp(ltrb[0, :, 3, 3]) * STRIDE).tolist()
    assert got == pytest.approx([18.0, 16.0, 12.0, 22.0], rel=1e-5)
    assert float(ltrb[0].abs().sum(0)[weight[0, 0] == 0].abs().sum()) == 0.0


def test_a_small_box_trains_its_centre_cell_and_wins_where_areas_overlap():
    big = [0.0, 0.0, 64.0, 64.0]  # its central area covers the small box's centre cell
    small = [26.0, 26.0, 34.0, 34.0]  # 8×8 px centred on (30, 30): cell (3, 3) only
    ltrb, weight = ltrb_targets([torch.tensor([big, small])], MAP, STRIDE)
    assert float(weight[0, 0, 3, 3]) == pytest.approx(math.log(64.0), rel=1e-5)
    got = (torch.exp(ltrb[0, :, 3, 3]) * STRIDE).tolist()
    assert got == pytest.approx([2.0, 2.0, 6.0, 6.0], rel=1e-5)  # the small box's sides
    assert float(weight[0, 0, 2, 2]) > 0  # the big box keeps the rest of its area


def test_ltrb_loss_is_zero_on_exact_boxes_and_reaches_only_trained_cells():
    det = make_tiny_detector(box='ltrb')
    boxes, labels = [torch.tensor([[10.0, 12.0, 40.0, 50.0]])], [torch.tensor([1])]
    t = build_targets(boxes, labels, 3, det.map_size, det.stride, box=det.box)
    assert 'ltrb' not in build_targets(boxes, labels, 3, det.map_size, det.stride)  # centre: none
    heat = torch.zeros(1, 3, *det.map_size)
    exact = detection_loss({'heatmap': heat, 'ltrb': t['ltrb'].clone()}, t)
    assert float(exact['giou']) == pytest.approx(0.0, abs=1e-6)
    assert set(exact) == {'loss', 'heatmap', 'giou'}
    ltrb = (t['ltrb'] + math.log(2.0)).requires_grad_()  # every trained box twice as far out
    off = detection_loss({'heatmap': heat, 'ltrb': ltrb}, t)
    # a box twice the size around the same point: IoU 1/4, enclosing box = the predicted one
    assert float(off['giou']) == pytest.approx(0.75, abs=1e-5)
    total = float(off['loss'].detach())
    assert total == pytest.approx(float(off['heatmap']) + 5.0 * 0.75, abs=1e-4)
    off['loss'].backward()
    untrained = (t['box_weight'] == 0).expand_as(ltrb)
    assert float(ltrb.grad[untrained].abs().sum()) == 0.0
    assert float(ltrb.grad[~untrained].abs().min()) > 0.0


def test_decode_ltrb_recovers_a_planted_box():
    det = make_tiny_detector(box='ltrb')
    h, w = det.map_size
    heat = torch.full((1, 3, h, w), -10.0)
    heat[0, 2, 3, 5] = 4.0
    ltrb = torch.zeros(1, 4, h, w)
    ltrb[0, :, 3, 5] = torch.log(torch.tensor([1.0, 2.0, 3.0, 4.0]))  # cells
    top = det.decode({'heatmap': heat, 'ltrb': ltrb})[0, 0].tolist()
    px, py = 5.5 * 8, 3.5 * 8
    assert top[:4] == pytest.approx([px - 8, py - 16, px + 24, py + 32], abs=1e-4)
    assert top[5] == 2


def test_host_decoder_equals_the_graph_decode_on_random_maps():
    torch.manual_seed(4)
    det = make_tiny_detector(box='ltrb', max_detections=96)
    maps = {'heatmap': torch.randn(1, 3, *det.map_size) * 3, 'ltrb': torch.randn(1, 4, *MAP)}
    rows = det.decode(maps)[0].numpy()
    rows = rows[rows[:, 4] > 0]
    host = decode_vit_center_ltrb_maps(maps['heatmap'].numpy(), maps['ltrb'].numpy(), 96, 64)
    assert len(host.scores) == len(rows) > 5
    order = np.argsort(-rows[:, 4], kind='stable')
    assert np.allclose(host.boxes, rows[order, :4], atol=1e-4)
    assert np.allclose(host.scores, rows[order, 4], atol=1e-6)
    assert (host.classes == rows[order, 5]).all()
    with pytest.raises(EngineError, match='ltrb 1×4×h×w'):
        decode_vit_center_ltrb_maps(maps['heatmap'].numpy(), np.zeros((1, 2, 8, 12)), 96, 64)


def test_ltrb_detector_exports_for_trt82_with_parity_and_the_runtime_decodes_it(tmp_path):
    det = make_tiny_detector(seed=5, box='ltrb').eval()
    ckpt = tmp_path / 'ltrb.pt'
    save_checkpoint(
        ckpt,
        det,
        name='tiny_ltrb',
        task='detect',
        labels=DETECTOR_LABELS,
        input_spec=TINY_DETECTOR_INPUT,
        decoder={'type': 'vit_center', 'score_threshold': 0.0, 'max_detections': 20},
        arch='vit_center',
    )
    out = tmp_path / 'bundle'
    res = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'export_onnx.py'), str(ckpt), '--out', str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(ROOT),
    )
    assert res.returncode == 0, (
        res.stderr
    )  # the default target trt8.2 refuses what its parser would
    bundle = load_bundle(out)
    assert bundle.source['export']['target'] == 'trt8.2'
    model = onnx.load(str(bundle.onnx_path))
    assert [o.name for o in model.graph.output] == ['detections', 'heatmap', 'ltrb']
    assert all(n.domain in ('', 'ai.onnx') for n in model.graph.node)
    assert bundle.source['parity_max_abs_err'] <= 1e-4
    pipe = Pipeline(out, backend='onnxruntime', score_threshold=0.0, max_detections=5)
    img = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    x, _ = pipe.preprocess(img)
    rows = DetectorExport(det, with_maps=False)(torch.from_numpy(x))[0].detach().numpy()
    ref = rows[np.argsort(-rows[:, 4], kind='stable')][:5]
    ref[:, :4] = np.clip(ref[:, :4], 0, [96, 64, 96, 64])
    got = np.array([d.box + (d.score,) for d in pipe(img).detections])
    assert np.allclose(got[:, 4], ref[:, 4], atol=1e-5)
    assert np.allclose(got[:, :4], ref[:, :4], atol=1e-3)


def test_with_box_keeps_backbone_neck_and_heatmap_and_swaps_the_box_maps():
    det = make_tiny_detector(seed=2).eval()
    assert with_box(det, 'centre') is det
    new = with_box(det, 'ltrb').eval()
    x = torch.randn(1, 3, 64, 96)
    a, b = det(x), new(x)
    assert set(b) == {'heatmap', 'ltrb'} and b['ltrb'].shape == (1, 4, *MAP)
    assert torch.equal(a['heatmap'], b['heatmap'])
    assert new.config()['box'] == 'ltrb' and det.config()['box'] == 'centre'
    back = with_box(new, 'centre')
    assert torch.equal(back(x)['heatmap'], a['heatmap'])
    with pytest.raises(ValueError, match="box: 'xywh' is not one of centre, ltrb"):
        with_box(det, 'xywh')
    det.neck[0] = torch.nn.Conv2d(det.neck[0].in_channels, 8, 1)  # a pruned neck
    with pytest.raises(ValueError, match='resized detector'):
        with_box(det, 'ltrb')


def test_config_knows_the_box_kinds_and_refuses_others_in_one_line():
    assert train_config.BOX_KINDS == BOX_KINDS
    # the runtime (no torch) names the same raw maps as the model
    assert (VIT_CENTER_MAPS, VIT_CENTER_LTRB_MAPS) == (BOX_MAPS['centre'], BOX_MAPS['ltrb'])
    cfg = {
        'name': 'x',
        'task': 'detect',
        'model': {'arch': 'vit_center', 'box': 'corners'},
        'input': {'width': 96, 'height': 64},
        'data': {'name': 'synthetic-aerial'},
        'train': {'epochs': 1},
    }
    with pytest.raises(train_config.ConfigError) as err:
        train_config.validate_config(cfg)
    msg = str(err.value)
    assert 'model.box' in msg and 'corners' in msg and '\n' not in msg
    cfg['model']['box'] = 'ltrb'
    assert train_config.validate_config(cfg)['model']['box'] == 'ltrb'

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
INT8 QDQ, FP16, dynamic INT8 and the sensitivity report; the full compression chain.

INT8 QDQ is TensorRT's explicit INT8 layout. The full chain is prune → low-rank → INT8, on every
supported model family.
"""

from conftest import make_tiny_detector
import numpy as np
import onnx
from onnx import numpy_helper
import pytest
import torch


@pytest.fixture(scope='module')
def fp32_onnx(tmp_path_factory):
    from vitedge_ros.export import export_onnx
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    model = create_model(
        'deit_tiny_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        depth=2,
        embed_dim=32,
        num_heads=2,
    ).eval()
    path = tmp_path_factory.mktemp('q') / 'fp32.onnx'
    export_onnx(model, path, (1, 3, 32, 32), ['logits'])
    return path


def _data(n=24, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32)).astype(np.float32)


def test_int8_qdq_is_symmetric_and_keeps_excluded_nodes_float(fp32_onnx, tmp_path):
    from vitedge_ros.compress.quantize import node_categories, qdq_summary, quantize_int8, run_onnx

    out = tmp_path / 'int8.onnx'
    info = quantize_int8(fp32_onnx, out, _data(8), method='minmax')
    model = onnx.load(str(out))
    ops = [n.op_type for n in model.graph.node]
    assert 'QuantizeLinear' in ops and 'DequantizeLinear' in ops
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type in ('QuantizeLinear', 'DequantizeLinear') and len(n.input) > 2:
            zp = inits[n.input[2]]
            assert zp.dtype == np.int8 and not zp.any(), (
                n.name
            )  # signed int8, zero point 0 (TensorRT)
    s = qdq_summary(out)
    assert s['zero_point_types'] == ['int8'] and s['nonzero_zero_points'] == 0
    cats = node_categories(onnx.load(str(fp32_onnx)))
    assert {'patch_embed', 'head', 'softmax', 'linear'} <= set(cats.values())
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.name in info['float_nodes']:
            # kept in float: no DequantizeLinear feeds it
            assert all(
                producers.get(i) is None or producers[i].op_type != 'DequantizeLinear'
                for i in node.input
            )
        if node.name in info['quantized_nodes']:
            assert producers[node.input[0]].op_type == 'DequantizeLinear'
    assert not any(
        n.op_type == 'LayerNormalization'
        and producers.get(n.input[0]) is not None
        and producers[n.input[0]].op_type == 'DequantizeLinear'
        for n in model.graph.node
    )
    x = _data(16, 1)
    ref, got = run_onnx(fp32_onnx, x)[0], run_onnx(out, x)[0]
    assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.8


@pytest.mark.parametrize('method', ['entropy', 'percentile'])
def test_int8_calibration_methods_and_custom_exclusion(fp32_onnx, tmp_path, method):
    from vitedge_ros.compress.quantize import quantize_int8

    info = quantize_int8(
        fp32_onnx,
        tmp_path / 'q.onnx',
        _data(8),
        method=method,
        keep_fp32=['patch_embed'],
        exclude=['blocks.1/mlp/fc2'],
        entropy_bins=256,
    )  # a short KL search: fast
    assert any('fc2' in n for n in info['float_nodes'])
    assert any('/head/' in n for n in info['quantized_nodes'])  # head no longer kept in float


def test_fp16_and_dynamic(fp32_onnx, tmp_path):
    from vitedge_ros.compress.quantize import (
        convert_fp16,
        quantize_dynamic_int8,
        run_onnx,
        sqnr_db,
    )

    convert_fp16(fp32_onnx, tmp_path / 'h.onnx')
    half = onnx.load(str(tmp_path / 'h.onnx'))
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in half.graph.initializer)
    assert (tmp_path / 'h.onnx').stat().st_size < 0.7 * fp32_onnx.stat().st_size
    quantize_dynamic_int8(fp32_onnx, tmp_path / 'd.onnx')
    x = _data(8, 2)
    ref = run_onnx(fp32_onnx, x)[0]
    assert sqnr_db(ref, run_onnx(tmp_path / 'd.onnx', x)[0]) > 15


def test_sensitivity_report_sorted_worst_first(fp32_onnx):
    from vitedge_ros.compress.quantize import sensitivity

    rows = sensitivity(
        fp32_onnx, _data(8), _data(8, 3), keep_fp32=['patch_embed', 'head', 'softmax']
    )
    assert len(rows) == 10  # 4 linears × 2 blocks + 2 Q·K matmuls
    assert [r['sqnr_db'] for r in rows] == sorted(r['sqnr_db'] for r in rows)
    assert {r['category'] for r in rows} == {'linear', 'attn_qk'}


def _family(name):
    from vitedge_ros.models import create_model, DetectorExport

    torch.manual_seed(0)
    if name == 'detector':
        det = make_tiny_detector().eval()
        return (
            det,
            (1, 3, 64, 96),
            lambda m: DetectorExport(m),
            list(DetectorExport(det).output_names),
        )
    if (
        name == 'detector_stem'
    ):  # the shipped detector's layout: conv stem fused back into the head
        det = create_model(
            'vit_center',
            task='detect',
            num_classes=3,
            img_size=(64, 96),
            head_channels=16,
            stem_channels=16,
            max_detections=20,
            backbone='vit_tiny_patch16_224',
            embed_dim=32,
            depth=2,
            num_heads=2,
        ).eval()
        return (
            det,
            (1, 3, 64, 96),
            lambda m: DetectorExport(m),
            list(DetectorExport(det).output_names),
        )
    kw = (
        {'embed_dim': 64, 'num_heads': 2}
        if name != 'vit_small_patch16_224'
        else {'embed_dim': 96, 'num_heads': 3}
    )
    model = create_model(name, num_classes=10, img_size=32, patch_size=8, depth=2, **kw).eval()
    return model, (1, 3, 32, 32), lambda m: m, ['logits']


@pytest.mark.parametrize(
    'name',
    [
        'deit_tiny_patch16_224',
        'vit_small_patch16_224',
        'deit_tiny_distilled_patch16_224',
        'detector',
        'detector_stem',
    ],
)
def test_prune_lowrank_int8_chain(name, tmp_path):
    """Each family: structured prune, low-rank, export, INT8 QDQ, onnxruntime run."""
    import onnxruntime as ort
    from vitedge_ros.compress.lowrank import factorize
    from vitedge_ros.compress.prune import prune_vit
    from vitedge_ros.compress.quantize import quantize_int8, run_onnx
    from vitedge_ros.export import check_parity, export_onnx

    model, shape, wrap, names = _family(name)
    prune_vit(model, 0.5, embed=True, head_dims=True)
    rep = factorize(model, energy=0.6)
    assert rep['layers'], 'expected at least one factorised layer'
    module = wrap(model)
    path = export_onnx(module, tmp_path / 'fp32.onnx', shape, output_names=names)
    assert check_parity(module, path, shape) < 1e-4
    calib = np.random.default_rng(0).standard_normal((4,) + shape[1:]).astype(np.float32)
    quantize_int8(path, tmp_path / 'int8.onnx', calib)
    sess = ort.InferenceSession(str(tmp_path / 'int8.onnx'), providers=['CPUExecutionProvider'])
    outs = sess.run(None, {sess.get_inputs()[0].name: calib[:1]})
    assert outs[0].shape == run_onnx(path, calib[:1])[0].shape

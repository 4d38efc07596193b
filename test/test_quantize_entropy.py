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
INT8 ``calibration: entropy`` clips long tails (it gave min-max scales bit for bit before).

Issue 14 item 7.
"""

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import pytest


@pytest.fixture(scope='module')
def tiny_mlp(tmp_path_factory):
    """x[1,64] -> MatMul -> Relu -> MatMul -> y[1,8]: four calibrated tensors (x, h, r, y)."""
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((64, 32)) * 0.2).astype(np.float32)
    w2 = (rng.standard_normal((32, 8)) * 0.2).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node('MatMul', ['x', 'W1'], ['h'], name='fc1'),
            helper.make_node('Relu', ['h'], ['r'], name='relu'),
            helper.make_node('MatMul', ['r', 'W2'], ['y'], name='fc2'),
        ],
        'tiny_mlp',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(w1, 'W1'), numpy_helper.from_array(w2, 'W2')],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp('entropy') / 'mlp.onnx'
    onnx.save(model, str(path))
    return path


def _long_tailed(n, seed):
    """Student-t with 2 degrees of freedom: most values within +-3, rare ones beyond 30."""
    return np.random.default_rng(seed).standard_t(2.0, size=(n, 64)).astype(np.float32)


def _activation_scales(path):
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return {
        n.input[0]: float(inits[n.input[1]])
        for n in model.graph.node
        if n.op_type == 'QuantizeLinear'
        and n.input[0] not in inits
        and inits[n.input[1]].size == 1
    }


def test_entropy_thresholds_clip_long_tails_unlike_minmax(tiny_mlp, tmp_path):
    from onnxruntime.quantization.calibrate import load_tensors_data
    from vitedge_ros.compress.quantize import (
        calibrate_activations,
        ENTROPY_NUM_BINS,
        quantize_int8,
    )

    calib = _long_tailed(32, 0)
    minmax = calibrate_activations(tiny_mlp, calib, tmp_path / 'mm.json', method='minmax')
    cache = tmp_path / 'entropy.json'
    info = quantize_int8(
        tiny_mlp,
        tmp_path / 'entropy.onnx',
        calib,
        method='entropy',
        keep_fp32=(),
        cache_path=cache,
    )
    assert info['entropy_histogram']['num_bins'] == ENTROPY_NUM_BINS == 2048
    data = load_tensors_data(cache)
    entropy = {
        k: (float(np.min(data[k].range_value[0])), float(np.max(data[k].range_value[1])))
        for k in data
    }
    assert set(entropy) == set(minmax) == {'x', 'h', 'r', 'y'}
    amax = {k: max(abs(lo), abs(hi)) for k, (lo, hi) in minmax.items()}
    clipped = 0
    for name, (lo, hi) in entropy.items():
        assert max(abs(lo), abs(hi)) <= amax[name] * (1 + 1e-6), name  # never wider than min-max
        clipped += max(abs(lo), abs(hi)) < 0.9 * amax[name]
    assert clipped >= 1
    assert max(abs(v) for v in entropy['x']) < 0.5 * amax['x']  # the input's t(2) tail is cut
    # the scales in the QDQ graphs: at most min-max's, and not bit-identical
    quantize_int8(tiny_mlp, tmp_path / 'minmax.onnx', calib, method='minmax', keep_fp32=())
    s_mm, s_en = (
        _activation_scales(tmp_path / 'minmax.onnx'),
        _activation_scales(tmp_path / 'entropy.onnx'),
    )
    assert set(s_mm) == set(s_en) and len(s_mm) >= 3
    assert all(s_en[k] <= s_mm[k] * (1 + 1e-6) for k in s_mm)
    assert any(s_en[k] < 0.9 * s_mm[k] for k in s_mm)
    assert s_en['x'] == pytest.approx(max(abs(v) for v in entropy['x']) / 127.0, rel=1e-5)


def test_entropy_search_needs_more_bins_than_quantized_bins(tiny_mlp, tmp_path):
    from vitedge_ros.compress.quantize import calibrate_activations

    # onnxruntime's calibrator defaults (128 / 128): the only candidate is the full range, i.e.
    # min-max
    with pytest.raises(ValueError, match='full min-max range'):
        calibrate_activations(
            tiny_mlp, _long_tailed(4, 1), tmp_path / 'c.json', num_bins=128, num_quantized_bins=128
        )
    with pytest.raises(ValueError, match='calibration data'):
        calibrate_activations(tiny_mlp, np.zeros((0, 64), np.float32), tmp_path / 'c.json')


def test_entropy_sensitivity_report_uses_the_clipped_ranges(tiny_mlp):
    from vitedge_ros.compress.quantize import sensitivity

    calib, samples = _long_tailed(32, 2), _long_tailed(16, 3)
    rows = {
        m: {r['node']: r['sqnr_db'] for r in sensitivity(tiny_mlp, calib, samples, method=m)}
        for m in ('minmax', 'entropy')
    }
    assert set(rows['minmax']) == set(rows['entropy']) == {'fc1', 'fc2'}
    assert any(rows['minmax'][n] != rows['entropy'][n] for n in ('fc1', 'fc2'))

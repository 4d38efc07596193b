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
Measurements for the compression report.

Parameters, MACs and bytes from the ONNX graph, onnxruntime CPU latency, and a roofline lower-bound
latency estimate for Jetson targets.

MACs are counted from the ONNX graph after shape inference, for MatMul / Gemm / Conv /
ConvTranspose (and their quantized forms MatMulInteger / ConvInteger): the attention matmuls (Q·Kᵀ
and A·V) are MatMuls of two activations and are counted too. Elementwise ops, softmax and norms are
not MACs.

The roofline estimate is a **lower bound**: ``max(2·MACs / peak_ops, bytes / bandwidth)`` with the
peak of the precision the graph runs in and the bytes a layer-by-layer execution must move at least
(every weight once, plus the inputs and outputs of every MatMul/Gemm/Conv once, at that precision).
Real engines are slower (kernel launches, softmax/LayerNorm, non-peak utilisation); the figure is
labelled an estimate everywhere.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import numpy_helper

from ..runtime.latency_stats import interleaved, latency_summary

MAC_OPS = (
    'MatMul',
    'Gemm',
    'Conv',
    'ConvTranspose',
    'MatMulInteger',
    'ConvInteger',
    'FusedMatMul',
)

# Assumed peaks. Jetson Nano: Maxwell sm_53, 128 CUDA cores at 921.6 MHz, FMA = 2 ops → 236 GFLOP/s
# FP32,
# 472 GFLOP/s FP16 (2× rate), no fast INT8 (TensorRT runs INT8 layers in FP16 there), 25.6 GB/s
# LPDDR4.
# Orin Nano 8 GB: 1024 CUDA cores at 625 MHz → 1.28 TFLOP/s FP32; ~10 TFLOP/s dense FP16 and ~20
# TOPS dense
# INT8 on tensor cores (the 40 TOPS headline is sparse); 68 GB/s LPDDR5.
DEVICES: Dict[str, Dict[str, Any]] = {
    'jetson-nano': {
        'peak_ops': {'fp32': 236e9, 'fp16': 472e9, 'int8': 472e9},
        'bandwidth': 25.6e9,
        'note': 'Maxwell sm_53, 128 cores @ 921 MHz; no fast INT8 (INT8 layers run at the FP16 '
        'rate)',
    },
    'orin-nano': {
        'peak_ops': {'fp32': 1.28e12, 'fp16': 10e12, 'int8': 20e12},
        'bandwidth': 68e9,
        'note': 'Orin Nano 8 GB, Ampere 1024 cores @ 625 MHz, dense tensor-core FP16/INT8',
    },
}
BYTES = {'fp32': 4, 'fp16': 2, 'int8': 1}
ESTIMATE_LABEL = 'estimate (roofline lower bound)'


def count_params(model: Any) -> int:
    """Return the number of parameters of a torch module (trainable or not)."""
    return int(sum(p.numel() for p in model.parameters()))


def _shapes(model: onnx.ModelProto) -> Dict[str, List[int]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # pragma: no cover - fall back to what the graph carries
        inferred = model
    shapes: Dict[str, List[int]] = {}
    vals = (
        list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    )
    for vi in vals:
        t = vi.type.tensor_type
        if not t.HasField('shape'):
            continue
        dims = [d.dim_value if d.HasField('dim_value') else -1 for d in t.shape.dim]
        shapes[vi.name] = dims
    for init in inferred.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _prod(v: Sequence[int]) -> int:
    out = 1
    for a in v:
        out *= max(int(a), 1)
    return out


def _elems(shape: Optional[List[int]]) -> int:
    return 0 if shape is None or any(d < 0 for d in shape) else _prod(shape)


def graph_stats(path_or_model: Union[str, Path, onnx.ModelProto]) -> Dict[str, Any]:
    """
    Return the MACs, weight and activation bytes and node counts of an ONNX graph.

    Activation bytes count the inputs and outputs of the MAC ops.
    """
    model = (
        path_or_model
        if isinstance(path_or_model, onnx.ModelProto)
        else onnx.load(str(path_or_model))
    )
    shapes = _shapes(model)
    inits = {i.name for i in model.graph.initializer}
    const_outputs = set()
    for node in model.graph.node:
        if node.op_type in ('Constant', 'DequantizeLinear') and all(
            i in inits or i in const_outputs or not i for i in node.input
        ):
            const_outputs.update(node.output)
    weights = inits | const_outputs
    macs = 0
    act_elems = 0
    per_op: Dict[str, int] = {}
    for node in model.graph.node:
        op = node.op_type
        if op not in MAC_OPS:
            continue
        a = shapes.get(node.input[0])
        b = shapes.get(node.input[1]) if len(node.input) > 1 else None
        y = shapes.get(node.output[0])
        m = 0
        if op in ('MatMul', 'MatMulInteger', 'FusedMatMul') and a and b and y:
            k = a[-1] if len(a) >= 1 else 1
            m = _elems(y) * max(k, 1)
        elif op == 'Gemm' and a and y:
            trans_a = next((at.i for at in node.attribute if at.name == 'transA'), 0)
            k = a[0] if trans_a else a[-1]
            m = _elems(y) * max(k, 1)
        elif op in ('Conv', 'ConvInteger') and b and y:
            m = _elems(y) * _prod(b[1:])  # weight Cout × Cin/group × kh × kw
        elif op == 'ConvTranspose' and a and b:
            m = _elems(a) * _prod(b[1:])  # weight Cin × Cout/group × kh × kw
        macs += int(m)
        per_op[op] = per_op.get(op, 0) + int(m)
        for name in list(node.input[:2]) + [node.output[0]]:
            if name and name not in weights:
                act_elems += _elems(shapes.get(name))
    weight_bytes = 0
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        weight_bytes += int(arr.nbytes)
    n_weights = sum(_prod(i.dims) for i in model.graph.initializer)
    ops: Dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {
        'macs': int(macs),
        'macs_by_op': per_op,
        'weight_bytes': int(weight_bytes),
        'weight_elements': int(n_weights),
        'activation_elements': int(act_elems),
        'nodes': len(model.graph.node),
        'op_counts': ops,
    }


def roofline_estimates(
    macs: int,
    weight_elements: int,
    activation_elements: int,
    precisions: Sequence[str] = ('fp32', 'fp16'),
) -> Dict[str, float]:
    """
    Return a lower-bound latency (ms) per ``<device>-<precision>``.

    The bound is a roofline of the MACs and the bytes moved.
    """
    out: Dict[str, float] = {}
    for dev, spec in DEVICES.items():
        for prec in precisions:
            ops = 2.0 * macs
            # INT8 graphs keep activations at the quantized precision between quantized layers; the
            # bound
            # counts every weight and MAC-op activation at the precision's byte size.
            nbytes = (weight_elements + activation_elements) * BYTES[prec]
            t = max(ops / spec['peak_ops'][prec], nbytes / spec['bandwidth'])
            out['{}-{}'.format(dev, prec)] = round(t * 1e3, 4)
    return out


def estimate_assumptions() -> Dict[str, Any]:
    """Return the assumed peaks, for the report."""
    return {
        'label': ESTIMATE_LABEL,
        'formula': 'max(2*MACs/peak_ops, (weights + MatMul/Conv activations) * bytes_per_element '
        '/ bandwidth)',
        'devices': {
            k: {
                'peak_ops_per_s': v['peak_ops'],
                'bandwidth_bytes_per_s': v['bandwidth'],
                'note': v['note'],
            }
            for k, v in DEVICES.items()
        },
    }


def ort_session(path: Union[str, Path], threads: int = 1):
    """Return an onnxruntime CPU session with a fixed thread count and no busy-wait spinning."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.add_session_config_entry('session.intra_op.allow_spinning', '0')
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])


def measure_latencies(
    paths: Dict[str, Union[str, Path]],
    runs: int = 50,
    warmup: int = 10,
    threads: int = 1,
    seed: int = 0,
    block: int = 5,
) -> Dict[str, Dict[str, Any]]:
    """
    Onnxruntime CPU latency of several ONNX files, in this process: a latency summary per file.

    Returns ``{name: latency_summary(...)}`` (runtime/latency_stats.py: ``n``, ``mean_ms``,
    ``median_ms``, ``p95_ms``, ``min_ms``, ``max_ms`` over the first ``runs`` timed runs); the
    report's ``latency_ms`` is the ``median_ms``.

    Timed by the benchmark's loop, ``runtime.latency_stats.interleaved``: every model is warmed up
    (``warmup`` runs), then measured in rounds: in each round every model (in an order rotated by
    one per round) runs ``block`` times back to back (the first run of a block, which pays for
    caches the other models evicted, is not counted). Interleaving rounds spreads changes of
    machine load over all models alike; running a model back to back keeps its weights in cache as
    in deployment.
    """
    sessions = {}
    inputs = {}
    rng = np.random.default_rng(seed)
    for name, p in paths.items():
        sess = ort_session(p, threads)
        inp = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
        dtype = np.float16 if 'float16' in inp.type else np.float32
        sessions[name] = sess
        inputs[name] = {inp.name: rng.standard_normal(shape).astype(dtype)}
    fns = {
        name: (lambda s=sess, feed=inputs[name]: s.run(None, feed))
        for name, sess in sessions.items()
    }
    counted = max(2, int(block)) - 1
    times = interleaved(
        fns, rounds=max(1, -(-int(runs) // counted)), block=counted, warmup=warmup, per_round=False
    )
    return {name: latency_summary(v[: max(int(runs), 1)]) for name, v in times.items()}


def onnx_bytes(path: Union[str, Path]) -> int:
    """File size of an ONNX graph in bytes."""
    return int(Path(path).stat().st_size)

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
ONNX quantization.

INT8 QDQ post-training quantization (TensorRT explicit INT8), FP16, dynamic INT8, and a per-layer
sensitivity report.

INT8 uses ``onnxruntime.quantization.quantize_static`` in QDQ format with symmetric signed int8
activations and weights (zero points 0, as TensorRT requires), per-channel weights, and a
calibration set (min-max, entropy or percentile). Entropy (KL-divergence) ranges are calibrated
here with onnxruntime's own ``EntropyCalibrater`` and an explicit histogram (``ENTROPY_NUM_BINS``
bins, ``ENTROPY_QUANTIZED_BINS`` quantized bins), then handed to ``quantize_static`` as its
calibration cache: ``quantize_static`` passes no bin counts to the calibrator (only
``CalibTensorRangeSymmetric``, ``CalibMovingAverage[Constant]``, ``CalibMaxIntermediateOutputs``
and ``CalibPercentile``; onnxruntime/quantization/quantize.py, 1.31), and the calibrator's defaults
of 128 bins and 128 quantized bins leave the KL search one candidate, the full range, so "entropy"
scales were min-max scales. With ``trt_compat`` (default) weights keep a
QuantizeLinear→DequantizeLinear pair on their float values and every consumer gets its own Q/DQ
pair, the layout TensorRT's explicit-quantization parser expects on every version (TensorRT folds
the weight pair when it builds the engine).

By default the patch embedding, the head (classifier heads; the detector's neck and output convs),
softmax (the A·V matmul that consumes it) and LayerNorm are kept in floating point: LayerNorm and
Softmax are not in the quantized op list at all, and the others are excluded by node name;
``keep_fp32`` and ``exclude`` change that. The sensitivity report quantizes one layer at a time
(ranges calibrated once) and records how far the output moves (SQNR in dB; agreement for
classifiers), worst first.
"""

import contextlib
import io
from pathlib import Path
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx

QUANT_OPS = ('MatMul', 'Gemm', 'Conv')
HEAD_PATTERNS = (
    '/head/',
    '/head_dist/',
    '/neck/',
    '/fuse/',
    '/heatmap/',
    '/box_size/',
    '/offset/',
    '/box_ltrb/',
)
PATCH_PATTERNS = ('/patch_embed/', '/stem/')
#: Entropy calibration histogram: bins over [-amax, amax] and the quantized bins the KL search
#: compares against
#: (the search tries every clip threshold from ENTROPY_QUANTIZED_BINS / ENTROPY_NUM_BINS of amax up
#: to amax).
#: 2048 bins as TensorRT's entropy calibrator (NVIDIA, "8-bit Inference with TensorRT", GTC 2017).
ENTROPY_NUM_BINS = 2048
ENTROPY_QUANTIZED_BINS = 128


def _producers(model: onnx.ModelProto) -> Dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output}


def node_categories(model: onnx.ModelProto) -> Dict[str, str]:
    """
    Return the category of every MatMul/Gemm/Conv node.

    One of patch_embed, head, softmax (A·V), attn_qk (Q·Kᵀ) or linear.
    """
    inits = {i.name for i in model.graph.initializer}
    prod = _producers(model)
    graph_inputs = {i.name for i in model.graph.input}

    def is_const(name: str, depth: int = 0) -> bool:
        if name in inits:
            return True
        p = prod.get(name)
        if p is None or depth > 4:
            return False
        if p.op_type == 'Constant':
            return True
        if p.op_type in (
            'Transpose',
            'Reshape',
            'Cast',
            'Identity',
            'DequantizeLinear',
            'QuantizeLinear',
        ):
            return is_const(p.input[0], depth + 1)
        return False

    cats: Dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type not in QUANT_OPS:
            continue
        name = '/' + node.name.strip('/') + '/'
        if any(p in name for p in PATCH_PATTERNS) or (
            node.op_type == 'Conv' and node.input[0] in graph_inputs
        ):
            cats[node.name] = 'patch_embed'
        elif any(p in name for p in HEAD_PATTERNS):
            cats[node.name] = 'head'
        elif node.op_type == 'MatMul' and not is_const(node.input[1]):
            src = prod.get(node.input[0])
            cats[node.name] = (
                'softmax' if src is not None and src.op_type == 'Softmax' else 'attn_qk'
            )
        else:
            cats[node.name] = 'linear'
    return cats


def excluded_nodes(
    model: onnx.ModelProto,
    keep_fp32: Sequence[str] = ('patch_embed', 'head', 'softmax', 'layernorm'),
    exclude: Sequence[str] = (),
) -> List[str]:
    """
    Names of nodes kept in float.

    Those in the ``keep_fp32`` categories and those matching ``exclude``.
    """
    cats = node_categories(model)
    out = [n for n, c in cats.items() if c in keep_fp32]
    for node in model.graph.node:
        if any(pat and pat in node.name for pat in exclude) and node.name not in out:
            out.append(node.name)
    return out


class ArrayReader:
    """
    A ``CalibrationDataReader`` over an N×C×H×W float32 array.

    It gives one sample per run (static batch 1).
    """

    def __init__(self, input_name: str, data: np.ndarray) -> None:
        self.input_name = input_name
        self.data = np.asarray(data, np.float32)
        self.i = 0

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        """Next calibration feed, or None at the end."""
        if self.i >= len(self.data):
            return None
        x = self.data[self.i:self.i + 1]
        self.i += 1
        return {self.input_name: np.ascontiguousarray(x)}

    def rewind(self) -> None:
        """Start again from the first sample."""
        self.i = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item


def _method(name: str):
    from onnxruntime.quantization import CalibrationMethod

    return {
        'minmax': CalibrationMethod.MinMax,
        'entropy': CalibrationMethod.Entropy,
        'percentile': CalibrationMethod.Percentile,
    }[name]


def calibrate_activations(
    fp32_path: Union[str, Path],
    calib: np.ndarray,
    out_path: Union[str, Path],
    *,
    method: str = 'entropy',
    num_bins: int = ENTROPY_NUM_BINS,
    num_quantized_bins: int = ENTROPY_QUANTIZED_BINS,
) -> Dict[str, Tuple[float, float]]:
    """
    Calibrate the MatMul/Gemm/Conv activation ranges and write them as a calibration cache.

    ``method`` is ``entropy`` (onnxruntime's ``EntropyCalibrater``, KL divergence, with
    ``num_bins`` / ``num_quantized_bins``) or ``minmax``. ``calib`` is N x C x H x W float32, run
    one sample at a time. ``out_path`` is the JSON cache
    ``quantize_static(calibration_cache_path=...)`` reads
    (``onnxruntime.quantization.calibrate.save_tensors_data``). Returns ``{tensor: (lowest,
    highest)}``.

    Raises
    ------
        ValueError: an unknown method, no calibration data, or ``num_quantized_bins`` not smaller
            than ``num_bins`` (the KL search would have one candidate: the full range).

    """
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    if method not in ('entropy', 'minmax'):
        raise ValueError(
            'calibrate_activations: method must be entropy or minmax, got {!r}'.format(method)
        )
    if calib is None or len(calib) == 0:
        raise ValueError('INT8 calibration needs calibration data (got none)')
    if method == 'entropy' and not 0 < num_quantized_bins < num_bins:
        raise ValueError(
            'entropy calibration needs 0 < num_quantized_bins < num_bins (got {} and {}): with '
            'equal counts the only candidate is the full min-max range'.format(
                num_quantized_bins, num_bins
            )
        )
    input_name = onnx.load(str(fp32_path), load_external_data=False).graph.input[0].name
    extra: Dict[str, Any] = {'symmetric': True}
    if method == 'entropy':
        extra.update({'num_bins': int(num_bins), 'num_quantized_bins': int(num_quantized_bins)})
    with tempfile.TemporaryDirectory(prefix='vitedge-calib-') as tmp, contextlib.redirect_stdout(
        io.StringIO()
    ):
        calibrator = create_calibrator(
            Path(fp32_path),
            list(QUANT_OPS),
            augmented_model_path=str(Path(tmp) / 'augmented.onnx'),
            calibrate_method=_method(method),
            extra_options=extra,
        )
        calibrator.collect_data(ArrayReader(input_name, calib))
        ranges = calibrator.compute_data()
        del calibrator
    save_tensors_data(ranges, out_path)
    out: Dict[str, Tuple[float, float]] = {}
    for name in ranges:
        lo, hi = ranges[name].range_value
        out[name] = (float(np.min(lo)), float(np.max(hi)))
    return out


def quantize_int8(
    fp32_path: Union[str, Path],
    out_path: Union[str, Path],
    calib: Optional[np.ndarray],
    *,
    method: str = 'minmax',
    percentile: float = 99.999,
    keep_fp32: Sequence[str] = ('patch_embed', 'head', 'softmax', 'layernorm'),
    exclude: Sequence[str] = (),
    per_channel: bool = True,
    trt_compat: bool = True,
    cache_path: Optional[Union[str, Path]] = None,
    nodes_to_quantize: Optional[Sequence[str]] = None,
    entropy_bins: int = ENTROPY_NUM_BINS,
    entropy_quantized_bins: int = ENTROPY_QUANTIZED_BINS,
) -> Dict[str, Any]:
    """
    Write an INT8 QDQ graph; returns which nodes were quantized and which kept in float.

    ``method``: ``minmax``, ``entropy`` (KL-divergence clipping with an ``entropy_bins`` /
    ``entropy_quantized_bins`` histogram, see ``calibrate_activations``) or ``percentile``
    (``percentile`` of |x|). ``cache_path``: a calibration cache reused when it exists (written
    otherwise), so several graphs can share one calibration.
    """
    from onnxruntime.quantization import QuantFormat, quantize_static, QuantType

    model = onnx.load(str(fp32_path))
    input_name = model.graph.input[0].name
    cats = node_categories(model)
    excl = excluded_nodes(model, keep_fp32, exclude)
    quantized = (
        [n for n in cats if n not in excl]
        if nodes_to_quantize is None
        else list(nodes_to_quantize)
    )
    extra: Dict[str, Any] = {'ActivationSymmetric': True, 'WeightSymmetric': True}
    if method == 'percentile':
        extra['CalibPercentile'] = float(percentile)
    if trt_compat:
        extra.update(
            {
                'AddQDQPairToWeight': True,
                'DedicatedQDQPair': True,
                'QuantizeBias': False,
                'QDQOpTypePerChannelSupportToAxis': {'MatMul': 1},
            }
        )
    reader = ArrayReader(input_name, calib) if calib is not None else None
    info: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix='vitedge-quant-') as tmp:
        tmp_out = Path(tmp) / 'model.onnx'
        if method == 'entropy':
            cache = Path(cache_path) if cache_path is not None else Path(tmp) / 'calib.json'
            if not cache.is_file():
                calibrate_activations(
                    fp32_path,
                    calib,
                    cache,
                    method='entropy',
                    num_bins=entropy_bins,
                    num_quantized_bins=entropy_quantized_bins,
                )
            cache_path = cache
            info['entropy_histogram'] = {
                'num_bins': int(entropy_bins),
                'num_quantized_bins': int(entropy_quantized_bins),
            }
        quantize_static(
            str(fp32_path),
            str(tmp_out),
            reader,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANT_OPS),
            per_channel=per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=quantized if nodes_to_quantize is not None else None,
            nodes_to_exclude=excl,
            calibrate_method=_method(method),
            extra_options=extra,
            calibration_cache_path=str(cache_path) if cache_path is not None else None,
        )
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp_out), str(out_path))
    info.update(
        {
            'quantized_nodes': quantized,
            'float_nodes': excl,
            'method': method,
            'categories': {
                c: sum(1 for v in cats.values() if v == c) for c in sorted(set(cats.values()))
            },
        }
    )
    return info


def convert_fp16(fp32_path: Union[str, Path], out_path: Union[str, Path]) -> None:
    """FP16 weights and compute with float32 graph input/outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(out_path))


def quantize_dynamic_int8(
    fp32_path: Union[str, Path],
    out_path: Union[str, Path],
    keep_fp32: Sequence[str] = ('patch_embed', 'head', 'softmax', 'layernorm'),
    exclude: Sequence[str] = (),
) -> Dict[str, Any]:
    """
    Quantize to dynamic INT8 for onnxruntime on CPU.

    Weights are quantized to int8 offline, activations at run time.
    """
    from onnxruntime.quantization import quantize_dynamic, QuantType

    model = onnx.load(str(fp32_path))
    excl = excluded_nodes(model, keep_fp32, exclude)
    with tempfile.TemporaryDirectory(prefix='vitedge-quant-') as tmp:
        tmp_out = Path(tmp) / 'model.onnx'
        quantize_dynamic(
            str(fp32_path),
            str(tmp_out),
            op_types_to_quantize=['MatMul', 'Gemm'],
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excl,
            per_channel=False,
        )
        shutil.move(str(tmp_out), str(out_path))
    return {'float_nodes': excl}


def run_onnx(path: Union[str, Path], x: np.ndarray, threads: int = 1) -> List[np.ndarray]:
    """Run a static batch-1 graph over N samples; returns each output stacked over N."""
    from .measure import ort_session

    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    outs: List[List[np.ndarray]] = []
    for i in range(len(x)):
        res = sess.run(None, {name: np.ascontiguousarray(x[i:i + 1], dtype=np.float32)})
        outs.append(res)
    return [np.concatenate([o[k] for o in outs]) for k in range(len(outs[0]))] if outs else []


def sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (higher is better)."""
    noise = float(np.mean((ref.astype(np.float64) - got) ** 2))
    sig = float(np.mean(ref.astype(np.float64) ** 2))
    if noise <= 0:
        return float('inf')
    return 10.0 * np.log10(max(sig, 1e-30) / noise)


def sensitivity(
    fp32_path: Union[str, Path],
    calib: np.ndarray,
    samples: np.ndarray,
    *,
    method: str = 'minmax',
    percentile: float = 99.999,
    keep_fp32: Sequence[str] = (),
    exclude: Sequence[str] = (),
    per_channel: bool = True,
    output_index: int = 0,
    threads: int = 1,
    score: Optional[Callable[[np.ndarray, np.ndarray], Dict[str, float]]] = None,
    entropy_bins: int = ENTROPY_NUM_BINS,
    entropy_quantized_bins: int = ENTROPY_QUANTIZED_BINS,
) -> List[Dict[str, Any]]:
    """
    Quantize one layer at a time and measure the output change.

    Every MatMul/Gemm/Conv node not excluded is tried.

    Ranges are calibrated once (a calibration cache, with ``method`` as ``quantize_int8``: entropy
    clips) and reused for every layer. Returns rows sorted worst first: {node, category, sqnr_db,
    ...score(ref, got)}.
    """
    model = onnx.load(str(fp32_path))
    cats = node_categories(model)
    excl = set(excluded_nodes(model, keep_fp32, exclude))
    ref = run_onnx(fp32_path, samples, threads)[output_index]
    rows = []
    with tempfile.TemporaryDirectory(prefix='vitedge-sens-') as tmp:
        cache = Path(tmp) / 'calib.json'
        for name, cat in cats.items():
            if name in excl:
                continue
            out = Path(tmp) / 'one.onnx'
            quantize_int8(
                fp32_path,
                out,
                calib,
                method=method,
                percentile=percentile,
                keep_fp32=(),
                exclude=(),
                per_channel=per_channel,
                cache_path=cache,
                nodes_to_quantize=[name],
                entropy_bins=entropy_bins,
                entropy_quantized_bins=entropy_quantized_bins,
            )
            got = run_onnx(out, samples, threads)[output_index]
            row = {'node': name, 'category': cat, 'sqnr_db': round(float(sqnr_db(ref, got)), 3)}
            if score is not None:
                row.update(score(ref, got))
            rows.append(row)
    rows.sort(key=lambda r: r['sqnr_db'])
    return rows


def qdq_summary(path: Union[str, Path]) -> Dict[str, Any]:
    """Count of Q/DQ nodes and the zero-point types/values (all int8 and 0 for TensorRT)."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    q = sum(1 for n in model.graph.node if n.op_type == 'QuantizeLinear')
    dq = sum(1 for n in model.graph.node if n.op_type == 'DequantizeLinear')
    zp_types, zp_nonzero = set(), 0
    for n in model.graph.node:
        if (
            n.op_type in ('QuantizeLinear', 'DequantizeLinear')
            and len(n.input) > 2
            and n.input[2] in inits
        ):
            arr = numpy_helper.to_array(inits[n.input[2]])
            zp_types.add(str(arr.dtype))
            zp_nonzero += int(np.count_nonzero(arr))
    return {
        'quantize_linear': q,
        'dequantize_linear': dq,
        'zero_point_types': sorted(zp_types),
        'nonzero_zero_points': zp_nonzero,
    }

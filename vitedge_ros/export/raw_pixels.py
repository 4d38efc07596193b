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
Raw-pixel graphs: a bundle's channel order, mean and std folded into its graph.

They go into the first layer of the bundle's ONNX graph.

A bundle with ``input.pixels: raw`` takes the frame as it comes off the decoder: float32 values
0..255, NCHW, in the channel order ``input.pixel_order`` (``bgr``: what ``cv2.imdecode`` and
``bgr8`` give), and the graph does

    x_net[c] = x_raw[perm[c]] * a[c] + b[c],   a = 1 / (255 std),  b = -mean / std,

with ``perm`` taking the model's ``color`` order from ``pixel_order``. The host then only resizes
and converts uint8 HWC to float32 NCHW (one pass,
:class:`vitedge_ros.runtime.preprocess.Preprocessor`).

Where it goes (:func:`to_raw_pixels`):

- **folded** into the first Conv when the graph input feeds exactly one Conv with constant FLOAT
  weights and group 1. The scale and the channel order always fold into the weights, ``W'[:,
  perm[c]] = W[:, c] a[c]`` (scaling commutes with zero padding). The shift folds into the bias,
  ``bias' = bias + sum_{c,i,j} W[:, c, i, j] b[c]``, only when the Conv has no padding (a ViT patch
  embedding: every tap sees a real pixel); a padded Conv (a conv stem) gets one ``Sub`` of ``255
  mean`` in front instead, because its zero padding of normalised pixels is the value ``255 mean``,
  not 0, in raw pixels: ``Conv_pad(a (x - 255 mean))`` is exact. A Pad with a non-zero constant
  would do too but the TensorRT 8.2 parser refuses it ("This version of TensorRT only supports
  constant 0 padding!", onnx-tensorrt ``builtin_op_importers.cpp`` ``importPad`` before 8.4).
- otherwise (a QDQ INT8 graph whose input feeds QuantizeLinear, any other first op): one 1×1 Conv
  (3→3, weight ``a`` on the permuted diagonal, bias ``b``) is put in front, a standard op every
  TensorRT ONNX parser imports.

Why float32 and not uint8 input: the TensorRT 8.2 ONNX parser (onnx-tensorrt release/8.2
``onnx2trt_utils.cpp`` ``convertDtype``) maps only FLOAT, INT8, FLOAT16, BOOL, INT32 and INT64 and
refuses a UINT8 graph input ("Unsupported ONNX data type: UINT8 (2)", onnx/onnx-tensorrt#400);
UINT8 I/O came with TensorRT 8.5 (NVIDIA/TensorRT#1503). The Jetson Nano's JetPack 4.6 ships 8.2,
so the input stays float32 NCHW.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

# max error of a raw-pixel graph against its normalised source, relative to the output range
RAW_PARITY_RTOL = 1e-4


def channel_perm(model_color: str, pixel_order: str) -> List[int]:
    """
    Return ``perm``: ``perm[c]`` is the raw-input channel that feeds model channel ``c``.

    The permutation is the identity or a swap of channels 0 and 2.
    """
    for name, v in (('color', model_color), ('pixel_order', pixel_order)):
        if v not in ('rgb', 'bgr'):
            raise ValueError("{} must be 'rgb' or 'bgr', got {!r}".format(name, v))
    return [0, 1, 2] if model_color == pixel_order else [2, 1, 0]


def affine_of(spec: Any) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return the per-channel (a, b) of ``x_net = x_raw * a + b`` in the model's colour order.

    ``a`` and ``b`` are float64 arrays of shape (3,).
    """
    mean = np.asarray(spec.mean, np.float64)
    std = np.asarray(spec.std, np.float64)
    return 1.0 / (255.0 * std), -mean / std


def _graph_input(model: Any) -> Any:
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError('expected exactly one graph input, found {}'.format(len(inputs)))
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[1].HasField('dim_value') or dims[1].dim_value != 3:
        raise ValueError(
            'graph input must be N×3×H×W, got {}'.format(
                [d.dim_value if d.HasField('dim_value') else d.dim_param for d in dims]
            )
        )
    return inputs[0]


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _uses(model: Any, name: str) -> int:
    return sum(1 for n in model.graph.node for i in n.input if i == name) + sum(
        1 for o in model.graph.output if o.name == name
    )


def _foldable_conv(model: Any, input_name: str) -> Optional[Any]:
    consumers = [n for n in model.graph.node if input_name in n.input]
    if len(consumers) != 1 or any(o.name == input_name for o in model.graph.output):
        return None
    conv = consumers[0]
    if (
        conv.op_type != 'Conv'
        or conv.domain not in ('', 'ai.onnx')
        or list(conv.input).index(input_name) != 0
    ):
        return None
    inits = {i.name: i for i in model.graph.initializer}
    if conv.input[1] not in inits or (
        len(conv.input) > 2 and conv.input[2] and conv.input[2] not in inits
    ):
        return None
    if int(_attr(conv, 'group', 1)) != 1:
        return None
    from onnx import TensorProto

    if inits[conv.input[1]].data_type != TensorProto.FLOAT:
        return None
    return conv


def _unpadded(conv: Any) -> bool:
    auto_pad = _attr(conv, 'auto_pad', b'NOTSET')
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    return auto_pad in ('NOTSET', 'VALID') and all(int(p) == 0 for p in _attr(conv, 'pads', []))


def _fresh(model: Any, base: str) -> str:
    names = (
        {i.name for i in model.graph.initializer}
        | {v for n in model.graph.node for v in list(n.input) + list(n.output)}
        | {n.name for n in model.graph.node}
    )
    name, k = base, 0
    while name in names:
        k += 1
        name = '{}_{}'.format(base, k)
    return name


def to_raw_pixels(model: Any, spec: Any, pixel_order: str = 'bgr') -> Tuple[Any, Dict[str, Any]]:
    """
    Return a copy of ``model`` that takes raw pixels in ``pixel_order``, not a normalised input.

    ``model`` takes the normalised N×3×H×W input described by ``spec``.

    Returns ``(model, info)``; ``info['method']`` is ``conv_fold`` (all folded into the first Conv,
    named in ``info['node']``), ``sub_conv_fold`` (a padded first Conv: scale and order folded, a
    Sub of 255 mean in front) or ``affine_conv`` (a 1×1 Conv put in front). The input keeps its
    name, shape and dtype. Raises ValueError for a graph without one N×3×H×W input or an unknown
    channel order.
    """
    import onnx
    from onnx import helper, numpy_helper

    perm = channel_perm(spec.color, pixel_order)
    a, b = affine_of(spec)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inp = _graph_input(out)
    conv = _foldable_conv(out, inp.name)
    if conv is not None:
        inits = {i.name: i for i in out.graph.initializer}
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        has_bias = len(conv.input) > 2 and bool(conv.input[2])
        bias = (
            numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64)
            if has_bias
            else np.zeros(w.shape[0])
        )
        w_new = np.empty_like(w)
        for c in range(3):
            w_new[:, perm[c]] = w[:, c] * a[c]
        unpadded = _unpadded(conv)
        bias_new = bias + np.einsum('ocij,c->o', w, b) if unpadded else bias
        w_name = (
            conv.input[1]
            if _uses(out, conv.input[1]) == 1
            else _fresh(out, conv.input[1] + '_raw')
        )
        b_name = (
            conv.input[2]
            if has_bias and _uses(out, conv.input[2]) == 1
            else _fresh(out, 'raw_pixels_bias')
        )
        keep = [i for i in out.graph.initializer if i.name not in (w_name, b_name)]
        del out.graph.initializer[:]
        out.graph.initializer.extend(keep)
        out.graph.initializer.extend(
            [
                numpy_helper.from_array(w_new.astype(np.float32), w_name),
                numpy_helper.from_array(bias_new.astype(np.float32), b_name),
            ]
        )
        conv.input[1] = w_name
        if has_bias:
            conv.input[2] = b_name
        else:
            conv.input.append(b_name)
        if unpadded:
            return out, {
                'method': 'conv_fold',
                'node': conv.name or conv.op_type,
                'pixel_order': pixel_order,
            }
        # zero padding of normalised pixels is 255*mean in raw pixels: shift first, then the folded
        # Conv
        shift = np.zeros(3, np.float64)
        for c in range(3):
            shift[perm[c]] = -b[c] / a[c]  # = 255 * mean[c], in the raw input's channel order
        inner = _fresh(out, inp.name + '_centered')
        conv.input[0] = inner
        s_name = _fresh(out, 'raw_pixels_mean')
        out.graph.initializer.append(
            numpy_helper.from_array(shift.reshape(1, 3, 1, 1).astype(np.float32), s_name)
        )
        node = helper.make_node(
            'Sub', [inp.name, s_name], [inner], name=_fresh(out, 'raw_pixels_center')
        )
        out.graph.node.insert(0, node)
        return out, {
            'method': 'sub_conv_fold',
            'node': conv.name or conv.op_type,
            'pixel_order': pixel_order,
        }
    inner = _fresh(out, inp.name + '_normalized')
    for n in out.graph.node:
        for k, v in enumerate(n.input):
            if v == inp.name:
                n.input[k] = inner
    for o in out.graph.output:  # an identity graph: output == input (tests)
        if o.name == inp.name:
            raise ValueError('the graph input is also a graph output; nothing to fold into')
    w = np.zeros((3, 3, 1, 1), np.float64)
    for c in range(3):
        w[c, perm[c], 0, 0] = a[c]
    w_name, b_name = _fresh(out, 'raw_pixels_weight'), _fresh(out, 'raw_pixels_bias')
    out.graph.initializer.extend(
        [
            numpy_helper.from_array(w.astype(np.float32), w_name),
            numpy_helper.from_array(b.astype(np.float32), b_name),
        ]
    )
    node = helper.make_node(
        'Conv',
        [inp.name, w_name, b_name],
        [inner],
        name=_fresh(out, 'raw_pixels_affine'),
        kernel_shape=[1, 1],
    )
    out.graph.node.insert(0, node)
    return out, {'method': 'affine_conv', 'node': node.name, 'pixel_order': pixel_order}


def raw_spec(spec: Any, pixel_order: str = 'bgr', interpolation: Optional[str] = None) -> Any:
    """``spec`` with ``pixels: raw`` in ``pixel_order`` (and ``interpolation`` when given)."""
    channel_perm(spec.color, pixel_order)
    return spec._replace(
        pixels='raw', pixel_order=pixel_order, interpolation=interpolation or spec.interpolation
    )


def sample_frames(spec: Any, n: int, seed: int = 0) -> List[np.ndarray]:
    """
    ``n`` BGR uint8 frames for parity checks.

    Synthetic aerial scenes at 4:3 (real content, edges, colour).
    """
    from ..data.synthetic import generate_scene

    w = max(64, spec.width)
    return [generate_scene(seed + i, width=w, height=w * 3 // 4).image for i in range(n)]


def raw_parity(
    normalized: Any, raw: Any, spec_norm: Any, spec_raw: Any, frames: Sequence[np.ndarray]
) -> Dict[str, float]:
    """
    Output of the raw graph against its normalised source on the same frames (onnxruntime CPU).

    Each graph gets its own host path (:class:`Preprocessor` of its spec) from the same BGR frames
    and the same resize; returns ``max_abs`` and ``rel`` (max abs error over the largest reference
    magnitude, worst output).
    """
    import onnxruntime as ort

    from ..runtime.preprocess import Preprocessor

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sessions = [
        ort.InferenceSession(
            m.SerializeToString(), sess_options=opts, providers=['CPUExecutionProvider']
        )
        for m in (normalized, raw)
    ]
    pres = [
        Preprocessor(spec_norm._replace(interpolation=spec_raw.interpolation)),
        Preprocessor(spec_raw),
    ]
    worst_abs = worst_rel = 0.0
    for frame in frames:
        outs = []
        for sess, pre in zip(sessions, pres):
            x, _tf = pre(frame)
            outs.append(sess.run(None, {sess.get_inputs()[0].name: x}))
        for r, g in zip(*outs):
            r = np.asarray(r, np.float64)
            g = np.asarray(g, np.float64)
            err = float(np.max(np.abs(r - g))) if r.size else 0.0
            scale = float(np.max(np.abs(r))) if r.size else 0.0
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / scale if scale > 0 else err)
    return {'max_abs': worst_abs, 'rel': worst_rel}


def from_raw_pixels(model: Any, spec: Any) -> Any:
    """
    Return a copy of a raw-pixel graph that takes the normalised input again.

    ``spec.pixels`` must be ``'raw'``.

    One 1×1 Conv in front computes ``x_raw[perm[c]] = (x_net[c] - b[c]) / a[c]``: the "before" twin
    of a raw bundle in the benchmark (the host-normalising path measured on the same weights).
    """
    import onnx
    from onnx import helper, numpy_helper

    perm = channel_perm(spec.color, spec.pixel_order)
    a, b = affine_of(spec)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    inp = _graph_input(out)
    inner = _fresh(out, inp.name + '_raw')
    for n in out.graph.node:
        for k, v in enumerate(n.input):
            if v == inp.name:
                n.input[k] = inner
    w = np.zeros((3, 3, 1, 1), np.float64)
    bias = np.zeros(3, np.float64)
    for c in range(3):
        w[perm[c], c, 0, 0] = 1.0 / a[c]
        bias[perm[c]] = -b[c] / a[c]
    w_name, b_name = _fresh(out, 'normalized_to_raw_weight'), _fresh(out, 'normalized_to_raw_bias')
    out.graph.initializer.extend(
        [
            numpy_helper.from_array(w.astype(np.float32), w_name),
            numpy_helper.from_array(bias.astype(np.float32), b_name),
        ]
    )
    out.graph.node.insert(
        0,
        helper.make_node(
            'Conv',
            [inp.name, w_name, b_name],
            [inner],
            name=_fresh(out, 'normalized_to_raw'),
            kernel_shape=[1, 1],
        ),
    )
    return out


def twin_bundle(
    bundle: Any, out: Any, raw: bool, pixel_order: str = 'bgr', interpolation: Optional[str] = None
) -> Any:
    """
    Write a copy of ``bundle`` at ``out`` taking the other kind of input (benchmarks, studies).

    Returns the copy.

    ``raw=True``: a normalised bundle made to take raw pixels (:func:`to_raw_pixels`);
    ``raw=False``: a raw bundle made to take normalised input (:func:`from_raw_pixels`).
    ``interpolation``: the twin's resize (default the source's). No audit or parity here
    (``tools/export_onnx.py --raw-pixels`` does both for shipped bundles).
    """
    from pathlib import Path

    import onnx

    from ..runtime.bundle import atomic_write_bytes, load_bundle, write_bundle_yaml

    src = bundle if hasattr(bundle, 'onnx_path') else load_bundle(bundle)
    if raw == src.input.raw:
        raise ValueError(
            '{}: already takes {} input'.format(src.path, 'raw' if raw else 'normalised')
        )
    model = onnx.load(str(src.onnx_path))
    if raw:
        model, _info = to_raw_pixels(model, src.input, pixel_order)
        spec = raw_spec(src.input, pixel_order, interpolation)
    else:
        model = from_raw_pixels(model, src.input)
        spec = src.input._replace(
            pixels='normalized',
            pixel_order='',
            interpolation=interpolation or src.input.interpolation,
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / 'model.onnx', model.SerializeToString())
    write_bundle_yaml(
        out,
        {
            'name': '{}-{}'.format(src.name, 'raw' if raw else 'normalized'),
            'task': src.task,
            'input': spec.to_dict(),
            'labels': list(src.labels),
            'trt_targets': list(src.trt_targets),
            'decoder': dict(src.decoder),
            'source': {'twin_of': str(src.path)},
        },
    )
    return load_bundle(out)

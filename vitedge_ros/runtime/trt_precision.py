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
Which layers of a reduced-precision TensorRT build must stay FP32.

Found on the ONNX graph, set on the network.

Under ``BuilderFlag.FP16`` (and INT8, which falls back to FP16) TensorRT 8.2-10.x picks each
layer's precision by speed. Three parts of this project's graphs must not be left to that choice:

* **LayerNorm**, fused (``LayerNormalization``, TensorRT >= 8.6) or decomposed
  (``ReduceMean -> Sub -> Pow(2) | Mul(d, d) -> ReduceMean -> Add(eps) -> Sqrt -> Div``, what
  ``tools/export_onnx.py --trt8-compat`` writes): the variance of FP16 activations under- and
  overflows. NVIDIA's own advice is to run LayerNorm in FP32 under FP16 builds ("TensorRT Developer
  Guide, Best Practices / Mixed precision": "LayerNorm ... should be kept in FP32"; trtexec
  ``--layerPrecisions``).
* **Softmax** and the tensor feeding it (the scaled attention logits).
* **The detector's peak extraction** (``ViTCenterDetector.decode``,
  vitedge_ros/models/vit_detector.py): ``heat * (MaxPool3x3(heat) == heat)`` keeps a cell only on
  exact equality, so the Sigmoid, the MaxPool, the Equal and everything downstream (score/class,
  TopK, box arithmetic) must see one precision. If TensorRT ran the MaxPool in FP16 on a
  reformatted copy of an FP32 Sigmoid output, every detection would vanish.

:func:`fp32_nodes` finds those nodes on the ONNX graph (pure ``onnx``); :func:`pin_fp32_layers`
maps them to the parsed network's layers and sets ``ILayer.precision`` and
``ILayer.set_output_type`` to FP32. The layer of an ONNX node is named after the node by the ONNX
parser (onnx-tensorrt ``ImporterContext::registerLayer`` with ``getNodeName(node)``: the node's
name, or ``node_of_<first output>`` when it has none; helper layers get ``<name>_<n>``), and the
node's outputs keep their ONNX names, so a layer is matched by its name or by an output tensor
name. The constraints only bind with the builder flag each version has
(:func:`precision_constraint_flag`): ``OBEY_PRECISION_CONSTRAINTS`` (TensorRT 8.2-10.x;
``STRICT_TYPES`` before 8.2, deprecated in 8.2, removed in 10.0). TensorRT 11 has neither the flags
nor the setters: its networks are strongly typed and the precision comes from the ONNX graph
itself.

Sources: TensorRT Python API, ``tensorrt.ILayer.precision`` / ``set_output_type`` and
    ``BuilderFlag``
(python/src/infer/pyGraph.cpp and pyCore.cpp of NVIDIA/TensorRT, tags 8.2.1, release/8.6,
release/10.3, release/11.1); migration guide "Removed Python APIs" for 11.x
(https://docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-python-api-reference.html).
"""

from collections import defaultdict, deque
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

#: What a pinned node is pinned for; ``softmax-input`` pins only the output type of the producer.
KINDS = ('layernorm', 'softmax', 'softmax-input', 'peak-extraction')


def _const_value(model: Any, name: str, producers: Dict[str, Any]) -> Optional[float]:
    """Return the scalar value of an initializer or a Constant node's output, else None."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            arr = numpy_helper.to_array(init)
            return float(arr.reshape(-1)[0]) if arr.size == 1 else None
    node = producers.get(name)
    if node is not None and node.op_type == 'Constant':
        for attr in node.attribute:
            if attr.name == 'value':
                arr = numpy_helper.to_array(attr.t)
                return float(arr.reshape(-1)[0]) if arr.size == 1 else None
            if attr.name == 'value_float':
                return float(attr.f)
    return None


def node_label(node: Any) -> str:
    """
    Return the layer name the ONNX parser gives ``node``.

    Its name, or ``node_of_<first output>``.
    """
    if node.name:
        return str(node.name)
    return 'node_of_{}'.format(node.output[0]) if len(node.output) else ''


def _graph_index(model: Any) -> Tuple[Dict[str, Any], Dict[str, List[Any]]]:
    producers: Dict[str, Any] = {}
    consumers: Dict[str, List[Any]] = defaultdict(list)
    for node in model.graph.node:
        for out in node.output:
            if out:
                producers[out] = node
        for inp in node.input:
            if inp:
                consumers[inp].append(node)
    return producers, consumers


def _one_consumer(consumers: Dict[str, List[Any]], tensor: str, op: str) -> Optional[Any]:
    for node in consumers.get(tensor, []):
        if node.op_type == op:
            return node
    return None


def _decomposed_layernorms(
    model: Any, producers: Dict[str, Any], consumers: Dict[str, List[Any]]
) -> Iterable[List[Any]]:
    """
    Yield the node groups of decomposed LayerNorms.

    Each group matches ``ReduceMean -> Sub -> Pow(2)|Mul(d,d) -> ReduceMean -> [Add] -> Sqrt ->
    Div``.
    """
    for sub in model.graph.node:
        if sub.op_type != 'Sub' or len(sub.input) != 2:
            continue
        mean = producers.get(sub.input[1])
        if mean is None or mean.op_type != 'ReduceMean' or mean.input[0] != sub.input[0]:
            continue
        d = sub.output[0]
        for sq in consumers.get(d, []):
            is_square = (
                sq.op_type == 'Pow'
                and sq.input[0] == d
                and _const_value(model, sq.input[1], producers) == 2.0
            ) or (sq.op_type == 'Mul' and list(sq.input) == [d, d])
            if not is_square:
                continue
            var = _one_consumer(consumers, sq.output[0], 'ReduceMean')
            if var is None:
                continue
            group = [mean, sub, sq, var]
            nxt = var.output[0]
            add = _one_consumer(consumers, nxt, 'Add')
            if add is not None:
                group.append(add)
                nxt = add.output[0]
            sqrt = _one_consumer(consumers, nxt, 'Sqrt')
            if sqrt is None:
                continue
            group.append(sqrt)
            div = next(
                (
                    n
                    for n in consumers.get(sqrt.output[0], [])
                    if n.op_type == 'Div' and n.input[0] == d
                ),
                None,
            )
            if div is not None:
                group.append(div)
            yield group


def _peak_tails(
    model: Any, producers: Dict[str, Any], consumers: Dict[str, List[Any]]
) -> Iterable[List[Any]]:
    """
    Find the peak tails ``X -> MaxPool -> Equal(MaxPool(X), X)``.

    Each tail is everything downstream of the Equal, plus X's producer.
    """
    for pool in model.graph.node:
        if pool.op_type != 'MaxPool' or not pool.input:
            continue
        x = pool.input[0]
        for eq in consumers.get(pool.output[0], []):
            if eq.op_type != 'Equal' or set(eq.input) != {pool.output[0], x}:
                continue
            group = [pool, eq]
            if x in producers:
                group.append(producers[x])
            seen: Set[int] = {id(n) for n in group}
            todo = deque([eq])
            while todo:
                node = todo.popleft()
                for out in node.output:
                    for nxt in consumers.get(out, []):
                        if id(nxt) not in seen:
                            seen.add(id(nxt))
                            group.append(nxt)
                            todo.append(nxt)
            # the map itself (e.g. Sigmoid) also feeds the masked product: pin its other float
            # consumers too
            for nxt in consumers.get(x, []):
                if id(nxt) not in seen and nxt.op_type in ('Mul', 'ReduceMax', 'ArgMax', 'TopK'):
                    seen.add(id(nxt))
                    group.append(nxt)
            yield group


def fp32_nodes(model: Any) -> Dict[str, str]:
    """
    ONNX nodes to keep in FP32 under an FP16/INT8 build.

    ``{layer name: kind}`` (kinds in :data:`KINDS`).

    ``model`` is an ``onnx.ModelProto``. Finds fused and decomposed LayerNorm, Softmax (and the
    producer of its input, ``softmax-input``: output type only) and the detector's peak-extraction
    tail (see the module docstring). Layer names are those the ONNX parser gives
    (:func:`node_label`).
    """
    producers, consumers = _graph_index(model)
    out: Dict[str, str] = {}

    def mark(nodes: Iterable[Any], kind: str) -> None:
        for n in nodes:
            label = node_label(n)
            if label and (label not in out or out[label] == 'softmax-input'):
                out[label] = kind

    for node in model.graph.node:
        if node.op_type == 'LayerNormalization':
            mark([node], 'layernorm')
        elif node.op_type == 'Softmax':
            src = producers.get(node.input[0]) if node.input else None
            if src is not None and node_label(src) not in out:
                out[node_label(src)] = 'softmax-input'
            mark([node], 'softmax')
    for group in _decomposed_layernorms(model, producers, consumers):
        mark(group, 'layernorm')
    for group in _peak_tails(model, producers, consumers):
        mark(group, 'peak-extraction')
    return out


def node_outputs(model: Any, names: Iterable[str]) -> Dict[str, str]:
    """
    Return ``{ONNX output tensor name: layer name}`` for the nodes named ``names``.

    Used to match TensorRT layers by their outputs.
    """
    wanted = set(names)
    out: Dict[str, str] = {}
    for node in model.graph.node:
        label = node_label(node)
        if label in wanted:
            for t in node.output:
                if t:
                    out[t] = label
    return out


def precision_constraint_flag(trt: Any) -> Optional[str]:
    """
    Return the name of the ``BuilderFlag`` that makes layer precisions binding, or None.

    ``OBEY_PRECISION_CONSTRAINTS`` (8.2-10.x), ``STRICT_TYPES`` (before 8.2), None on TensorRT 11
    (strongly typed, no such flag).
    """
    flags = getattr(trt, 'BuilderFlag', None)
    for name in ('OBEY_PRECISION_CONSTRAINTS', 'STRICT_TYPES'):
        if hasattr(flags, name):
            return name
    return None


def can_pin(trt: Any, network: Any) -> bool:
    """
    Whether this TensorRT lets a layer's precision be set.

    False on 11.x: strongly typed networks.
    """
    if precision_constraint_flag(trt) is None or not getattr(network, 'num_layers', 0):
        return False
    return hasattr(network.get_layer(0), 'set_output_type')


def pin_fp32_layers(
    trt: Any, network: Any, pins: Dict[str, str], outputs: Optional[Dict[str, str]] = None
) -> Dict[str, str]:
    """
    Set FP32 precision and FP32 output types on the layers of ``network`` named in ``pins``.

    ``pins`` from :func:`fp32_nodes`; ``outputs`` (from :func:`node_outputs`) also matches a layer
    by the ONNX name of an output tensor. A layer is pinned only where all its inputs are float
    tensors (FLOAT/HALF); only float outputs get an output type (comparison and index outputs keep
    BOOL/INT32); ``softmax-input`` layers get the output type only. Returns ``{layer name: kind}``
    of the layers pinned.
    """
    dt = trt.DataType
    floats = (dt.FLOAT, dt.HALF)
    outputs = outputs or {}
    done: Dict[str, str] = {}
    for i in range(int(network.num_layers)):
        layer = network.get_layer(i)
        name = str(layer.name)
        kind = pins.get(name)
        if kind is None:
            for j in range(int(layer.num_outputs)):
                t = layer.get_output(j)
                if t is not None and t.name in outputs:
                    kind = pins.get(outputs[t.name])
                    break
        if kind is None:
            continue
        ins = [layer.get_input(j) for j in range(int(layer.num_inputs))]
        if any(t is not None and t.dtype not in floats for t in ins):
            continue
        outs = [
            j
            for j in range(int(layer.num_outputs))
            if layer.get_output(j) is not None and layer.get_output(j).dtype in floats
        ]
        if kind != 'softmax-input':
            layer.precision = dt.FLOAT
        for j in outs:
            layer.set_output_type(j, dt.FLOAT)
        done[name] = kind
    return done


def graph_precision(model: Any) -> str:
    """
    Return the precision a strongly typed (TensorRT 11) network built from ``model`` computes in.

    ``'int8'`` for a QDQ graph, ``'fp16'`` when the graph holds FP16 tensors (an FP16 or mixed
    export), else ``'fp32'``.
    """
    from onnx import TensorProto

    ops = {n.op_type for n in model.graph.node}
    if 'QuantizeLinear' in ops and 'DequantizeLinear' in ops:
        return 'int8'
    if any(init.data_type == TensorProto.FLOAT16 for init in model.graph.initializer):
        return 'fp16'
    for node in model.graph.node:
        if node.op_type == 'Cast' and any(
            a.name == 'to' and a.i == TensorProto.FLOAT16 for a in node.attribute
        ):
            return 'fp16'
    return 'fp32'

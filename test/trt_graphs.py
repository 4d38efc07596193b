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
Small hand-built ONNX bundles for the TensorRT tests (pure ``onnx`` + numpy, no torch).

* ``classifier``: Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, opset 13: what every
  TensorRT from 8.2 parses (the Jetson Nano's JetPack 4.6 included).
* ``precision``: a decomposed LayerNorm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div, as
  ``tools/export_onnx.py --trt8-compat`` writes it), a Softmax fed by a scaling Mul, and the
  detector's peak extraction tail (Sigmoid -> MaxPool 3x3 -> Equal -> Cast -> Mul -> ReduceMax ->
  TopK), opset 13.
* ``layernorm``: one ``LayerNormalization`` node (opset 17), which the 8.2 parser has no importer
  for.
* ``reshape``: ``Reshape`` nodes without ``allowzero`` at opset 14, which the 8.2 parser cannot
  read.
* ``fp16``: ``classifier`` with its weights in float16 and Casts at the boundary (an FP16 export).
* ``qdq``: ``classifier`` with QuantizeLinear/DequantizeLinear on its input and weights (explicit
  INT8).
"""

from pathlib import Path
from typing import List, Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import yaml

H = W = 32
LABELS = [str(i) for i in range(10)]


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name)


def _model(
    nodes: List[onnx.NodeProto],
    inits: List[onnx.TensorProto],
    outputs: List[onnx.ValueInfoProto],
    opset: int,
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        'g',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, H, W])],
        outputs,
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', opset)], producer_name='trt_graphs'
    )
    model.ir_version = 8
    if (
        opset <= onnx.defs.onnx_opset_version()
    ):  # onnx 1.11 (the Python 3.6 lane) stops at opset 16
        onnx.checker.check_model(model, full_check=True)
    return model


def classifier(fp16: bool = False) -> onnx.ModelProto:
    """Conv(3->8) -> Relu -> GlobalAveragePool -> Flatten -> Gemm(8->10): logits 1x10."""
    rng = np.random.default_rng(0)
    dt = np.float16 if fp16 else np.float32
    inits = [
        _init('conv_w', rng.standard_normal((8, 3, 3, 3)).astype(dt)),
        _init('conv_b', np.zeros(8, dt)),
        _init('fc_w', rng.standard_normal((10, 8)).astype(dt)),
        _init('fc_b', np.zeros(10, dt)),
    ]
    nodes = []
    x = 'input'
    if fp16:
        nodes.append(
            helper.make_node(
                'Cast', ['input'], ['input_h'], name='/cast_in', to=TensorProto.FLOAT16
            )
        )
        x = 'input_h'
    nodes += [
        helper.make_node('Conv', [x, 'conv_w', 'conv_b'], ['c'], name='/conv', pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['c'], ['r'], name='/relu'),
        helper.make_node('GlobalAveragePool', ['r'], ['p'], name='/gap'),
        helper.make_node('Flatten', ['p'], ['f'], name='/flatten'),
        helper.make_node(
            'Gemm', ['f', 'fc_w', 'fc_b'], ['logits_h' if fp16 else 'logits'], name='/fc', transB=1
        ),
    ]
    if fp16:
        nodes.append(
            helper.make_node(
                'Cast', ['logits_h'], ['logits'], name='/cast_out', to=TensorProto.FLOAT
            )
        )
    return _model(
        nodes, inits, [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, 10])], 13
    )


def qdq_classifier() -> onnx.ModelProto:
    """
    Return :func:`classifier` with Q/DQ pairs on the input and the conv weights.

    As quantize_static writes them.
    """
    model = classifier()
    g = model.graph
    g.initializer.extend(
        [
            _init('s_in', np.array(1 / 64, np.float32)),
            _init('z_in', np.array(0, np.int8)),
            _init('s_w', np.array(1 / 32, np.float32)),
            _init('z_w', np.array(0, np.int8)),
        ]
    )
    qdq = [
        helper.make_node('QuantizeLinear', ['input', 's_in', 'z_in'], ['input_q'], name='/q_in'),
        helper.make_node(
            'DequantizeLinear', ['input_q', 's_in', 'z_in'], ['input_dq'], name='/dq_in'
        ),
        helper.make_node('QuantizeLinear', ['conv_w', 's_w', 'z_w'], ['conv_w_q'], name='/q_w'),
        helper.make_node(
            'DequantizeLinear', ['conv_w_q', 's_w', 'z_w'], ['conv_w_dq'], name='/dq_w'
        ),
    ]
    conv = g.node[0]
    conv.input[0], conv.input[1] = 'input_dq', 'conv_w_dq'
    nodes = qdq + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model, full_check=True)
    return model


#: Node names of :func:`precision_graph`, by what must stay FP32.
LAYERNORM_NODES = [
    '/ln/mean',
    '/ln/sub',
    '/ln/pow',
    '/ln/var',
    '/ln/add_eps',
    '/ln/sqrt',
    '/ln/div',
]
SOFTMAX_NODES = ['/attn/softmax']
SOFTMAX_INPUT_NODES = ['/attn/scale']
PEAK_NODES = [
    '/decode/sigmoid',
    '/decode/maxpool',
    '/decode/equal',
    '/decode/mask',
    '/decode/score',
    '/decode/flatten',
    '/decode/topk',
]
FREE_NODES = [
    '/conv',
    '/ln/gamma',
    '/ln/beta',
    '/attn/mix',
    '/decode/cast',
]  # not pinned (Cast: BOOL input)


def precision_graph() -> onnx.ModelProto:
    """
    Decomposed LayerNorm over channels, a scaled Softmax, the peak-extraction tail.

    Outputs TopK values.
    """
    rng = np.random.default_rng(1)
    c = 4
    inits = [
        _init('conv_w', rng.standard_normal((c, 3, 1, 1)).astype(np.float32)),
        _init('two', np.array(2.0, np.float32)),
        _init('eps', np.array(1e-6, np.float32)),
        _init('gamma', np.ones((1, c, 1, 1), np.float32)),
        _init('beta', np.zeros((1, c, 1, 1), np.float32)),
        _init('scale', np.array(0.5, np.float32)),
        _init('k', np.array([5], np.int64)),
    ]
    n = helper.make_node
    nodes = [
        n('Conv', ['input', 'conv_w'], ['feat'], name='/conv'),
        n('ReduceMean', ['feat'], ['mean'], name='/ln/mean', axes=[1], keepdims=1),
        n('Sub', ['feat', 'mean'], ['d'], name='/ln/sub'),
        n('Pow', ['d', 'two'], ['d2'], name='/ln/pow'),
        n('ReduceMean', ['d2'], ['var'], name='/ln/var', axes=[1], keepdims=1),
        n('Add', ['var', 'eps'], ['var_eps'], name='/ln/add_eps'),
        n('Sqrt', ['var_eps'], ['std'], name='/ln/sqrt'),
        n('Div', ['d', 'std'], ['normed'], name='/ln/div'),
        n('Mul', ['normed', 'gamma'], ['scaled'], name='/ln/gamma'),
        n('Add', ['scaled', 'beta'], ['ln_out'], name='/ln/beta'),
        n('Mul', ['ln_out', 'scale'], ['logits'], name='/attn/scale'),
        n('Softmax', ['logits'], ['att'], name='/attn/softmax', axis=1),
        n('Mul', ['att', 'ln_out'], ['mixed'], name='/attn/mix'),
        n('Sigmoid', ['mixed'], ['heat'], name='/decode/sigmoid'),
        n(
            'MaxPool',
            ['heat'],
            ['peaks'],
            name='/decode/maxpool',
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
        ),
        n('Equal', ['peaks', 'heat'], ['is_peak'], name='/decode/equal'),
        n('Cast', ['is_peak'], ['is_peak_f'], name='/decode/cast', to=TensorProto.FLOAT),
        n('Mul', ['heat', 'is_peak_f'], ['masked'], name='/decode/mask'),
        n('ReduceMax', ['masked'], ['score'], name='/decode/score', axes=[1], keepdims=0),
        n('Flatten', ['score'], ['score_flat'], name='/decode/flatten', axis=1),
        n('TopK', ['score_flat', 'k'], ['top_scores', 'top_index'], name='/decode/topk'),
    ]
    outputs = [
        helper.make_tensor_value_info('top_scores', TensorProto.FLOAT, [1, 5]),
        helper.make_tensor_value_info('top_index', TensorProto.INT64, [1, 5]),
    ]
    return _model(nodes, inits, outputs, 13)


LAYERNORM_GRAPH_NODES = ['/blocks.0/norm1/LayerNormalization']


def layernorm_graph() -> onnx.ModelProto:
    """
    Conv -> LayerNormalization (opset 17) -> GlobalAveragePool -> Flatten.

    Logits 1x8 (refused by 8.2).
    """
    rng = np.random.default_rng(2)
    inits = [
        _init('conv_w', rng.standard_normal((8, 3, 1, 1)).astype(np.float32)),
        _init('ln_w', np.ones(W, np.float32)),
        _init('ln_b', np.zeros(W, np.float32)),
    ]
    nodes = [
        helper.make_node('Conv', ['input', 'conv_w'], ['c'], name='/conv'),
        helper.make_node(
            'LayerNormalization',
            ['c', 'ln_w', 'ln_b'],
            ['n'],
            name=LAYERNORM_GRAPH_NODES[0],
            axis=-1,
            epsilon=1e-6,
        ),
        helper.make_node('GlobalAveragePool', ['n'], ['p'], name='/gap'),
        helper.make_node('Flatten', ['p'], ['logits'], name='/flatten'),
    ]
    return _model(
        nodes, inits, [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, 8])], 17
    )


RESHAPE_GRAPH_NODES = ['/patch/Reshape', '/head/Reshape_1']


def reshape_graph(allowzero: bool = False) -> onnx.ModelProto:
    """
    Two Reshape nodes at opset 14.

    Without ``allowzero`` unless asked (refused by 8.2 without it).
    """
    inits = [
        _init('shape1', np.array([1, 3, H * W], np.int64)),
        _init('shape2', np.array([1, 3 * H * W], np.int64)),
    ]
    kw = {'allowzero': 0} if allowzero else {}
    nodes = [
        helper.make_node(
            'Reshape', ['input', 'shape1'], ['r1'], name=RESHAPE_GRAPH_NODES[0], **kw
        ),
        helper.make_node('Relu', ['r1'], ['a'], name='/act'),
        helper.make_node(
            'Reshape', ['a', 'shape2'], ['logits'], name=RESHAPE_GRAPH_NODES[1], **kw
        ),
    ]
    return _model(
        nodes,
        inits,
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, [1, 3 * H * W])],
        14,
    )


GRAPHS = {
    'classifier': classifier,
    'precision': precision_graph,
    'layernorm': layernorm_graph,
    'reshape': reshape_graph,
    'fp16': lambda: classifier(fp16=True),
    'qdq': qdq_classifier,
}


def write_bundle(
    out: Path, kind: str = 'classifier', model: Optional[onnx.ModelProto] = None
) -> Path:
    """
    Return a bundle directory ``out`` with the graph ``kind`` (or ``model``).

    Its bundle.yaml is that of a 32x32 classifier.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(model if model is not None else GRAPHS[kind](), str(out / 'model.onnx'))
    meta = {
        'schema_version': 1,
        'name': 'trt_' + kind,
        'task': 'classify',
        'input': {
            'width': W,
            'height': H,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.5] * 3,
            'resize': 'stretch',
        },
        'labels': LABELS,
        'decoder': {'type': 'classifier', 'top_k': 3},
        'source': {'export': {'fp16_weights': kind == 'fp16'}},
    }
    (out / 'bundle.yaml').write_text(yaml.safe_dump(meta, sort_keys=False))
    return out

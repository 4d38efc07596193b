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
TensorRT ONNX-parser compatibility audit.

Which nodes a TensorRT version's parser would refuse, and why.

Pure ``onnx`` + numpy, Python 3.6 (it runs on the drone, inside ``tools/build_engine.py``, before
TensorRT is called). Given an ONNX model and a target, :func:`audit_model` lists every node the
target's ONNX parser refuses (or imports with a silently different meaning), with the node name,
the op, the rule and the fix.

Targets. Public: ``trt8.2`` (Jetson Nano, JetPack 4.6.1-4.6.x), ``trt8.6`` (JetPack 6.0, desktops),
``trt10`` (TensorRT 10.x). Finer targets are used for the running version in
:func:`target_for_trt_version`: ``trt8.0`` (8.0-8.1), ``trt8.4`` (8.4: ``allowzero`` fixed, opset
17, tensor Resize scales) and ``trt8.5`` (8.5).

Sources (onnx-tensorrt, https://github.com/onnx/onnx-tensorrt, one branch per TensorRT release;
read for this module from the branches ``8.0-GA``, ``8.2-GA``, ``8.4-GA``, ``8.5-GA``, ``8.6-GA``
and ``10.1-GA``, the newest 10.x branch mirrored here; tags ``release/8.2-GA`` ... point at the
same trees):

- ``docs/operators.md`` of each branch: the opset range ("TensorRT 8.2 supports operators up to
  Opset 13", 8.4-8.6 "up to Opset 17", 10.x "inclusive range of opset 9 to opset 20"), data types
  and documented restrictions (Slice/Squeeze/Unsqueeze/CumSum axes, QuantizeLinear zero point,
  Resize modes, TopK K < 3840, pooling dilations, Dropout, Constant attributes, Pad axes, ScatterND
  reduction, LayerNormalization outputs).
- ``builtin_op_importers.cpp`` (8.x) / ``onnxOpImporters.cpp`` (10.x): the set of
  ``DEFINE_BUILTIN_OP_IMPORTER`` ops (an op without an importer falls back to the plugin registry
  and fails, ``FallbackPluginImporter``), and each importer's checks: ``Reshape`` reads
  ``allowzero`` with ``attrs.get<int>("allowzero")`` (no default: "Attribute not found: allowzero")
  at opset >= 14 on 8.0-8.2, fixed by ``attrs.get<int32_t>("allowzero", 0)`` in 8.4; ``TopK`` K
  ``is_weights()`` before 8.6 and ``largest`` ignored (always kMAX) before 8.5; ``Clip`` bounds
  read as float (``static_cast<float*>``) before 8.5; Conv/ConvTranspose bias ``is_weights()``
  before 8.5; ``Resize`` scales ``is_weights()``, ``cubic`` refused and 4-input form without
  ``sizes`` broken before 8.4/8.5; ``Gather``/``GatherElements``/``GatherND`` refuse BOOL data
  before 8.5; ``notInvalidType(...)`` type lists (8.5+); QuantizeLinear/DequantizeLinear
  ``shiftIsAllZeros`` and the 3-input form.
- ``onnx2trt_utils.cpp`` (8.x) / ``importerUtils.cpp`` (10.x): ``convertDtype`` (the ONNX types
  each version
  maps: INT64 cast down to INT32 before 10, UINT8 from 8.5, BF16/INT64/FP8/INT4 in 10),
      ``elementwiseCheck``
  (BOOL refused by Add/Sub/Mul/Div/Max/Min/Greater/Less, by Equal before 8.5; Pow refuses INT),
  ``reduceTensor`` ("Axis input must be an initializer!"),
  ``canUseLinearResize``/``canUseNDResize``, ``convertOnnxWeights`` (FP16 weights kept as FP16,
  INT64 clamped to INT32).
- ``ModelImporter.cpp``: no constant folding: only initializers and ``Constant`` node outputs are
  weights (``is_weights()``); an input computed by other nodes, even from constants only, is a
  tensor. The audit therefore treats initializers and Constant outputs as constants, and names
  constant-foldable subgraphs in the fix ("fold constants": ``tools/export_onnx.py`` runs onnxslim,
  which does).
- NVIDIA/TensorRT ``include/NvInfer.h`` (branches release/8.0 ... release/10.1): ``addTopK``
  "Currently only values of K up to 1024 are supported" (8.0, 8.2; 3840 from 8.4 and in the 10.x
  docs).

Not rules (checked in the sources, deliberately not reported): Split sizes and Pad pads may be
tensors in every version (``ShapeTensor``/activation paths); Clip bounds may be tensors
(elementwise path) when the input type allows it; the documented "N" for Reciprocal in 8.2's table
is contradicted by its registered importer.
"""

from pathlib import Path
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
from onnx import numpy_helper

TRT_TARGETS = ('trt8.2', 'trt8.6', 'trt10')
REPO = 'https://github.com/onnx/onnx-tensorrt'


class _Parser(NamedTuple):
    version: Tuple[int, int]
    branch: str  # onnx-tensorrt branch the rules come from
    label: str  # TensorRT versions the rules apply to
    max_opset: int
    min_opset: int  # below: refused (10.x documents the range) or only warned (8.x: opset 7)
    min_opset_blocks: bool


_PARSERS = {
    'trt8.0': _Parser((8, 0), '8.0-GA', 'TensorRT 8.0-8.1 (JetPack 4.6)', 13, 7, False),
    'trt8.2': _Parser((8, 2), '8.2-GA', 'TensorRT 8.2-8.3 (JetPack 4.6.1+)', 13, 7, False),
    'trt8.4': _Parser((8, 4), '8.4-GA', 'TensorRT 8.4', 17, 7, False),
    'trt8.5': _Parser((8, 5), '8.5-GA', 'TensorRT 8.5 (JetPack 5.1)', 17, 7, False),
    'trt8.6': _Parser((8, 6), '8.6-GA', 'TensorRT 8.6', 17, 7, False),
    'trt10': _Parser((10, 1), '10.1-GA', 'TensorRT 10.x', 20, 9, True),
}
ALL_TARGETS = tuple(_PARSERS)

# Ops with a DEFINE_BUILTIN_OP_IMPORTER on each branch (TRT_* custom ops and the plugin fallback
# left out).
_OPS_8_0 = frozenset(
    (
        'Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool '
        'BatchNormalization Cast Ceil Celu '
        'Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace '
        'DequantizeLinear Div '
        'Dropout Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements Gemm '
        'GlobalAveragePool '
        'GlobalLpPool GlobalMaxPool Greater GreaterOrEqual HardSigmoid Identity If ImageScaler '
        'InstanceNormalization '
        'LRN LSTM LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool MatMul '
        'Max MaxPool Mean Min '
        'Mul Neg NonMaxSuppression Not Or PRelu Pad ParametricSoftplus Pow QuantizeLinear RNN '
        'RandomUniform '
        'RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp '
        'ReduceMax ReduceMean '
        'ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence '
        'ScaledTanh Scan Selu '
        'Shape Sigmoid Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt '
        'Squeeze Sub Sum Tan '
        'Tanh ThresholdedRelu Tile TopK Transpose Unsqueeze Upsample Where'
    ).split()
)
_OPS_ADDED = (
    ((8, 2), 'Einsum GatherND IsNaN Round Scatter ScatterElements ScatterND Sign'),
    ((8, 4), 'HardSwish Shrink Xor'),
    (
        (8, 5),
        'GridSample MeanVarianceNormalization Mod NonZero OneHot RandomNormal RandomNormalLike '
        'RoiAlign Trilu',
    ),
    ((8, 6), 'GroupNormalization IsInf LayerNormalization'),
    ((10, 0), 'CastLike DeformConv Gelu Hardmax Mish'),
)


def _ops_for(version: Tuple[int, int]) -> frozenset:
    ops = set(_OPS_8_0)
    for since, names in _OPS_ADDED:
        if version >= since:
            ops.update(names.split())
    return frozenset(ops)


# ONNX TensorProto data types by number (literals: onnx 1.10, the last for Python 3.6, lacks the
# newest names).
_ONNX_TYPE_NAMES = {
    1: 'FLOAT',
    2: 'UINT8',
    3: 'INT8',
    4: 'UINT16',
    5: 'INT16',
    6: 'INT32',
    7: 'INT64',
    8: 'STRING',
    9: 'BOOL',
    10: 'FLOAT16',
    11: 'DOUBLE',
    12: 'UINT32',
    13: 'UINT64',
    14: 'COMPLEX64',
    15: 'COMPLEX128',
    16: 'BFLOAT16',
    17: 'FLOAT8E4M3FN',
    18: 'FLOAT8E4M3FNUZ',
    19: 'FLOAT8E5M2',
    20: 'FLOAT8E5M2FNUZ',
    21: 'UINT4',
    22: 'INT4',
}
FLOAT, UINT8, INT8, INT32, INT64, BOOL, FLOAT16, DOUBLE, BFLOAT16 = 1, 2, 3, 6, 7, 9, 10, 11, 16


def _trt_type(onnx_type: int, version: Tuple[int, int]) -> Optional[str]:
    """Return the TensorRT type this parser's ``convertDtype`` gives an ONNX type, or None."""
    base = {
        FLOAT: 'FLOAT',
        DOUBLE: 'FLOAT',
        FLOAT16: 'HALF',
        INT8: 'INT8',
        BOOL: 'BOOL',
        INT32: 'INT32',
        INT64: 'INT32',
    }
    if version >= (8, 5):
        base[UINT8] = 'UINT8'
    if version >= (10, 0):
        base.update({BFLOAT16: 'BF16', INT64: 'INT64', 17: 'FP8', 22: 'INT4'})
    return base.get(onnx_type)


def _type_name(onnx_type: Optional[int]) -> str:
    return _ONNX_TYPE_NAMES.get(onnx_type, str(onnx_type)) if onnx_type is not None else 'unknown'


class AuditFinding(NamedTuple):
    """
    One node a TensorRT parser would refuse (or import with a different meaning).

    ``node``: the ONNX node name (``(graph)`` for model-level findings, ``(unnamed Op -> output)``
    when the node has no name); ``op``: its op type; ``rule``: what the parser of the audited
    target does and where that is written upstream; ``fix``: how to make the graph acceptable.
    """

    node: str
    op: str
    rule: str
    fix: str

    def __str__(self) -> str:
        """One line: ``node 'NAME' (Op): rule; fix: ...``."""
        return "node '{}' ({}): {}; fix: {}".format(self.node, self.op, self.rule, self.fix)


# ------------------------------------------------------------------------------------------------
# versions


def target_for_trt_version(version: str) -> str:
    """
    Return the audit target whose rules apply to the running TensorRT ``version``.

    ``version`` is ``trt.__version__``.

    ``'8.0.x'``/``'8.1.x'`` -> ``trt8.0``; ``'8.2.x'``/``'8.3.x'`` -> ``trt8.2`` (JetPack 4.6.1+,
    ``allowzero`` bug); ``'8.4.x'`` -> ``trt8.4`` (``allowzero`` read with a default, opset 17);
    ``'8.5.x'`` -> ``trt8.5``; ``'8.6.x'`` and 9.x (whose parser is a superset of 8.6's; audited
    with 8.6's rules) -> ``trt8.6``; ``'10.x'`` -> ``trt10`` (rules of onnx-tensorrt 10.1-GA; later
    10.x parsers only add importers). Raises ValueError (one line) for an unparsable string or a
    major version outside 8-10 (7.x, 11.x).
    """
    m = re.match(r'^\s*(\d+)\.(\d+)', str(version))
    if not m:
        raise ValueError(
            'TensorRT version {!r} is not of the form MAJOR.MINOR[.PATCH]'.format(version)
        )
    major, minor = int(m.group(1)), int(m.group(2))
    if major == 8:
        if minor <= 1:
            return 'trt8.0'
        if minor <= 3:
            return 'trt8.2'
        if minor == 4:
            return 'trt8.4'
        if minor == 5:
            return 'trt8.5'
        return 'trt8.6'
    if major == 9:
        return 'trt8.6'
    if major == 10:
        return 'trt10'
    raise ValueError(
        'TensorRT {} is not supported: the audit knows the ONNX parsers of TensorRT 8.0 to 10.x '
        '(Jetson Nano: 8.2; use 8.x or 10.x)'.format(version)
    )


def _parser(target: str) -> _Parser:
    try:
        return _PARSERS[target]
    except (KeyError, TypeError):
        raise ValueError(
            'unknown TensorRT target {!r} (choose from {})'.format(target, ', '.join(ALL_TARGETS))
        ) from None


def target_description(target: str) -> str:
    """
    Return a one-line description of ``target``.

    For example
    ``'trt8.2 (TensorRT 8.2-8.3 (JetPack 4.6.1+); onnx-tensorrt 8.2-GA, opset <= 13)'``.
    Raises ValueError for an unknown target.
    """
    p = _parser(target)
    return '{} ({}; onnx-tensorrt {} rules, opset {}-{})'.format(
        target, p.label, p.branch, p.min_opset, p.max_opset
    )


def max_opset(target: str) -> int:
    """
    Return the highest ONNX opset the target's parser documents.

    The source is docs/operators.md of its onnx-tensorrt branch.
    """
    return _parser(target).max_opset


# ------------------------------------------------------------------------------------------------
# loading


def load_model(model: Union[onnx.ModelProto, str, Path]) -> onnx.ModelProto:
    """
    ``model`` itself, or the ONNX file at that path.

    ValueError (one line) if it cannot be read.
    """
    if isinstance(model, onnx.ModelProto):
        return model
    if not isinstance(model, (str, Path)):
        raise ValueError(
            'expected an onnx.ModelProto or a path to a .onnx file, got {}'.format(
                type(model).__name__
            )
        )
    path = Path(model)
    if not path.is_file():
        raise ValueError('{}: no such ONNX file'.format(path))
    if path.stat().st_size == 0:
        raise ValueError('{}: ONNX file is empty'.format(path))
    try:
        loaded = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, external-data OSError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            '{}: not a readable ONNX model (corrupt or truncated?): {}'.format(path, first)
        ) from None
    if not loaded.graph.node:
        raise ValueError(
            '{}: ONNX graph has no nodes (not an ONNX model, or truncated)'.format(path)
        )
    return loaded


# ------------------------------------------------------------------------------------------------
# the audit

_RESIZE_COORD_MODES = (
    'half_pixel',
    'pytorch_half_pixel',
    'tf_half_pixel_for_nn',
    'asymmetric',
    'align_corners',
)
_NO_BOOL_ELEMENTWISE = (
    'Add',
    'Sub',
    'Mul',
    'Div',
    'Max',
    'Min',
    'Greater',
    'Less',
    'Sum',
    'Mean',
    'GreaterOrEqual',
    'LessOrEqual',
)
_BOOL_ONLY = ('And', 'Or', 'Xor')
_REDUCE_OPS = (
    'ReduceL1',
    'ReduceL2',
    'ReduceLogSum',
    'ReduceLogSumExp',
    'ReduceMax',
    'ReduceMean',
    'ReduceMin',
    'ReduceProd',
    'ReduceSum',
    'ReduceSumSquare',
)
_POOL_OPS = ('MaxPool', 'AveragePool', 'LpPool')
_FOLD = (
    'constant-fold the graph (onnxslim, as tools/export_onnx.py does) so it becomes an initializer'
)


def _invalid_input_types(op: str, v: Tuple[int, int]) -> Dict[int, Tuple[str, ...]]:
    """
    Per input index, the TensorRT types the op's importer refuses on parser version ``v``.

    From the explicit ``getType() != kX`` asserts of 8.0-8.4 and the ``notInvalidType`` lists of
    8.5+.
    """
    old = v < (8, 5)
    table = {
        'Gather': {0: ('BOOL',) if old else ('UINT8',)},
        'GatherElements': {0: ('BOOL',) if old else ('UINT8',)},
        'GatherND': {0: ('BOOL',) if old else ('UINT8',)},
        'DepthToSpace': {0: ('BOOL', 'UINT8')},
        'SpaceToDepth': {0: ('BOOL', 'UINT8')},
        'LpNormalization': {0: ('BOOL', 'INT8', 'INT32')},
        'LpPool': {0: ('BOOL', 'INT8', 'INT32')},
        'MatMul': {0: ('INT32', 'INT64'), 1: ('INT32', 'INT64')},
        'Gemm': {0: ('INT32', 'INT64'), 1: ('INT32', 'INT64')},
        'PRelu': {0: ('INT32', 'INT64'), 1: ('INT32', 'INT64')},
        'Resize': {0: ('INT32', 'BOOL') if old else ('BOOL', 'UINT8')},
        'Upsample': {0: ('INT32', 'BOOL') if old else ('BOOL', 'UINT8')},
        'TopK': {
            0: ('INT32',) if v < (8, 5) else (('INT32', 'UINT8') if v < (8, 6) else ('UINT8',))
        },
        'Where': {1: ('BOOL',) if old else ('UINT8',), 2: ('BOOL',) if old else ('UINT8',)},
        'Tile': {0: ('BOOL',) if v < (8, 2) else ('UINT8',)},
        'HardSwish': {0: ('BOOL',)},
        'Hardmax': {0: ('INT64', 'INT32', 'INT8', 'UINT8', 'BOOL')},
        'GridSample': {0: ('BOOL', 'UINT8'), 1: ('BOOL', 'UINT8')},
    }
    for name in (
        'Clip',
        'Concat',
        'Einsum',
        'Expand',
        'EyeLike',
        'Mod',
        'Pad',
        'ReverseSequence',
        'Slice',
        'Split',
        'Trilu',
        'QuantizeLinear',
        'DequantizeLinear',
    ):
        table.setdefault(name, {0: ('UINT8',)})
    return table.get(op, {})


class _Graph:
    """
    What the audit needs to know about one (sub)graph.

    Constants, foldable values, types, producers.
    """

    def __init__(
        self, graph: onnx.GraphProto, types: Dict[str, int], outer_consts: Dict[str, Any]
    ) -> None:
        self.graph = graph
        self.types = types
        self.consts = dict(outer_consts)  # name -> TensorProto (initializer / Constant value)
        for init in graph.initializer:
            self.consts[init.name] = init
        self.producer = {}  # type: Dict[str, onnx.NodeProto]
        self.consumers = {}  # type: Dict[str, List[onnx.NodeProto]]
        for node in graph.node:
            for o in node.output:
                if o:
                    self.producer[o] = node
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
            if node.op_type == 'Constant' and node.domain in ('', 'ai.onnx') and node.output:
                value = _constant_value(node)
                if value is not None:
                    self.consts[node.output[0]] = value
        graph_inputs = {i.name for i in graph.input} - {i.name for i in graph.initializer}
        self.foldable = set()  # names computed from constants only
        for node in graph.node:  # nodes are topologically sorted (onnx.checker requires it)
            ins = [i for i in node.input if i]
            if node.op_type in (
                'RandomNormal',
                'RandomUniform',
                'RandomNormalLike',
                'RandomUniformLike',
            ):
                continue
            if ins and all(
                (i in self.consts or i in self.foldable) and i not in graph_inputs for i in ins
            ):
                self.foldable.update(o for o in node.output if o)

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def value(self, name: str) -> Optional[np.ndarray]:
        t = self.consts.get(name)
        if t is None:
            return None
        try:
            return numpy_helper.to_array(t)
        except Exception:  # external data not loaded, odd types
            return None

    def dtype(self, name: str) -> Optional[int]:
        t = self.consts.get(name)
        if t is not None:
            return int(t.data_type)
        return self.types.get(name)


def _constant_value(node: onnx.NodeProto) -> Optional[onnx.TensorProto]:
    """
    Return the TensorProto a Constant node produces.

    ``value`` or the opset-12+ scalar/list attributes.
    """
    for a in node.attribute:
        if a.name == 'value':
            return a.t
        if a.name == 'value_float':
            return numpy_helper.from_array(np.array(a.f, np.float32))
        if a.name == 'value_floats':
            return numpy_helper.from_array(np.array(list(a.floats), np.float32))
        if a.name == 'value_int':
            return numpy_helper.from_array(np.array(a.i, np.int64))
        if a.name == 'value_ints':
            return numpy_helper.from_array(np.array(list(a.ints), np.int64))
    return None


def _attr(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value
    return default


def _has_attr(node: onnx.NodeProto, name: str) -> bool:
    return any(a.name == name for a in node.attribute)


def _node_name(node: onnx.NodeProto) -> str:
    if node.name:
        return node.name
    out = next((o for o in node.output if o), '?')
    return '(unnamed {} -> {})'.format(node.op_type, out)


def _value_types(model: onnx.ModelProto) -> Dict[str, int]:
    """
    Element type of every named value.

    Graph inputs/outputs, value_info, and onnx shape inference.
    """
    types = {}  # type: Dict[str, int]

    def collect(graph: onnx.GraphProto) -> None:
        for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
            if vi.type.HasField('tensor_type') and vi.type.tensor_type.elem_type:
                types.setdefault(vi.name, int(vi.type.tensor_type.elem_type))
        for init in graph.initializer:
            types[init.name] = int(init.data_type)
        for node in graph.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    collect(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for g in a.graphs:
                        collect(g)

    collect(model.graph)
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
        collect(inferred.graph)
    except Exception:  # custom ops, > 2 GB models: types stay as declared
        pass
    return types


def onnx_opset(model: onnx.ModelProto) -> int:
    """Return the model's ai.onnx opset (0 if it declares none)."""
    for imp in model.opset_import:
        if imp.domain in ('', 'ai.onnx'):
            return int(imp.version)
    return 0


class _Audit:
    """Runs every rule of one target over one model."""

    def __init__(self, model: onnx.ModelProto, target: str) -> None:
        self.parser = _parser(target)
        self.target = target
        self.v = self.parser.version
        self.model = model
        self.opset = onnx_opset(model)
        self.ops = _ops_for(self.v)
        self.functions = {(f.domain, f.name) for f in getattr(model, 'functions', [])}
        self.types = _value_types(model)
        self.blockers = []  # type: List[AuditFinding]
        self.notes = []  # type: List[AuditFinding]
        self.where = 'onnx-tensorrt {}'.format(self.parser.branch)

    # -- helpers
    def block(self, node: Optional[onnx.NodeProto], rule: str, fix: str, op: str = '') -> None:
        name = _node_name(node) if node is not None else '(graph)'
        self.blockers.append(
            AuditFinding(name, node.op_type if node is not None else op, rule, fix)
        )

    def note(self, node: Optional[onnx.NodeProto], rule: str, fix: str, op: str = '') -> None:
        name = _node_name(node) if node is not None else '(graph)'
        self.notes.append(AuditFinding(name, node.op_type if node is not None else op, rule, fix))

    def tname(self) -> str:
        return '{} ({})'.format(self.parser.label, self.where)

    def need_const(self, g: _Graph, node: onnx.NodeProto, idx: int, what: str, src: str) -> None:
        """Block when input ``idx`` is present and not an initializer / Constant output."""
        if len(node.input) <= idx or not node.input[idx] or g.is_const(node.input[idx]):
            return
        name = node.input[idx]
        fix = (
            _FOLD
            if name in g.foldable
            else 'compute {!r} at export time so it is an initializer'.format(name)
        )
        self.block(
            node,
            '{} input {!r} must be an initializer or Constant on {} ({}); it is computed in the '
            'graph'.format(what, name, self.parser.label, src),
            fix,
        )

    # -- entry
    def run(self) -> Tuple[List[AuditFinding], List[AuditFinding]]:
        self.check_model()
        self.check_graph(self.model.graph, {}, top=True)
        return self.blockers, self.notes

    def check_model(self) -> None:
        p = self.parser
        if self.opset > p.max_opset:
            self.block(
                None,
                'ai.onnx opset {} is above {}, the highest the {} parser documents '
                '(docs/operators.md of {}); '
                'ops whose semantics changed after it are imported wrongly or refused'.format(
                    self.opset, p.max_opset, p.label, self.where
                ),
                'export with --target trt8.2 (opset 13){}'.format(
                    '' if p.max_opset < 17 else ' or --target trt8.6 (opset 17)'
                ),
                op='opset',
            )
        elif 0 < self.opset < p.min_opset:
            text = 'ai.onnx opset {} is below {}, the lowest the {} parser supports ({})'.format(
                self.opset, p.min_opset, p.label, self.where
            )
            fix = 'export with opset >= 13'
            if p.min_opset_blocks:
                self.block(None, text, fix, op='opset')
            else:
                self.note(None, text + ' (a warning on 8.x)', fix, op='opset')
        v = self.v
        for kind, values in (
            ('input', self.model.graph.input),
            ('output', self.model.graph.output),
        ):
            for vi in values:
                t = vi.type.tensor_type.elem_type if vi.type.HasField('tensor_type') else 0
                if t and _trt_type(t, v) is None:
                    self.block(
                        None,
                        'graph {} {!r} has type {}, which {} cannot represent '
                        '(convertDtype, {})'.format(
                            kind, vi.name, _type_name(t), p.label, self.where
                        ),
                        'use float32 (or int32/bool) graph inputs and outputs',
                        op='io',
                    )
                if kind == 'output' and v < (10, 0) and t == INT64:
                    self.note(
                        None,
                        'graph output {!r} is INT64: {} computes and returns it as INT32'.format(
                            vi.name, p.label
                        ),
                        'read that engine output as int32',
                        op='io',
                    )
        inits = {i.name for i in self.model.graph.initializer}
        for vi in self.model.graph.input:
            if vi.name in inits or not vi.type.HasField('tensor_type'):
                continue
            dims = vi.type.tensor_type.shape.dim
            if any(not d.HasField('dim_value') or d.dim_value <= 0 for d in dims):
                self.note(
                    None,
                    'graph input {!r} has dynamic dimensions: TensorRT needs an optimization '
                    'profile '
                    'for it (tools/build_engine.py builds static 1x3xHxW bundles)'.format(vi.name),
                    'export with a static input shape (the bundle contract)',
                    op='io',
                )
        if self.model.ir_version > 7 and v < (8, 4):
            self.note(
                None,
                'ONNX IR version {} is newer than the 8.0/8.2 parser was built for (IR 7): it '
                'warns and '
                'parses'.format(self.model.ir_version),
                'none needed',
                op='ir_version',
            )

    def check_graph(
        self, graph: onnx.GraphProto, outer: Dict[str, Any], top: bool = False
    ) -> None:
        g = _Graph(graph, self.types, outer)
        for init in graph.initializer:
            self.check_initializer(init)
        for node in graph.node:
            self.check_node(g, node)
            for (
                a
            ) in node.attribute:  # If / Loop / Scan bodies: same rules, outer constants visible
                if a.type == onnx.AttributeProto.GRAPH:
                    self.check_graph(a.g, g.consts)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sub in a.graphs:
                        self.check_graph(sub, g.consts)

    def check_initializer(self, init: onnx.TensorProto) -> None:
        t = int(init.data_type)
        if (
            _trt_type(t, self.v) is None and t != UINT8
        ):  # UINT8 weights are converted to INT32 (convertOnnxWeights)
            self.block(
                None,
                'initializer {!r} has type {}, which {} cannot import '
                '(convertOnnxWeights, {})'.format(
                    init.name, _type_name(t), self.parser.label, self.where
                ),
                'store it as float32, float16 or int32',
                op='initializer',
            )
        if t == INT64 and self.v < (10, 0) and init.data_location != onnx.TensorProto.EXTERNAL:
            try:
                arr = numpy_helper.to_array(init)
            except Exception:
                return
            big = (
                arr[(arr > np.iinfo(np.int32).max) | (arr < np.iinfo(np.int32).min)]
                if arr.size
                else arr
            )
            if big.size and not np.all(
                np.abs(big) >= np.iinfo(np.int64).max // 2
            ):  # INT64_MAX "to the end" is fine
                self.note(
                    None,
                    'INT64 initializer {!r} holds values outside int32 ({}); {} clamps them to '
                    '+-INT_MAX '
                    '(convertINT64)'.format(
                        init.name, big.ravel()[:3].tolist(), self.parser.label
                    ),
                    'keep integer constants within int32',
                    op='initializer',
                )

    # -- per node
    def check_node(self, g: _Graph, node: onnx.NodeProto) -> None:
        op = node.op_type
        v = self.v
        p = self.parser
        if node.domain not in ('', 'ai.onnx'):
            if v >= (10, 0) and (node.domain, op) in self.functions:
                return  # 10.x inlines model-local functions (LocalFunctionImporter)
            if op not in self.ops:
                rule = (
                    'op {}::{} is not an ONNX standard op and {} has no importer or plugin for it '
                    '({}: '
                    'FallbackPluginImporter "Plugin not found")'
                ).format(node.domain, op, p.label, self.where)
                self.block(
                    node,
                    rule,
                    'export standard ONNX ops only (no onnxruntime contrib / custom domains)',
                )
                return
        if op not in self.ops:
            self.block(
                node,
                'no importer for {} in {} '
                '(docs/operators.md and builtin_op_importers.cpp of {}{})'.format(
                    op,
                    p.label,
                    self.where,
                    '; added in {}'.format(_added_in(op)) if _added_in(op) else '',
                ),
                _op_fix(op, self.target),
            )
            return
        self.check_types(g, node)
        handler = getattr(self, '_op_' + op, None)
        if handler is not None:
            handler(g, node)
        if op in _REDUCE_OPS:
            self._reduce(g, node)
        if op in _POOL_OPS:
            self._pool(g, node)

    def check_types(self, g: _Graph, node: onnx.NodeProto) -> None:
        v = self.v
        op = node.op_type
        for idx, bad in _invalid_input_types(op, v).items():
            if idx < len(node.input) and node.input[idx]:
                t = g.dtype(node.input[idx])
                tt = _trt_type(t, v) if t is not None else None
                if tt in bad:
                    extra = (
                        ' (BOOL data into Gather: 8.5 lifted it)'
                        if op.startswith('Gather') and tt == 'BOOL'
                        else ''
                    )
                    self.block(
                        node,
                        'input {} {!r} is {} ({} in TensorRT), which the {} importer of {} '
                        'refuses{} '
                        '({})'.format(
                            idx,
                            node.input[idx],
                            _type_name(t),
                            tt,
                            op,
                            self.parser.label,
                            extra,
                            self.where,
                        ),
                        'Cast it to a supported type (e.g. INT32 for BOOL/UINT8 data, FLOAT for '
                        'INT32 math) '
                        'before the {}'.format(op),
                    )
        ins = [i for i in node.input if i]
        types = [g.dtype(i) for i in ins]
        trt = [_trt_type(t, v) if t is not None else None for t in types]
        if op in _NO_BOOL_ELEMENTWISE and 'BOOL' in trt:
            self.block(
                node,
                '{} on BOOL inputs: elementwiseCheck refuses BOOL for this operation ({})'.format(
                    op, self.where
                ),
                'Cast the BOOL inputs to INT32 or FLOAT first, or use And/Or/Not',
            )
        if op == 'Equal' and 'BOOL' in trt and v < (8, 5):
            self.block(
                node,
                'Equal on BOOL inputs: elementwiseCheck refuses BOOL for kEQUAL '
                'before 8.5 ({})'.format(self.where),
                'Cast the BOOL inputs to INT32 first (or use Xor/Not)',
            )
        if op == 'Pow' and any(x in ('BOOL', 'INT32', 'INT64') for x in trt):
            self.block(
                node,
                'Pow on integer/BOOL inputs: elementwiseCheck allows only floating point '
                '({})'.format(self.where),
                'Cast to FLOAT first',
            )
        if op in _BOOL_ONLY and any(x is not None and x != 'BOOL' for x in trt):
            self.block(
                node,
                '{} on non-BOOL inputs: elementwiseCheck needs BOOL ({})'.format(op, self.where),
                'Cast the inputs to BOOL first',
            )
        if op == 'Cast':
            to = _attr(node, 'to')
            if to is not None and _trt_type(int(to), v) is None:
                self.block(
                    node,
                    'Cast to {}: {} cannot represent that type (convertDtype, {})'.format(
                        _type_name(int(to)), self.parser.label, self.where
                    ),
                    'Cast to INT32, FLOAT, FLOAT16 or BOOL',
                )

    # -- op rules (method name _op_<OpType>)
    def _op_Reshape(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 14 and self.v < (8, 4) and not _has_attr(node, 'allowzero'):
            rule = (
                'Reshape at opset {} without an allowzero attribute: the {} importer reads it '
                'with '
                'attrs.get<int>("allowzero") and no default ("Attribute not found: allowzero"; '
                '{}: '
                'builtin_op_importers.cpp; fixed in 8.4)'
            ).format(self.opset, self.parser.label, self.where)
            self.block(
                node,
                rule,
                'set allowzero=0 on every Reshape (same meaning; export does) or export at opset '
                '13',
            )

    def _op_TopK(self, g: _Graph, node: onnx.NodeProto) -> None:
        v = self.v
        if self.opset >= 10 and len(node.input) > 1:
            if v < (8, 6):
                self.need_const(
                    g,
                    node,
                    1,
                    'TopK K',
                    'builtin_op_importers.cpp: "only supports input K as an initializer"',
                )
            k = g.value(node.input[1])
            limit = 1024 if v < (8, 4) else 3840
            if k is not None and k.size == 1 and int(k.ravel()[0]) > limit:
                rule = (
                    'TopK K = {} is above {}, the largest K {} supports (NvInfer.h addTopK; '
                    'docs/operators.md 10.x: K < 3840)'
                ).format(int(k.ravel()[0]), limit, self.parser.label)
                self.block(
                    node,
                    rule,
                    'reduce K (e.g. pre-select with MaxPool peaks or a threshold) to <= {}'.format(
                        limit
                    ),
                )
        elif self.opset < 10 and int(_attr(node, 'k', 0) or 0) > (1024 if v < (8, 4) else 3840):
            self.block(node, 'TopK k attribute above the supported maximum', 'reduce k')
        if self.opset >= 11 and int(_attr(node, 'largest', 1)) == 0 and v < (8, 5):
            self.block(
                node,
                'TopK largest=0: the {} importer always adds a kMAX TopK (the attribute is '
                'ignored, '
                'results silently wrong; {}; honoured from 8.5)'.format(
                    self.parser.label, self.where
                ),
                'negate the input and use largest=1',
            )

    def _op_Clip(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset < 11:
            return
        v = self.v
        bounds = [i for i in node.input[1:3] if i]
        data_type = g.dtype(node.input[0]) if node.input else None
        tt = _trt_type(data_type, v) if data_type is not None else None
        if any(not g.is_const(b) for b in bounds):
            allowed = (
                ('FLOAT', 'INT32')
                if v < (8, 5)
                else (
                    ('FLOAT', 'HALF', 'INT32')
                    if v < (10, 0)
                    else ('FLOAT', 'HALF', 'BF16', 'INT32', 'INT64')
                )
            )
            if tt is not None and tt not in allowed:
                self.block(
                    node,
                    'Clip with computed min/max bounds on {} input: the elementwise path of {} '
                    'takes '
                    'only {} ({})'.format(
                        _type_name(data_type), self.parser.label, '/'.join(allowed), self.where
                    ),
                    'make the Clip bounds initializers ({}) or compute in float32'.format(_FOLD),
                )
        if v < (8, 5) and tt in ('FLOAT', 'HALF'):
            for b in bounds:
                if g.is_const(b) and g.dtype(b) == FLOAT16 and all(g.is_const(x) for x in bounds):
                    self.block(
                        node,
                        'Clip bound {!r} is an FP16 constant: the {} importer reads it as a '
                        'float32 '
                        '(static_cast<float*>; bounds silently wrong; fixed in 8.5 by '
                        'getSingleValueAsFloat)'.format(b, self.parser.label),
                        'export an FP32 graph (TensorRT builds FP16 itself: build_engine '
                        '--precision fp16)',
                    )
                    break

    def _op_Conv(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.v < (8, 5):
            self.need_const(
                g,
                node,
                2,
                'Conv bias',
                'builtin_op_importers.cpp: "The bias tensor is required to be an initializer"',
            )

    def _op_ConvTranspose(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.v < (8, 2):
            self.need_const(
                g,
                node,
                1,
                'ConvTranspose weights',
                'builtin_op_importers.cpp: "ConvTranspose weights must be an initializer"',
            )
        if self.v < (8, 5):
            self.need_const(
                g, node, 2, 'ConvTranspose bias', 'builtin_op_importers.cpp: bias is_weights()'
            )

    def _op_Squeeze(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 13:
            self.need_const(
                g, node, 1, 'Squeeze axes', 'docs/operators.md: "`axes` must be an initializer"'
            )

    def _op_Unsqueeze(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 13:
            self.need_const(
                g,
                node,
                1,
                'Unsqueeze axes',
                'docs/operators.md: "`axes` must be a constant tensor"',
            )

    def _op_Slice(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 10:
            self.need_const(
                g, node, 3, 'Slice axes', 'docs/operators.md: "`axes` must be an initializer"'
            )

    def _op_CumSum(self, g: _Graph, node: onnx.NodeProto) -> None:
        self.need_const(
            g, node, 1, 'CumSum axis', 'docs/operators.md: "`axis` must be an initializer"'
        )

    def _reduce(self, g: _Graph, node: onnx.NodeProto) -> None:
        takes_input = self.opset >= 18 or (node.op_type == 'ReduceSum' and self.opset >= 13)
        if takes_input:
            self.need_const(
                g,
                node,
                1,
                '{} axes'.format(node.op_type),
                'onnx2trt_utils.cpp reduceTensor: "Axis input must be an initializer!"',
            )

    def _pool(self, g: _Graph, node: onnx.NodeProto) -> None:
        dil = _attr(node, 'dilations')
        if dil and any(int(d) != 1 for d in dil):
            self.block(
                node,
                '{} with dilations {}: pooling supports dilations of 1 only ({}; '
                'docs/operators.md '
                '10.x)'.format(node.op_type, list(dil), self.where),
                'use dilations of 1',
            )

    def _op_MaxPool(self, g: _Graph, node: onnx.NodeProto) -> None:
        if len([o for o in node.output if o]) > 1:
            self.block(
                node,
                'MaxPool with the Indices output: unsupported ("TensorRT does not support the '
                'indices '
                'output in MaxPool!", {})'.format(self.where),
                'drop the indices output',
            )

    def _op_Resize(self, g: _Graph, node: onnx.NodeProto) -> None:
        v = self.v
        if self.opset < 11:
            return
        mode = _attr(node, 'mode', 'nearest')
        if mode == 'cubic' and v < (8, 5):
            self.block(
                node,
                'Resize mode cubic: "This version of TensorRT does not support cubic '
                'interpolation!" '
                '({}; cubic from 8.5)'.format(self.where),
                "use mode 'linear'",
            )
        elif mode not in ('nearest', 'linear', 'cubic'):
            self.block(
                node, 'Resize mode {!r} is not nearest/linear/cubic'.format(mode), "use 'linear'"
            )
        coord = _attr(node, 'coordinate_transformation_mode', 'half_pixel')
        if coord not in _RESIZE_COORD_MODES:
            self.block(
                node,
                'Resize coordinate_transformation_mode {!r}: {} supports only {} '
                '(docs/operators.md, '
                '{})'.format(coord, self.parser.label, ', '.join(_RESIZE_COORD_MODES), self.where),
                "use 'half_pixel' (torch align_corners=False) or 'align_corners'",
            )
        nearest_mode = _attr(node, 'nearest_mode', 'round_prefer_floor')
        if (
            coord == 'tf_half_pixel_for_nn'
            and nearest_mode != 'round_prefer_floor'
            and v < (10, 0)
        ):
            self.block(
                node,
                'Resize tf_half_pixel_for_nn with nearest_mode {!r}: only round_prefer_floor '
                '({})'.format(nearest_mode, self.where),
                "use nearest_mode 'round_prefer_floor'",
            )
        if int(_attr(node, 'antialias', 0) or 0):
            self.block(
                node,
                'Resize antialias=1: not supported (docs/operators.md 10.x: "Antialiasing is not '
                'supported")',
                'use antialias=0',
            )
        policy = _attr(node, 'keep_aspect_ratio_policy', 'stretch')
        if policy != 'stretch':
            self.block(
                node,
                'Resize keep_aspect_ratio_policy {!r}: only stretch '
                '(docs/operators.md 10.x)'.format(policy),
                "compute explicit sizes and use 'stretch'",
            )
        has_sizes = len(node.input) >= 4 and bool(node.input[3])
        if len(node.input) >= 4 and not node.input[3] and v < (8, 4):
            self.block(
                node,
                'Resize with an empty 4th input (sizes): the {} importer converts the absent '
                'sizes to a '
                'tensor ("inputs.size() == 4", {}; fixed in 8.4)'.format(
                    self.parser.label, self.where
                ),
                'drop the trailing empty input (scales only)',
            )
        if not has_sizes and len(node.input) >= 3 and node.input[2]:
            if v < (8, 4):
                self.need_const(
                    g,
                    node,
                    2,
                    'Resize scales',
                    'builtin_op_importers.cpp: "Resize scales must be an initializer!"',
                )
            scales = g.value(node.input[2])
            if scales is not None and scales.size:
                keep = 3 if mode == 'linear' else (2 if mode == 'cubic' else scales.size)
                lead = scales.ravel()[: max(0, scales.size - keep)]
                if np.any(lead != 1):
                    rule = (
                        'Resize {} with scales {} on more than the innermost {} dimensions '
                        '({}, {})'
                    ).format(
                        mode,
                        scales.ravel().tolist(),
                        keep,
                        'canUseLinearResize/canUseNDResize',
                        self.where,
                    )
                    self.block(node, rule, 'resize only the innermost (spatial) dimensions')

    def _op_Upsample(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 9 and self.v < (8, 4):
            self.need_const(
                g,
                node,
                1,
                'Upsample scales',
                'builtin_op_importers.cpp: "The scales input must be an initializer."',
            )
        mode = _attr(node, 'mode', 'nearest')
        allowed = ('nearest', 'linear') if self.v < (8, 6) else ('nearest', 'linear', 'bilinear')
        if mode not in allowed:
            self.block(
                node,
                'Upsample mode {!r}: only {} ({})'.format(mode, '/'.join(allowed), self.where),
                "use Resize with mode 'linear'",
            )

    def _op_InstanceNormalization(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.v < (8, 6):
            for i, what in ((1, 'scale'), (2, 'bias')):
                self.need_const(
                    g,
                    node,
                    i,
                    'InstanceNormalization ' + what,
                    'builtin_op_importers.cpp: '
                    '"The {} tensor is required to be an initializer."'.format(what),
                )

    def _op_NonMaxSuppression(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.v < (8, 5):
            for i, what in (
                (2, 'max_output_boxes_per_class'),
                (3, 'iou_threshold'),
                (4, 'score_threshold'),
            ):
                self.need_const(g, node, i, 'NonMaxSuppression ' + what, 'docs/operators.md 8.2')

    def _op_Dropout(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.opset >= 12 and len(node.input) > 2 and node.input[2]:
            self.need_const(g, node, 2, 'Dropout training_mode', 'builtin_op_importers.cpp')
            mode = g.value(node.input[2])
            if mode is not None and mode.size and bool(mode.ravel()[0]):
                self.block(
                    node,
                    'Dropout in training mode: unsupported ({})'.format(self.where),
                    'export in eval mode',
                )

    def _op_Pad(self, g: _Graph, node: onnx.NodeProto) -> None:
        mode = _attr(node, 'mode', 'constant')
        allowed = ('constant', 'reflect', 'edge') + (('wrap',) if self.v >= (10, 0) else ())
        if mode not in allowed:
            self.block(
                node,
                'Pad mode {!r}: "Unsupported pad mode" (only {}; {})'.format(
                    mode, '/'.join(allowed), self.where
                ),
                "use mode 'constant', 'reflect' or 'edge'",
            )
        if self.opset >= 18:
            self.need_const(
                g, node, 3, 'Pad axes', 'docs/operators.md 10.x: "`axes` must be an initializer"'
            )

    def _op_Range(self, g: _Graph, node: onnx.NodeProto) -> None:
        if self.v >= (8, 4):
            return
        t = g.dtype(node.input[0]) if node.input else None
        if t in (FLOAT, DOUBLE, FLOAT16) and not all(g.is_const(i) for i in node.input[:3] if i):
            self.block(
                node,
                'Range on floating-point inputs that are not all initializers: "For range '
                'operator '
                'with dynamic inputs, this version of TensorRT only supports INT32!" ({})'.format(
                    self.where
                ),
                'use INT32 Range inputs or make start/limit/delta initializers',
            )

    def _qdq(self, g: _Graph, node: onnx.NodeProto, check_zp_type: bool = True) -> None:
        v = self.v
        if len(node.input) < 3 or not node.input[2]:
            self.block(
                node,
                '{} without a zero point: INT8 Q/DQ needs 3 inputs ("requires 3 inputs", {}) and '
                'ONNX '
                'then means UINT8'.format(node.op_type, self.where),
                'quantize with QuantType.QInt8 symmetric (zero point 0, INT8): '
                'ActivationSymmetric/'
                'WeightSymmetric',
            )
        else:
            zp_type = g.dtype(node.input[2])
            if (
                check_zp_type
                and zp_type is not None
                and zp_type != INT8
                and not (v >= (10, 0) and zp_type in (17, 22))
            ):
                self.block(
                    node,
                    '{} zero point {!r} is {}: TensorRT quantizes to INT8{} only (8.5+: '
                    'notInvalidType '
                    'UINT8; 10.x: UINT8 zero points are replaced by INT8)'.format(
                        node.op_type,
                        node.input[2],
                        _type_name(zp_type),
                        '' if v < (10, 0) else '/FP8/INT4',
                    ),
                    'quantize with QuantType.QInt8 (symmetric)',
                )
            zp = g.value(node.input[2])
            if zp is not None and zp.size and np.any(zp != 0):
                self.block(
                    node,
                    '{} zero point is not all zeros: "TRT only supports symmetric quantization - '
                    'zeroPt '
                    'must be all zeros" ({})'.format(node.op_type, self.where),
                    'symmetric quantization (ActivationSymmetric=True, WeightSymmetric=True)',
                )
        if len(node.input) > 1:
            scale = g.value(node.input[1])
            if scale is not None and scale.size and np.any(scale.astype(np.float64) <= 0):
                self.block(
                    node,
                    '{} scale has values <= 0: '
                    '"Scale coefficients must all be positive" ({})'.format(
                        node.op_type, self.where
                    ),
                    'recalibrate (a zero-range tensor: keep that node in float)',
                )

    def _op_QuantizeLinear(self, g: _Graph, node: onnx.NodeProto) -> None:
        self._qdq(g, node)

    def _op_DequantizeLinear(self, g: _Graph, node: onnx.NodeProto) -> None:
        t = g.dtype(node.input[0]) if node.input else None
        allowed = (INT8,) if self.v < (10, 0) else (INT8, 17, 22)
        self._qdq(g, node, check_zp_type=t is None or t in allowed)
        if t is not None and t not in allowed:
            self.block(
                node,
                'DequantizeLinear of {} data ({!r}): TensorRT dequantizes INT8{} only '
                '(IDequantizeLayer; '
                'e.g. an INT32-quantized bias)'.format(
                    _type_name(t), node.input[0], '' if self.v < (10, 0) else '/FP8/INT4'
                ),
                'keep biases in float (quantize_static extra_options QuantizeBias=False)',
            )

    def _op_Einsum(self, g: _Graph, node: onnx.NodeProto) -> None:
        eq = str(_attr(node, 'equation', ''))
        if self.v < (10, 0) and ('...' in eq or re.search('[A-Z]', eq)):
            self.block(
                node,
                'Einsum equation {!r}: ellipsis and upper-case subscripts are not supported by {} '
                '(docs/operators.md; Einsum importer)'.format(eq, self.parser.label),
                'rewrite with explicit lower-case subscripts, or MatMul/Transpose',
            )

    def _op_LayerNormalization(self, g: _Graph, node: onnx.NodeProto) -> None:
        extra = [o for o in node.output[1:] if o and o in g.consumers]
        if extra:
            self.block(
                node,
                'LayerNormalization outputs Mean/InvStdDev {} are used: only the first output Y '
                'is '
                'supported (docs/operators.md 10.x; addNormalization)'.format(extra),
                'compute the statistics with ReduceMean if needed',
            )

    def _op_Constant(self, g: _Graph, node: onnx.NodeProto) -> None:
        bad = [
            a.name
            for a in node.attribute
            if a.name in ('sparse_value', 'value_string', 'value_strings')
        ]
        if bad:
            self.block(
                node,
                'Constant with {}: unsupported ("This version of TensorRT does not support the '
                'sparse_value, value_string and value_strings attributes.")'.format(bad[0]),
                'use a dense numeric value',
            )

    def _op_ScatterND(self, g: _Graph, node: onnx.NodeProto) -> None:
        red = _attr(node, 'reduction', 'none')
        if red not in (None, 'none'):
            self.block(
                node,
                'ScatterND reduction {!r}: not supported (8.x ignores it, silently wrong; 10.x: '
                '"Attribute reduction is not supported.")'.format(red),
                'use reduction none',
            )


def _added_in(op: str) -> str:
    for since, names in _OPS_ADDED:
        if op in names.split():
            return 'TensorRT {}.{}'.format(*since)
    return ''


def _op_fix(op: str, target: str) -> str:
    if op == 'LayerNormalization':
        return (
            'decompose it (ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add): export with --target trt8.2, '
            'which does, or '
            'target TensorRT >= 8.6'
        )
    if op == 'Gelu':
        return 'export Gelu as Erf/Mul/Add (opset < 20 does)'
    added = _added_in(op)
    if added:
        return 'replace it with ops the target imports, or target {} or newer'.format(added)
    return (
        'replace it with standard ops TensorRT imports '
        '(see docs/operators.md of the target branch)'
    )


# ------------------------------------------------------------------------------------------------
# public API


def audit(
    model: Union[onnx.ModelProto, str, Path], target: str
) -> Tuple[List[AuditFinding], List[AuditFinding]]:
    """
    Return ``(blockers, notes)`` of the target's parser for ``model``.

    Blockers: what it refuses; notes: what it accepts with a warning or a change.

    Raises ValueError (one line) for an unknown target or an unreadable file.
    """
    _parser(target)
    return _Audit(load_model(model), target).run()


def audit_model(model: Union[onnx.ModelProto, str, Path], target: str) -> List[AuditFinding]:
    """
    Return every node the ``target`` TensorRT ONNX parser would refuse, in graph order.

    An empty list means the graph parses.

    ``model``: an ``onnx.ModelProto`` or a path to a ``.onnx`` file; ``target``: one of
    :data:`TRT_TARGETS` (or a finer target from :func:`target_for_trt_version`). Rules and their
    upstream sources: the module docstring. Raises ValueError (one line) for an unknown target or
    an unreadable file.
    """
    return audit(model, target)[0]


def audit_notes(model: Union[onnx.ModelProto, str, Path], target: str) -> List[AuditFinding]:
    """
    Return what the target's parser accepts but changes or warns about.

    For example INT64 cast to INT32, dynamic inputs, ...
    """
    return audit(model, target)[1]


def format_report(
    findings: Sequence[AuditFinding], target: str, notes: Optional[Iterable[AuditFinding]] = None
) -> str:
    """
    Return a plain-text report of an audit.

    A header line naming the target and the count, then one line per finding/note.

    ``findings`` are blockers (from :func:`audit_model`), ``notes`` optional (from
    :func:`audit_notes`). Raises ValueError for an unknown target.
    """
    lines = [
        'TensorRT parser audit for {}: {}'.format(
            target_description(target),
            '{} blocker(s)'.format(len(findings)) if findings else 'no blockers',
        )
    ]
    lines.extend('  BLOCKER {}'.format(f) for f in findings)
    lines.extend('  note    {}'.format(n) for n in (notes or ()))
    return '\n'.join(lines)

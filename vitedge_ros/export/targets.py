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
Export targets: which ONNX graph each TensorRT parser target gets.

Also the graph fixes each target needs, and the audit gate.

onnx + numpy only (no torch). A target names the oldest TensorRT ONNX parser a bundle must load on:

==========  =========
=========================================================================================== target
opset      graph ==========  =========
===========================================================================================
``trt8.2``  13         default: Jetson Nano (JetPack 4.6.1+, TensorRT 8.2, onnxruntime 1.10 which
stops at opset 15);
                       LayerNorm decomposed (ReduceMean/Sub/Pow/Add/Sqrt/Div/Mul/Add), nothing
                       outside 8.2's importers. Also parses on 8.4-8.6 and 10.x (audited).
``trt8.6``  17         ``LayerNormalization`` kept (imported from 8.6), every Reshape with
``allowzero``. ``trt10``   17         as trt8.6 (10.x documents opsets 9-20). ==========  =========
===========================================================================================

The opsets come from onnx-tensorrt ``docs/operators.md`` (8.2-GA: "up to Opset 13"; 8.6-GA: "up to
Opset 17") and the onnxruntime compatibility table (see :mod:`vitedge_ros.runtime.ort_compat`).
Whatever the target, every Reshape gets an explicit ``allowzero=0`` at opset >= 14 (the default
value: numerically nothing changes) so the 8.0-8.2 importer, which reads the attribute with no
default, never meets a Reshape without it.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .trt_audit import audit_model, AuditFinding, max_opset, onnx_opset, TRT_TARGETS
from ..runtime.errors import VitedgeError

DEFAULT_TARGET = 'trt8.2'
EXPORT_OPSET = {'trt8.2': 13, 'trt8.6': 17, 'trt10': 17}
# Squeeze/Unsqueeze/Split take axes/sizes as inputs from opset 13: one graph form for every target
MIN_EXPORT_OPSET = 13
LAYERNORM_FREE_TARGETS = ('trt8.2',)  # targets whose parser has no LayerNormalization importer


class TargetError(VitedgeError, ValueError):
    """The graph has blockers for the requested target (the one-line message names the nodes)."""


def check_target(target: str) -> str:
    """``target`` if it is an export target, else ValueError naming the choices."""
    if target not in TRT_TARGETS:
        raise ValueError(
            'unknown export target {!r} (choose from {})'.format(target, ', '.join(TRT_TARGETS))
        )
    return target


def export_opset(target: str, opset: Optional[int] = None) -> int:
    """
    Return the opset to export ``target`` at.

    ``opset`` if given and allowed (13 .. the target's max), else its default.

    Raises ValueError (one line) for an unknown target or an opset the target's parser does not
    document.
    """
    check_target(target)
    if opset is None:
        return EXPORT_OPSET[target]
    top = max_opset(target)
    if not MIN_EXPORT_OPSET <= int(opset) <= top:
        raise ValueError(
            'opset {} is outside {}..{} for target {} '
            '(its parser documents opsets up to {})'.format(
                opset, MIN_EXPORT_OPSET, top, target, top
            )
        )
    return int(opset)


def claimed_targets(target: str) -> Tuple[str, ...]:
    """
    Return the requested target and every newer public target.

    A trt8.2 bundle must also parse on 8.6 and 10.x.
    """
    check_target(target)
    return TRT_TARGETS[TRT_TARGETS.index(target):]


def decomposes_layernorm(target: str) -> bool:
    """
    Whether export for ``target`` replaces LayerNorm by primitive ops.

    Its parser has no LayerNormalization.
    """
    return check_target(target) in LAYERNORM_FREE_TARGETS


def _graphs(graph: onnx.GraphProto):
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _graphs(g)


def set_reshape_allowzero(model: onnx.ModelProto) -> int:
    """
    Give every Reshape without one ``allowzero=0`` (opset >= 14 only); returns how many were set.

    ``allowzero`` defaults to 0 (ONNX Reshape-14), so the graph computes the same; TensorRT 8.0-8.2
    read the attribute with no default at opset >= 14 (onnx-tensorrt 8.2-GA
    builtin_op_importers.cpp) and fail without it.
    """
    if onnx_opset(model) < 14:
        return 0
    count = 0
    for g in _graphs(model.graph):
        for node in g.node:
            if (
                node.op_type == 'Reshape'
                and node.domain in ('', 'ai.onnx')
                and not any(a.name == 'allowzero' for a in node.attribute)
            ):
                node.attribute.append(helper.make_attribute('allowzero', 0))
                count += 1
    return count


def _rank(model: onnx.ModelProto, name: str) -> Optional[int]:
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        if (
            vi.name == name
            and vi.type.HasField('tensor_type')
            and vi.type.tensor_type.HasField('shape')
        ):
            return len(vi.type.tensor_type.shape.dim)
    return None


def decompose_layernorm_nodes(model: onnx.ModelProto) -> int:
    """
    Replace every ``LayerNormalization`` node (top-level graph) by primitive ops; returns how many.

    ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add: the sequence torch exports for
    :func:`.onnx_export.layernorm_decomposed`. The ReduceMean ``axes`` attribute form is valid up
    to opset 17. Raises ValueError (one line) for a node whose Mean/InvStdDev outputs are used or
    whose axis needs an unknown rank.
    """
    nodes = list(model.graph.node)
    if not any(n.op_type == 'LayerNormalization' for n in nodes):
        return 0
    if onnx_opset(model) >= 18:
        raise ValueError(
            'LayerNormalization decomposition writes ReduceMean with an axes attribute: opset <= '
            '17 '
            'only (the model has {})'.format(onnx_opset(model))
        )
    inferred = None
    used = {i for n in nodes for i in n.input} | {o.name for o in model.graph.output}
    out = []
    count = 0
    for node in nodes:
        if node.op_type != 'LayerNormalization':
            out.append(node)
            continue
        if any(o and o in used for o in node.output[1:]):
            raise ValueError(
                'LayerNormalization {!r}: its Mean/InvStdDev outputs are used; '
                'cannot decompose'.format(node.name)
            )
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axis = int(attrs.get('axis', -1))
        eps = float(attrs.get('epsilon', 1e-5))
        if axis < 0:
            axes = list(range(axis, 0))
        else:
            if inferred is None:
                inferred = onnx.shape_inference.infer_shapes(model)
            rank = _rank(inferred, node.input[0])
            if rank is None:
                raise ValueError(
                    'LayerNormalization {!r}: axis {} needs the input rank, which shape inference '
                    'does not know'.format(node.name, axis)
                )
            axes = list(range(axis - rank, 0))
        p = (node.name or node.output[0]) + '/decomposed'
        eps_name, two_name = p + '/eps', p + '/two'
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array(eps, np.float32), eps_name),
                numpy_helper.from_array(np.array(2.0, np.float32), two_name),
            ]
        )
        x = node.input[0]
        steps = [
            helper.make_node(
                'ReduceMean', [x], [p + '/mean'], name=p + '/ReduceMean', axes=axes, keepdims=1
            ),
            helper.make_node('Sub', [x, p + '/mean'], [p + '/d'], name=p + '/Sub'),
            helper.make_node('Pow', [p + '/d', two_name], [p + '/sq'], name=p + '/Pow'),
            helper.make_node(
                'ReduceMean',
                [p + '/sq'],
                [p + '/var'],
                name=p + '/ReduceMean_1',
                axes=axes,
                keepdims=1,
            ),
            helper.make_node('Add', [p + '/var', eps_name], [p + '/ve'], name=p + '/Add'),
            helper.make_node('Sqrt', [p + '/ve'], [p + '/std'], name=p + '/Sqrt'),
        ]
        y = node.output[0]
        has_scale = len(node.input) > 1 and node.input[1]
        has_bias = len(node.input) > 2 and node.input[2]
        norm = p + '/norm' if (has_scale or has_bias) else y
        steps.append(helper.make_node('Div', [p + '/d', p + '/std'], [norm], name=p + '/Div'))
        if has_scale:
            scaled = p + '/scaled' if has_bias else y
            steps.append(helper.make_node('Mul', [norm, node.input[1]], [scaled], name=p + '/Mul'))
            norm = scaled
        if has_bias:
            steps.append(helper.make_node('Add', [norm, node.input[2]], [y], name=p + '/Add_1'))
        out.extend(steps)
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(out)
    return count


# Ops whose versions between opset 13 and 17 only added element types (or an attribute that is
# absent / at its
# default), so the same node means the same at opset 13 (onnx docs/Changelog.md: Add/Sub/Mul/Div-14
# and Relu-14
# add integer/bfloat16 types, Pow-15 bfloat16, CumSum-14 bfloat16, Identity-14/16 sequence/optional
# types, Reshape-14
# the allowzero attribute, Shape-15 the start/end attributes). onnx's version converter has no
# down-adapter for
# several of them (e.g. "No Adapter From Version $15 for Pow").
_SAME_AT_13 = {
    'Add': None,
    'Sub': None,
    'Mul': None,
    'Div': None,
    'Relu': None,
    'Pow': None,
    'CumSum': None,
    'Identity': None,
    'Reshape': ('allowzero', 0),
    'Shape': ('start', 'end'),
}


def lower_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """
    Re-stamp the model at ``opset`` (13..17) when every node means the same there.

    Raises ValueError (one line) naming the first node whose op changed meaning (e.g.
    LayerNormalization-17, which has no older version: decompose it first).

    A node is kept when its op's version at the model's opset is the version at ``opset`` (no
    change in between), or when the change only added types or an attribute the node leaves at its
    default (``_SAME_AT_13``); ``allowzero=0`` is dropped from Reshapes (it does not exist before
    opset 14). The result is checked with ``onnx.checker`` (full check: types and shapes inferred
    at the new opset).
    """
    current = onnx_opset(model)
    if current <= opset:
        return model
    if opset < 13:
        raise ValueError('lowering below opset 13 is not supported (asked for {})'.format(opset))
    for g in _graphs(model.graph):
        for node in g.node:
            if node.domain not in ('', 'ai.onnx'):
                continue
            try:
                now = onnx.defs.get_schema(node.op_type, current).since_version
                then = onnx.defs.get_schema(node.op_type, opset).since_version
            except Exception:
                raise ValueError(
                    'node {!r}: {} does not exist at opset {}'.format(
                        node.name, node.op_type, opset
                    )
                ) from None
            if now == then:
                continue
            rule = _SAME_AT_13.get(node.op_type, False)
            if rule is False:
                raise ValueError(
                    'node {!r}: {} changed between opset {} and {} (version {} -> {}); cannot '
                    'lower'.format(node.name, node.op_type, opset, current, then, now)
                )
            if node.op_type == 'Reshape':
                for a in list(node.attribute):
                    if a.name == 'allowzero':
                        if a.i != 0:
                            raise ValueError(
                                'node {!r}: Reshape allowzero=1 has no opset-{} form'.format(
                                    node.name, opset
                                )
                            )
                        node.attribute.remove(a)
            elif rule and any(a.name in rule for a in node.attribute):
                raise ValueError(
                    'node {!r}: {} uses {} (absent at opset {})'.format(
                        node.name, node.op_type, '/'.join(rule), opset
                    )
                )
    for imp in model.opset_import:
        if imp.domain in ('', 'ai.onnx'):
            imp.version = int(opset)
    model.ir_version = min(model.ir_version, 8)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise ValueError(
            'the graph re-stamped at opset {} fails the ONNX checker: {}'.format(
                opset, text[0] if text else type(exc).__name__
            )
        ) from None
    return model


def set_min_ir_version(model: onnx.ModelProto) -> int:
    """
    Stamp the lowest ONNX IR version the model's opsets need, so older runtimes load it.

    The table is onnx's VERSION_TABLE.

    onnxruntime 1.10 (the last for Python 3.6) reads IR <= 8; torch and onnxslim may stamp a newer
    IR than an opset-13 graph needs. Returns the IR version set.
    """
    try:
        ir = int(helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True))
    except TypeError:  # older onnx: no ignore_unknown
        ir = int(helper.find_min_ir_version_for(list(model.opset_import)))
    ir = max(ir, 7 if onnx_opset(model) >= 13 else ir)
    if ir < model.ir_version:
        model.ir_version = ir
    return int(model.ir_version)


def prepare_for_target(
    model: onnx.ModelProto, target: str
) -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """
    Apply ``target``'s graph fixes to an exported graph.

    LayerNormalization nodes decomposed (trt8.2), opset lowered to the target's default when above
    its parser's maximum, ``allowzero`` on Reshapes, the lowest IR version.

    Returns ``(model, changes)``; ValueError (one line) when the graph cannot be lowered (e.g. an
    op with no older version). The caller checks the result with :func:`require_target` and
    numerically (parity).
    """
    check_target(target)
    changes = {
        'layernorm_nodes_decomposed': 0,
        'opset_from': onnx_opset(model),
    }  # type: Dict[str, Any]
    if decomposes_layernorm(target):
        changes['layernorm_nodes_decomposed'] = decompose_layernorm_nodes(model)
    if onnx_opset(model) > max_opset(target):
        model = lower_opset(model, EXPORT_OPSET[target])
    changes['opset'] = onnx_opset(model)
    changes['reshape_allowzero_set'] = set_reshape_allowzero(model)
    changes['ir_version'] = set_min_ir_version(model)
    return model, changes


def clean_targets(model: onnx.ModelProto) -> Dict[str, List[AuditFinding]]:
    """
    Blockers of every public target.

    ``{target: findings}``; empty list: the target parses the graph.
    """
    return {t: audit_model(model, t) for t in TRT_TARGETS}


def summarize(findings: Sequence[AuditFinding], limit: int = 4) -> str:
    """``'2 blocker(s): 'n1' (LayerNormalization): rule...; 'n2' (Reshape): ...'`` on one line."""
    parts = ["'{}' ({}): {}".format(f.node, f.op, f.rule) for f in findings[:limit]]
    more = '; and {} more'.format(len(findings) - limit) if len(findings) > limit else ''
    return '{} blocker(s): {}{}'.format(len(findings), '; '.join(parts), more)


def require_target(model: onnx.ModelProto, target: str, what: str = 'the graph') -> List[str]:
    """
    Audit ``model`` for every public target.

    Returns those it is clean for (bundle.yaml ``trt_targets``).

    Raises :class:`TargetError` (one line naming the nodes) when ``target`` or a newer target it
    claims (:func:`claimed_targets`) has blockers.
    """
    results = clean_targets(model)
    for t in claimed_targets(target):
        if results[t]:
            raise TargetError(
                '{} is refused by the {} parser: {} (full report: tools/trt_compat.py FILE '
                '--target {})'.format(what, t, summarize(results[t]), t)
            )
    return [t for t in TRT_TARGETS if not results[t]]

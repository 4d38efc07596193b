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
TensorRT parser audit (vitedge_ros/export/trt_audit.py) and tools/trt_compat.py on crafted graphs.

Each graph breaks one rule of one parser version (onnx-tensorrt branch cited in the module) and
must be refused for exactly the versions whose importer refuses it, naming the node.
"""

from pathlib import Path
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import pytest
from vitedge_ros.export.trt_audit import (
    ALL_TARGETS,
    audit,
    audit_model,
    AuditFinding,
    format_report,
    target_for_trt_version,
    TRT_TARGETS,
)
from vitedge_ros.export.trt_audit_cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'trt_compat.py'


def _model(nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, 'g', inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)])
    model.ir_version = 7
    if (
        opset <= onnx.defs.onnx_opset_version()
    ):  # onnx 1.11 (the Python 3.6 lane) stops at opset 16
        onnx.checker.check_model(model)
    return model


def _vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def layernorm_model(opset=17):
    """Return the graph x -> LayerNormalization (opset 17) -> y."""
    node = helper.make_node(
        'LayerNormalization', ['x', 'g', 'b'], ['y'], name='blocks.0.norm1', axis=-1
    )
    return _model(
        [node],
        [_vi('x', [1, 4, 8])],
        [_vi('y', [1, 4, 8])],
        [_init('g', np.ones(8, np.float32)), _init('b', np.zeros(8, np.float32))],
        opset=opset,
    )


def reshape_model(opset=14, allowzero=None):
    """Return the graph x (1x4x8) -> Reshape to 1x32, optionally with allowzero."""
    kw = {} if allowzero is None else {'allowzero': allowzero}
    node = helper.make_node('Reshape', ['x', 'shape'], ['y'], name='flatten_tokens', **kw)
    return _model(
        [node],
        [_vi('x', [1, 4, 8])],
        [_vi('y', [1, 32])],
        [_init('shape', np.array([1, 32], np.int64))],
        opset=opset,
    )


def _run_tool(*args):
    return subprocess.run(
        [sys.executable, str(TOOL)] + list(args),
        stdout=subprocess.PIPE,  # noqa: UP022
        stderr=subprocess.PIPE,
        universal_newlines=True,
        cwd=str(ROOT),  # noqa: UP021
        timeout=120,
    )  # (Python 3.6 lane: no capture_output/text)


def names(findings):
    return {f.node for f in findings}


# -------------------------------------------------------------------------------- the two examples


def test_layernorm_refused_for_trt82_only():
    model = layernorm_model()
    found = audit_model(model, 'trt8.2')
    ln = [f for f in found if f.op == 'LayerNormalization']
    assert [f.node for f in ln] == ['blocks.0.norm1']
    assert 'no importer' in ln[0].rule and '8.2-GA' in ln[0].rule and 'decompose' in ln[0].fix
    assert any(
        f.node == '(graph)' and 'opset 17' in f.rule for f in found
    )  # 8.2 documents opset <= 13
    assert audit_model(model, 'trt8.6') == [] and audit_model(model, 'trt10') == []
    assert any(f.op == 'LayerNormalization' for f in audit_model(model, 'trt8.5'))


def test_reshape_without_allowzero_refused_for_trt82_fixed_in_84():
    model = reshape_model(opset=14)
    found = audit_model(model, 'trt8.2')
    rs = [f for f in found if f.op == 'Reshape']
    assert [f.node for f in rs] == ['flatten_tokens']
    assert 'allowzero' in rs[0].rule and 'allowzero=0' in rs[0].fix
    assert not [
        f for f in audit_model(model, 'trt8.4') if f.op == 'Reshape'
    ]  # attrs.get<int32_t>(.., 0) in 8.4
    assert audit_model(model, 'trt8.6') == [] and audit_model(model, 'trt10') == []
    # With the attribute (what export writes) the Reshape passes; at opset 13 the attribute is
    # never read.
    assert not [
        f for f in audit_model(reshape_model(14, allowzero=0), 'trt8.2') if f.op == 'Reshape'
    ]
    assert audit_model(reshape_model(13), 'trt8.2') == []


def test_cli_refuses_both_examples_naming_the_nodes(tmp_path, capsys):
    for model, node in (
        (layernorm_model(), 'blocks.0.norm1'),
        (reshape_model(), 'flatten_tokens'),
    ):
        path = tmp_path / '{}.onnx'.format(node)
        onnx.save(model, str(path))
        assert cli_main([str(path), '--target', 'trt8.2']) == 1
        out = capsys.readouterr().out
        assert "node '{}'".format(node) in out and 'BLOCKER' in out
        assert cli_main([str(path), '--target', 'trt8.6', '--target', 'trt10']) == 0
        assert 'no blockers for trt8.6, trt10' in capsys.readouterr().out


def test_cli_subprocess_exit_codes_and_one_line_errors(tmp_path):
    path = tmp_path / 'ln.onnx'
    onnx.save(layernorm_model(), str(path))
    run = _run_tool(str(path), '--target', 'trt8.2')
    assert run.returncode == 1 and "'blocks.0.norm1' (LayerNormalization)" in run.stdout
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'\x08\x07not an onnx model at all' * 10)
    for args in (
        [str(path), '--target', 'trt9'],
        [str(tmp_path / 'missing.onnx')],
        [str(bad)],
        [str(path), '--target'],
    ):
        run = _run_tool(*args)
        assert run.returncode == 2, (args, run.stdout, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1 and 'Traceback' not in run.stderr, (
            run.stderr
        )
        assert run.stderr.startswith('trt_compat: error:')


def test_cli_target_names_match_the_library():
    from vitedge_ros.export import trt_audit_cli

    assert trt_audit_cli.TRT_TARGETS == TRT_TARGETS


def test_bad_target_and_bad_file_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown TensorRT target 'trt7'"):
        audit_model(layernorm_model(), 'trt7')
    with pytest.raises(ValueError, match='no such ONNX file'):
        audit_model(tmp_path / 'none.onnx', 'trt8.2')
    empty = tmp_path / 'empty.onnx'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty'):
        audit_model(empty, 'trt8.2')
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'\xff' * 64)
    with pytest.raises(ValueError, match='not a readable ONNX model'):
        audit_model(junk, 'trt8.2')


# ---------------------------------------------------------------------------------------------
# versions


@pytest.mark.parametrize(
    'version,target',
    [
        ('8.0.1.6', 'trt8.0'),
        ('8.2.1.8', 'trt8.2'),
        ('8.2.3', 'trt8.2'),
        ('8.4.1.5', 'trt8.4'),
        ('8.5.3', 'trt8.5'),
        ('8.5.2.2', 'trt8.5'),
        ('8.6.1', 'trt8.6'),
        ('8.6.1.post1', 'trt8.6'),
        ('10.0.1', 'trt10'),
        ('10.3.0', 'trt10'),
        ('10.13.3.9', 'trt10'),
    ],
)
def test_target_for_trt_version(version, target):
    assert target_for_trt_version(version) == target
    assert target in ALL_TARGETS
    audit_model(layernorm_model(), target)  # every target it returns is auditable


@pytest.mark.parametrize('version', ['7.1.3', '7.2.3.4', '11.0.0', '12.1', 'abc', ''])
def test_target_for_unsupported_trt_version(version):
    with pytest.raises(ValueError) as exc:
        target_for_trt_version(version)
    assert '\n' not in str(exc.value)


def test_allowzero_rule_follows_the_running_version():
    model = reshape_model(opset=14)
    for version, refused in (
        ('8.2.1.8', True),
        ('8.0.3', True),
        ('8.4.3', False),
        ('8.5.3', False),
    ):
        found = audit_model(model, target_for_trt_version(version))
        assert any(f.op == 'Reshape' for f in found) is refused, version


# ---------------------------------------------------------------------------------------------
# other rules


def test_topk_k_must_be_constant_before_86_and_not_too_large():
    x = _vi('x', [1, 5000])
    dyn = helper.make_node('Shape', ['x'], ['s'], name='shape')
    gat = helper.make_node('Gather', ['s', 'one'], ['k'], name='k_from_shape', axis=0)
    topk = helper.make_node('TopK', ['x', 'k1'], ['v', 'i'], name='topk_dyn')
    unsq = helper.make_node('Reshape', ['k', 'kshape'], ['k1'], name='k_reshape')
    model = _model(
        [dyn, gat, unsq, topk],
        [x],
        [_vi('v', [1, None]), _vi('i', [1, None], TensorProto.INT64)],
        [_init('one', np.array(1, np.int64)), _init('kshape', np.array([1], np.int64))],
    )
    assert 'topk_dyn' in names(audit_model(model, 'trt8.2'))
    assert 'topk_dyn' not in names(audit_model(model, 'trt8.6'))  # setInput(1, K) from 8.6
    for k, refused in ((100, {}), (2000, {'trt8.2'}), (4000, {'trt8.2', 'trt8.6', 'trt10'})):
        node = helper.make_node('TopK', ['x', 'K'], ['v', 'i'], name='topk_const')
        m = _model(
            [node],
            [x],
            [_vi('v', [1, k]), _vi('i', [1, k], TensorProto.INT64)],
            [_init('K', np.array([k], np.int64))],
        )
        got = {t for t in TRT_TARGETS if 'topk_const' in names(audit_model(m, t))}
        assert got == set(refused), (k, got)


def test_topk_largest_zero_silently_wrong_before_85():
    node = helper.make_node('TopK', ['x', 'K'], ['v', 'i'], name='smallest', largest=0)
    m = _model(
        [node],
        [_vi('x', [1, 10])],
        [_vi('v', [1, 3]), _vi('i', [1, 3], TensorProto.INT64)],
        [_init('K', np.array([3], np.int64))],
    )
    assert 'smallest' in names(audit_model(m, 'trt8.2')) and 'smallest' in names(
        audit_model(m, 'trt8.4')
    )
    assert audit_model(m, 'trt8.5') == [] and audit_model(m, 'trt10') == []


def test_squeeze_axes_computed_vs_constant_node_and_foldable():
    x = _vi('x', [1, 4, 1])
    const = helper.make_node(
        'Constant',
        [],
        ['axes_c'],
        name='axes_const',
        value=numpy_helper.from_array(np.array([2], np.int64)),
    )
    sq_ok = helper.make_node('Squeeze', ['x', 'axes_c'], ['y'], name='squeeze_const')
    m = _model([const, sq_ok], [x], [_vi('y', [1, 4])])
    for t in TRT_TARGETS:
        assert audit_model(m, t) == [], t  # a Constant node output is weights to the parser
    cast = helper.make_node('Identity', ['axes_i'], ['axes_f'], name='axes_identity')
    sq = helper.make_node('Squeeze', ['x', 'axes_f'], ['y'], name='squeeze_foldable')
    m2 = _model([cast, sq], [x], [_vi('y', [1, 4])], [_init('axes_i', np.array([2], np.int64))])
    for t in TRT_TARGETS:
        found = [f for f in audit_model(m2, t) if f.node == 'squeeze_foldable']
        assert found and 'constant-fold' in found[0].fix, (
            t
        )  # the parser does not fold: onnxslim must


def test_resize_modes_and_scales():
    x = _vi('x', [1, 3, 8, 8])
    y = _vi('y', [1, 3, 16, 16])
    scales = _init('scales', np.array([1, 1, 2, 2], np.float32))
    cubic = helper.make_node('Resize', ['x', '', 'scales'], ['y'], name='up_cubic', mode='cubic')
    m = _model([cubic], [x], [y], [scales])
    assert 'up_cubic' in names(audit_model(m, 'trt8.2')) and audit_model(m, 'trt8.6') == []
    crop = helper.make_node(
        'Resize',
        ['x', 'roi', 'scales'],
        ['y'],
        name='up_crop',
        mode='linear',
        coordinate_transformation_mode='tf_crop_and_resize',
    )
    m = _model([crop], [x], [y], [scales, _init('roi', np.zeros(8, np.float32))])
    assert all('up_crop' in names(audit_model(m, t)) for t in TRT_TARGETS)
    mul = helper.make_node('Mul', ['scales', 'two'], ['s2'], name='scale_mul')
    dyn = helper.make_node('Resize', ['x', '', 's2'], ['z'], name='up_dyn', mode='linear')
    m = _model([mul, dyn], [x], [_vi('z', [1, 3, 32, 32])], [scales, _init('two', np.float32(2))])
    assert 'up_dyn' in names(audit_model(m, 'trt8.2')) and audit_model(m, 'trt8.6') == []
    for sc, refused in (
        ([1, 2, 2, 2], False),
        ([2, 1, 2, 2], True),
    ):  # linear: the 3 innermost dims only
        node = helper.make_node('Resize', ['x', '', 'sc4'], ['w'], name='up_lead', mode='linear')
        m = _model([node], [x], [_vi('w', [None] * 4)], [_init('sc4', np.array(sc, np.float32))])
        assert all(('up_lead' in names(audit_model(m, t))) is refused for t in TRT_TARGETS), sc
    m = _model(
        [helper.make_node('Resize', ['x5', '', 'sc5'], ['w5'], name='up_5d', mode='linear')],
        [_vi('x5', [1, 1, 3, 8, 8])],
        [_vi('w5', [2, 1, 3, 16, 16])],
        [_init('sc5', np.array([2, 1, 1, 2, 2], np.float32))],
    )
    assert all('up_5d' in names(audit_model(m, t)) for t in TRT_TARGETS)


def test_bool_into_gather_refused_before_85():
    eq = helper.make_node('Greater', ['x', 'zero'], ['mask'], name='mask')
    ga = helper.make_node('Gather', ['mask', 'idx'], ['picked'], name='gather_mask', axis=1)
    m = _model(
        [eq, ga],
        [_vi('x', [1, 6])],
        [_vi('picked', [1, 2], TensorProto.BOOL)],
        [_init('zero', np.float32(0)), _init('idx', np.array([0, 3], np.int64))],
    )
    found = [f for f in audit_model(m, 'trt8.2') if f.node == 'gather_mask']
    assert found and 'BOOL' in found[0].rule and 'Cast' in found[0].fix
    assert audit_model(m, 'trt8.6') == [] and audit_model(m, 'trt10') == []


def test_conv_bias_computed_and_fp16_clip_bounds():
    w = _init('w', np.ones((4, 3, 3, 3), np.float32))
    b = _init('b0', np.zeros(4, np.float32))
    neg = helper.make_node('Neg', ['b0'], ['b'], name='bias_neg')
    conv = helper.make_node('Conv', ['x', 'w', 'b'], ['y'], name='conv_dyn_bias')
    m = _model([neg, conv], [_vi('x', [1, 3, 8, 8])], [_vi('y', [1, 4, 6, 6])], [w, b])
    assert 'conv_dyn_bias' in names(audit_model(m, 'trt8.2'))
    assert audit_model(m, 'trt8.6') == []
    clip = helper.make_node('Clip', ['h', 'lo', 'hi'], ['c'], name='clip_fp16')
    m = _model(
        [clip],
        [_vi('h', [1, 4], TensorProto.FLOAT16)],
        [_vi('c', [1, 4], TensorProto.FLOAT16)],
        [_init('lo', np.float16(0)), _init('hi', np.float16(6))],
    )
    assert 'clip_fp16' in names(
        audit_model(m, 'trt8.2')
    )  # static_cast<float*> of FP16 bounds before 8.5
    assert audit_model(m, 'trt8.6') == []


def test_qdq_rules():
    def qdq(zp, dq_input_type=TensorProto.INT8, name='q'):
        q = helper.make_node('QuantizeLinear', ['x', 's', 'zp'], ['xq'], name=name)
        dq = helper.make_node('DequantizeLinear', ['xq', 's', 'zp'], ['y'], name=name + '_dq')
        return _model(
            [q, dq],
            [_vi('x', [1, 4])],
            [_vi('y', [1, 4])],
            [_init('s', np.float32(0.1)), _init('zp', zp)],
        )

    assert all(audit_model(qdq(np.int8(0)), t) == [] for t in TRT_TARGETS)
    assert all(
        {'q', 'q_dq'} <= names(audit_model(qdq(np.int8(3)), t)) for t in TRT_TARGETS
    )  # zero point != 0
    assert all(
        'q' in names(audit_model(qdq(np.uint8(0)), t)) for t in TRT_TARGETS
    )  # UINT8 quantization
    dq = helper.make_node('DequantizeLinear', ['bias_q', 'bs'], ['bias'], name='bias_dq')
    inits = [_init('bias_q', np.arange(4, dtype=np.int32)), _init('bs', np.float32(0.01))]
    m = _model([dq], [], [_vi('bias', [4])], inits)
    found = [f for f in audit_model(m, 'trt8.2') if f.node == 'bias_dq']
    assert found and any('INT32' in f.rule for f in found)


def test_custom_domain_op_and_unsupported_cast():
    node = helper.make_node('FusedGelu', ['x'], ['y'], name='gelu_contrib', domain='com.microsoft')
    graph = helper.make_graph([node], 'g', [_vi('x', [1, 4])], [_vi('y', [1, 4])])
    m = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('com.microsoft', 1)]
    )
    for t in TRT_TARGETS:
        assert 'gelu_contrib' in names(audit_model(m, t))
    cast = helper.make_node('Cast', ['x'], ['y'], name='to_uint16', to=TensorProto.UINT16)
    m = _model([cast], [_vi('x', [1, 4])], [_vi('y', [1, 4], TensorProto.UINT16)])
    found = audit_model(m, 'trt8.2')
    assert 'to_uint16' in names(found) and any(
        f.node == '(graph)' and 'UINT16' in f.rule for f in found
    )


def test_finding_and_report_format():
    found = audit_model(layernorm_model(), 'trt8.2')
    assert all(isinstance(f, AuditFinding) for f in found)
    for f in found:
        line = str(f)
        assert '\n' not in line and f.node in line and f.op in line and 'fix:' in line
    report = format_report(found, 'trt8.2')
    lines = report.splitlines()
    assert (
        lines[0].startswith('TensorRT parser audit for trt8.2')
        and '{} blocker(s)'.format(len(found)) in lines[0]
    )
    assert len(lines) == 1 + len(found)
    assert 'no blockers' in format_report([], 'trt10')
    with pytest.raises(ValueError):
        format_report([], 'trt99')


def test_int64_output_note_not_a_blocker():
    am = helper.make_node('ArgMax', ['x'], ['cls'], name='argmax', axis=1, keepdims=0)
    m = _model([am], [_vi('x', [1, 5])], [_vi('cls', [1], TensorProto.INT64)])
    blockers, notes = audit(m, 'trt8.2')
    assert blockers == [] and any('INT32' in n.rule for n in notes)
    assert audit(m, 'trt10')[1] == []


@pytest.mark.parametrize('bundle', ['aerial_vit_tiny', 'aerial_seg_tiny'])
def test_shipped_bundles_audit_clean_for_every_target(bundle, capsys):
    """
    The shipped bundles parse on TensorRT 8.2 (Jetson Nano), 8.6 and 10.x.

    And say so in bundle.yaml.
    """
    from vitedge_ros.runtime import load_bundle

    b = load_bundle(ROOT / 'models' / bundle)
    assert b.trt_targets == TRT_TARGETS
    model = onnx.load(str(b.onnx_path))
    assert model.opset_import[0].version == 13 and model.ir_version == 7
    assert not any(n.op_type == 'LayerNormalization' for n in model.graph.node)
    for t in ALL_TARGETS:
        assert audit_model(model, t) == [], t
    assert cli_main([str(b.path)]) == 0  # default: the bundle's trt_targets
    assert 'no blockers for trt8.2, trt8.6, trt10' in capsys.readouterr().out

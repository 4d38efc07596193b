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
Export targets (vitedge_ros/export/targets.py) and the compress runner's use of them.

ONNX-level LayerNorm decomposition and opset lowering, the shared parity tolerance/exit code (issue
14 item 10), and a bundle graph the target's TensorRT parser refuses stopping tools/compress.py
with exit 2 and the nodes named.
"""

import copy
import importlib.util
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime as ort
import pytest
from vitedge_ros.export import targets
from vitedge_ros.export.trt_audit import audit_model, TRT_TARGETS
import yaml

ROOT = Path(__file__).resolve().parents[1]


#: tools/NAME.py -> the library module whose main() it calls
TOOL_MODULES = {
    'train': 'vitedge_ros.train_cli',
    'compress': 'vitedge_ros.compress.cli',
    'export_onnx': 'vitedge_ros.export.cli',
}


def _tool(name):
    """Return the library module whose main() tools/NAME.py calls."""
    return importlib.import_module(TOOL_MODULES[name])


def _ln_model():
    """
    Reshape (no allowzero) -> LayerNormalization -> Pow, opset 17.

    Three things an 8.2 parser trips on.
    """
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4, 8])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4, 8])
    nodes = [
        helper.make_node('Reshape', ['x', 'shape'], ['r'], name='reshape'),
        helper.make_node(
            'LayerNormalization', ['r', 'g', 'b'], ['n'], name='norm', axis=-1, epsilon=1e-6
        ),
        helper.make_node('Pow', ['n', 'two'], ['y'], name='square'),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 4, 8], np.int64), 'shape'),
        numpy_helper.from_array(np.linspace(0.5, 1.5, 8).astype(np.float32), 'g'),
        numpy_helper.from_array(np.linspace(-1, 1, 8).astype(np.float32), 'b'),
        numpy_helper.from_array(np.array(2.0, np.float32), 'two'),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, 'g', [x], [y], initializer=inits),
        opset_imports=[helper.make_opsetid('', 17)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])
    return sess.run(None, {'x': x})[0]


def test_prepare_for_trt82_lowers_decomposes_and_keeps_numerics():
    model = _ln_model()
    assert {f.node for f in audit_model(model, 'trt8.2')} >= {'(graph)', 'norm', 'reshape'}
    low, changes = targets.prepare_for_target(copy.deepcopy(model), 'trt8.2')
    assert (
        changes['layernorm_nodes_decomposed'] == 1
        and changes['opset'] == 13
        and changes['ir_version'] == 7
    )
    assert not any(n.op_type == 'LayerNormalization' for n in low.graph.node)
    assert {'ReduceMean', 'Sqrt', 'Pow', 'Div'} <= {n.op_type for n in low.graph.node}
    assert targets.require_target(low, 'trt8.2') == list(TRT_TARGETS)
    x = np.random.default_rng(0).standard_normal((1, 4, 8)).astype(np.float32) * 3
    assert np.abs(_run(model, x) - _run(low, x)).max() <= 1e-5


def test_prepare_for_trt86_keeps_layernorm_and_sets_allowzero():
    model, changes = targets.prepare_for_target(_ln_model(), 'trt8.6')
    assert changes['opset'] == 17 and changes['layernorm_nodes_decomposed'] == 0
    assert changes['reshape_allowzero_set'] == 1
    reshape = next(n for n in model.graph.node if n.op_type == 'Reshape')
    assert [(a.name, a.i) for a in reshape.attribute] == [('allowzero', 0)]
    assert targets.require_target(model, 'trt8.6') == ['trt8.6', 'trt10']
    with pytest.raises(
        targets.TargetError, match=r"refused by the trt8.2 parser: .*'norm' \(LayerNormalization\)"
    ):
        targets.require_target(model, 'trt8.2')


def test_lower_opset_refuses_ops_that_changed_meaning():
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4, 8])
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4, 1])
    node = helper.make_node(
        'ReduceMean', ['x', 'axes'], ['y'], name='mean18'
    )  # axes became an input at 18
    model = helper.make_model(
        helper.make_graph(
            [node],
            'g',
            [x],
            [y],
            initializer=[numpy_helper.from_array(np.array([2], np.int64), 'axes')],
        ),
        opset_imports=[helper.make_opsetid('', 18)],
    )
    with pytest.raises(
        ValueError, match="node 'mean18': ReduceMean changed between opset 13 and 18"
    ):
        targets.lower_opset(model, 13)


@pytest.mark.parametrize(
    'target,opset,ok',
    [
        ('trt8.2', None, 13),
        ('trt8.6', None, 17),
        ('trt10', None, 17),
        ('trt10', 20, 20),
        ('trt8.6', 13, 13),
    ],
)
def test_export_opsets(target, opset, ok):
    assert targets.export_opset(target, opset) == ok


@pytest.mark.parametrize(
    'target,opset', [('trt8.2', 14), ('trt8.6', 18), ('trt10', 12), ('trt9', None)]
)
def test_export_opset_refusals(target, opset):
    with pytest.raises(ValueError):
        targets.export_opset(target, opset)


# ---------------------------------------------------------------------------------------------
# compress runner

TOME_RECIPE = {
    'name': 'tome_final',
    'seed': 0,
    'model': {
        'arch': 'deit_tiny_patch16_224',
        'num_classes': 10,
        'img_size': 16,
        'kwargs': {'patch_size': 4, 'embed_dim': 32, 'depth': 2, 'num_heads': 2},
    },
    'data': {'name': 'digits', 'img_size': 16, 'train_size': 64, 'val_size': 32},
    'measure': {'latency_runs': 3, 'warmup': 1, 'threads': 1},
    'stages': [{'tome': {'r': 2}}],
}


def test_compress_parity_uses_the_export_tolerance_and_exit_code(tmp_path, monkeypatch, capsys):
    from vitedge_ros.export import onnx_export

    recipe = tmp_path / 'r.yaml'
    recipe.write_text(yaml.safe_dump(dict(TOME_RECIPE, stages=[{'lowrank': {'energy': 0.9}}])))
    calls = []

    def off_by(module, path, shape, **kw):
        calls.append(path)
        return 2 * onnx_export.PARITY_ATOL  # just above the tolerance export_onnx.py uses

    monkeypatch.setattr(onnx_export, 'check_parity', off_by)
    code = _tool('compress').main(
        ['--recipe', str(recipe), '--out', str(tmp_path / 'out'), '--quiet']
    )
    err = capsys.readouterr().err
    assert code == onnx_export.EXIT_EXPORT_FAILED == 4 and calls
    assert "stage 'baseline': onnxruntime differs from torch by 0.0002 (tolerance 0.0001)" in err
    assert 'Traceback' not in err and not (tmp_path / 'out' / 'bundle').exists()


def test_compress_refuses_a_bundle_the_target_cannot_parse(tmp_path, capsys):
    """
    The compressor refuses a bundle the target cannot parse: token merging as the final stage.

    Its graph sorts INT64 token indices with TopK(largest=0), which TensorRT 8.2 refuses (INT32
    TopK input) and would compute wrongly (largest ignored before 8.5).
    """
    recipe = tmp_path / 'r.yaml'
    recipe.write_text(yaml.safe_dump(TOME_RECIPE))
    code = _tool('compress').main(
        ['--recipe', str(recipe), '--out', str(tmp_path / 'out'), '--quiet']
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert 'refused by the trt8.2 parser' in err and '(TopK)' in err and 'largest=0' in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / 'out' / 'bundle').exists()
    report = yaml.safe_load((tmp_path / 'out' / 'report.json').read_text())
    tome = report['stages'][-1]
    assert tome['name'] == 'tome' and 'trt8.2' not in tome['trt_targets'] and tome['trt_blockers']

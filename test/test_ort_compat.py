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
An onnxruntime too old for a graph's opset or IR version is reported as exactly that.

With the onnxruntime release needed (vitedge_ros/runtime/ort_compat.py), never as a corrupt file;
the shipped bundles load on onnxruntime 1.10 (the last for Python 3.6) by their opset and IR
version.
"""

from pathlib import Path

import onnx
from onnx import helper, TensorProto
import pytest
from vitedge_ros.runtime.engines.onnxruntime_engine import OnnxRuntimeEngine
from vitedge_ros.runtime.errors import BundleError
from vitedge_ros.runtime.ort_compat import (
    explain_load_error,
    min_onnxruntime_for,
    onnxruntime_limits,
)

ROOT = Path(__file__).resolve().parents[1]
# The text onnxruntime 1.10 raises for the opset-17 bundles shipped before (issue 12), as in its
# model.cc.
ORT_110_OPSET17 = (
    '[ONNXRuntimeError]:1 : FAIL : Load model from models/aerial_vit_tiny/model.onnx '
    'failed:/onnxruntime_src/'
    'onnxruntime/core/graph/model.cc:111 onnxruntime::Model::Model(...) ONNX Runtime only '
    '*guarantees* support for '
    'models stamped with official released onnx opset versions. Opset 17 is under development and '
    'support for this '
    'is limited. The operator schemas and or other functionality may change before next ONNX '
    'release and in this '
    'case ONNX Runtime will not guarantee backward compatibility. Current official support for '
    'domain ai.onnx is '
    'till opset 15.'
)


def _relu_model(path, opset, ir):
    node = helper.make_node('Relu', ['x'], ['y'])
    graph = helper.make_graph(
        [node],
        'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 4, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)])
    model.ir_version = ir
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    'opset,ir,need',
    [
        (13, 7, '1.6'),
        (15, 8, '1.9'),
        (17, 8, '1.12'),
        (18, 8, '1.14'),
        (19, 9, '1.16'),
        (20, 9, '1.17'),
        (21, 10, '1.18'),
        (None, 9, '1.16'),
        (17, None, '1.12'),
    ],
)
def test_min_onnxruntime_table(opset, ir, need):
    assert min_onnxruntime_for(opset=opset, ir_version=ir) == need


def test_limits_of_known_versions():
    assert onnxruntime_limits('1.10.0') == (15, 8)  # JetPack 4.6 / Python 3.6
    assert onnxruntime_limits('1.12.1') == (17, 8)
    assert onnxruntime_limits('0.9') is None


def test_ort110_opset17_text_is_explained_not_called_corrupt():
    msg = explain_load_error('models/aerial_vit_tiny/model.onnx', ORT_110_OPSET17, '1.10.0')
    assert (
        'ONNX opset 17' in msg
        and 'onnxruntime >= 1.12' in msg
        and '1.10.0 supports ai.onnx up to opset 15' in msg
    )
    assert 'corrupt' not in msg and '--target trt8.2' in msg and '\n' not in msg


def test_engine_reports_real_onnxruntime_opset_refusal(tmp_path):
    """
    A graph stamped with an opset newer than the installed onnxruntime implements is refused.

    The engine reports onnxruntime's real error text.
    """
    import onnxruntime as ort

    path = _relu_model(
        tmp_path / 'future.onnx', 99, 8
    )  # no onnxruntime implements opset 99 (IR 8: 1.10 reads it)
    with pytest.raises(BundleError) as exc:
        OnnxRuntimeEngine(path)
    msg = str(exc.value)
    assert 'is under development' in str(
        exc.value.__cause__
    )  # the real text of the installed onnxruntime
    assert (
        'uses ONNX opset 99, which needs an onnxruntime newer than' in msg
        and ort.__version__ in msg
    )
    assert 'supports ai.onnx up to opset' in msg and 'corrupt' not in msg and '\n' not in msg


def test_engine_reports_ir_version_too_new(tmp_path, monkeypatch):
    import onnxruntime as ort

    path = _relu_model(tmp_path / 'ir.onnx', 13, 9)

    def refuse(*_a, **_k):
        raise RuntimeError(
            '[ONNXRuntimeError]:1 : FAIL : Load model from {} failed:Unsupported model IR '
            'version: '
            '9, max supported IR version: 8'.format(path)
        )

    monkeypatch.setattr(ort, 'InferenceSession', refuse)
    monkeypatch.setattr(ort, '__version__', '1.10.0')
    with pytest.raises(BundleError) as exc:
        OnnxRuntimeEngine(path)
    msg = str(exc.value)
    assert 'IR version 9' in msg and 'onnxruntime >= 1.16' in msg and '1.10.0 reads IR <= 8' in msg
    assert 'corrupt' not in msg


def test_engine_with_ort110_opset17(tmp_path, monkeypatch):
    import onnxruntime as ort

    path = _relu_model(tmp_path / 'm17.onnx', 17, 8)

    def refuse(*_a, **_k):
        raise RuntimeError(ORT_110_OPSET17)

    monkeypatch.setattr(ort, 'InferenceSession', refuse)
    monkeypatch.setattr(ort, '__version__', '1.10.0')
    with pytest.raises(BundleError, match=r'opset 17, which needs onnxruntime >= 1\.12'):
        OnnxRuntimeEngine(path)


def test_missing_kernel_and_corrupt_are_distinguished():
    kern = (
        '[ONNXRuntimeError]:9 : NOT_IMPLEMENTED : Could not find an implementation for '
        "LayerNormalization(17) node with name 'blocks.0.norm1'"
    )
    msg = explain_load_error('m.onnx', kern, '1.10.0')
    assert "no kernel for LayerNormalization (opset-17 version, node 'blocks.0.norm1')" in msg
    assert 'onnxruntime >= 1.12' in msg
    bad = explain_load_error(
        'm.onnx',
        '[ONNXRuntimeError]:7 : INVALID_PROTOBUF : Load model from m.onnx failed:'
        'Protobuf parsing failed.',
        '1.10.0',
    )
    assert 'corrupt or truncated ONNX?' in bad


@pytest.mark.parametrize(
    'bundle', ['aerial_vit_tiny', 'aerial_vit_tiny_student', 'aerial_seg_tiny']
)
def test_shipped_bundles_load_on_onnxruntime_110_by_version(bundle):
    model = onnx.load(str(ROOT / 'models' / bundle / 'model.onnx'), load_external_data=False)
    opset = next(i.version for i in model.opset_import if i.domain in ('', 'ai.onnx'))
    max_opset, max_ir = onnxruntime_limits('1.10.0')
    assert opset <= max_opset and model.ir_version <= max_ir, (opset, model.ir_version)

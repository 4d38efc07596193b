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
The fake TensorRT / pycuda modules (test/fake_tensorrt.py) are only worth what they reproduce.

These tests pin each version's API surface, the parser's refusals and texts, and the
calibrator-exception behaviour (8.2 aborts the process, 8.4+ prints the exception and takes it as
end-of-data).
"""

from pathlib import Path
import subprocess
import sys

from fake_tensorrt import (
    engine_bytes,
    fake_env,
    GENERATIONS,
    make_fake_pycuda,
    make_fake_trt,
    NO_SCALES,
    PLUGIN_NOT_FOUND,
    VERSIONS,
)
import numpy as np
import pytest
import trt_graphs as graphs

ROOT = Path(__file__).resolve().parents[1]


def test_fake_pycuda_memory_roundtrip_and_failures():
    _pkg, drv = make_fake_pycuda(fail_memcpy_at=2, fail_alloc_at=2)
    dev = drv.mem_alloc(16)
    src = np.arange(4, dtype=np.float32)
    drv.memcpy_htod(dev, src)
    dst = np.zeros(4, np.float32)
    drv.memcpy_dtoh(dst, dev)
    assert np.array_equal(src, dst)
    with pytest.raises(drv.LogicError, match='cuMemcpyHtoD failed'):
        drv.memcpy_htod(dev, src)
    with pytest.raises(drv.MemoryError, match='out of memory'):
        drv.mem_alloc(16)
    assert issubclass(drv.MemoryError, drv.Error)


# (attribute, holder, generations that have it) -- the table in fake_tensorrt's docstring
SURFACE = [
    ('max_batch_size', 'builder', {'8.2', '8.6'}),
    ('platform_has_fast_fp16', 'builder', {'8.2', '8.6', '10'}),
    ('build_engine', 'builder', {'8.2', '8.6'}),
    ('build_serialized_network', 'builder', set(GENERATIONS)),
    ('max_workspace_size', 'config', {'8.2', '8.6'}),
    ('set_memory_pool_limit', 'config', {'8.6', '10', '11'}),
    ('int8_calibrator', 'config', {'8.2', '8.6', '10'}),
    ('FP16', 'BuilderFlag', {'8.2', '8.6', '10'}),
    ('INT8', 'BuilderFlag', {'8.2', '8.6', '10'}),
    ('STRICT_TYPES', 'BuilderFlag', {'8.2', '8.6'}),
    ('OBEY_PRECISION_CONSTRAINTS', 'BuilderFlag', {'8.2', '8.6', '10'}),
    ('EXPLICIT_BATCH', 'NetworkDefinitionCreationFlag', {'8.2', '8.6', '10'}),
    ('STRONGLY_TYPED', 'NetworkDefinitionCreationFlag', {'10', '11'}),
    ('IInt8EntropyCalibrator2', 'trt', {'8.2', '8.6', '10'}),
    ('MemoryPoolType', 'trt', {'8.6', '10', '11'}),
    ('NORMALIZATION', 'LayerType', {'8.6', '10', '11'}),
    ('set_output_type', 'ILayer', {'8.2', '8.6', '10'}),
    ('precision', 'ILayer', {'8.2', '8.6', '10'}),
    ('num_bindings', 'ICudaEngine', {'8.2', '8.6'}),
    ('num_io_tensors', 'ICudaEngine', {'8.6', '10', '11'}),
    ('execute_async_v2', 'IExecutionContext', {'8.2', '8.6'}),
    ('execute_async_v3', 'IExecutionContext', {'8.6', '10', '11'}),
    ('node_name', 'ParserError', {'10', '11'}),
]


@pytest.mark.parametrize('gen', GENERATIONS)
def test_each_fake_has_exactly_its_versions_api(gen):
    trt = make_fake_trt(gen)
    assert trt.__version__ == VERSIONS[gen]
    builder = trt.Builder(trt.Logger())
    holders = {'builder': builder, 'config': builder.create_builder_config(), 'trt': trt}
    for attr, holder, gens in SURFACE:
        obj = holders.get(holder) or getattr(trt, holder)
        assert hasattr(obj, attr) == (gen in gens), (gen, holder, attr)
    assert trt.Runtime(trt.Logger()).deserialize_cuda_engine(b'garbage') is None
    assert trt.Runtime(trt.Logger()).deserialize_cuda_engine(engine_bytes(version='0.0.1')) is None
    assert (
        trt.Runtime(trt.Logger()).deserialize_cuda_engine(engine_bytes(version=trt.__version__))
        is not None
    )


def test_builder_flag_members_are_checked_like_pybind():
    trt8, trt10 = make_fake_trt('8.2'), make_fake_trt('10')
    cfg = trt10.Builder(trt10.Logger()).create_builder_config()
    with pytest.raises(TypeError):
        cfg.set_flag(trt8.BuilderFlag.FP16)  # another module's enum
    with pytest.raises(TypeError):
        cfg.set_flag('FP16')


def _parse(gen, model):
    trt = make_fake_trt(gen)
    builder = trt.Builder(trt.Logger())
    flags = (
        1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if gen in ('8.2', '8.6') else 0
    )
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt.Logger())
    ok = parser.parse(model.SerializeToString())
    return ok, [parser.get_error(i) for i in range(parser.num_errors)], network, trt


@pytest.mark.parametrize('gen', GENERATIONS)
@pytest.mark.parametrize('kind', ['classifier', 'layernorm', 'reshape', 'precision'])
def test_fake_parser_refuses_what_the_audit_refuses(gen, kind):
    from vitedge_ros.export.trt_audit import audit_model, target_for_trt_version

    model = graphs.GRAPHS[kind]()
    findings = [
        f
        for f in audit_model(
            model, 'trt10' if gen == '11' else target_for_trt_version(VERSIONS[gen])
        )
        if f.op != 'opset'
    ]  # the real parser only logs the opset (see fake_tensorrt's docstring)
    ok, errors, network, _trt = _parse(gen, model)
    assert ok == (not findings)
    if findings:
        assert len(errors) == (
            1 if gen in ('8.2', '8.6') else len(findings)
        )  # 8.x stops at the first node
        names = [n.name for n in model.graph.node]
        assert errors[0].node() == min(names.index(f.node) for f in findings)
        assert network.num_layers == 0
    else:
        assert errors == [] and network.num_layers == sum(
            1 for n in model.graph.node if n.op_type != 'Constant'
        )


def test_fake_82_parser_texts_are_the_real_ones():
    ok, errors, _net, _trt = _parse('8.2', graphs.layernorm_graph())
    assert (
        not ok
        and errors[0].desc() == PLUGIN_NOT_FOUND
        and str(errors[0].code()) == 'UNSUPPORTED_NODE'
    )
    assert str(errors[0]).startswith(
        'In node 1 (importFallbackPluginImporter): UNSUPPORTED_NODE: Assertion failed'
    )
    assert not hasattr(errors[0], 'node_name')
    ok, errors, _net, _trt = _parse('8.2', graphs.reshape_graph())
    assert errors[0].desc() == 'Invalid Node - {}\nAttribute not found: allowzero'.format(
        graphs.RESHAPE_GRAPH_NODES[0]
    )
    assert str(errors[0].code()) == 'INVALID_NODE'
    ok, _errors, _net, _trt = _parse('8.2', graphs.reshape_graph(allowzero=True))
    assert ok


def test_fake_82_parser_needs_explicit_batch():
    trt = make_fake_trt('8.2')
    parser = trt.OnnxParser(trt.Builder(trt.Logger()).create_network(0), trt.Logger())
    assert not parser.parse(graphs.classifier().SerializeToString())
    assert 'explicit batch dimension' in parser.get_error(0).desc()


def test_fake_layers_carry_onnx_names_and_types():
    ok, _errors, network, trt = _parse('10', graphs.precision_graph())
    assert ok
    layers = {network.get_layer(i).name: network.get_layer(i) for i in range(network.num_layers)}
    eq = layers['/decode/equal']
    assert (
        eq.get_output(0).dtype is trt.DataType.BOOL and eq.get_input(0).dtype is trt.DataType.FLOAT
    )
    assert layers['/decode/maxpool'].type is trt.LayerType.POOLING
    assert layers['/decode/topk'].num_inputs == 1  # K is a parameter, not an input
    assert layers['/decode/topk'].get_output(1).dtype is trt.DataType.INT32


# ------------------------------------------------------------------------------------------
# calibrator behaviour

NAIVE_BUILD = """
import sys
import numpy as np
import tensorrt as trt
import pycuda.driver as cuda
sys.path.insert(0, {test_dir!r})
import trt_graphs

class Naive(trt.IInt8EntropyCalibrator2):

    def __init__(self):
        trt.IInt8EntropyCalibrator2.__init__(self)
        self.n = 0
        self.dev = cuda.mem_alloc(3 * 32 * 32 * 4)
    def get_batch_size(self):
        return 1
    def get_batch(self, names):
        self.n += 1
        if self.n > {fail_after}:
            raise RuntimeError('boom in get_batch')
        cuda.memcpy_htod(self.dev, np.ones((1, 3, 32, 32), np.float32))
        return [int(self.dev)]
    def read_calibration_cache(self):
        return None
    def write_calibration_cache(self, cache):
        pass

builder = trt.Builder(trt.Logger())
network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
assert trt.OnnxParser(network, trt.Logger()).parse(trt_graphs.classifier().SerializeToString())
config = builder.create_builder_config()
config.set_flag(trt.BuilderFlag.INT8)
config.int8_calibrator = Naive()
out = builder.build_serialized_network(network, config)
print('BUILT' if out is not None else 'NONE', len(trt.log['calib_batches']))
"""


def _naive(tmp_path, gen, fail_after):
    code = NAIVE_BUILD.format(test_dir=str(Path(__file__).parent), fail_after=fail_after)
    return subprocess.run(
        [sys.executable, '-c', code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # noqa: UP022
        universal_newlines=True,
        timeout=120,  # noqa: UP021 (Python 3.6 lane)
        env=fake_env(tmp_path, ROOT, api=gen),
    )


def test_fake_82_aborts_the_process_when_a_calibrator_exception_escapes(tmp_path):
    res = _naive(tmp_path, '8.2', fail_after=1)
    assert res.returncode == -6, (
        res.returncode,
        res.stdout,
        res.stderr,
    )  # SIGABRT from std::terminate
    assert (
        "terminate called after throwing an instance of 'pybind11::error_already_set'"
        in res.stderr
    )
    assert 'RuntimeError: boom in get_batch' in res.stderr and 'BUILT' not in res.stdout


@pytest.mark.parametrize('gen', ['8.6', '10'])
def test_fake_84_plus_takes_a_calibrator_exception_as_end_of_data(tmp_path, gen):
    res = _naive(
        tmp_path, gen, fail_after=2
    )  # two good batches, then the exception: a "successful" build
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ['BUILT', '2']
    assert '[ERROR] Exception caught in get_batch(): boom in get_batch' in res.stderr
    res = _naive(tmp_path, gen, fail_after=0)  # no batch at all: TensorRT fails the build
    assert res.stdout.split() == ['NONE', '0'] and NO_SCALES in res.stderr

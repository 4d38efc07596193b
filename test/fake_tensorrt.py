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

r"""
Fake ``tensorrt`` (8.2, 8.6, 10.x, 11.x) and ``pycuda`` modules for CI.

Which has no GPU and no TensorRT.

Each fake has the Python API surface its version really has, taken from the pybind11 sources of the
TensorRT Python bindings (NVIDIA/TensorRT ``python/src/infer/pyCore.cpp``, ``pyGraph.cpp``,
``pyInt8.cpp`` and ``python/src/parsers/pyOnnx.cpp`` at tags ``8.2.1`` and branches
``release/8.6``, ``release/10.3``, ``release/11.1``) and the 10.x -> 11.x migration guide
(https://docs.nvidia.com/deeplearning/tensorrt/latest/api/migration/tensorrt-10x-to-11x-python-api-reference.html):

================================  =========  =========  =========  =========
API                                 8.2.1      8.6.1      10.3       11.1
================================  =========  =========  =========  =========
Builder.max_batch_size              yes        yes (dep)  --         --
Builder.platform_has_fast_fp16/8    yes        yes        yes (dep)  --
Builder.build_engine                yes (dep)  yes (dep)  --         --
Builder.build_serialized_network    yes        yes        yes        yes
NetworkDefinitionCreationFlag       EXPLICIT_BATCH,       EXPLICIT_  STRONGLY_TYPED
                                    EXPLICIT_PRECISION    BATCH,     (ignored: always
                                                          STRONGLY_  strongly typed)
                                                          TYPED
IBuilderConfig.max_workspace_size   yes        yes (dep)  --         --
set_memory_pool_limit/MemoryPool    --         yes (8.4)  yes        yes
BuilderFlag.FP16 / INT8             yes        yes        yes        --
BuilderFlag.STRICT_TYPES            yes (dep)  yes (dep)  --         --
BuilderFlag.OBEY_/PREFER_PRECISION  yes        yes        yes        --
IBuilderConfig.int8_calibrator      yes        yes        yes (dep)  --
IInt8EntropyCalibrator2             yes        yes        yes (dep)  --
ILayer.precision, set_output_type   yes        yes        yes        -- (get_output_type only)
LayerType.NORMALIZATION             --         yes        yes        yes
binding API (num_bindings, v2)      yes        yes (dep)  --         --
tensor API (num_io_tensors, v3)     --         yes (8.5)  yes        yes
ParserError.node_name/operator      --         --         yes        yes
================================  =========  =========  =========  =========

Calibrator callbacks (``pyCalibratorTrampoline`` in pyInt8.cpp): in **8.2.1** ``getBatch`` and the
cache callbacks are ``noexcept`` C++ overrides with no ``try``, so a Python exception raised in
them becomes a ``pybind11::error_already_set`` thrown out of a ``noexcept`` function:
``std::terminate`` aborts the process (SIGABRT; "terminate called after throwing an instance of
'pybind11::error_already_set'"). From **8.4** on (8.6, 10.x) each callback catches it, prints
``[ERROR] Exception caught in get_batch(): ...`` and returns ``false``/``nullptr``: an exception in
``get_batch`` is end-of-data, one in ``read_calibration_cache`` "no cache". The fakes do exactly
that (the 8.2 fake calls ``os.abort()``), so the builder must never let an exception escape a
callback. With zero batches TensorRT fails the build ("Calibration failure occurred with no scaling
factors detected"): the fake returns None.

The fake ONNX parser refuses what the project's audit (:mod:`vitedge_ros.export.trt_audit`) says
that version's parser refuses (TensorRT 11 with the ``trt10`` rules, which its parser extends),
node by node, with the real parser's texts -- except an opset above the parser's documented range,
which the audit refuses as policy but the real parser only logs (onnx-tensorrt 8.2-GA
``ModelImporter.cpp`` warns below opset 7 and never checks an upper bound), so the fake accepts it
too (onnx-tensorrt ``release/8.2-GA``: an op without an importer falls back to
``FallbackPluginImporter``, which fails ``Assertion failed: creator && "Plugin not found, are the
plugin name, version, and namespace correct?"`` [UNSUPPORTED_NODE]; ``Reshape`` at opset >= 14
reads ``attrs.get<int>("allowzero")`` with no default, whose ``std::out_of_range`` becomes
``Invalid Node - <name>\\nAttribute not found: allowzero`` [INVALID_NODE]). 8.x stops at the first
failing node (``parseGraph`` returns on the first error); 10.x and later report every statically
checked node. A parsed network has one layer per ONNX node, named as onnx-tensorrt names it, with
tensor types from ONNX shape inference, so precision pinning can be checked. Device memory is
simulated (``driver.MEM``) and engines compute real outputs from it, so tests assert on behaviour.
"""

import importlib
import itertools
import json
import os
import sys
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

ENGINE_MAGIC = b'FAKEENGINE'
DEFAULT_IO = {
    'order': ['logits', 'input', 'stats'],
    'tensors': {
        'input': {'shape': [1, 3, 4, 4], 'dtype': 'float32', 'input': True},
        'logits': {'shape': [1, 5], 'dtype': 'float32', 'input': False},
        'stats': {'shape': [1, 2], 'dtype': 'float16', 'input': False},
    },
}
#: The version string ``tensorrt.__version__`` has for each API generation.
VERSIONS = {'8.2': '8.2.1.8', '8.6': '8.6.1', '10': '10.3.0.26', '11': '11.1.0.106'}
GENERATIONS = tuple(VERSIONS)
PLUGIN_NOT_FOUND = (
    'Assertion failed: creator && "Plugin not found, are the plugin name, version, and namespace '
    'correct?"'
)
NO_SCALES = 'Calibration failure occurred with no scaling factors detected.'

_BUILDER_FLAGS = {
    '8.2': (
        'FP16 INT8 DEBUG GPU_FALLBACK STRICT_TYPES REFIT DISABLE_TIMING_CACHE TF32 SPARSE_WEIGHTS '
        'SAFETY_SCOPE '
        'OBEY_PRECISION_CONSTRAINTS PREFER_PRECISION_CONSTRAINTS DIRECT_IO REJECT_EMPTY_ALGORITHMS'
    ),
    '8.6': (
        'FP16 INT8 DEBUG GPU_FALLBACK STRICT_TYPES REFIT DISABLE_TIMING_CACHE TF32 SPARSE_WEIGHTS '
        'SAFETY_SCOPE '
        'OBEY_PRECISION_CONSTRAINTS PREFER_PRECISION_CONSTRAINTS DIRECT_IO VERSION_COMPATIBLE '
        'EXCLUDE_LEAN_RUNTIME FP8'
    ),
    '10': (
        'FP16 BF16 INT8 DEBUG GPU_FALLBACK REFIT DISABLE_TIMING_CACHE TF32 SPARSE_WEIGHTS '
        'SAFETY_SCOPE '
        'OBEY_PRECISION_CONSTRAINTS PREFER_PRECISION_CONSTRAINTS DIRECT_IO VERSION_COMPATIBLE '
        'EXCLUDE_LEAN_RUNTIME '
        'FP8 ERROR_ON_TIMING_CACHE_MISS DISABLE_COMPILATION_CACHE WEIGHTLESS STRIP_PLAN '
        'REFIT_IDENTICAL '
        'WEIGHT_STREAMING INT4 REFIT_INDIVIDUAL'
    ),
    '11': (
        'DEBUG GPU_FALLBACK REFIT DISABLE_TIMING_CACHE EDITABLE_TIMING_CACHE TF32 SPARSE_WEIGHTS '
        'SAFETY_SCOPE '
        'DIRECT_IO VERSION_COMPATIBLE EXCLUDE_LEAN_RUNTIME ERROR_ON_TIMING_CACHE_MISS '
        'DISABLE_COMPILATION_CACHE '
        'STRIP_PLAN REFIT_IDENTICAL WEIGHT_STREAMING REFIT_INDIVIDUAL STRICT_NANS MONITOR_MEMORY '
        'DISTRIBUTIVE_INDEPENDENCE'
    ),
}
_NETWORK_FLAGS = {
    '8.2': ('EXPLICIT_BATCH', 'EXPLICIT_PRECISION'),
    '8.6': ('EXPLICIT_BATCH', 'EXPLICIT_PRECISION'),
    '10': ('EXPLICIT_BATCH', 'STRONGLY_TYPED'),
    '11': ('STRONGLY_TYPED', 'PREFER_AOT_PYTHON_PLUGINS', 'PREFER_JIT_PYTHON_PLUGINS'),
}
_DATA_TYPES = {
    '8.2': 'FLOAT HALF INT8 INT32 BOOL',
    '8.6': 'FLOAT HALF INT8 INT32 BOOL UINT8 FP8',
    '10': 'FLOAT HALF BF16 INT8 INT32 INT64 BOOL UINT8 FP8 INT4',
    '11': 'FLOAT HALF BF16 INT8 INT32 INT64 BOOL UINT8 FP8 INT4 FP4 E8M0',
}
_NP = {
    'FLOAT': 'float32',
    'HALF': 'float16',
    'INT8': 'int8',
    'INT32': 'int32',
    'INT64': 'int64',
    'BOOL': 'bool',
    'UINT8': 'uint8',
}
_LAYER_TYPES = {
    'Conv': 'CONVOLUTION',
    'ConvTranspose': 'DECONVOLUTION',
    'Gemm': 'MATRIX_MULTIPLY',
    'MatMul': 'MATRIX_MULTIPLY',
    'Relu': 'ACTIVATION',
    'Sigmoid': 'ACTIVATION',
    'Tanh': 'ACTIVATION',
    'Clip': 'ACTIVATION',
    'MaxPool': 'POOLING',
    'AveragePool': 'POOLING',
    'Softmax': 'SOFTMAX',
    'LayerNormalization': 'NORMALIZATION',
    'ReduceMean': 'REDUCE',
    'ReduceMax': 'REDUCE',
    'ReduceSum': 'REDUCE',
    'GlobalAveragePool': 'REDUCE',
    'Sqrt': 'UNARY',
    'Exp': 'UNARY',
    'Erf': 'UNARY',
    'Not': 'UNARY',
    'Reshape': 'SHUFFLE',
    'Transpose': 'SHUFFLE',
    'Flatten': 'SHUFFLE',
    'Squeeze': 'SHUFFLE',
    'Unsqueeze': 'SHUFFLE',
    'Concat': 'CONCATENATION',
    'Gather': 'GATHER',
    'GatherElements': 'GATHER',
    'TopK': 'TOPK',
    'ArgMax': 'TOPK',
    'Slice': 'SLICE',
    'Split': 'SLICE',
    'Expand': 'SLICE',
    'Shape': 'SHAPE',
    'Resize': 'RESIZE',
    'Cast': 'IDENTITY',
}
_ONNX_TO_TRT = {
    1: 'FLOAT',
    10: 'HALF',
    6: 'INT32',
    7: 'INT32',
    9: 'BOOL',
    3: 'INT8',
    2: 'UINT8',
    11: 'FLOAT',
}


def generation(api: str) -> str:
    """Normalise an API name: '8' and '8.2' -> '8.2'; '8.6'; '10'; '11'."""
    api = str(api)
    if api in ('8', '8.2'):
        return '8.2'
    if api not in GENERATIONS:
        raise ValueError(
            'fake tensorrt: unknown API generation {!r} (one of {})'.format(api, GENERATIONS)
        )
    return api


def engine_bytes(io: Optional[Dict[str, Any]] = None, **extra: Any) -> bytes:
    """Return a serialised fake engine with the given I/O description."""
    spec = {'io': io or DEFAULT_IO}
    spec.update(extra)
    return ENGINE_MAGIC + json.dumps(spec).encode()


def fake_compute(inputs: Dict[str, np.ndarray], io: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """
    Compute the fake network's outputs.

    Logits[j] = sum(x) * (j + 1); stats = (mean, max); others zero.
    """
    x = next(iter(inputs.values())).astype(np.float64)
    out = {}
    for name, t in io['tensors'].items():
        if t['input']:
            continue
        shape = tuple(t['shape'])
        if name == 'logits':
            val = np.array([x.sum() * (j + 1) for j in range(int(np.prod(shape)))]).reshape(shape)
        elif name == 'stats':
            val = np.array([x.mean(), x.max()]).reshape(shape)
        else:
            val = np.zeros(shape)
        out[name] = val.astype(t['dtype'])
    return out


# -----------------------------------------------------------------------------------------------
# pycuda


def make_fake_pycuda(
    gpu_name: str = 'NVIDIA Tegra X1',
    cc: Tuple[int, int] = (5, 3),
    fail_memcpy_at: Optional[int] = None,
    fail_alloc_at: Optional[int] = None,
):
    """
    (pycuda package, pycuda.driver) fakes with simulated device memory in ``driver.MEM``.

    ``fail_memcpy_at=n``: the n-th host-to-device copy raises ``LogicError`` (a CUDA failure in the
    middle of calibration); ``fail_alloc_at=n``: the n-th ``mem_alloc`` raises ``MemoryError`` (out
    of GPU memory), as pycuda's ``cuMemAlloc failed: out of memory``.
    """
    drv = types.ModuleType('pycuda.driver')
    drv.MEM = {}
    drv.calls = {
        'mem_alloc': 0,
        'pagelocked_empty': 0,
        'free': 0,
        'push': 0,
        'pop': 0,
        'init': 0,
        'htod': 0,
    }
    addr = itertools.count(0x10000, 0x1000)

    class Error(Exception):
        pass

    class LogicError(Error):
        pass

    class MemoryError(Error):  # noqa: A001 - pycuda's own name
        pass

    class DeviceAllocation:

        def __init__(self, n: int) -> None:
            self.ptr = next(addr)
            drv.MEM[self.ptr] = np.zeros(int(n), np.uint8)

        def __int__(self) -> int:
            return self.ptr

        def free(self) -> None:
            drv.calls['free'] += 1
            drv.MEM.pop(self.ptr, None)

    class Context:

        def push(self) -> None:
            drv.calls['push'] += 1

        def pop(self) -> None:
            drv.calls['pop'] += 1

        def detach(self) -> None:
            drv.calls['detach'] = drv.calls.get('detach', 0) + 1

    class Device:

        def __init__(self, i: int) -> None:
            if i != 0:
                raise LogicError('cuDeviceGet failed: invalid device ordinal')

        def name(self) -> str:
            return gpu_name

        def compute_capability(self) -> Tuple[int, int]:
            return cc

        def retain_primary_context(self) -> Context:
            return Context()

    class Stream:
        handle = 0xABC

        def synchronize(self) -> None:
            drv.calls['sync'] = drv.calls.get('sync', 0) + 1

    def init() -> None:
        drv.calls['init'] += 1

    def mem_alloc(n: int) -> DeviceAllocation:
        drv.calls['mem_alloc'] += 1
        if fail_alloc_at is not None and drv.calls['mem_alloc'] >= fail_alloc_at:
            raise MemoryError('cuMemAlloc failed: out of memory')
        return DeviceAllocation(n)

    def pagelocked_empty(shape: Any, dtype: Any) -> np.ndarray:
        drv.calls['pagelocked_empty'] += 1
        return np.zeros(shape, dtype)

    def memcpy_htod(dev: Any, host: np.ndarray) -> None:
        drv.calls['htod'] += 1
        if fail_memcpy_at is not None and drv.calls['htod'] == fail_memcpy_at:
            raise LogicError('cuMemcpyHtoD failed: an illegal memory access was encountered')
        b = np.ascontiguousarray(host).reshape(-1).view(np.uint8)
        drv.MEM[int(dev)][: b.size] = b

    def memcpy_dtoh(host: np.ndarray, dev: Any) -> None:
        b = host.reshape(-1).view(np.uint8)
        b[:] = drv.MEM[int(dev)][: b.size]

    drv.Error, drv.LogicError, drv.MemoryError = Error, LogicError, MemoryError
    drv.Device, drv.Stream, drv.init, drv.mem_alloc = Device, Stream, init, mem_alloc
    drv.pagelocked_empty, drv.memcpy_htod, drv.memcpy_dtoh = (
        pagelocked_empty,
        memcpy_htod,
        memcpy_dtoh,
    )
    drv.memcpy_htod_async = lambda dev, host, stream=None: memcpy_htod(dev, host)
    drv.memcpy_dtoh_async = lambda host, dev, stream=None: memcpy_dtoh(host, dev)
    drv.Context = Context
    pkg = types.ModuleType('pycuda')
    pkg.driver = drv
    pkg.__path__ = []
    return pkg, drv


# -----------------------------------------------------------------------------------------------
# tensorrt


class _Enum:
    """
    A pybind11-like enum value.

    Compares by identity, ``str`` gives ``Type.NAME``, ``int`` its value.
    """

    def __init__(self, owner: str, name: str, value: int) -> None:
        self.owner, self.name, self.value = owner, name, value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return '<{}.{}: {}>'.format(self.owner, self.name, self.value)

    __str__ = __repr__

    def __hash__(self) -> int:
        return hash((self.owner, self.name))


def _enum(owner: str, names: Sequence[str]) -> type:
    cls = type(owner, (), {})
    cls.__members__ = {}
    for i, n in enumerate(names):
        member = _Enum(owner, n, i)
        setattr(cls, n, member)
        cls.__members__[n] = member
    return cls


def make_fake_trt(
    api: str = '10',
    version: Optional[str] = None,
    fast_fp16: bool = True,
    fast_int8: bool = True,
    parse_errors: Sequence[Dict[str, Any]] = (),
    build_hook: Any = None,
    build_returns_none: bool = False,
    drv: Any = None,
    audit: bool = True,
    fail_deserialize: bool = False,
    fail_context: bool = False,
):
    """
    Return a fake ``tensorrt`` module of API generation ``api``.

    '8.2' (alias '8'), '8.6', '10', '11'.

    ``trt.log`` records what was done (networks, configs with flags, pools, calibrator, pinned
    layers, builds). ``parse_errors`` replaces the audit-derived parser errors; ``audit=False``
    accepts any graph. ``fail_deserialize``: ``deserialize_cuda_engine`` returns None (as TensorRT
    does for a corrupt, mismatched or out-of-memory engine); ``fail_context``:
    ``create_execution_context`` returns None.
    """
    gen = generation(api)
    trt = types.ModuleType('tensorrt')
    trt.__version__ = version or VERSIONS[gen]
    trt.GENERATION = gen
    trt.log = {'networks': [], 'configs': [], 'builds': 0, 'parsed': 0, 'pinned': {}, 'stderr': []}
    weak = gen != '11'  # 11.x: strongly typed networks only

    class Logger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = 0, 1, 2, 3, 4

        def __init__(self, min_severity: int = 2) -> None:
            self.min_severity = min_severity

    DataType = _enum('DataType', _DATA_TYPES[gen].split())
    BuilderFlag = _enum('BuilderFlag', _BUILDER_FLAGS[gen].split())
    NetworkDefinitionCreationFlag = _enum('NetworkDefinitionCreationFlag', _NETWORK_FLAGS[gen])
    LayerType = _enum(
        'LayerType',
        sorted(
            (set(_LAYER_TYPES.values()) | {'ELEMENTWISE', 'CONSTANT'})
            - ({'NORMALIZATION'} if gen == '8.2' else set())
        ),
    )
    ErrorCode = _enum(
        'ErrorCode',
        [
            'SUCCESS',
            'INTERNAL_ERROR',
            'MEM_ALLOC_FAILED',
            'MODEL_DESERIALIZE_FAILED',
            'INVALID_VALUE',
            'INVALID_GRAPH',
            'INVALID_NODE',
            'UNSUPPORTED_GRAPH',
            'UNSUPPORTED_NODE',
        ],
    )
    for member in ErrorCode.__members__.values():  # pyOnnx.cpp: ErrorCode.__str__ is the bare name
        member.__class__ = type('ErrorCodeValue', (_Enum,), {'__str__': lambda self: self.name})
    TensorIOMode = _enum('TensorIOMode', ['NONE', 'INPUT', 'OUTPUT'])

    def nptype(dt: Any) -> Any:
        return np.dtype(_NP[dt.name]).type

    def emit(text: str) -> None:
        trt.log['stderr'].append(text)
        sys.stderr.write(text + '\n')
        sys.stderr.flush()

    # ------------------------------------------------------------------ network, layers, parser
    class ITensor:

        def __init__(self, name: str, dtype: Any) -> None:
            self.name, self.dtype = name, dtype

    class ILayer:

        def __init__(self, name: str, ltype: Any, inputs: List[Any], outputs: List[Any]) -> None:
            self.name, self.type = name, ltype
            self._inputs, self._outputs = inputs, outputs
            self._out_types: Dict[int, Any] = {}
            self._precision = None

        @property
        def num_inputs(self) -> int:
            return len(self._inputs)

        @property
        def num_outputs(self) -> int:
            return len(self._outputs)

        def get_input(self, i: int) -> Any:
            return self._inputs[i]

        def get_output(self, i: int) -> Any:
            return self._outputs[i]

        def get_output_type(self, i: int) -> Any:
            return self._out_types.get(i, self._outputs[i].dtype)

    if weak:

        def _get_precision(self: Any) -> Any:
            return self._precision if self._precision is not None else DataType.FLOAT

        def _set_precision(self: Any, dt: Any) -> None:
            if not isinstance(dt, _Enum) or getattr(DataType, dt.name, None) is not dt:
                raise TypeError('precision: incompatible function arguments')
            self._precision = dt

        def set_output_type(self: Any, i: int, dt: Any) -> None:
            if getattr(DataType, getattr(dt, 'name', ''), None) is not dt:
                raise TypeError('set_output_type(): incompatible function arguments')
            self._out_types[i] = dt

        ILayer.precision = property(_get_precision, _set_precision)
        ILayer.precision_is_set = property(lambda self: self._precision is not None)
        ILayer.set_output_type = set_output_type
        ILayer.output_type_is_set = lambda self, i: i in self._out_types

    class INetworkDefinition:

        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.layers: List[Any] = []

        @property
        def num_layers(self) -> int:
            return len(self.layers)

        def get_layer(self, i: int) -> Any:
            return self.layers[i]

        def has_implicit_batch(self) -> bool:
            return gen in ('8.2', '8.6') and not self.flags & (
                1 << int(NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
            )

    class ParserError:

        def __init__(
            self,
            desc: str,
            code: str = 'UNSUPPORTED_NODE',
            node: int = -1,
            func: str = '',
            name: str = '',
            op: str = '',
        ) -> None:
            self._desc, self._code, self._node, self._func, self._name, self._op = (
                desc,
                code,
                node,
                func,
                name,
                op,
            )

        def code(self) -> Any:
            return getattr(ErrorCode, self._code)

        def desc(self) -> str:
            return self._desc

        def node(self) -> int:
            return self._node

        def func(self) -> str:
            return self._func

        def file(self) -> str:
            return 'ModelImporter.cpp'

        def line(self) -> int:
            return 0

        def __str__(self) -> str:  # pyOnnx.cpp parser_error_str
            return 'In node {} ({}): {}: {}'.format(self._node, self._func, self._code, self._desc)

    if gen in ('10', '11'):
        ParserError.node_name = lambda self: self._name
        ParserError.node_operator = lambda self: self._op

    def _error_for(finding: Any, index: int) -> Any:
        """
        Return the real parser's text for an audit finding (see the module docstring).

        None for an opset finding.
        """
        op, node, rule = str(finding.op), str(finding.node), str(finding.rule)
        low = rule.lower()
        if (
            op == 'opset'
        ):  # the parser only logs the opset (ModelImporter.cpp); the audit refuses it as policy
            return None
        if node == '(graph)':
            return ParserError(
                'Assertion failed: {}'.format(rule),
                'UNSUPPORTED_GRAPH',
                -1,
                'importInputs',
                '',
                op,
            )
        if 'allowzero' in low:
            return ParserError(
                'Invalid Node - {}\nAttribute not found: allowzero'.format(node),
                'INVALID_NODE',
                index,
                'parseGraph',
                node,
                op,
            )
        if (
            'importer' in low
            or 'not supported' in low
            or 'unsupported' in low
            or 'no such op' in low
        ):
            return ParserError(
                PLUGIN_NOT_FOUND,
                'UNSUPPORTED_NODE',
                index,
                'importFallbackPluginImporter',
                node,
                op,
            )
        return ParserError(
            'Assertion failed: {}'.format(rule), 'UNSUPPORTED_NODE', index, 'import' + op, node, op
        )

    def _tensor_types(model: Any) -> Dict[str, Any]:
        import onnx

        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:
            inferred = model
        types_: Dict[str, Any] = {}
        g = inferred.graph
        for vi in list(g.input) + list(g.value_info) + list(g.output):
            types_[vi.name] = vi.type.tensor_type.elem_type
        for init in g.initializer:
            types_[init.name] = init.data_type
        return types_

    def _build_layers(network: Any, model: Any) -> None:
        elem = _tensor_types(model)
        tensors: Dict[str, Any] = {}

        def tensor(name: str) -> Any:
            if name not in tensors:
                dt_name = _ONNX_TO_TRT.get(elem.get(name, 1), 'FLOAT')
                tensors[name] = ITensor(name, getattr(DataType, dt_name))
            return tensors[name]

        # a non-float initializer (Reshape shape, TopK K, axes) is read by the importer as a
        # parameter, not wired in as a layer input; float initializers become constant-layer inputs
        params = {
            i.name
            for i in model.graph.initializer
            if _ONNX_TO_TRT.get(i.data_type) not in ('FLOAT', 'HALF')
        }
        used: Dict[str, int] = {}
        for node in model.graph.node:
            if node.op_type == 'Constant':  # the parser adds no layer for Constant nodes
                continue
            name = node.name or 'node_of_{}'.format(node.output[0])
            if name in used:  # ImporterContext::generateUniqueName
                used[name] += 1
                name = '{}_{}'.format(name, used[name])
            used.setdefault(name, 0)
            ltype = (
                getattr(LayerType, _LAYER_TYPES.get(node.op_type, 'ELEMENTWISE'), None)
                or LayerType.ELEMENTWISE
            )
            ins = [tensor(i) for i in node.input if i and i not in params]
            outs = [tensor(o) for o in node.output if o]
            network.layers.append(ILayer(name, ltype, ins, outs))

    class OnnxParser:

        def __init__(self, network: Any, logger: Any) -> None:
            self.network = network
            self.errors: List[Any] = []

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> Any:
            return self.errors[i]

        def clear_errors(self) -> None:
            self.errors = []

        def parse(self, model: bytes, path: Optional[str] = None) -> bool:
            import onnx

            trt.log['parsed'] += 1
            data = bytes(model)
            trt.log['onnx_bytes'] = len(data)
            if parse_errors:
                self.errors = [
                    ParserError(
                        e['desc'],
                        e.get('code', 'UNSUPPORTED_NODE'),
                        e.get('node', -1),
                        e.get('func', ''),
                        e.get('name', ''),
                        e.get('op', ''),
                    )
                    for e in parse_errors
                ]
                return False
            if self.network.has_implicit_batch():
                self.errors = [
                    ParserError(
                        'Assertion failed: !_importer_ctx.network()->hasImplicitBatchDimension() '
                        '&& "This version of the '
                        'ONNX parser only supports TensorRT INetworkDefinitions with an explicit '
                        'batch dimension. Please '
                        'ensure the network was created using the EXPLICIT_BATCH '
                        'NetworkDefinitionCreationFlag."',
                        'INVALID_VALUE',
                        -1,
                        'parseWithWeightDescriptors',
                    )
                ]
                return False
            try:
                proto = onnx.load_from_string(data)
                if not proto.graph.node:
                    raise ValueError('empty graph')
            except Exception:
                self.errors = [
                    ParserError(
                        'Assertion failed: (model->ParseFromCodedStream(&coded_input)) && "Failed '
                        'to parse the ONNX model."',
                        'MODEL_DESERIALIZE_FAILED',
                        -1,
                        'parse',
                    )
                ]
                return False
            if audit:
                from vitedge_ros.export.trt_audit import audit_model, target_for_trt_version

                # 11.x: newer than the audit's rules (8.0-10.x); its parser extends 10.x's
                target = 'trt10' if gen == '11' else target_for_trt_version(trt.__version__)
                findings = audit_model(proto, target)
                index = {n.name: i for i, n in enumerate(proto.graph.node)}
                errors = [
                    e
                    for e in (_error_for(f, index.get(str(f.node), -1)) for f in findings)
                    if e is not None
                ]
                errors.sort(key=lambda e: e.node())
                if gen in ('8.2', '8.6'):
                    errors = errors[:1]  # parseGraph returns on the first failing node
                if errors:
                    self.errors = errors
                    return False
            _build_layers(self.network, proto)
            return True

    # ----------------------------------------------------------------- builder, config, calibrator
    class TimingCache:

        def __init__(self, data: bytes) -> None:
            self.data = bytes(data)

        def serialize(self) -> bytes:
            return self.data + b'|timed'

    class IBuilderConfig:

        def __init__(self) -> None:
            self.flags: List[str] = []
            self.pool_limits: Dict[str, int] = {}
            self.timing_cache: Optional[TimingCache] = None
            if gen in ('8.2', '8.6'):
                self.max_workspace_size = 0

        def set_flag(self, flag: Any) -> None:
            if not isinstance(flag, _Enum) or getattr(BuilderFlag, flag.name, None) is not flag:
                raise TypeError('set_flag(): incompatible function arguments')
            self.flags.append(flag.name)

        def get_flag(self, flag: Any) -> bool:
            return flag.name in self.flags

        def create_timing_cache(self, data: bytes) -> TimingCache:
            return TimingCache(data)

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> Optional[TimingCache]:
            return self.timing_cache

    if gen != '8.2':
        MemoryPoolType = _enum(
            'MemoryPoolType',
            ['WORKSPACE', 'DLA_MANAGED_SRAM', 'DLA_LOCAL_DRAM', 'DLA_GLOBAL_DRAM'],
        )

        def set_memory_pool_limit(self: Any, pool: Any, pool_size: int) -> None:
            self.pool_limits[pool.name] = int(pool_size)

        IBuilderConfig.set_memory_pool_limit = set_memory_pool_limit
        trt.MemoryPoolType = MemoryPoolType
    if weak:
        IBuilderConfig.int8_calibrator = None  # a plain attribute, as the pybind property behaves

        class IInt8EntropyCalibrator2:

            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    def _callback(name: str, default: Any, fn: Any, *args: Any) -> Any:
        """Call a Python calibrator method as the C++ trampoline of this version does."""
        try:
            result = fn(*args)
            if name == 'get_batch' and result is not None:
                result = [int(p) for p in result]  # result.cast<std::vector<size_t>>()
            return result
        except BaseException as exc:
            if gen == '8.2':  # noexcept override without try: std::terminate
                emit(
                    'terminate called after throwing an instance of '
                    "'pybind11::error_already_set'\n"
                    '  what():  {}: {}'.format(type(exc).__name__, exc)
                )
                os.abort()
            emit('[ERROR] Exception caught in {}(): {}'.format(name, exc))
            return default

    def _calibrate(calib: Any, network: Any) -> Optional[int]:
        _callback('get_batch_size', 0, calib.get_batch_size)
        cached = _callback('read_calibration_cache', None, calib.read_calibration_cache)
        if cached is not None and len(bytes(cached)) > 0:
            trt.log['calib_cache_read'] = bytes(cached)
            return 0
        names = [
            t.name for layer in network.layers[:1] for t in layer._inputs[:1] if t is not None
        ] or ['input']
        batches = []
        while len(batches) < 100000:
            ptrs = _callback('get_batch', None, calib.get_batch, names)
            if not ptrs:
                break
            batches.append(drv.MEM[ptrs[0]].copy() if drv is not None else ptrs)
        trt.log['calib_batches'] = batches
        if not batches:
            emit('[TRT] [E] 2: [calibrator.cpp::calibrateEngine] {}'.format(NO_SCALES))
            return None
        _callback(
            'write_calibration_cache',
            None,
            calib.write_calibration_cache,
            memoryview(b'CALIB%d' % len(batches)),
        )
        return len(batches)

    class Builder:

        def __init__(self, logger: Any) -> None:
            self.logger = logger
            if weak:
                self.platform_has_fast_fp16 = fast_fp16
                self.platform_has_fast_int8 = fast_int8
            if gen in ('8.2', '8.6'):
                self.max_batch_size = 1

        def create_network(self, flags: int = 0) -> Any:
            net = INetworkDefinition(int(flags))
            trt.log['networks'].append(net)
            return net

        def create_builder_config(self) -> Any:
            cfg = IBuilderConfig()
            trt.log['configs'].append(cfg)
            return cfg

        def build_serialized_network(self, network: Any, config: Any) -> Optional[bytes]:
            trt.log['builds'] += 1
            trt.log['pinned'] = {
                layer.name: (
                    layer._precision.name if layer._precision is not None else None,
                    sorted(t.name for t in layer._out_types.values()),
                )
                for layer in network.layers
                if layer._precision is not None or layer._out_types
            }
            calib = getattr(config, 'int8_calibrator', None)
            if calib is not None and 'INT8' in config.flags:
                if _calibrate(calib, network) is None:
                    return None
            if build_hook is not None:
                build_hook(network, config)
            if build_returns_none:
                return None
            return engine_bytes(flags=sorted(config.flags), version=trt.__version__)

    if gen in ('8.2', '8.6'):

        class _Engine8Host:

            def __init__(self, data: bytes) -> None:
                self.data = data

            def serialize(self) -> bytes:
                return self.data

        def build_engine(self: Any, network: Any, config: Any) -> Any:
            data = Builder.build_serialized_network(self, network, config)
            return _Engine8Host(data) if data is not None else None

        Builder.build_engine = build_engine  # deprecated in 8.x, removed in 10.0

    # ------------------------------------------------------------------ runtime, engines, contexts
    class ICudaEngine:

        def __init__(self, spec: Dict[str, Any]) -> None:
            self.io = spec['io']
            self.order = list(self.io['order'])
            self.contexts: List[Any] = []

        def _t(self, name: str) -> Dict[str, Any]:
            return self.io['tensors'][name]

        def create_execution_context(self) -> Any:
            if fail_context:
                emit(
                    '[TRT] [E] 1: [defaultAllocator.cpp::allocate::20] Error Code 1: Cuda Runtime '
                    '(out of memory)'
                )
                return None
            ctx = IExecutionContext(self)
            self.contexts.append(ctx)
            return ctx

    if gen in ('8.2', '8.6'):
        ICudaEngine.num_bindings = property(lambda self: len(self.order))
        ICudaEngine.get_binding_name = lambda self, i: self.order[i]
        ICudaEngine.binding_is_input = lambda self, i: self._t(self.order[i])['input']
        ICudaEngine.get_binding_shape = lambda self, i: tuple(self._t(self.order[i])['shape'])
        ICudaEngine.get_binding_dtype = lambda self, i: getattr(
            DataType, _dt_name(self._t(self.order[i])['dtype'])
        )
    if gen != '8.2':
        ICudaEngine.num_io_tensors = property(lambda self: len(self.order))
        ICudaEngine.get_tensor_name = lambda self, i: self.order[i]
        ICudaEngine.get_tensor_mode = lambda self, n: (
            TensorIOMode.INPUT if self._t(n)['input'] else TensorIOMode.OUTPUT
        )
        ICudaEngine.get_tensor_shape = lambda self, n: tuple(self._t(n)['shape'])
        ICudaEngine.get_tensor_dtype = lambda self, n: getattr(
            DataType, _dt_name(self._t(n)['dtype'])
        )

    def _run(engine: Any, addresses: Dict[str, int]) -> None:
        inputs = {}
        for name, t in engine.io['tensors'].items():
            if t['input']:
                n = int(np.prod(t['shape'])) * np.dtype(t['dtype']).itemsize
                inputs[name] = drv.MEM[addresses[name]][:n].view(t['dtype']).reshape(t['shape'])
        for name, val in fake_compute(inputs, engine.io).items():
            b = np.ascontiguousarray(val).reshape(-1).view(np.uint8)
            drv.MEM[addresses[name]][: b.size] = b

    class IExecutionContext:

        def __init__(self, engine: Any) -> None:
            self.engine = engine
            self.addresses: Dict[str, int] = {}
            self.set_calls = 0
            self.calls: List[Any] = []

    if gen in ('8.2', '8.6'):

        def execute_async_v2(
            self: Any, bindings: List[int], stream_handle: int, input_consumed: Any = None
        ) -> bool:
            self.calls.append((list(bindings), stream_handle))
            _run(self.engine, {name: bindings[i] for i, name in enumerate(self.engine.order)})
            return True

        IExecutionContext.execute_async_v2 = execute_async_v2
    if gen != '8.2':

        def set_tensor_address(self: Any, name: str, memory: int) -> bool:
            self.set_calls += 1
            self.addresses[name] = memory
            return True

        def execute_async_v3(self: Any, stream_handle: int) -> bool:
            self.calls.append(stream_handle)
            _run(self.engine, self.addresses)
            return True

        IExecutionContext.set_tensor_address = set_tensor_address
        IExecutionContext.execute_async_v3 = execute_async_v3

    class Runtime:

        def __init__(self, logger: Any) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine: bytes) -> Optional[Any]:
            data = bytes(serialized_engine)
            if fail_deserialize:
                emit(
                    '[TRT] [E] 2: [engine.cpp::deserializeEngine] Error Code 2: OutOfMemory (no '
                    'further information)'
                )
                return None
            if not data.startswith(ENGINE_MAGIC):
                emit(
                    '[TRT] [E] 1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: '
                    'Serialization '
                    '(Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does '
                    'not match)'
                )
                return None
            spec = json.loads(data[len(ENGINE_MAGIC):].decode())
            built = spec.get('version')
            if built is not None and built != trt.__version__:
                emit(
                    '[TRT] [E] 6: The engine plan file is not compatible with this version of '
                    'TensorRT, expecting '
                    'library version {} got {}, please rebuild.'.format(trt.__version__, built)
                )
                return None
            eng = ICudaEngine(spec)
            trt.log['engine'] = eng
            return eng

    for name, obj in {
        'Logger': Logger,
        'DataType': DataType,
        'TensorIOMode': TensorIOMode,
        'nptype': nptype,
        'NetworkDefinitionCreationFlag': NetworkDefinitionCreationFlag,
        'BuilderFlag': BuilderFlag,
        'LayerType': LayerType,
        'ErrorCode': ErrorCode,
        'ParserError': ParserError,
        'OnnxParser': OnnxParser,
        'Builder': Builder,
        'Runtime': Runtime,
        'ILayer': ILayer,
        'ITensor': ITensor,
        'INetworkDefinition': INetworkDefinition,
        'IBuilderConfig': IBuilderConfig,
        'ICudaEngine': ICudaEngine,
        'IExecutionContext': IExecutionContext,
    }.items():
        setattr(trt, name, obj)
    return trt


def _dt_name(np_dtype: str) -> str:
    return {v: k for k, v in _NP.items()}[str(np.dtype(np_dtype))]


ENGINE_MODULE = 'vitedge_ros.runtime.engines.tensorrt_engine'


def install_fakes(
    monkeypatch: Any,
    api: str = '10',
    gpu_name: str = 'NVIDIA Tegra X1',
    cc: Tuple[int, int] = (5, 3),
    fail_memcpy_at: Optional[int] = None,
    fail_alloc_at: Optional[int] = None,
    **trt_kwargs: Any,
):
    """
    Put fake tensorrt/pycuda in sys.modules and (re)import the TensorRT engine module against them.

    Returns (tensorrt_engine module, fake trt, fake pycuda.driver). Call
    :func:`forget_engine_module` after.
    """
    pkg, drv = make_fake_pycuda(
        gpu_name, cc, fail_memcpy_at=fail_memcpy_at, fail_alloc_at=fail_alloc_at
    )
    trt = make_fake_trt(api, drv=drv, **trt_kwargs)
    monkeypatch.setitem(sys.modules, 'tensorrt', trt)
    monkeypatch.setitem(sys.modules, 'pycuda', pkg)
    monkeypatch.setitem(sys.modules, 'pycuda.driver', drv)
    forget_engine_module()
    mod = importlib.import_module(ENGINE_MODULE)
    return mod, trt, drv


def forget_engine_module() -> None:
    """Drop the engine module so the next import sees the real (absent) TensorRT again."""
    sys.modules.pop(ENGINE_MODULE, None)
    pkg = sys.modules.get('vitedge_ros.runtime.engines')
    if pkg is not None and hasattr(pkg, 'tensorrt_engine'):
        delattr(pkg, 'tensorrt_engine')


# -----------------------------------------------------------------------------------------------
# subprocesses

ENV_OPTIONS = 'VITEDGE_FAKE_TRT'
_SHIM = (
    'import os, sys\n'
    'sys.path.insert(0, {test_dir!r})\n'
    'import fake_tensorrt\n'
    'fake_tensorrt.install_from_env()\n'
)


def install_from_env() -> None:
    """
    Install fake tensorrt + pycuda into sys.modules from the JSON options in ``$VITEDGE_FAKE_TRT``.

    Used by the shim packages of :func:`fake_env`, so a child process imports the fakes as
    ``tensorrt``.
    """
    if 'tensorrt' in sys.modules and getattr(sys.modules['tensorrt'], 'GENERATION', None):
        return
    opts = json.loads(os.environ.get(ENV_OPTIONS, '{}'))
    pkg, drv = make_fake_pycuda(
        opts.pop('gpu_name', 'NVIDIA Tegra X1'),
        tuple(opts.pop('cc', (5, 3))),
        fail_memcpy_at=opts.pop('fail_memcpy_at', None),
        fail_alloc_at=opts.pop('fail_alloc_at', None),
    )
    trt = make_fake_trt(opts.pop('api', '10'), drv=drv, **opts)
    sys.modules['tensorrt'] = trt
    sys.modules['pycuda'] = pkg
    sys.modules['pycuda.driver'] = drv


def fake_env(tmp_dir: Any, root: Any, **options: Any) -> Dict[str, str]:
    """
    Return the environment of a child process whose tensorrt / pycuda.driver imports give fakes.

    The fakes are made with ``options`` (``api``, ``gpu_name``, ``cc``, ``fail_memcpy_at``, ...);
    ``root`` goes on the path.
    """
    shim = os.path.join(str(tmp_dir), 'fake_trt_shim')
    test_dir = os.path.dirname(os.path.abspath(__file__))
    for pkg in ('tensorrt', 'pycuda'):
        os.makedirs(os.path.join(shim, pkg), exist_ok=True)
        with open(os.path.join(shim, pkg, '__init__.py'), 'w') as fh:
            fh.write(_SHIM.format(test_dir=test_dir))
    with open(os.path.join(shim, 'pycuda', 'driver.py'), 'w') as fh:
        fh.write(_SHIM.format(test_dir=test_dir))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [shim, str(root)] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else [])
    )
    env[ENV_OPTIONS] = json.dumps(options)
    return env

"""Fake ``tensorrt`` and ``pycuda`` modules for CI (no GPU): both TensorRT Python APIs, simulated device memory.

The fakes record what the code under test does (workspace API, flags, bound addresses, calls) and compute
real outputs from the bytes in simulated device memory, so tests assert on behaviour, not on "it ran".
Imported by test_tensorrt_engine.py and test_build_engine.py; the tests below check the fakes themselves.
"""
import importlib
import itertools
import json
import sys
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest

ENGINE_MAGIC = b'FAKEENGINE'
DEFAULT_IO = {'order': ['logits', 'input', 'stats'],
              'tensors': {'input': {'shape': [1, 3, 4, 4], 'dtype': 'float32', 'input': True},
                          'logits': {'shape': [1, 5], 'dtype': 'float32', 'input': False},
                          'stats': {'shape': [1, 2], 'dtype': 'float16', 'input': False}}}


def engine_bytes(io: Optional[Dict[str, Any]] = None, **extra: Any) -> bytes:
    """A serialised fake engine with the given I/O description."""
    return ENGINE_MAGIC + json.dumps({'io': io or DEFAULT_IO, **extra}).encode()


def fake_compute(inputs: Dict[str, np.ndarray], io: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """What the fake network computes: logits[j] = sum(x) * (j + 1); stats = (mean, max); others zero."""
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


# ----------------------------------------------------------------------------------------------- pycuda

def make_fake_pycuda(gpu_name: str = 'NVIDIA Tegra X1', cc: Tuple[int, int] = (5, 3)):
    """(pycuda package, pycuda.driver) fakes with simulated device memory in ``driver.MEM``."""
    drv = types.ModuleType('pycuda.driver')
    drv.MEM = {}
    drv.calls = {'mem_alloc': 0, 'pagelocked_empty': 0, 'free': 0, 'push': 0, 'pop': 0, 'init': 0}
    addr = itertools.count(0x10000, 0x1000)

    class Error(Exception):
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
                raise Error('invalid device ordinal')

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
        return DeviceAllocation(n)

    def pagelocked_empty(shape: Any, dtype: Any) -> np.ndarray:
        drv.calls['pagelocked_empty'] += 1
        return np.zeros(shape, dtype)

    def memcpy_htod(dev: Any, host: np.ndarray) -> None:
        b = np.ascontiguousarray(host).reshape(-1).view(np.uint8)
        drv.MEM[int(dev)][:b.size] = b

    def memcpy_dtoh(host: np.ndarray, dev: Any) -> None:
        b = host.reshape(-1).view(np.uint8)
        b[:] = drv.MEM[int(dev)][:b.size]

    drv.Error, drv.Device, drv.Stream, drv.init, drv.mem_alloc = Error, Device, Stream, init, mem_alloc
    drv.pagelocked_empty, drv.memcpy_htod, drv.memcpy_dtoh = pagelocked_empty, memcpy_htod, memcpy_dtoh
    drv.memcpy_htod_async = lambda dev, host, stream=None: memcpy_htod(dev, host)
    drv.memcpy_dtoh_async = lambda host, dev, stream=None: memcpy_dtoh(host, dev)
    drv.Context = Context
    pkg = types.ModuleType('pycuda')
    pkg.driver = drv
    pkg.__path__ = []
    return pkg, drv


# ----------------------------------------------------------------------------------------------- tensorrt

def make_fake_trt(api: str = '10', version: Optional[str] = None, fast_fp16: bool = True, fast_int8: bool = True,
                  parse_errors: Sequence[Dict[str, Any]] = (), build_hook: Any = None, build_returns_none: bool = False,
                  drv: Any = None):
    """A fake ``tensorrt`` module: ``api='8'`` is TensorRT 8.2 (bindings, max_workspace_size, implicit batch
    builder), ``api='10'`` TensorRT 10 (tensor names, memory pools). ``trt.log`` records what was done."""
    trt = types.ModuleType('tensorrt')
    trt.__version__ = version or ('10.3.0.26' if api == '10' else '8.2.1.8')
    trt.log = {'networks': [], 'configs': [], 'builds': 0, 'parsed': 0}
    new_api = api == '10'

    class Logger:
        VERBOSE, INFO, WARNING, ERROR = 0, 1, 2, 3

        def __init__(self, severity: int = 2) -> None:
            self.severity = severity

    class DataType:
        FLOAT, HALF, INT8, INT32 = 'float32', 'float16', 'int8', 'int32'

    class TensorIOMode:
        NONE, INPUT, OUTPUT = 0, 1, 2

    class NetworkDefinitionCreationFlag:
        EXPLICIT_BATCH = 0

    class BuilderFlag:
        FP16, INT8 = 'FP16', 'INT8'

    def nptype(dt: str) -> Any:
        return np.dtype(dt).type

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags

    class TimingCache:
        def __init__(self, data: bytes) -> None:
            self.data = bytes(data)

        def serialize(self) -> bytes:
            return self.data + b'|timed'

    class Config:
        def __init__(self) -> None:
            self.flags: List[str] = []
            self.pool_limits: Dict[Any, int] = {}
            self.int8_calibrator = None
            self.timing_cache: Optional[TimingCache] = None
            if not new_api:
                self.max_workspace_size = 0

        def set_flag(self, flag: str) -> None:
            self.flags.append(flag)

        def create_timing_cache(self, data: bytes) -> TimingCache:
            return TimingCache(data)

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            self.timing_cache = cache
            return True

        def get_timing_cache(self) -> Optional[TimingCache]:
            return self.timing_cache

    if new_api:
        class MemoryPoolType:
            WORKSPACE = 'WORKSPACE'

        def set_memory_pool_limit(self: Config, pool: str, n: int) -> None:
            self.pool_limits[pool] = n

        Config.set_memory_pool_limit = set_memory_pool_limit
        trt.MemoryPoolType = MemoryPoolType

    class ParserError:
        def __init__(self, spec: Dict[str, Any]) -> None:
            self.spec = spec

        def code(self) -> str:
            return self.spec.get('code', 'UNSUPPORTED_NODE')

        def desc(self) -> str:
            return self.spec['desc']

        def node(self) -> int:
            return self.spec.get('node', -1)

    if new_api:
        ParserError.node_name = lambda self: self.spec.get('name', '')
        ParserError.node_operator = lambda self: self.spec.get('op', '')

    class OnnxParser:
        def __init__(self, network: Network, logger: Logger) -> None:
            self.network = network
            self.errors = [ParserError(e) for e in parse_errors]

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> ParserError:
            return self.errors[i]

        def parse(self, data: bytes) -> bool:
            trt.log['parsed'] += 1
            trt.log['onnx_bytes'] = len(data)
            return not self.errors

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger
            self.platform_has_fast_fp16 = fast_fp16
            self.platform_has_fast_int8 = fast_int8
            if not new_api:
                self.max_batch_size = 1

        def create_network(self, flags: int = 0) -> Network:
            net = Network(flags)
            trt.log['networks'].append(net)
            return net

        def create_builder_config(self) -> Config:
            cfg = Config()
            trt.log['configs'].append(cfg)
            return cfg

        def build_serialized_network(self, network: Network, config: Config) -> Optional[bytes]:
            trt.log['builds'] += 1
            calib = config.int8_calibrator
            if calib is not None:  # what TensorRT does: read the cache, else pull batches, then write the cache
                cached = calib.read_calibration_cache()
                if cached is None:
                    batches = []
                    while True:
                        ptrs = calib.get_batch(['input'])
                        if ptrs is None:
                            break
                        batches.append(drv.MEM[ptrs[0]].copy() if drv is not None else ptrs)
                    trt.log['calib_batches'] = batches
                    calib.write_calibration_cache(b'CALIB%d' % len(batches))
                else:
                    trt.log['calib_cache_read'] = bytes(cached)
            if build_hook is not None:
                build_hook(network, config)
            if build_returns_none:
                return None
            return engine_bytes(flags=sorted(config.flags))

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            pass

    class Engine:
        def __init__(self, spec: Dict[str, Any]) -> None:
            self.io = spec['io']
            self.order = list(self.io['order'])
            self.contexts: List[Any] = []

        def _t(self, name: str) -> Dict[str, Any]:
            return self.io['tensors'][name]

        def create_execution_context(self) -> Any:
            ctx = Context10(self) if new_api else Context8(self)
            self.contexts.append(ctx)
            return ctx

    class Engine8(Engine):
        @property
        def num_bindings(self) -> int:
            return len(self.order)

        def get_binding_name(self, i: int) -> str:
            return self.order[i]

        def binding_is_input(self, i: int) -> bool:
            return self._t(self.order[i])['input']

        def get_binding_shape(self, i: int) -> Tuple[int, ...]:
            return tuple(self._t(self.order[i])['shape'])

        def get_binding_dtype(self, i: int) -> str:
            return self._t(self.order[i])['dtype']

    class Engine10(Engine):
        @property
        def num_io_tensors(self) -> int:
            return len(self.order)

        def get_tensor_name(self, i: int) -> str:
            return self.order[i]

        def get_tensor_mode(self, name: str) -> int:
            return TensorIOMode.INPUT if self._t(name)['input'] else TensorIOMode.OUTPUT

        def get_tensor_shape(self, name: str) -> Tuple[int, ...]:
            return tuple(self._t(name)['shape'])

        def get_tensor_dtype(self, name: str) -> str:
            return self._t(name)['dtype']

    def _run(engine: Engine, addresses: Dict[str, int]) -> None:
        inputs = {}
        for name, t in engine.io['tensors'].items():
            if t['input']:
                n = int(np.prod(t['shape'])) * np.dtype(t['dtype']).itemsize
                inputs[name] = drv.MEM[addresses[name]][:n].view(t['dtype']).reshape(t['shape'])
        for name, val in fake_compute(inputs, engine.io).items():
            b = np.ascontiguousarray(val).reshape(-1).view(np.uint8)
            drv.MEM[addresses[name]][:b.size] = b

    class Context8:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.calls: List[Tuple[List[int], int]] = []

        def execute_async_v2(self, bindings: List[int], stream_handle: int) -> bool:
            self.calls.append((list(bindings), stream_handle))
            _run(self.engine, {name: bindings[i] for i, name in enumerate(self.engine.order)})
            return True

    class Context10:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self.addresses: Dict[str, int] = {}
            self.set_calls = 0
            self.calls: List[int] = []

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.set_calls += 1
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            self.calls.append(stream_handle)
            _run(self.engine, self.addresses)
            return True

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data: bytes) -> Optional[Engine]:
            if not bytes(data).startswith(ENGINE_MAGIC):
                return None
            spec = json.loads(bytes(data)[len(ENGINE_MAGIC):].decode())
            eng = (Engine10 if new_api else Engine8)(spec)
            trt.log['engine'] = eng
            return eng

    for name, obj in dict(Logger=Logger, DataType=DataType, TensorIOMode=TensorIOMode, nptype=nptype,
                          NetworkDefinitionCreationFlag=NetworkDefinitionCreationFlag, BuilderFlag=BuilderFlag,
                          OnnxParser=OnnxParser, Builder=Builder, Runtime=Runtime,
                          IInt8EntropyCalibrator2=IInt8EntropyCalibrator2).items():
        setattr(trt, name, obj)
    return trt


ENGINE_MODULE = 'vitedge_ros.runtime.engines.tensorrt_engine'


def install_fakes(monkeypatch: Any, api: str = '10', gpu_name: str = 'NVIDIA Tegra X1',
                  cc: Tuple[int, int] = (5, 3), **trt_kwargs: Any):
    """Put fake tensorrt/pycuda in sys.modules and (re)import the TensorRT engine module against them.

    Returns (tensorrt_engine module, fake trt, fake pycuda.driver). Call :func:`forget_engine_module` after.
    """
    pkg, drv = make_fake_pycuda(gpu_name, cc)
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


# ----------------------------------------------------------------------------------------------- self-tests

def test_fake_pycuda_memory_roundtrip():
    _pkg, drv = make_fake_pycuda()
    dev = drv.mem_alloc(16)
    src = np.arange(4, dtype=np.float32)
    drv.memcpy_htod(dev, src)
    dst = np.zeros(4, np.float32)
    drv.memcpy_dtoh(dst, dev)
    assert np.array_equal(src, dst)


@pytest.mark.parametrize('api', ['8', '10'])
def test_fake_trt_has_only_its_api(api):
    trt = make_fake_trt(api)
    eng = trt.Runtime(trt.Logger()).deserialize_cuda_engine(engine_bytes())
    assert hasattr(eng, 'num_io_tensors') == (api == '10')
    assert hasattr(eng, 'num_bindings') == (api == '8')
    assert hasattr(trt, 'MemoryPoolType') == (api == '10')
    assert trt.Runtime(trt.Logger()).deserialize_cuda_engine(b'garbage') is None

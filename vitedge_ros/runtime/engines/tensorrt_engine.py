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
TensorRT engine: deserialises a keyed engine file and runs it with pycuda buffers and stream.

Importing this module imports ``tensorrt`` and ``pycuda.driver``; when either is missing it raises
ImportError, which :func:`vitedge_ros.runtime.engines.create_engine` turns into the onnxruntime
fallback.

Both TensorRT Python APIs are supported, chosen by capability (not by version string):

* tensor-name API (TensorRT ≥ 8.5, the only one in 10.x): ``num_io_tensors``,
  ``get_tensor_name/shape/ dtype/mode``, ``context.set_tensor_address`` and
  ``execute_async_v3(stream)``;
* binding API (TensorRT 8.2 on JetPack 4.6): ``num_bindings``, ``get_binding_name/shape/dtype``,
  ``binding_is_input`` and ``execute_async_v2(bindings, stream_handle)``.

Host buffers are page-locked, device buffers are allocated once at load and reused for every frame,
and the addresses are bound once. All CUDA calls run inside the device's primary context, pushed
and popped around each call, so the engine may be used from a worker thread other than the one that
created it.
"""

from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

try:
    import pycuda.driver as cuda
    import tensorrt as trt
except ImportError as _exc:  # the caller falls back to onnxruntime and says why
    raise ImportError(
        'the TensorRT backend needs the tensorrt and pycuda Python modules (JetPack ships '
        'tensorrt; pip install pycuda): {}'.format(_exc)
    ) from _exc

from .base import Engine
from ..bundle import Bundle
from ..engine_key import (
    describe_mismatch,
    engine_preference,
    ENGINE_SUFFIX,
    make_key,
    match_engine,
    match_engines,
    onnx_sha256,
    parse_key,
    rebuild_command,
)
from ..errors import EngineError


class _Tensor(NamedTuple):
    name: str
    index: int
    shape: Tuple[int, ...]
    dtype: Any  # numpy dtype
    is_input: bool
    host: np.ndarray  # page-locked
    device: Any  # pycuda DeviceAllocation


def trt_version() -> str:
    """Return the running TensorRT version string."""
    return str(getattr(trt, '__version__', 'unknown'))


def current_gpu(device: int = 0) -> Tuple[str, Tuple[int, int]]:
    """(name, compute capability) of CUDA device ``device`` as pycuda reports them."""
    cuda.init()
    dev = cuda.Device(device)
    cc = dev.compute_capability()
    return str(dev.name()), (int(cc[0]), int(cc[1]))


def find_engine(
    bundle: Bundle, precision: Optional[str] = None, device: int = 0
) -> Tuple[Optional[Path], str]:
    """
    Find the engine of ``bundle`` whose key matches this TensorRT and GPU.

    Without one, returns (None, why + how to rebuild).

    Without ``precision``, the first match in this GPU's order (:func:`engine_preference`: FP16
    before INT8 where the GPU has no fast INT8).
    """
    try:
        gpu_name, cc = current_gpu(device)
    except Exception as exc:  # pycuda.driver.Error: no driver or no device
        return None, 'no CUDA GPU usable by pycuda ({})'.format(exc)
    if not bundle.onnx_path.is_file():
        return None, '{}: missing model.onnx'.format(bundle.path)
    return match_engine(
        bundle.path,
        onnx_sha256(bundle.onnx_path),
        trt_version(),
        gpu_name,
        precision,
        preference=engine_preference(cc),
    )


def find_engines(bundle: Bundle, device: int = 0) -> Tuple[List[Path], str]:
    """
    Return every engine of ``bundle`` matching this TensorRT and GPU, and a reason.

    The engines come in this GPU's precision order.

    The reason says, when there is none, what differs and the command that rebuilds one.
    """
    path, why = find_engine(bundle, device=device)
    if path is None:
        return [], why
    _name, cc = current_gpu(device)
    found = match_engines(
        bundle.path, onnx_sha256(bundle.onnx_path), trt_version(), _name, engine_preference(cc)
    )
    return found, why


def check_engine_key(engine_path: Path, gpu_name: str, bundle_dir: Optional[Path] = None) -> None:
    """Refuse an engine file whose key does not match this TensorRT, GPU and bundle ONNX."""
    key = parse_key(engine_path.name)
    if bundle_dir is None and engine_path.parent.name == 'engines':
        bundle_dir = engine_path.parent.parent
    where = bundle_dir if bundle_dir is not None else 'BUNDLE_DIR'
    if key is None:
        raise EngineError(
            '{}: not named <onnx sha>-trt<version>-<gpu>-<precision>{}, so it cannot be checked '
            'against this TensorRT and GPU; rebuild with: {}'.format(
                engine_path, ENGINE_SUFFIX, rebuild_command(where)
            )
        )
    sha = key.onnx_sha
    onnx_path = bundle_dir / 'model.onnx' if bundle_dir is not None else None
    if onnx_path is not None and onnx_path.is_file():
        sha = onnx_sha256(onnx_path)
    want = make_key(sha, trt_version(), gpu_name, key.precision)
    diff = describe_mismatch(key, want)
    if diff:
        raise EngineError(
            '{}: engine was built for {}; not loading it. Rebuild with: {}'.format(
                engine_path, diff, rebuild_command(where, key.precision)
            )
        )


class TensorRTEngine(Engine):
    """Runs a serialised TensorRT engine (static shapes, one input)."""

    name = 'tensorrt'

    def __init__(
        self,
        engine_path: Union[str, Path],
        bundle_dir: Optional[Union[str, Path]] = None,
        check_key: bool = True,
        device: int = 0,
    ) -> None:
        self.path = Path(engine_path)
        self._closed = True
        if not self.path.is_file():
            raise EngineError('{}: engine file does not exist'.format(self.path))
        cuda.init()
        self._device = cuda.Device(device)
        self.gpu_name = str(self._device.name())
        if check_key:
            check_engine_key(
                self.path, self.gpu_name, Path(bundle_dir) if bundle_dir is not None else None
            )
        key = parse_key(self.path.name)
        self.precision = key.precision if key is not None else '?'
        where = bundle_dir or self.path.parent.parent
        self._ctx = self._device.retain_primary_context()
        self._ctx.push()
        try:
            self._logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
            if self.engine is None:
                raise EngineError(
                    '{}: TensorRT {} cannot deserialise this engine (corrupt, built by another '
                    'TensorRT version, or out of GPU memory; see the TensorRT log); rebuild with: '
                    '{}'.format(self.path, trt_version(), rebuild_command(where, self.precision))
                )
            self.context = self.engine.create_execution_context()
            if self.context is None:
                raise EngineError(
                    '{}: cannot create an execution context (out of GPU memory?)'.format(self.path)
                )
            self.stream = cuda.Stream()
            self.api = (
                'tensor'
                if (
                    hasattr(self.engine, 'num_io_tensors')
                    and hasattr(self.context, 'execute_async_v3')
                )
                else 'binding'
            )
            self._tensors = self._describe_io()
            self._allocate()
        except BaseException:
            self._free()
            self._ctx.pop()
            if hasattr(self._ctx, 'detach'):
                self._ctx.detach()  # release the primary context retained above
            raise
        self._ctx.pop()
        self._closed = False
        inputs = [t for t in self._tensors if t.is_input]
        self._input = inputs[0]
        self._outputs = [t for t in self._tensors if not t.is_input]
        self.input_name = self._input.name
        self.input_shape = self._input.shape
        self.output_names = [t.name for t in self._outputs]

    def _describe_io(self) -> List[Tuple[str, int, Tuple[int, ...], Any, bool]]:
        eng = self.engine
        io: List[Tuple[str, int, Tuple[int, ...], Any, bool]] = []
        if self.api == 'tensor':
            for i in range(eng.num_io_tensors):
                name = eng.get_tensor_name(i)
                is_input = eng.get_tensor_mode(name) == trt.TensorIOMode.INPUT
                io.append(
                    (
                        name,
                        i,
                        tuple(int(d) for d in eng.get_tensor_shape(name)),
                        np.dtype(trt.nptype(eng.get_tensor_dtype(name))),
                        is_input,
                    )
                )
        else:
            for i in range(eng.num_bindings):
                io.append(
                    (
                        eng.get_binding_name(i),
                        i,
                        tuple(int(d) for d in eng.get_binding_shape(i)),
                        np.dtype(trt.nptype(eng.get_binding_dtype(i))),
                        bool(eng.binding_is_input(i)),
                    )
                )
        n_in = sum(1 for t in io if t[4])
        if n_in != 1:
            raise EngineError(
                '{}: expected exactly one input tensor, found {}'.format(self.path, n_in)
            )
        for name, _i, shape, _dt, _inp in io:
            if any(d < 0 for d in shape):
                raise EngineError(
                    '{}: tensor {!r} has a dynamic shape {}; export a static 1x3xHxW model'.format(
                        self.path, name, shape
                    )
                )
        return io  # type: ignore[return-value]

    def _allocate(self) -> None:
        """Page-locked host and device buffers, once; addresses bound once."""
        tensors = []
        try:
            for name, index, shape, dtype, is_input in self._tensors:  # type: ignore[misc]
                host = cuda.pagelocked_empty(shape, dtype)
                device = cuda.mem_alloc(
                    max(int(host.nbytes), 1)
                )  # pycuda MemoryError when the GPU is full
                tensors.append(_Tensor(name, index, shape, dtype, is_input, host, device))
        except BaseException:
            for t in tensors:
                t.device.free()
            raise
        self._tensors = tensors
        if self.api == 'tensor':
            for t in tensors:
                self.context.set_tensor_address(t.name, int(t.device))
            self._bindings: List[int] = []
        else:
            ptrs = [0] * len(tensors)
            for t in tensors:
                ptrs[t.index] = int(t.device)
            self._bindings = ptrs

    def infer(self, x: np.ndarray) -> Dict[str, np.ndarray]:
        """Run one batch: copy in, execute on the stream, copy out, synchronise."""
        if self._closed:
            raise EngineError('{}: engine is closed'.format(self.path))
        x = np.asarray(x)
        if tuple(x.shape) != self.input_shape:
            raise EngineError(
                'tensorrt: input {!r} must have shape {}, got {}'.format(
                    self.input_name, self.input_shape, tuple(x.shape)
                )
            )
        inp = self._input
        self._ctx.push()
        try:
            np.copyto(inp.host, x, casting='unsafe')
            cuda.memcpy_htod_async(inp.device, inp.host, self.stream)
            if self.api == 'tensor':
                ok = self.context.execute_async_v3(self.stream.handle)
            else:
                ok = self.context.execute_async_v2(
                    bindings=self._bindings, stream_handle=self.stream.handle
                )
            if ok is False:
                raise EngineError('{}: TensorRT execution failed'.format(self.path))
            for t in self._outputs:
                cuda.memcpy_dtoh_async(t.host, t.device, self.stream)
            self.stream.synchronize()
        finally:
            self._ctx.pop()
        out = {}
        for t in self._outputs:
            arr = np.array(t.host, copy=True)
            out[t.name] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
        return out

    def _free(self) -> None:
        for t in getattr(self, '_tensors', []) or []:
            dev = getattr(t, 'device', None)
            if dev is not None and hasattr(dev, 'free'):
                dev.free()
        self._tensors = []
        for attr in ('context', 'engine', '_runtime'):
            if hasattr(self, attr):
                setattr(self, attr, None)

    def close(self) -> None:
        """Free device buffers and release the context (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._ctx.push()
        try:
            self._free()
        finally:
            self._ctx.pop()
            if hasattr(self._ctx, 'detach'):
                self._ctx.detach()

    def describe(self) -> str:
        """Backend, TensorRT version, precision, GPU, API."""
        return 'tensorrt {} ({} engine {}, {}, {} API)'.format(
            trt_version(), self.precision, self.path.name, self.gpu_name, self.api
        )

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
Inference engines behind one interface, and the ``auto`` choice between them.

``auto`` runs TensorRT when ``tensorrt`` and ``pycuda`` import and ``engines/`` holds an engine
whose key matches the bundle's ONNX, the running TensorRT and the GPU; it tries the matching
engines in the GPU's precision order (:func:`vitedge_ros.runtime.engine_key.engine_preference`:
FP16 before INT8 on a GPU without fast INT8, such as the Jetson Nano) and loads the first that
loads. Any failure to load one (out of GPU memory, a corrupt engine, ``deserialize_cuda_engine``
returning None, no execution context) is logged as a warning and the next one is tried; when none
loads, or the engines there were built for another TensorRT/GPU, or TensorRT does not import while
engines are present, ``auto`` runs onnxruntime and says so in :attr:`EngineChoice.fallback`, which
the pipeline and the node's diagnostics report. ``backend: tensorrt`` never falls back: it raises
:class:`~vitedge_ros.runtime.errors.EngineError` with the reason.
"""

import logging
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from .base import Engine
from ..bundle import Bundle
from ..engine_key import engine_files
from ..errors import EngineError

LOG = logging.getLogger(__name__)
BACKENDS = ('auto', 'tensorrt', 'onnxruntime', 'torch')


class EngineChoice(NamedTuple):
    """
    The engine picked for a bundle and why.

    With ``auto`` only, it also says why a TensorRT engine present was not used.
    """

    engine: Engine
    reason: str
    fallback: str = ''  # non-empty: TensorRT engines were there but none could be used (a warning)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ''
    if isinstance(exc, EngineError):
        return text or type(exc).__name__
    return '{}{}'.format(type(exc).__name__, ': ' + text if text else '')


def _onnxruntime(bundle: Bundle, providers: Optional[Sequence[str]]) -> Engine:
    from .onnxruntime_engine import OnnxRuntimeEngine

    return OnnxRuntimeEngine(bundle.onnx_path, providers=providers)


def select_engine(
    bundle: Bundle,
    backend: str = 'auto',
    providers: Optional[Sequence[str]] = None,
    module: Any = None,
) -> EngineChoice:
    """
    Create the engine for ``bundle`` (see the module docstring for ``auto``).

    Raises EngineError for an unknown backend, for ``tensorrt`` when no engine can be used, and for
    ``torch`` without a module; BundleError when onnxruntime cannot load the ONNX file.
    """
    if backend not in BACKENDS:
        raise EngineError(
            'backend must be one of {}, got {!r}'.format(', '.join(BACKENDS), backend)
        )
    if backend == 'torch':
        if module is None:
            raise EngineError(
                'backend torch needs the torch module (tools only); use onnxruntime or tensorrt'
            )
        from .torch_engine import TorchEngine

        return EngineChoice(TorchEngine(module), 'torch (module given by the caller)')
    if backend == 'onnxruntime':
        engine = _onnxruntime(bundle, providers)
        return EngineChoice(engine, engine.describe())
    present = engine_files(bundle.engines_dir)
    failures: List[str] = []
    try:
        from .tensorrt_engine import find_engines, TensorRTEngine
    except ImportError as exc:  # tensorrt or pycuda missing
        reason = 'TensorRT not importable ({})'.format(exc)
        if backend == 'tensorrt':
            raise EngineError(
                'backend tensorrt: {}; install TensorRT and pycuda (JetPack ships them) '
                'or use backend onnxruntime'.format(reason)
            ) from exc
    else:
        candidates, reason = find_engines(bundle)
        for path in candidates:
            try:
                engine = TensorRTEngine(path, bundle_dir=bundle.path)
            except (
                Exception
            ) as exc:  # EngineError, pycuda MemoryError/LogicError, TensorRT RuntimeError
                failures.append('{} failed to load ({})'.format(path.name, _describe(exc)))
                LOG.warning('TensorRT engine %s failed to load: %s', path, _describe(exc))
                continue
            tried = ' after {}'.format('; '.join(failures)) if failures else ''
            return EngineChoice(engine, 'tensorrt ({}){}'.format(path.name, tried))
        if failures:
            reason = '; '.join(failures)
        if backend == 'tensorrt':
            raise EngineError('backend tensorrt: {}'.format(reason))
    engine = _onnxruntime(bundle, providers)
    fallback = ''
    if present:
        fallback = 'TensorRT engine{} in {} not used: {}'.format(
            '' if len(present) == 1 else 's', bundle.engines_dir, reason
        )
        LOG.warning('backend auto: %s; running on %s instead', fallback, engine.describe())
    return EngineChoice(engine, '{} (auto: {})'.format(engine.describe(), reason), fallback)


def create_engine(
    bundle: Bundle,
    backend: str = 'auto',
    providers: Optional[Sequence[str]] = None,
    module: Any = None,
) -> Tuple[Engine, str]:
    """
    Return (engine, a sentence saying what was picked and why).

    This is :func:`select_engine` without the fallback field.
    """
    choice = select_engine(bundle, backend, providers=providers, module=module)
    return choice.engine, choice.reason

"""Inference engines behind one interface, and the ``auto`` choice between them."""
import logging
from typing import Any, Optional, Sequence, Tuple

from ..bundle import Bundle
from ..errors import EngineError
from .base import Engine

LOG = logging.getLogger(__name__)
BACKENDS = ('auto', 'tensorrt', 'onnxruntime', 'torch')


def create_engine(bundle: Bundle, backend: str = 'auto', providers: Optional[Sequence[str]] = None,
                  module: Any = None) -> Tuple[Engine, str]:
    """Create the engine for ``bundle``; returns (engine, a sentence saying what was picked and why).

    ``auto`` picks TensorRT when a matching engine file exists and TensorRT loads, else onnxruntime.
    """
    if backend not in BACKENDS:
        raise EngineError("backend must be one of {}, got {!r}".format(', '.join(BACKENDS), backend))
    if backend == 'torch':
        if module is None:
            raise EngineError('backend torch needs the torch module (tools only); use onnxruntime or tensorrt')
        from .torch_engine import TorchEngine
        return TorchEngine(module), 'torch (module given by the caller)'
    if backend in ('auto', 'tensorrt'):
        reason = ''
        try:
            from .tensorrt_engine import TensorRTEngine, find_engine
        except ImportError as exc:  # tensorrt or pycuda missing
            reason = 'TensorRT not importable ({})'.format(exc)
            if backend == 'tensorrt':
                raise EngineError('backend tensorrt: {}; install TensorRT and pycuda (JetPack ships them) '
                                  'or use backend onnxruntime'.format(reason)) from exc
        else:
            path, why = find_engine(bundle)
            if path is not None:
                return TensorRTEngine(path), 'tensorrt ({})'.format(path.name)
            if backend == 'tensorrt':
                raise EngineError('backend tensorrt: {}'.format(why))
            reason = why
        from .onnxruntime_engine import OnnxRuntimeEngine
        engine = OnnxRuntimeEngine(bundle.onnx_path, providers=providers)
        return engine, '{} (auto: {})'.format(engine.describe(), reason)
    from .onnxruntime_engine import OnnxRuntimeEngine
    engine = OnnxRuntimeEngine(bundle.onnx_path, providers=providers)
    return engine, engine.describe()

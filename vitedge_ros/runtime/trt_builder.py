"""Build a TensorRT engine from a bundle's ONNX graph (used by ``tools/build_engine.py``).

TensorRT is imported lazily (:func:`import_tensorrt`), torch never. Works with the TensorRT 8.2 Python API
of JetPack 4.6 and with TensorRT 10.x, choosing calls by capability:

* network flags: ``EXPLICIT_BATCH`` only where the builder still has implicit batch (``max_batch_size``);
* workspace: ``set_memory_pool_limit(MemoryPoolType.WORKSPACE, n)`` (≥ 8.4), else ``max_workspace_size``;
* serialisation: ``build_serialized_network`` (≥ 8.0), else ``build_engine(...).serialize()``;
* INT8: explicit from a QDQ graph (``BuilderFlag.INT8``), or implicit by entropy calibration
  (``int8_calibrator``, deprecated in 10.x but present) with a calibration cache.

The engine is written as ``engines/.<key>.tmp-<pid>`` and renamed into place; an exception or Ctrl-C on the
way removes the temporary file, so no half-written engine is ever left under the key's name.
"""
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np

from .bundle import Bundle, load_bundle
from .engine_key import (
    GpuInfo,
    calib_cache_filename,
    check_precision,
    detect_gpu,
    has_fast_int8,
    make_key,
    onnx_sha256,
    stale_temp_files,
    temp_filename,
    timing_cache_filename,
)
from .errors import BundleError

LOG = logging.getLogger(__name__)
DEFAULT_WORKSPACE_MB = 512  # leaves room for ROS, the camera and the OS on a 4 GB Jetson Nano
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
QDQ_OPS = (b'QuantizeLinear', b'DequantizeLinear')

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_TENSORRT = 3
EXIT_BUILD_FAILED = 4
EXIT_INTERRUPTED = 130


class BuildInputError(ValueError):
    """Bad arguments or input files (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class TensorRTMissing(RuntimeError):
    """TensorRT (or a CUDA GPU, or pycuda where needed) is not available (exit code 3)."""

    exit_code = EXIT_NO_TENSORRT


class BuildError(RuntimeError):
    """The ONNX parser or the TensorRT builder failed (exit code 4)."""

    exit_code = EXIT_BUILD_FAILED


@dataclass
class BuildOptions:
    """What to build."""

    precision: str = 'fp16'
    workspace_mb: int = DEFAULT_WORKSPACE_MB
    calib_images: Optional[Path] = None
    calib_max: int = 256
    force: bool = False
    timing_cache: bool = True
    verbose: bool = False


@dataclass
class BuildResult:
    """What was built (or found up to date)."""

    engine_path: Path
    key: str
    precision: str
    trt_version: str
    gpu: GpuInfo
    seconds: float = 0.0
    skipped: bool = False  # an engine with this key existed and --force was not given
    int8_mode: str = ''  # 'explicit' (QDQ) | 'implicit' (calibration) | ''
    workspace_api: str = ''
    warnings: List[str] = field(default_factory=list)


def import_tensorrt() -> Any:
    """Import ``tensorrt`` or raise :class:`TensorRTMissing` with what to install."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise TensorRTMissing(
            'TensorRT is not installed for this Python ({}). On a Jetson it comes with JetPack '
            '(sudo apt install python3-libnvinfer; use the system python3); on a desktop NVIDIA GPU: '
            'pip install tensorrt. Without TensorRT, run the bundle with backend onnxruntime.'.format(exc)) from exc
    if not hasattr(trt, 'Builder'):
        raise TensorRTMissing('the tensorrt module at {} has no Builder (incomplete install)'.format(
            getattr(trt, '__file__', '?')))
    return trt


def trt_version(trt: Any) -> str:
    """Return the version string of the imported TensorRT module."""
    return str(getattr(trt, '__version__', 'unknown'))


def network_flags(trt: Any, builder: Any) -> int:
    """``EXPLICIT_BATCH`` where the builder still knows implicit batch (8.x), 0 where it is the only mode (10.x)."""
    flag = getattr(getattr(trt, 'NetworkDefinitionCreationFlag', None), 'EXPLICIT_BATCH', None)
    if flag is not None and hasattr(builder, 'max_batch_size'):
        return 1 << int(flag)
    return 0


def set_workspace(trt: Any, config: Any, workspace_bytes: int) -> str:
    """Cap the builder workspace; returns which API was used."""
    if hasattr(config, 'set_memory_pool_limit') and hasattr(trt, 'MemoryPoolType'):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
        return 'set_memory_pool_limit'
    config.max_workspace_size = int(workspace_bytes)
    return 'max_workspace_size'


def is_qdq_graph(onnx_bytes: bytes) -> bool:
    """Whether the ONNX graph carries QuantizeLinear/DequantizeLinear nodes (explicit INT8)."""
    return all(op in onnx_bytes for op in QDQ_OPS)


def onnx_node_labels(onnx_bytes: bytes) -> List[str]:
    """``name (OpType)`` of every ONNX node, when the onnx package is available (for parser error messages)."""
    try:
        import onnx
    except ImportError:
        return []
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception:
        return []
    return ['{} ({})'.format(n.name or '<unnamed>', n.op_type) for n in model.graph.node]


def _call(obj: Any, name: str) -> Any:
    fn = getattr(obj, name, None)
    if fn is None:
        return None
    try:
        return fn() if callable(fn) else fn
    except Exception:
        return None


def format_parser_errors(parser: Any, node_labels: Sequence[str] = ()) -> List[str]:
    """One line per ONNX parser error: node index, name and operator where known, then the description."""
    lines = []
    for i in range(int(getattr(parser, 'num_errors', 0))):
        err = parser.get_error(i)
        node = _call(err, 'node')
        name = _call(err, 'node_name')
        op = _call(err, 'node_operator')
        where = 'node {}'.format(node) if node is not None and int(node) >= 0 else 'graph'
        if name or op:
            where += ' {} ({})'.format(name or '<unnamed>', op or '?')
        elif node is not None and 0 <= int(node) < len(node_labels):
            where += ' {}'.format(node_labels[int(node)])
        desc = _call(err, 'desc') or str(err)
        code = _call(err, 'code')
        lines.append('  {}: {}{}'.format(where, desc, ' [{}]'.format(code) if code is not None else ''))
    return lines


def parse_onnx(trt: Any, network: Any, logger: Any, onnx_bytes: bytes, onnx_path: Path) -> Any:
    """Parse ONNX into ``network``; raise :class:`BuildError` listing every error node by node."""
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(onnx_bytes)
    if not ok or int(getattr(parser, 'num_errors', 0)) > 0:
        lines = format_parser_errors(parser, onnx_node_labels(onnx_bytes))
        hint = ''
        if any('LayerNormalization' in ln for ln in lines):
            hint = ('\nLayerNormalization (opset 17) needs TensorRT >= 8.6: re-export with '
                    'tools/export_onnx.py CHECKPOINT --out BUNDLE --trt8-compat')
        raise BuildError('TensorRT {} could not parse {} ({} error{}):\n{}{}'.format(
            trt_version(trt), onnx_path, len(lines), '' if len(lines) == 1 else 's',
            '\n'.join(lines) or '  (no error details from the parser)', hint))
    return parser


def list_images(folder: Path, limit: int) -> List[Path]:
    """Image files of ``folder`` (recursively, sorted), at most ``limit``."""
    files = sorted(p for p in folder.rglob('*') if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    return files[:limit] if limit > 0 else files


def calibration_batches(bundle: Bundle, files: Sequence[Path]) -> Iterator[np.ndarray]:
    """Preprocessed 1×3×H×W float32 batches, exactly as the runtime feeds the engine."""
    import cv2

    from .preprocess import Preprocessor

    pre = Preprocessor(bundle.input)
    for path in files:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            LOG.warning('calibration: cannot read %s, skipped', path)
            continue
        tensor, _tf = pre(img)
        yield np.ascontiguousarray(tensor, dtype=np.float32)


def atomic_write_file(path: Path, data: Any) -> None:
    """Write bytes/buffer ``data`` to ``path`` via ``.<name>.tmp-<pid>`` and ``os.replace``; never half-written."""
    tmp = path.parent / temp_filename(path.name)
    try:
        with open(str(tmp), 'wb') as fh:
            view = memoryview(data).cast('B')
            for start in range(0, len(view), 1 << 22):
                fh.write(view[start:start + (1 << 22)])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(str(tmp), str(path))
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def make_calibrator(trt: Any, batches: Callable[[], Iterator[np.ndarray]], cache_path: Path,
                    input_nbytes: int) -> Any:
    """Make an ``IInt8EntropyCalibrator2`` fed from ``batches``, reading/writing ``cache_path``.

    Device memory comes from pycuda (as on JetPack); raises :class:`TensorRTMissing` without it. With an
    existing cache and no batches, TensorRT reads the table and never asks for data.
    """
    base = getattr(trt, 'IInt8EntropyCalibrator2', None)
    if base is None:
        raise BuildError('this TensorRT has no IInt8EntropyCalibrator2: use an explicit QDQ INT8 bundle '
                         '(tools/compress.py with a quantize stage)')

    class EntropyCalibrator(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self._iter: Optional[Iterator[np.ndarray]] = None
            self._device: Any = None
            self._cuda: Any = None
            self._ctx: Any = None
            self.count = 0

        def _ensure_device(self) -> None:
            if self._device is None:
                try:
                    import pycuda.driver as cuda
                except ImportError as exc:
                    raise TensorRTMissing('INT8 calibration needs pycuda for device buffers: pip install pycuda '
                                          '({})'.format(exc)) from exc
                cuda.init()
                self._cuda = cuda
                # TensorRT works in the device's primary context; allocate and copy inside it
                self._ctx = cuda.Device(0).retain_primary_context()
                self._ctx.push()
                try:
                    self._device = cuda.mem_alloc(int(input_nbytes))
                finally:
                    self._ctx.pop()

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: Any, *args: Any) -> Optional[List[int]]:
            if self._iter is None:
                self._iter = batches()
            try:
                batch = next(self._iter)
            except StopIteration:
                return None
            self._ensure_device()
            self._ctx.push()
            try:
                self._cuda.memcpy_htod(self._device, np.ascontiguousarray(batch, dtype=np.float32))
            finally:
                self._ctx.pop()
            self.count += 1
            if self.count % 25 == 0:
                print('\r[build_engine] calibration: {} images'.format(self.count), end='', file=sys.stderr,
                      flush=True)
            return [int(self._device)]

        def read_calibration_cache(self) -> Optional[bytes]:
            if cache_path.is_file() and cache_path.stat().st_size > 0:
                return cache_path.read_bytes()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            atomic_write_file(cache_path, bytes(cache))

    return EntropyCalibrator()


class Progress:
    """A progress line on stderr while the builder runs (redrawn each second on a terminal, else every 15 s)."""

    def __init__(self, label: str, stream: Optional[TextIO] = None, interval: Optional[float] = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.tty = tty
        self.interval = interval if interval is not None else (1.0 if tty else 15.0)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.t0 = 0.0

    def _line(self) -> str:
        return '[build_engine] {} ... {:.0f} s'.format(self.label, time.monotonic() - self.t0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.tty:
                self.stream.write('\r' + self._line())
            else:
                self.stream.write(self._line() + '\n')
            self.stream.flush()

    def __enter__(self) -> 'Progress':
        self.t0 = time.monotonic()
        self.stream.write(self._line() + ('' if self.tty else '\n'))
        self.stream.flush()
        self._thread = threading.Thread(target=self._run, name='trt-build-progress', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self.tty:
            self.stream.write('\r' + self._line() + '\n')
            self.stream.flush()


def _load_timing_cache(config: Any, path: Path, warnings: List[str]) -> Any:
    if not hasattr(config, 'create_timing_cache'):
        return None
    data = path.read_bytes() if path.is_file() else b''
    try:
        cache = config.create_timing_cache(data)
    except Exception as exc:
        warnings.append('timing cache {} unreadable ({}); starting a new one'.format(path.name, exc))
        cache = config.create_timing_cache(b'')
    config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(config: Any, path: Path) -> None:
    getter = getattr(config, 'get_timing_cache', None)
    cache = getter() if getter is not None else None
    if cache is None:
        return
    data = cache.serialize()
    if data is not None and len(memoryview(data).cast('B')) > 0:
        atomic_write_file(path, data)


def resolve_bundle(bundle_dir: Union[str, Path]) -> Bundle:
    """Load the bundle, turning a missing/corrupt one into :class:`BuildInputError`."""
    try:
        return load_bundle(bundle_dir)
    except BundleError as exc:
        raise BuildInputError(str(exc)) from exc


def build_engine(bundle_dir: Union[str, Path], options: BuildOptions, trt: Any = None,
                 gpu: Optional[GpuInfo] = None, log: Callable[[str], None] = print,
                 progress_stream: Optional[TextIO] = None) -> BuildResult:
    """Build (or find up to date) the engine of ``bundle_dir`` for this TensorRT and GPU.

    Raises :class:`BuildInputError` (2), :class:`TensorRTMissing` (3), :class:`BuildError` (4); Ctrl-C
    propagates as KeyboardInterrupt after the temporary file is removed.
    """
    try:
        check_precision(options.precision)
    except ValueError as exc:
        raise BuildInputError(str(exc)) from exc
    if options.workspace_mb <= 0:
        raise BuildInputError('--workspace-mb must be > 0, got {}'.format(options.workspace_mb))
    bundle = resolve_bundle(bundle_dir)
    onnx_bytes = bundle.onnx_path.read_bytes()
    qdq = is_qdq_graph(onnx_bytes)
    if options.calib_images is not None and not Path(options.calib_images).is_dir():
        raise BuildInputError('--calib-images {}: not a directory'.format(options.calib_images))
    trt = trt if trt is not None else import_tensorrt()
    if gpu is None:
        try:
            gpu = detect_gpu()
        except RuntimeError as exc:
            raise TensorRTMissing('TensorRT is installed but {}'.format(exc)) from exc
    version = trt_version(trt)
    sha = onnx_sha256(bundle.onnx_path)
    key = make_key(sha, version, gpu.name, options.precision)
    engines_dir = bundle.engines_dir
    engines_dir.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_files(engines_dir):
        LOG.info('removing %s left by an interrupted build', stale.name)
        stale.unlink()
    engine_path = engines_dir / key.filename
    result = BuildResult(engine_path, key.filename, options.precision, version, gpu)
    if engine_path.is_file() and not options.force:
        result.skipped = True
        return result

    calib_cache = engines_dir / calib_cache_filename(sha)
    calib_files: List[Path] = []
    if options.precision == 'int8':
        if qdq:
            result.int8_mode = 'explicit'
            if options.calib_images is not None:
                result.warnings.append('the ONNX graph is QDQ-quantised (explicit INT8): --calib-images ignored')
        else:
            result.int8_mode = 'implicit'
            if options.calib_images is not None:
                calib_files = list_images(Path(options.calib_images), options.calib_max)
                if not calib_files:
                    raise BuildInputError('--calib-images {}: no images ({})'.format(
                        options.calib_images, ', '.join(IMAGE_EXTS)))
            elif not calib_cache.is_file():
                raise BuildInputError(
                    'INT8 needs calibration data: pass --calib-images DIR (images like the camera\'s), or reuse '
                    'a calibration cache {} , or export a QDQ INT8 bundle (tools/compress.py quantize stage)'
                    .format(calib_cache))

    logger = trt.Logger(trt.Logger.VERBOSE if options.verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if builder is None:
        raise BuildError('TensorRT could not create a builder (CUDA driver or GPU problem)')
    fast_fp16 = getattr(builder, 'platform_has_fast_fp16', None)
    fast_int8 = getattr(builder, 'platform_has_fast_int8', None)
    if options.precision == 'fp16' and fast_fp16 is False:
        result.warnings.append('{} ({}) has no fast FP16: the fp16 engine may be no faster than fp32'.format(
            gpu.name, gpu.sm))
    if options.precision == 'int8' and (fast_int8 is False or not has_fast_int8(gpu.compute_capability)):
        result.warnings.append(
            '{} ({}) has no fast INT8 (needs sm_61 or sm_70+): an INT8 engine will run no faster than FP16 and '
            'often slower; on this GPU build with --precision fp16'.format(gpu.name, gpu.sm))
    network = builder.create_network(network_flags(trt, builder))
    parse_onnx(trt, network, logger, onnx_bytes, bundle.onnx_path)
    config = builder.create_builder_config()
    result.workspace_api = set_workspace(trt, config, options.workspace_mb * (1 << 20))
    if options.precision in ('fp16', 'int8') and fast_fp16 is not False:
        config.set_flag(trt.BuilderFlag.FP16)  # int8: layers without INT8 kernels fall back to FP16
    calibrator = None
    if options.precision == 'int8':
        config.set_flag(trt.BuilderFlag.INT8)
        if result.int8_mode == 'implicit':
            if not hasattr(config, 'int8_calibrator'):
                raise BuildError('TensorRT {} has no implicit INT8 calibration; use a QDQ INT8 bundle'.format(
                    version))
            nbytes = int(np.prod((1, 3, bundle.input.height, bundle.input.width))) * 4
            calibrator = make_calibrator(trt, lambda: calibration_batches(bundle, calib_files), calib_cache,
                                         nbytes)
            config.int8_calibrator = calibrator
    timing_path = engines_dir / timing_cache_filename(version, gpu.name)
    if options.timing_cache:
        _load_timing_cache(config, timing_path, result.warnings)
    for w in result.warnings:
        log('WARNING: ' + w)

    label = 'building {} engine for {} on TensorRT {}'.format(options.precision, gpu.name, version)
    t0 = time.monotonic()
    with Progress(label, progress_stream):
        if hasattr(builder, 'build_serialized_network'):
            serialized = builder.build_serialized_network(network, config)
        else:  # TensorRT 7.x
            engine = builder.build_engine(network, config)
            serialized = engine.serialize() if engine is not None else None
    result.seconds = time.monotonic() - t0
    if serialized is None:
        raise BuildError('TensorRT {} failed to build the {} engine for {} (see the TensorRT log above; try a '
                         'larger --workspace-mb, or --precision fp16)'.format(
                             version, options.precision, bundle.onnx_path))
    atomic_write_file(engine_path, serialized)
    if options.timing_cache:
        try:
            _save_timing_cache(config, timing_path)
        except OSError as exc:
            log('WARNING: could not save the timing cache {}: {}'.format(timing_path, exc))
    return result


def measure_latency(engine_path: Path, runs: int = 50, warmup: int = 5) -> Tuple[float, float, str]:
    """(median ms, p95 ms, description) of the engine on zeros; needs pycuda (raises TensorRTMissing)."""
    try:
        from .engines.tensorrt_engine import TensorRTEngine
    except ImportError as exc:
        raise TensorRTMissing(str(exc)) from exc
    eng = TensorRTEngine(engine_path)
    try:
        x = np.zeros(eng.input_shape, np.float32)
        for _ in range(max(0, warmup)):
            eng.infer(x)
        times = []
        for _ in range(max(1, runs)):
            t = time.perf_counter()
            eng.infer(x)
            times.append((time.perf_counter() - t) * 1000.0)
        return float(np.median(times)), float(np.percentile(times, 95)), eng.describe()
    finally:
        eng.close()

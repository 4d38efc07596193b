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
Build a TensorRT engine from a bundle's ONNX graph (used by ``tools/build_engine.py``).

TensorRT is imported lazily (:func:`import_tensorrt`), torch never; runs on Python 3.6 (JetPack
4.6). Works with the TensorRT Python APIs of 8.2 (JetPack 4.6, Jetson Nano), 8.6, 10.x and 11.x,
choosing calls by capability, never by version string (sources: NVIDIA/TensorRT
``python/src/infer/pyCore.cpp`` at 8.2.1, release/8.6, release/10.3, release/11.1;
test/fake_tensorrt.py tabulates them):

* network flags: ``EXPLICIT_BATCH`` only where the builder still has implicit batch
  (``max_batch_size``, 8.x);
* workspace: ``set_memory_pool_limit(MemoryPoolType.WORKSPACE, n)`` (>= 8.4), else
  ``max_workspace_size``;
* serialisation: ``build_serialized_network`` (>= 8.0), else ``build_engine(...).serialize()``;
* FP16/INT8 on 8.2-10.x (weakly typed networks): ``BuilderFlag.FP16`` / ``INT8``, with LayerNorm,
  Softmax and the detector's peak extraction pinned to FP32 (:mod:`.trt_precision`) under
  ``OBEY_PRECISION_CONSTRAINTS``;
* TensorRT 11.x removed ``BuilderFlag.FP16``/``INT8``, the precision-constraint flags,
  ``ILayer.precision`` and INT8 calibrators: every network is strongly typed and computes in the
  ONNX graph's own types. There an FP32 graph builds ``fp32``, an FP16 export
  (``tools/export_onnx.py --fp16``) builds ``fp16`` and a QDQ graph builds ``int8``; anything else
  is refused before TensorRT is called (:class:`TensorRTUnsupported`);
* INT8: explicit from a QDQ graph, or implicit by entropy calibration (``IInt8EntropyCalibrator2``,
  8.2-10.x) with a calibration cache. The calibrator imports pycuda and allocates its device buffer
  *before* the build, and no exception ever leaves its callbacks: TensorRT 8.2 aborts the process
  on one (its ``noexcept`` trampolines have no ``try``), 8.4+ prints it and treats it as
  end-of-data. The first one is kept and raised after the build (:class:`CalibrationError`), and
  nothing is written.

Before any TensorRT call the ONNX graph is audited for the running version's parser
(``vitedge_ros.export.trt_audit``): nodes it would refuse stop the build with their names
(:class:`AuditRefused`).

The engine is written as ``engines/.<key>.tmp-<pid>`` and renamed into place; an exception or
Ctrl-C on the way removes the temporary file, so no half-written engine is ever left under the
key's name.

Exit codes of ``tools/build_engine.py`` (``exit_code`` of each exception): 0 built or up to date; 2
bad arguments or bundle; 3 TensorRT, a CUDA GPU or pycuda unavailable, this TensorRT cannot build
the requested precision from this graph, or INT8 calibration failed; 4 the graph would not parse on
this TensorRT (audit refusal or parser error) or the build failed; 130 interrupted.
"""

import logging
import os
from pathlib import Path
import sys
import threading
import time
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    TextIO,
    Tuple,
    Union,
)

import numpy as np

from .bundle import Bundle, load_bundle
from .engine_key import (
    calib_cache_filename,
    check_precision,
    detect_gpu,
    GpuInfo,
    has_fast_int8,
    make_key,
    onnx_sha256,
    stale_temp_files,
    temp_filename,
    timing_cache_filename,
)
from .errors import BundleError, VitedgeError
from .latency_stats import latency_summary
from .trt_precision import (
    can_pin,
    fp32_nodes,
    graph_precision,
    node_outputs,
    pin_fp32_layers,
    precision_constraint_flag,
)

LOG = logging.getLogger(__name__)
DEFAULT_WORKSPACE_MB = 512  # leaves room for ROS, the camera and the OS on a 4 GB Jetson Nano
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')
QDQ_OPS = (b'QuantizeLinear', b'DequantizeLinear')
#: What builds where (docs/TENSORRT.md pins the same text).
SUPPORTED_RANGE = (
    'TensorRT 8.2 to 10.x build fp32, fp16 and int8 from an FP32 bundle; TensorRT 11.x builds '
    'strongly typed networks only, at the precision the ONNX graph itself has (FP32 graph: fp32, '
    'tools/export_onnx.py --fp16 graph: fp16, QDQ graph: int8)'
)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_TENSORRT = 3
EXIT_CALIBRATION = 3
EXIT_BUILD_FAILED = 4
EXIT_AUDIT_REFUSED = 4
EXIT_INTERRUPTED = 130


class BuildInputError(VitedgeError, ValueError):
    """Bad arguments or input files (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class TensorRTMissing(VitedgeError, RuntimeError):
    """TensorRT (or a CUDA GPU, or pycuda where needed) is not available (exit code 3)."""

    exit_code = EXIT_NO_TENSORRT


class TensorRTUnsupported(TensorRTMissing):
    """
    The running TensorRT cannot build the requested precision from this graph.

    Raised on TensorRT 11, for example; the build tools exit with code 3.
    """


class CalibrationError(VitedgeError, RuntimeError):
    """
    An INT8 calibration callback failed, or produced no batch (exit code 3).

    Nothing was written when it is raised.
    """

    exit_code = EXIT_CALIBRATION


class BuildError(VitedgeError, RuntimeError):
    """The ONNX parser or the TensorRT builder failed (exit code 4)."""

    exit_code = EXIT_BUILD_FAILED


class AuditRefused(BuildError):
    """
    The audit found nodes the running TensorRT's ONNX parser refuses.

    Exit code 4, before TensorRT runs.
    """

    exit_code = EXIT_AUDIT_REFUSED

    def __init__(self, message: str, target: str = '', findings: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.target = target
        self.findings = list(findings)


class BuildOptions(NamedTuple):
    """
    What to build.

    Precision (fp32|fp16|int8), builder workspace cap in MiB, calibration images (a folder, at most
    ``calib_max``), ``force`` rebuild, timing cache on/off, TensorRT verbose log, and ``audit``
    (run the parser audit before TensorRT; on by default). A NamedTuple: the drone's Python 3.6 has
    no ``dataclasses``.
    """

    precision: str = 'fp16'
    workspace_mb: int = DEFAULT_WORKSPACE_MB
    calib_images: Optional[Path] = None
    calib_max: int = 256
    force: bool = False
    timing_cache: bool = True
    verbose: bool = False
    audit: bool = True


class BuildResult:
    """What was built (or found up to date)."""

    def __init__(
        self,
        engine_path: Path,
        key: str,
        precision: str,
        trt_version: str,
        gpu: GpuInfo,
        seconds: float = 0.0,
        skipped: bool = False,
        int8_mode: str = '',
        workspace_api: str = '',
        warnings: Optional[List[str]] = None,
    ) -> None:
        self.engine_path = engine_path
        self.key = key
        self.precision = precision
        self.trt_version = trt_version
        self.gpu = gpu
        self.seconds = seconds
        self.skipped = skipped  # an engine with this key existed and --force was not given
        self.int8_mode = int8_mode  # 'explicit' (QDQ) | 'implicit' (calibration) | ''
        self.workspace_api = workspace_api
        self.warnings = list(warnings or [])
        self.typing = (
            'weak'  # 'weak' (8.2-10.x builder flags) | 'strong' (11.x: the graph's own types)
        )
        self.pinned: Dict[str, str] = {}  # layer name -> why it was pinned to FP32
        self.precision_flag = ''  # the BuilderFlag that makes the pins binding
        self.audit_target = (
            ''  # the parser target the graph was audited for ('' when the audit did not run)
        )
        self.calibration_batches = 0


def import_tensorrt() -> Any:
    """Import ``tensorrt`` or raise :class:`TensorRTMissing` with what to install."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise TensorRTMissing(
            'TensorRT is not installed for this Python ({}). On a Jetson it comes with JetPack '
            '(sudo apt install python3-libnvinfer; use the system python3); on a desktop NVIDIA '
            'GPU: pip install tensorrt. '
            'Without TensorRT, run the bundle with backend onnxruntime.'.format(exc)
        ) from exc
    if not hasattr(trt, 'Builder'):
        raise TensorRTMissing(
            'the tensorrt module at {} has no Builder (incomplete install)'.format(
                getattr(trt, '__file__', '?')
            )
        )
    return trt


def trt_version(trt: Any) -> str:
    """Return the version string of the imported TensorRT module."""
    return str(getattr(trt, '__version__', 'unknown'))


def network_flags(trt: Any, builder: Any) -> int:
    """
    ``EXPLICIT_BATCH`` where the builder still knows implicit batch (8.x).

    0 where it is the only mode (10.x).
    """
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
    """
    ``name (OpType)`` of every ONNX node.

    When the onnx package is available (for parser error messages).
    """
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
    """
    One line per ONNX parser error.

    Node index, name and operator where known, then the description.
    """
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
        lines.append(
            '  {}: {}{}'.format(where, desc, ' [{}]'.format(code) if code is not None else '')
        )
    return lines


def parse_onnx(trt: Any, network: Any, logger: Any, onnx_bytes: bytes, onnx_path: Path) -> Any:
    """Parse ONNX into ``network``; raise :class:`BuildError` listing every error node by node."""
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(onnx_bytes)
    if not ok or int(getattr(parser, 'num_errors', 0)) > 0:
        lines = [
            ln.replace('\n', ': ')
            for ln in format_parser_errors(parser, onnx_node_labels(onnx_bytes))
        ]
        hint = ''
        if any('LayerNormalization' in ln or 'allowzero' in ln for ln in lines):
            hint = (
                "\nthis TensorRT's ONNX parser needs a graph exported for it (no "
                'LayerNormalization before '
                '8.6, allowzero on every Reshape at opset >= 14 before 8.4): re-export the bundle '
                'with '
                'tools/export_onnx.py for this target (docs/TENSORRT.md)'
            )
        raise BuildError(
            'TensorRT {} could not parse {} ({} error{}):\n{}{}'.format(
                trt_version(trt),
                onnx_path,
                len(lines),
                '' if len(lines) == 1 else 's',
                '\n'.join(lines) or '  (no error details from the parser)',
                hint,
            )
        )
    return parser


def load_onnx_model(onnx_bytes: bytes, onnx_path: Path) -> Any:
    """
    Return the parsed ``onnx.ModelProto``, or None when the ``onnx`` package is not installed.

    Raises :class:`BuildInputError` when the file is not a readable ONNX model.
    """
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise BuildInputError(
            '{}: not a readable ONNX model (corrupt or truncated?): {}'.format(
                onnx_path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            )
        ) from exc
    if not model.graph.node:
        raise BuildInputError(
            '{}: the ONNX graph has no nodes (corrupt or truncated?)'.format(onnx_path)
        )
    return model


def audit_target(version: str) -> str:
    """
    Return the audit target for TensorRT ``version`` (``target_for_trt_version``).

    TensorRT 11.x and later, newer than the audit's rules (parsers 8.0-10.x), are audited with
    ``trt10``'s, which later parsers only extend. Raises ImportError when the audit is not
    importable, ValueError for a version it cannot audit (7.x).
    """
    from ..export.trt_audit import target_for_trt_version

    try:
        return target_for_trt_version(version)
    except ValueError:
        major = str(version).split('.')[0]
        if major.isdigit() and int(major) >= 11:
            return 'trt10'
        raise


def audit_for_tensorrt(model: Any, onnx_path: Path, version: str) -> Tuple[str, List[Any]]:
    """
    Return (audit target, findings) of ``vitedge_ros.export.trt_audit`` for TensorRT ``version``.

    The audit applies the rules of that TensorRT version's ONNX parser.

    Raises ImportError when the audit (or the onnx package it needs) is not importable here.
    """
    from ..export.trt_audit import audit_model

    target = audit_target(version)
    findings = audit_model(model if model is not None else str(onnx_path), target)
    blocking = [
        f
        for f in findings
        if getattr(f, 'blocker', True) is not False
        and str(getattr(f, 'severity', 'error')).lower() not in ('warning', 'warn', 'info')
    ]
    return target, blocking


def audit_refusal(
    version: str, target: str, onnx_path: Path, findings: Sequence[Any]
) -> AuditRefused:
    """Return the :class:`AuditRefused` error naming the target, nodes, rules and fixes."""
    names = [str(f.node) for f in findings]
    shown = ', '.join(names[:6]) + (
        ' and {} more'.format(len(names) - 6) if len(names) > 6 else ''
    )
    lines = [
        "TensorRT {}'s ONNX parser (audit target {}) would refuse {} node{} of {}: {}".format(
            version, target, len(names), '' if len(names) == 1 else 's', onnx_path, shown
        )
    ]
    for f in findings[:40]:
        lines.append('  {} ({}): {}; fix: {}'.format(f.node, f.op, f.rule, f.fix))
    if len(findings) > 40:
        lines.append('  ... {} more'.format(len(findings) - 40))
    lines.append(
        '  (nothing was built; tools/trt_compat.py {} --target {} prints the same report; '
        '--skip-audit builds anyway)'.format(onnx_path, target)
    )
    return AuditRefused('\n'.join(lines), target, findings)


def list_images(folder: Path, limit: int) -> List[Path]:
    """Image files of ``folder`` (recursively, sorted), at most ``limit``."""
    files = sorted(p for p in folder.rglob('*') if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    return files[:limit] if limit > 0 else files


def readable_images(files: Sequence[Path], log: Callable[[str], None] = print) -> List[Path]:
    """
    Return the files OpenCV can decode.

    Checked before the build; the others are named and skipped.
    """
    import cv2

    good = []
    for path in files:
        if cv2.imread(str(path), cv2.IMREAD_COLOR) is None:
            log('WARNING: calibration: cannot read {}, skipped'.format(path))
        else:
            good.append(path)
    return good


def calibration_batches(bundle: Bundle, files: Sequence[Path]) -> Iterator[np.ndarray]:
    """Preprocessed 1×3×H×W float32 batches, exactly as the runtime feeds the engine."""
    import cv2

    from .preprocess import Preprocessor

    pre = Preprocessor(bundle.input)
    for path in files:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError('calibration image {} became unreadable during the build'.format(path))
        tensor, _tf = pre(img)
        yield np.ascontiguousarray(tensor, dtype=np.float32)


def atomic_write_file(path: Path, data: Any) -> None:
    """
    Write bytes/buffer ``data`` to ``path`` atomically, never half-written.

    The data go to ``.<name>.tmp-<pid>`` first, then ``os.replace`` renames it.
    """
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


def _import_pycuda() -> Any:
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        raise TensorRTMissing(
            'INT8 calibration needs pycuda for device buffers: pip install pycuda ({})'.format(exc)
        ) from exc
    return cuda


def make_calibrator(
    trt: Any,
    batches: Callable[[], Iterator[np.ndarray]],
    cache_path: Path,
    input_nbytes: int,
    progress: Optional[TextIO] = None,
) -> Any:
    """
    Return an ``IInt8EntropyCalibrator2`` fed from ``batches``, reading/writing ``cache_path``.

    Everything that can fail for a missing dependency happens here, before the build: pycuda is
    imported (:class:`TensorRTMissing`) and the ``input_nbytes`` device buffer allocated in the
    device's primary context. During the build no exception leaves a callback: TensorRT 8.2 calls
    them from ``noexcept`` C++ and would abort the process; 8.4+ would print it and take it as
    end-of-data (NVIDIA/TensorRT python/src/infer/pyInt8.cpp, 8.2.1 vs release/8.6). The first
    exception is kept in ``.error`` (``.where`` names the callback), later callbacks do nothing,
    and no cache is written; :func:`build_engine` raises it after the build. ``.count`` batches
    were fed; ``.cache_read`` says TensorRT used the cache instead. Call ``.close()`` to free the
    buffer. Raises :class:`TensorRTUnsupported` where the class does not exist (TensorRT 11).
    """
    base = getattr(trt, 'IInt8EntropyCalibrator2', None)
    if base is None:
        raise TensorRTUnsupported(
            'TensorRT {} has no INT8 calibrator (removed in 11.0): export a QDQ INT8 bundle '
            '(tools/compress.py with a quantize stage). {}'.format(
                trt_version(trt), SUPPORTED_RANGE
            )
        )
    cuda = _import_pycuda()
    try:
        cuda.init()
        ctx = cuda.Device(0).retain_primary_context()
        ctx.push()
        try:
            device = cuda.mem_alloc(int(input_nbytes))
        finally:
            ctx.pop()
    except TensorRTMissing:
        raise
    except Exception as exc:  # pycuda.driver.Error: no device, out of memory
        raise TensorRTMissing(
            'INT8 calibration cannot allocate {} bytes on the GPU: {}: {}'.format(
                input_nbytes, type(exc).__name__, exc
            )
        ) from exc
    stream = progress if progress is not None else sys.stderr

    class EntropyCalibrator(base):  # type: ignore[misc, valid-type]

        def __init__(self) -> None:
            base.__init__(self)
            self._iter = None  # type: Optional[Iterator[np.ndarray]]
            self.error = None  # type: Optional[BaseException]
            self.where = ''
            self.count = 0
            self.cache_read = False

        def _fail(self, where: str, exc: BaseException) -> None:
            if self.error is None:
                self.error, self.where = exc, where

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: Any, *args: Any) -> Optional[List[int]]:
            if self.error is not None:
                return None
            try:
                if self._iter is None:
                    self._iter = batches()
                try:
                    batch = next(self._iter)
                except StopIteration:
                    return None
                ctx.push()
                try:
                    cuda.memcpy_htod(device, np.ascontiguousarray(batch, dtype=np.float32))
                finally:
                    ctx.pop()
                self.count += 1
                if self.count % 25 == 0:
                    stream.write('\r[build_engine] calibration: {} images'.format(self.count))
                    stream.flush()
                return [int(device)]
            # nothing may cross into TensorRT (8.2 aborts)
            except BaseException as exc:  # noqa: B902
                self._fail('get_batch', exc)
                return None

        def read_calibration_cache(self) -> Optional[bytes]:
            if self.error is not None:
                return None
            try:
                if cache_path.is_file() and cache_path.stat().st_size > 0:
                    self.cache_read = True
                    return cache_path.read_bytes()
                return None
            except BaseException as exc:  # noqa: B902
                self._fail('read_calibration_cache', exc)
                return None

        def write_calibration_cache(self, cache: Any) -> None:
            if self.error is not None:
                return  # a table from partial data is never kept
            try:
                atomic_write_file(cache_path, bytes(cache))
            except BaseException as exc:  # noqa: B902
                self._fail('write_calibration_cache', exc)

        def close(self) -> None:
            try:
                ctx.push()
                try:
                    device.free()
                finally:
                    ctx.pop()
                    if hasattr(ctx, 'detach'):
                        ctx.detach()
            except Exception as exc:  # freeing must not hide the build's own result
                LOG.warning('calibration buffer not freed: %s', exc)

    return EntropyCalibrator()


def raise_calibration_error(calibrator: Any) -> None:
    """
    After the build: re-raise what a calibrator callback caught, or fail when no batch was fed.

    KeyboardInterrupt is re-raised as itself, anything else as :class:`CalibrationError` (exit 3).
    """
    err = getattr(calibrator, 'error', None)
    if err is not None:
        if isinstance(err, KeyboardInterrupt):
            raise err
        if isinstance(err, TensorRTMissing):
            raise err
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ''
        raise CalibrationError(
            'INT8 calibration failed in {}: {}{}; no engine and no calibration cache '
            'written'.format(calibrator.where, type(err).__name__, ': ' + msg if msg else '')
        ) from err
    if not calibrator.cache_read and calibrator.count == 0:
        raise CalibrationError(
            'INT8 calibration fed no batch to TensorRT (no readable calibration image); no '
            'engine written'
        )


class Progress:
    """
    A progress line on stderr while the builder runs.

    Redrawn each second on a terminal, else every 15 s.
    """

    def __init__(
        self, label: str, stream: Optional[TextIO] = None, interval: Optional[float] = None
    ) -> None:
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
        warnings.append(
            'timing cache {} unreadable ({}); starting a new one'.format(path.name, exc)
        )
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


def strong_typing_only(trt: Any) -> bool:
    """
    Return True on TensorRT 11.x, where every network is strongly typed.

    That TensorRT has no ``BuilderFlag.FP16``/``INT8``.
    """
    flags = getattr(trt, 'BuilderFlag', None)
    return not (hasattr(flags, 'FP16') and hasattr(flags, 'INT8'))


def check_strong_typing(trt: Any, precision: str, graph: str, onnx_path: Path) -> None:
    """
    On a strongly typed TensorRT (11.x), refuse what the graph's own types cannot give.

    ``graph`` is :func:`.trt_precision.graph_precision` of the ONNX (``fp32``, ``fp16`` or ``int8``
    for QDQ). Raises :class:`TensorRTUnsupported` (exit 3) with one line naming the supported
    range.
    """
    if precision == graph:
        return
    how = {
        'fp16': 're-export it with tools/export_onnx.py --fp16 (an FP16 graph)',
        'int8': 'export a QDQ INT8 bundle (tools/compress.py with a quantize stage)',
        'fp32': "build --precision {} (the graph's own precision)".format(graph),
    }[precision]
    raise TensorRTUnsupported(
        'TensorRT {} builds strongly typed networks only (BuilderFlag.FP16/INT8 and INT8 '
        'calibration were removed '
        'in 11.0), and {} is an {} graph, so it cannot give an {} engine here: {}, or use '
        'TensorRT 8.2-10.x. '
        'Supported: {}'.format(
            trt_version(trt),
            onnx_path,
            graph.upper() if graph != 'int8' else 'INT8 (QDQ)',
            precision,
            how,
            SUPPORTED_RANGE,
        )
    )


def build_engine(
    bundle_dir: Union[str, Path],
    options: BuildOptions,
    trt: Any = None,
    gpu: Optional[GpuInfo] = None,
    log: Callable[[str], None] = print,
    progress_stream: Optional[TextIO] = None,
) -> BuildResult:
    """
    Build (or find up to date) the engine of ``bundle_dir`` for this TensorRT and GPU.

    Order: arguments and bundle (2), TensorRT import (3), parser audit for this TensorRT version
        (4, before
    any TensorRT call), what this TensorRT can build from the graph (3), GPU, calibration inputs
    (2) and calibrator (3), then parse (4), FP32 pins, build (4), calibration errors (3), atomic
    write. Raises :class:`BuildInputError` (2), :class:`TensorRTMissing` /
    :class:`TensorRTUnsupported` / :class:`CalibrationError` (3), :class:`BuildError` /
    :class:`AuditRefused` (4); Ctrl-C propagates as KeyboardInterrupt after the temporary file is
    removed.
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
    model = load_onnx_model(onnx_bytes, bundle.onnx_path)
    trt = trt if trt is not None else import_tensorrt()
    version = trt_version(trt)
    warnings = []  # type: List[str]
    target = ''
    if options.audit:
        try:
            target, findings = audit_for_tensorrt(model, bundle.onnx_path, version)
        except (ImportError, ValueError) as exc:
            warnings.append("parser audit skipped ({}); TensorRT's own parser decides".format(exc))
        else:
            if findings:
                raise audit_refusal(version, target, bundle.onnx_path, findings)
    strong = strong_typing_only(trt)
    if strong:
        graph = (
            graph_precision(model)
            if model is not None
            else (
                'int8'
                if qdq
                else 'fp16'
                if bundle.source.get('export', {}).get('fp16_weights')
                else 'fp32'
            )
        )
        check_strong_typing(trt, options.precision, graph, bundle.onnx_path)
    if gpu is None:
        try:
            gpu = detect_gpu()
        except RuntimeError as exc:
            raise TensorRTMissing('TensorRT is installed but {}'.format(exc)) from exc
    sha = onnx_sha256(bundle.onnx_path)
    key = make_key(sha, version, gpu.name, options.precision)
    engines_dir = bundle.engines_dir
    engines_dir.mkdir(parents=True, exist_ok=True)
    for stale in stale_temp_files(engines_dir):
        LOG.info('removing %s left by an interrupted build', stale.name)
        stale.unlink()
    engine_path = engines_dir / key.filename
    result = BuildResult(
        engine_path, key.filename, options.precision, version, gpu, warnings=warnings
    )
    result.audit_target = target
    result.typing = 'strong' if strong else 'weak'
    if engine_path.is_file() and not options.force:
        result.skipped = True
        return result

    calib_cache = engines_dir / calib_cache_filename(sha)
    calib_files = []  # type: List[Path]
    if options.precision == 'int8':
        if qdq:
            result.int8_mode = 'explicit'
            if options.calib_images is not None:
                result.warnings.append(
                    'the ONNX graph is QDQ-quantised (explicit INT8): --calib-images ignored'
                )
        else:
            result.int8_mode = 'implicit'
            if options.calib_images is not None:
                calib_files = list_images(Path(options.calib_images), options.calib_max)
                if not calib_files:
                    raise BuildInputError(
                        '--calib-images {}: no images ({})'.format(
                            options.calib_images, ', '.join(IMAGE_EXTS)
                        )
                    )
                calib_files = readable_images(calib_files, log)
                if not calib_files:
                    raise BuildInputError(
                        '--calib-images {}: none of the images can be read (zero calibration '
                        'batches)'.format(options.calib_images)
                    )
            elif not calib_cache.is_file():
                raise BuildInputError(
                    'INT8 needs calibration data: pass --calib-images DIR (images like the '
                    "camera's), or reuse "
                    'a calibration cache {} , or export a QDQ INT8 bundle (tools/compress.py '
                    'quantize stage)'.format(calib_cache)
                )

    calibrator = None
    if result.int8_mode == 'implicit':  # never reached on 11.x: check_strong_typing refused it
        nbytes = int(np.prod((1, 3, bundle.input.height, bundle.input.width))) * 4
        calibrator = make_calibrator(
            trt,
            lambda: calibration_batches(bundle, calib_files),
            calib_cache,
            nbytes,
            progress_stream,
        )
    try:
        serialized, config = _build(
            trt,
            bundle,
            options,
            model,
            onnx_bytes,
            strong,
            gpu,
            result,
            calibrator,
            engines_dir,
            log,
            progress_stream,
        )
    finally:
        if calibrator is not None:
            calibrator.close()
    if calibrator is not None:
        raise_calibration_error(calibrator)
        result.calibration_batches = calibrator.count
    if serialized is None:
        raise BuildError(
            'TensorRT {} failed to build the {} engine for {} (see the TensorRT log above; try a '
            'larger --workspace-mb, or --precision fp16)'.format(
                version, options.precision, bundle.onnx_path
            )
        )
    atomic_write_file(engine_path, serialized)
    if options.timing_cache:
        try:
            _save_timing_cache(config, engines_dir / timing_cache_filename(version, gpu.name))
        except OSError as exc:
            log('WARNING: could not save the timing cache: {}'.format(exc))
    return result


def _build(
    trt: Any,
    bundle: Bundle,
    options: BuildOptions,
    model: Any,
    onnx_bytes: bytes,
    strong: bool,
    gpu: GpuInfo,
    result: BuildResult,
    calibrator: Any,
    engines_dir: Path,
    log: Callable[[str], None],
    progress_stream: Optional[TextIO],
) -> Tuple[Any, Any]:
    """
    Create the builder and network, parse, configure, pin FP32 layers and build.

    Returns (the serialised engine or None, the config).
    """
    version = result.trt_version
    logger = trt.Logger(trt.Logger.VERBOSE if options.verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    if builder is None:
        raise BuildError('TensorRT could not create a builder (CUDA driver or GPU problem)')
    fast_fp16 = getattr(builder, 'platform_has_fast_fp16', None)
    fast_int8 = getattr(builder, 'platform_has_fast_int8', None)
    if options.precision == 'fp16' and fast_fp16 is False:
        result.warnings.append(
            '{} ({}) has no fast FP16: the fp16 engine may be no faster than fp32'.format(
                gpu.name, gpu.sm
            )
        )
    if options.precision == 'int8' and (
        fast_int8 is False or not has_fast_int8(gpu.compute_capability)
    ):
        result.warnings.append(
            '{} ({}) has no fast INT8 (needs sm_61 or sm_70+): an INT8 engine will run no faster '
            'than FP16 and '
            'often slower; on this GPU build with --precision fp16'.format(gpu.name, gpu.sm)
        )
    network = builder.create_network(network_flags(trt, builder))
    parse_onnx(trt, network, logger, onnx_bytes, bundle.onnx_path)
    config = builder.create_builder_config()
    result.workspace_api = set_workspace(trt, config, options.workspace_mb * (1 << 20))
    if not strong and options.precision in ('fp16', 'int8'):
        if fast_fp16 is not False:
            config.set_flag(
                trt.BuilderFlag.FP16
            )  # int8: layers without INT8 kernels fall back to FP16
        _pin_precision(trt, network, model, result)
    if not strong and options.precision == 'int8':
        config.set_flag(trt.BuilderFlag.INT8)
        if calibrator is not None:
            if not hasattr(config, 'int8_calibrator'):
                raise TensorRTUnsupported(
                    'TensorRT {} has no implicit INT8 calibration; use a QDQ INT8 bundle. '
                    '{}'.format(version, SUPPORTED_RANGE)
                )
            config.int8_calibrator = calibrator
    if result.pinned and result.precision_flag:
        config.set_flag(getattr(trt.BuilderFlag, result.precision_flag))
    if options.timing_cache:
        _load_timing_cache(
            config, engines_dir / timing_cache_filename(version, gpu.name), result.warnings
        )
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
    return serialized, config


def _pin_precision(trt: Any, network: Any, model: Any, result: BuildResult) -> None:
    """Pin LayerNorm, Softmax and the peak-extraction tail to FP32 (see :mod:`.trt_precision`)."""
    if not can_pin(trt, network):
        return
    if model is not None:
        pins = fp32_nodes(model)
        result.pinned = pin_fp32_layers(trt, network, pins, node_outputs(model, pins))
    else:  # no onnx package: pin by layer type only (no decomposed LayerNorm, no peak tail)
        kinds = {'SOFTMAX': 'softmax', 'NORMALIZATION': 'layernorm'}
        pins = {}
        for i in range(int(network.num_layers)):
            layer = network.get_layer(i)
            kind = kinds.get(getattr(layer.type, 'name', str(layer.type)).split('.')[-1])
            if kind:
                pins[str(layer.name)] = kind
        result.pinned = pin_fp32_layers(trt, network, pins)
        result.warnings.append(
            'the onnx package is missing: only Softmax and fused LayerNorm layers pinned to '
            'FP32 (pip install onnx for the decomposed LayerNorm and the peak extraction)'
        )
    if result.pinned:
        result.precision_flag = precision_constraint_flag(trt) or ''


def measure_latency(
    engine_path: Path, runs: int = 50, warmup: int = 5
) -> Tuple[float, float, str]:
    """
    (median ms, p95 ms, description) of the engine on zeros.

    Needs pycuda (raises TensorRTMissing).
    """
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
        s = latency_summary(times)
        return s['median_ms'], s['p95_ms'], eng.describe()
    finally:
        eng.close()

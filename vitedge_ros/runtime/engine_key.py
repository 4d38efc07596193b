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
TensorRT engine file names (keys), cache names and the matching rule; pure Python (hashlib only).

An engine is only valid for the exact ONNX graph, TensorRT version and GPU it was built with, so
the file name says all three (ARCHITECTURE.md)::

    BUNDLE/engines/<onnx sha256[:12]>-trt<version>-<gpu name sanitised>-<precision>.engine
    BUNDLE/engines/timing-trt<version>-<gpu>.cache  (builder timing cache, shared by precisions)
    BUNDLE/engines/calib-<onnx sha256[:12]>.cache   (INT8 entropy-calibration cache)

Nothing here imports TensorRT; :func:`detect_gpu` imports pycuda / cuda-python lazily.
"""

import hashlib
import os
from pathlib import Path
import re
import shutil
import subprocess
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

PRECISIONS = ('fp32', 'fp16', 'int8')
#: Order in which ``find``/``auto`` prefers engines when several precisions match (GPU with fast
#: INT8).
PREFERENCE = ('int8', 'fp16', 'fp32')
#: The order on a GPU without fast INT8 (Jetson Nano sm_53, TX2 sm_62): an INT8 engine there runs
#: on FP16/FP32
#: kernels plus reformats, no faster than FP16 and often slower.
PREFERENCE_NO_FAST_INT8 = ('fp16', 'int8', 'fp32')
SHA_LEN = 12
ENGINE_SUFFIX = '.engine'
_KEY_RE = re.compile(
    r'^(?P<sha>[0-9a-f]{12})-trt(?P<trt>[0-9A-Za-z.]+)-(?P<gpu>.+)'
    r'-(?P<prec>fp32|fp16|int8)\.engine$'
)
_TMP_RE = re.compile(r'^\..+\.tmp-(?P<pid>\d+)$')


class EngineKey(NamedTuple):
    """The parts of an engine file name."""

    onnx_sha: str  # first 12 hex digits of the ONNX file's sha256
    trt_version: str
    gpu: str  # sanitised GPU name
    precision: str

    @property
    def filename(self) -> str:
        """Return the engine file name for this key."""
        return '{}-trt{}-{}-{}{}'.format(
            self.onnx_sha, self.trt_version, self.gpu, self.precision, ENGINE_SUFFIX
        )


class GpuInfo(NamedTuple):
    """The GPU an engine is built for / run on."""

    name: str
    compute_capability: Tuple[int, int]
    source: str = ''  # which library reported it

    @property
    def sm(self) -> str:
        """``sm_53`` style architecture name."""
        return 'sm_{}{}'.format(self.compute_capability[0], self.compute_capability[1])


def sanitize(text: str, max_len: int = 64) -> str:
    """
    File-name-safe form of a GPU name or version: runs of other characters become ``_``.

    ``'NVIDIA Tegra X1'`` → ``'NVIDIA_Tegra_X1'``; ``'NVIDIA GeForce RTX 3090 Ti'`` →
    ``'NVIDIA_GeForce_RTX_3090_Ti'``.
    """
    out = re.sub(r'[^0-9A-Za-z.]+', '_', str(text)).strip('_.')
    return out[:max_len].rstrip('_.') or 'unknown'


def onnx_sha256(path: Union[str, Path]) -> str:
    """Full hex sha256 of a file (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(str(path), 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def check_precision(precision: str) -> str:
    """Return ``precision`` or raise ValueError naming the valid ones."""
    if precision not in PRECISIONS:
        raise ValueError(
            'precision must be one of {}, got {!r}'.format(', '.join(PRECISIONS), precision)
        )
    return precision


def make_key(onnx_sha: str, trt_version: str, gpu_name: str, precision: str) -> EngineKey:
    """
    Return the key of an engine built from ONNX ``onnx_sha`` with TensorRT ``trt_version``.

    The engine is built on the GPU ``gpu_name`` for ``precision``.
    """
    sha = str(onnx_sha).lower()[:SHA_LEN]
    if not re.match(r'^[0-9a-f]{12}$', sha):
        raise ValueError('onnx sha must be at least 12 hex digits, got {!r}'.format(onnx_sha))
    return EngineKey(
        sha, sanitize(trt_version, 32), sanitize(gpu_name), check_precision(precision)
    )


def engine_filename(onnx_sha: str, trt_version: str, gpu_name: str, precision: str) -> str:
    """``<sha12>-trt<version>-<gpu>-<precision>.engine``."""
    return make_key(onnx_sha, trt_version, gpu_name, precision).filename


def parse_key(filename: str) -> Optional[EngineKey]:
    """Parse an engine file name; None when it is not named by a key."""
    m = _KEY_RE.match(os.path.basename(filename))
    if m is None:
        return None
    return EngineKey(m.group('sha'), m.group('trt'), m.group('gpu'), m.group('prec'))


def timing_cache_filename(trt_version: str, gpu_name: str) -> str:
    """``timing-trt<version>-<gpu>.cache`` (timing caches are tied to TensorRT version and GPU)."""
    return 'timing-trt{}-{}.cache'.format(sanitize(trt_version, 32), sanitize(gpu_name))


def calib_cache_filename(onnx_sha: str) -> str:
    """``calib-<sha12>.cache`` (a calibration table is tied to the graph it was measured on)."""
    return 'calib-{}.cache'.format(str(onnx_sha).lower()[:SHA_LEN])


def temp_filename(key_filename: str, pid: Optional[int] = None) -> str:
    """Hidden temporary name an engine is written to before the rename: ``.<key>.tmp-<pid>``."""
    return '.{}.tmp-{}'.format(key_filename, os.getpid() if pid is None else int(pid))


def stale_temp_files(engines_dir: Union[str, Path]) -> List[Path]:
    """Temporary engine files left by processes that no longer run (killed builds)."""
    out = []
    d = Path(engines_dir)
    if not d.is_dir():
        return out
    for p in d.iterdir():
        m = _TMP_RE.match(p.name)
        if m is None:
            continue
        pid = int(m.group('pid'))
        if pid == os.getpid() or not _pid_alive(pid):
            out.append(p)
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def has_fast_int8(compute_capability: Tuple[int, int]) -> bool:
    """
    Whether the GPU architecture has fast INT8 (DP4A / tensor cores): sm_61 and sm_70 or newer.

    The Jetson Nano (sm_53, Maxwell) and TX2 (sm_62) do not: INT8 engines there are no faster than
    FP16.
    Source: the "Hardware and Precision" table of the TensorRT support matrix (8.2.5: INT8 "Yes"
        for compute
    capability 6.1, 7.0, 7.2, 7.5, 8.x; "No" for 5.3, 6.0 and 6.2;
    https://docs.nvidia.com/deeplearning/tensorrt/archives/tensorrt-825/support-matrix/index.html).
    """
    cc = (int(compute_capability[0]), int(compute_capability[1]))
    return cc == (6, 1) or cc >= (7, 0)


def engine_preference(compute_capability: Optional[Tuple[int, int]]) -> Tuple[str, ...]:
    """Precision order ``auto`` tries engines in: INT8 first only where the GPU has fast INT8."""
    if compute_capability is not None and not has_fast_int8(compute_capability):
        return PREFERENCE_NO_FAST_INT8
    return PREFERENCE


def rebuild_command(bundle_dir: Union[str, Path], precision: str = 'fp16') -> str:
    """Return the command that builds an engine for this machine."""
    return 'python3 tools/build_engine.py {} --precision {}'.format(bundle_dir, precision)


def engine_files(engines_dir: Union[str, Path]) -> List[Path]:
    """All ``*.engine`` files of a bundle (hidden temporaries excluded), sorted by name."""
    d = Path(engines_dir)
    if not d.is_dir():
        return []
    return sorted(
        p
        for p in d.iterdir()
        if p.name.endswith(ENGINE_SUFFIX) and not p.name.startswith('.') and p.is_file()
    )


def describe_mismatch(key: EngineKey, want: EngineKey) -> str:
    """
    Say what differs between an engine's key and the running setup (``want``).

    Precision is ignored.
    """
    parts = []
    if key.onnx_sha != want.onnx_sha:
        parts.append('model.onnx {} (now {})'.format(key.onnx_sha, want.onnx_sha))
    if key.trt_version != want.trt_version:
        parts.append('TensorRT {} (running {})'.format(key.trt_version, want.trt_version))
    if key.gpu != want.gpu:
        parts.append('GPU {} (this is {})'.format(key.gpu, want.gpu))
    return ', '.join(parts)


def match_engines(
    bundle_dir: Union[str, Path],
    onnx_sha: str,
    trt_version: str,
    gpu_name: str,
    preference: Sequence[str] = PREFERENCE,
) -> List[Path]:
    """
    Return every engine in ``bundle_dir/engines`` whose key matches.

    They come in ``preference`` order of precision.
    """
    want = make_key(onnx_sha, trt_version, gpu_name, preference[0])
    by_name = {p.name: p for p in engine_files(Path(bundle_dir) / 'engines')}
    names = [want._replace(precision=prec).filename for prec in preference]
    return [by_name[n] for n in names if n in by_name]


def match_engine(
    bundle_dir: Union[str, Path],
    onnx_sha: str,
    trt_version: str,
    gpu_name: str,
    precision: Optional[str] = None,
    preference: Sequence[str] = PREFERENCE,
) -> Tuple[Optional[Path], str]:
    """
    Find the engine in ``bundle_dir/engines`` whose key matches; returns (path or None, reason).

    With ``precision`` only that precision is accepted; otherwise the first of ``preference`` that
    exists. When nothing matches, the reason says why (no engines, or which part of the key
    differs) and gives the command that rebuilds one.
    """
    bundle_dir = Path(bundle_dir)
    engines_dir = bundle_dir / 'engines'
    wanted = [check_precision(precision)] if precision else list(preference)
    want = make_key(onnx_sha, trt_version, gpu_name, wanted[0])
    files = engine_files(engines_dir)
    by_name = {p.name: p for p in files}
    for prec in wanted:
        name = want._replace(precision=prec).filename
        if name in by_name:
            return by_name[name], 'engine {} matches TensorRT {} on {}'.format(
                name, want.trt_version, want.gpu
            )
    if not files:
        return None, 'no TensorRT engine in {}; build one on this machine with: {}'.format(
            engines_dir, rebuild_command(bundle_dir, precision or 'fp16')
        )
    stale = []
    for p in files:
        key = parse_key(p.name)
        if key is None:
            stale.append(
                '{} (not named <sha>-trt<version>-<gpu>-<precision>.engine)'.format(p.name)
            )
        elif precision and key.precision != precision and not describe_mismatch(key, want):
            stale.append(
                '{} (precision {}, asked for {})'.format(p.name, key.precision, precision)
            )
        else:
            stale.append('{} (built for {})'.format(p.name, describe_mismatch(key, want)))
    keys = [parse_key(p.name) for p in files]
    prec = precision or next((k.precision for k in keys if k is not None), 'fp16')
    return None, (
        'no engine matches model.onnx {} on TensorRT {} / GPU {}: found {}; not loading it. '
        'Rebuild with: {}'.format(
            want.onnx_sha,
            want.trt_version,
            want.gpu,
            '; '.join(stale),
            rebuild_command(bundle_dir, prec),
        )
    )


def detect_gpu(device: int = 0) -> GpuInfo:
    """
    Name and compute capability of CUDA device ``device``.

    Tries pycuda (JetPack), then cuda-python, then ``nvidia-smi``; raises RuntimeError naming what
    was tried. All three report the driver's device name, so keys agree whichever one answered.
    """
    errors = []
    try:
        import pycuda.driver as cuda

        cuda.init()
        dev = cuda.Device(device)
        cc = dev.compute_capability()
        return GpuInfo(str(dev.name()), (int(cc[0]), int(cc[1])), 'pycuda')
    except Exception as exc:  # ImportError, pycuda.driver.Error (no driver/device)
        errors.append('pycuda: {}'.format(exc))
    try:
        from cuda import cudart  # cuda-python

        err, props = cudart.cudaGetDeviceProperties(device)
        if int(err) != 0:
            raise RuntimeError('cudaGetDeviceProperties error {}'.format(err))
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        return GpuInfo(name.split('\x00')[0], (int(props.major), int(props.minor)), 'cuda-python')
    except Exception as exc:
        errors.append('cuda-python: {}'.format(exc))
    smi = shutil.which('nvidia-smi')
    if smi:
        try:
            cmd = [smi, '--query-gpu=name,compute_cap', '--format=csv,noheader', '-i', str(device)]
            # Python 3.6 (the drone) has neither capture_output nor text
            out = subprocess.run(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,  # noqa: UP022
                universal_newlines=True,
                timeout=20,
                check=True,
            ).stdout.strip()  # noqa: UP021
            name, cc = [s.strip() for s in out.splitlines()[0].rsplit(',', 1)]
            major, minor = cc.split('.')
            return GpuInfo(name, (int(major), int(minor)), 'nvidia-smi')
        except Exception as exc:
            errors.append('nvidia-smi: {}'.format(exc))
    else:
        errors.append('nvidia-smi: not found')
    raise RuntimeError('no CUDA GPU found ({})'.format('; '.join(errors)))

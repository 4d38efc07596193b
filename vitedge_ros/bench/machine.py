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

"""Description of the machine and software a benchmark ran on."""

import datetime
import os
from pathlib import Path
import platform
import subprocess
from typing import Any, Dict, Optional

PACKAGES = (
    'torch',
    'timm',
    'onnxruntime',
    'onnx',
    'torch-pruning',
    'numpy',
    'opencv-python-headless',
    'rosbags',
    'onnxslim',
)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ''


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo (else what platform says)."""
    for line in _read('/proc/cpuinfo').splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> Dict[str, bool]:
    """Return the SIMD features that decide INT8 speed on a CPU (AVX2, AVX-512 VNNI, AVX-VNNI)."""
    flags = set()
    for line in _read('/proc/cpuinfo').splitlines():
        if line.startswith('flags'):
            flags = set(line.split(':', 1)[1].split())
            break
    return {k: k in flags for k in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni')}


def memory_gib() -> Optional[float]:
    """Total memory in GiB (/proc/meminfo)."""
    for line in _read('/proc/meminfo').splitlines():
        if line.startswith('MemTotal:'):
            return round(int(line.split()[1]) / 1024.0 / 1024.0, 1)
    return None


def os_name() -> str:
    """PRETTY_NAME of /etc/os-release, else platform.platform()."""
    for line in _read('/etc/os-release').splitlines():
        if line.startswith('PRETTY_NAME='):
            return line.split('=', 1)[1].strip().strip('"')
    return platform.platform()


def versions() -> Dict[str, Optional[str]]:
    """Installed versions of the packages the figures depend on (None when absent)."""
    from importlib import metadata

    out: Dict[str, Optional[str]] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def load_average() -> Optional[list]:
    """1, 5 and 15-minute load averages (other processes' load makes timings noisy)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def git_commit(root: Path) -> Optional[str]:
    """HEAD of the checkout the benchmark ran from (None outside git)."""
    try:
        out = subprocess.run(
            ['git', 'rev-parse', '--short=12', 'HEAD'],
            cwd=str(root),
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def describe(root: Path) -> Dict[str, Any]:
    """Machine, OS, Python and package versions."""
    return {
        'cpu': cpu_model(),
        'logical_cores': os.cpu_count(),
        'usable_cores': len(os.sched_getaffinity(0))
        if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'cpu_flags': cpu_flags(),
        'memory_gib': memory_gib(),
        'os': os_name(),
        'kernel': platform.release(),
        'machine': platform.machine(),
        'python': platform.python_version(),
        'versions': versions(),
        'git_commit': git_commit(root),
        'date_utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
    }

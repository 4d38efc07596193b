#!/usr/bin/env python3
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
The runtime-only lane of ``make test``.

The whole test directory the way ``colcon test`` runs it on a ROS machine.

    .venv/bin/python test/lane_runtime_only.py      # ``make test`` runs it; ``make
    test-runtime-only``

``colcon test`` on an ament_python package (colcon-ros ``AmentPythonTestTask`` reuses colcon-core's
``PythonTestTask``; its ``pytest`` step, ``colcon_core/task/python/test/pytest.py``) runs ``python
-m pytest`` in the package's source directory with no paths, so pytest collects setup.cfg's
``testpaths = test``: every test module, on a machine that has only what package.xml declares. Its
options go in ``PYTEST_ADDOPTS``: ``--tb=short --junit-xml=<build>/pytest.xml
--junit-prefix=<package>``, ``-o cache_dir=<build>/.pytest_cache``. Exit status 1 (tests failed)
and 2 (collection errors) fail ``colcon test``; 5 (nothing collected) does not.

Where a Python 3.10 interpreter exists (``VITEDGE_PY310``, else pyenv's
``~/.pyenv/versions/3.10*/bin/ python3.10``, else ``python3.10`` on PATH; Humble's Python on Ubuntu
22.04) this script, run by the main venv:

1. builds ``.venv-rt/`` once (a stamp holds the hash of the pins) with exactly
   ``requirements/runtime-only.txt`` (numpy, opencv-python-headless, onnxruntime, PyYAML, pytest at
   Ubuntu 22.04 / ros-humble.txt versions) and checks that no workstation package
   (test/conftest.py's ``OPTIONAL_TEST_PACKAGES``) is importable there;
2. runs that interpreter's ``python -m pytest`` in the repository root with colcon's options, the
   package from the source tree (``PYTHONPATH``, as colcon's install space would provide it), and
   no path arguments;
3. reads the JUnit file and prints one line: passed / skipped counts; fails on any failure or
   error, or when nothing ran.

Where no Python 3.10 exists it prints one line saying the lane was skipped and exits 0
(``VITEDGE_PY310=none`` forces that). Exit status: 0 green, 1 failures or errors, 2 when the venv
cannot be built.
"""

import hashlib
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence
import xml.etree.ElementTree as ET

from lane_py36 import find_python, run_steps

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / '.venv-rt'
PINS = ROOT / 'requirements' / 'runtime-only.txt'
OUT = ROOT / 'build' / 'runtime_only'
PACKAGE = 'vitedge_ros'
#: The distributions the lane installs: the node's runtime dependencies and the test runner,
#: nothing else.
RUNTIME_ONLY = ('numpy', 'opencv-python-headless', 'onnxruntime', 'pyyaml', 'pytest')


def read_pins(path: Path = PINS) -> Dict[str, str]:
    """``{normalised distribution name: version}`` of a ``name==version`` requirements file."""
    out = {}
    for line in path.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            name, sep, version = line.partition('==')
            if not sep:
                raise ValueError('{}: {!r} is not pinned with =='.format(path, line))
            out[name.strip().lower().replace('_', '-')] = version.strip()
    return out


def colcon_pytest_addopts(out: Path = OUT, package: str = PACKAGE) -> List[str]:
    """
    Return the options colcon-core's pytest step puts in ``PYTEST_ADDOPTS``.

    No coverage, no retest flags.
    """
    return [
        '--tb=short',
        '--junit-xml=' + (out / 'pytest.xml').as_posix(),
        '--junit-prefix=' + package,
        '-o',
        'cache_dir=' + (out / '.pytest_cache').as_posix(),
    ]


def find_python310() -> Optional[str]:
    """
    Return a working Python 3.10, or None.

    Looked for in ``VITEDGE_PY310`` ('none' disables), pyenv's, or python3.10 on PATH.
    """
    return find_python('3.10', 'VITEDGE_PY310')


def optional_packages() -> Sequence[str]:
    """
    test/conftest.py's OPTIONAL_TEST_PACKAGES.

    The workstation packages the lane must not have.
    """
    sys.path.insert(0, str(ROOT / 'test'))
    from conftest import OPTIONAL_TEST_PACKAGES

    return OPTIONAL_TEST_PACKAGES


def ensure_venv(py310: str, log=print) -> Path:
    """
    Build ``.venv-rt`` (once per pins change) and return its python.

    Raises RuntimeError on failure.
    """
    stamp = VENV / '.installed'
    want = hashlib.sha256(PINS.read_bytes()).hexdigest()
    vpy = VENV / 'bin' / 'python'
    if stamp.is_file() and stamp.read_text(encoding='utf-8') == want and vpy.is_file():
        return vpy
    log(
        'runtime-only lane: building {} with {} (once; pins in {})'.format(
            VENV.name, py310, PINS.relative_to(ROOT)
        )
    )
    if VENV.exists():
        shutil.rmtree(str(VENV))
    steps = [
        [py310, '-m', 'venv', str(VENV)],
        [
            str(vpy),
            '-m',
            'pip',
            'install',
            '-q',
            '--disable-pip-version-check',
            '--only-binary=:all:',
            '-r',
            str(PINS),
        ],
    ]
    run_steps(steps)
    leaked = importable(vpy, optional_packages())
    if leaked:
        raise RuntimeError('workstation packages importable in the lane: ' + ', '.join(leaked))
    stamp.write_text(want, encoding='utf-8')
    return vpy


def importable(python: Path, modules: Sequence[str]) -> List[str]:
    """Which of ``modules`` the interpreter ``python`` finds (importlib.util.find_spec)."""
    code = (
        'import importlib.util, sys\n'
        'print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None))\n'
    )
    proc = subprocess.run(
        [str(python), '-c', code] + list(modules),
        stdout=subprocess.PIPE,
        universal_newlines=True,
        cwd=tempfile.gettempdir(),
        env=lane_env(),
        timeout=120,
    )
    return proc.stdout.split()


def lane_env() -> Dict[str, str]:
    """
    Return the environment of the lane's pytest.

    The package from the source tree, no lane or venv leftovers.
    """
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE='1',
        VITEDGE_LANE='runtime-only',
        PYTEST_ADDOPTS=' '.join(colcon_pytest_addopts()),
    )
    for key in ('PYTHONHOME', 'VITEDGE_LANE_DIR', 'VIRTUAL_ENV'):
        env.pop(key, None)
    return env


def junit_counts(path: Path) -> Dict[str, int]:
    """
    Count the tests of a JUnit file, summed over its testsuite elements.

    Returns ``{'tests', 'failures', 'errors', 'skipped'}`` as ints.
    """
    root = ET.parse(str(path)).getroot()
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    return {
        k: sum(int(s.get(k, 0)) for s in suites)
        for k in ('tests', 'failures', 'errors', 'skipped')
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the lane (see the module docstring); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    py310 = find_python310()
    if py310 is None:
        print(
            'runtime-only lane: skipped: no Python 3.10 interpreter (set VITEDGE_PY310 or install '
            'one, e.g. '
            '`pyenv install 3.10`)'
        )
        return 0
    try:
        vpy = ensure_venv(py310)
    except RuntimeError as exc:
        print(
            'runtime-only lane: error: cannot build {}: {}'.format(VENV.name, exc), file=sys.stderr
        )
        return 2
    t1 = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    junit = OUT / 'pytest.xml'
    if junit.exists():
        junit.unlink()
    rc = subprocess.call([str(vpy), '-m', 'pytest', '-q'] + args, cwd=str(ROOT), env=lane_env())
    if not junit.is_file():
        print(
            'runtime-only lane: error: pytest wrote no {} (exit {})'.format(junit, rc),
            file=sys.stderr,
        )
        return 1
    n = junit_counts(junit)
    ran = n['tests'] - n['skipped']
    print(
        'runtime-only lane: Python 3.10 ({}), only {}: {} ran, {} skipped, {} failed, {} errors; '
        'venv {:.0f} s, '
        'tests {:.0f} s'.format(
            py310,
            ', '.join(RUNTIME_ONLY),
            ran,
            n['skipped'],
            n['failures'],
            n['errors'],
            t1 - t0,
            time.monotonic() - t1,
        )
    )
    if rc != 0 or n['failures'] or n['errors'] or ran <= 0:
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

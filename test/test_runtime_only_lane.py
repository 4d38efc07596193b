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
The runtime-only lane (test/lane_runtime_only.py) and the skips it relies on.

Checked from the main lane.
"""

import ast
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from conftest import missing_optional, OPTIONAL_TEST_PACKAGES
from lane_runtime_only import (
    colcon_pytest_addopts,
    junit_counts,
    PINS,
    read_pins,
    ROOT,
    RUNTIME_ONLY,
)
import pytest

#: rosdep keys of package.xml -> the pip distribution the lane installs for them (Ubuntu's
#: python3-opencv is OpenCV's own Python binding; the lane stands it in with the headless wheel of
#: the same release).
ROSDEP_TO_PIP = {
    'python3-numpy': 'numpy',
    'python3-opencv': 'opencv-python-headless',
    'python3-yaml': 'pyyaml',
    'python3-pytest': 'pytest',
}
#: setup.py's extras use distribution names; the tests import these modules.
DIST_TO_MODULE = {
    'scikit-learn': 'sklearn',
    'scikit-image': 'skimage',
    'torch-pruning': 'torch_pruning',
    'faster-coco-eval': 'faster_coco_eval',
}


def _name(req):
    return re.split(r'[ ;<>=!~\[]', req.strip(), maxsplit=1)[0].lower().replace('_', '-')


def _setup_lists():
    """RUNTIME and TOOLS of setup.py (literal lists), as distribution names."""
    out = {}
    for node in ast.parse((ROOT / 'setup.py').read_text(encoding='utf-8')).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ('RUNTIME', 'TOOLS'):
                out[node.targets[0].id] = {
                    _name(ast.literal_eval(e))
                    for e in node.value.elts
                    if isinstance(e, ast.Constant)
                }
    return out


def _package_keys(tag):
    root = ET.parse(str(ROOT / 'package.xml')).getroot()
    return [e.text.strip() for e in root.findall(tag)]


def _ros_humble_pins():
    out = {}
    for line in (
        (ROOT / 'requirements' / 'ros-humble.txt').read_text(encoding='utf-8').splitlines()
    ):
        line = line.split('#', 1)[0].strip()
        if line:
            out[_name(line)] = line
    return out


def test_lane_pins_are_exactly_the_node_runtime_dependencies_and_pytest():
    pins = read_pins(PINS)
    assert set(pins) == set(RUNTIME_ONLY)
    # package.xml's Python keys (exec and the test runner), plus the pip step package.xml points to
    declared = {ROSDEP_TO_PIP[k] for k in _package_keys('exec_depend') if k.startswith('python3-')}
    declared |= {'pytest'} if 'python3-pytest' in _package_keys('test_depend') else set()
    declared |= set(_ros_humble_pins())
    assert set(pins) == declared
    # ... and setup.py's runtime extra (what pip installs on the drone) plus pytest
    assert set(pins) == _setup_lists()['RUNTIME'] | {'pytest'}
    assert not {_name(m) for m in OPTIONAL_TEST_PACKAGES} & set(pins)


def test_lane_pins_satisfy_ros_humble_and_setup_py():
    from packaging.requirements import Requirement

    pins = read_pins(PINS)
    for name, line in _ros_humble_pins().items():
        assert Requirement(line).specifier.contains(pins[name], prereleases=True), (
            line,
            pins[name],
        )
    runtime = ast.parse((ROOT / 'setup.py').read_text(encoding='utf-8'))
    reqs = [
        ast.literal_eval(e)
        for n in runtime.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], 'id', '') == 'RUNTIME'
        for e in n.value.elts
        if isinstance(e, ast.Constant)
    ]
    env = {'python_version': '3.10', 'python_full_version': '3.10.12'}  # Ubuntu 22.04's Python
    for req in map(Requirement, reqs):
        if req.marker is None or req.marker.evaluate(env):
            assert req.specifier.contains(pins[req.name.lower()], prereleases=True), (
                str(req),
                pins,
            )
    assert pins['numpy'].split('.')[0] == '1'  # cv_bridge and Humble's message bindings: numpy 1.x


def test_optional_packages_are_the_tools_extra():
    tools = {DIST_TO_MODULE.get(d, d.replace('-', '_')) for d in _setup_lists()['TOOLS']}
    assert set(OPTIONAL_TEST_PACKAGES) == tools


def test_colcon_options_match_colcon_core():
    # colcon-core colcon_core/task/python/test/pytest.py (PytestPythonTestingStep.step)
    opts = colcon_pytest_addopts(ROOT / 'b', 'pkg')
    assert opts == [
        '--tb=short',
        '--junit-xml=' + (ROOT / 'b' / 'pytest.xml').as_posix(),
        '--junit-prefix=pkg',
        '-o',
        'cache_dir=' + (ROOT / 'b' / '.pytest_cache').as_posix(),
    ]


def _raise_import(code, filename, monkeypatch, hide, namespace=None):
    for name in hide:
        monkeypatch.setitem(
            sys.modules, name, None
        )  # import raises ModuleNotFoundError(name=name)
    try:
        exec(compile(code, filename, 'exec'), {} if namespace is None else namespace)
    except ModuleNotFoundError as exc:
        return exc
    raise AssertionError('no ModuleNotFoundError')


def test_missing_optional_names_the_package_and_spares_drone_faults(monkeypatch, tmp_path):
    test_file = str(ROOT / 'test' / 'test_fake.py')
    assert (
        missing_optional(_raise_import('import torch\n', test_file, monkeypatch, ['torch']))
        == 'torch'
    )
    assert (
        missing_optional(
            _raise_import(
                'import rosbags.highlevel\n',
                test_file,
                monkeypatch,
                ['rosbags', 'rosbags.highlevel'],
            )
        )
        == 'rosbags'
    )
    assert (
        missing_optional(_raise_import('import no_such_module_17\n', test_file, monkeypatch, []))
        is None
    )
    # a drone module importing a workstation package at module level is a fault, never a skip ...
    drone = str(ROOT / 'vitedge_ros' / 'runtime' / 'fake.py')
    assert missing_optional(_raise_import('import timm\n', drone, monkeypatch, ['timm'])) is None
    # ... and so is a drone module whose import runs a function that needs one
    assert (
        missing_optional(
            _raise_import('def f():\n    import timm\n\n\nf()\n', drone, monkeypatch, ['timm'])
        )
        is None
    )
    # a drone function called by a test (a lazy import of an optional feature): the optional
    # package is missing
    namespace = {}
    exec(compile('def f():\n    import timm\n', drone, 'exec'), namespace)
    assert (
        missing_optional(_raise_import('f()\n', test_file, monkeypatch, ['timm'], namespace))
        == 'timm'
    )
    assert missing_optional(ImportError('cannot import name x')) is None


def test_collection_skips_optional_and_reports_other_import_errors(tmp_path):
    """
    End to end under this lane's pytest: a missing optional package skips.

    A module that is broken for any other reason is a collection error.
    """
    shutil.copy(str(ROOT / 'test' / 'conftest.py'), str(tmp_path / 'conftest.py'))
    (tmp_path / 'test_opt.py').write_text(
        'import sys\nsys.modules["timm"] = None\nimport timm\n\n\n'
        'def test_x():\n    assert timm\n',
        encoding='utf-8',
    )
    (tmp_path / 'test_bad.py').write_text(
        'import no_such_module_17\n\n\ndef test_y():\n    pass\n', encoding='utf-8'
    )
    (tmp_path / 'test_marked.py').write_text(
        'import pytest\n\n\n@pytest.mark.needs("no_such_module_17")\n'
        'def test_z():\n    assert False\n\n\ndef test_ok():\n    pass\n',
        encoding='utf-8',
    )
    shutil.copy(str(ROOT / 'setup.cfg'), str(tmp_path / 'setup.cfg'))  # the markers
    junit = tmp_path / 'out.xml'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'pytest',
            '-q',
            '-rs',
            '-p',
            'no:cacheprovider',
            '--continue-on-collection-errors',
            '--rootdir',
            str(tmp_path),
            '--junit-xml',
            str(junit),
            str(tmp_path),
        ],
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout  # the broken module's collection error
    assert 'ERROR collecting test_bad.py' in proc.stdout and 'no_such_module_17' in proc.stdout
    assert re.search(r'SKIPPED \[1\] .*test_opt\.py:3: needs timm', proc.stdout), proc.stdout
    assert re.search(
        r'SKIPPED \[1\] .*test_marked\.py:\d+: needs no_such_module_17', proc.stdout
    ), proc.stdout
    counts = junit_counts(junit)
    assert counts['errors'] == 1 and counts['skipped'] == 2 and counts['failures'] == 0, counts
    assert 'unknown' not in proc.stdout.lower()


def test_make_test_runs_the_lane():
    make = (ROOT / 'Makefile').read_text(encoding='utf-8')
    assert re.search(r'^test:.*\btest-runtime-only\b', make, re.M)
    assert re.search(r'^test-runtime-only:.*\n\t\$\(VPY\) test/lane_runtime_only\.py$', make, re.M)


@pytest.mark.parametrize('rel', ['test/conftest.py', 'test/lane_runtime_only.py'])
def test_lane_files_import_no_optional_package_at_module_level(rel):
    tree = ast.parse((ROOT / rel).read_text(encoding='utf-8'))
    names = [a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module]
    assert not [m for m in names if m.split('.')[0] in OPTIONAL_TEST_PACKAGES]

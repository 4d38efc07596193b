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
The Python 3.6 lane's set-up, checked from the main lane.

Sources, packaging, test selection, comparisons.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap

from lane_py36 import (
    compare_detections,
    compare_label_maps,
    drone_sources,
    find_python36,
    LANE_MODULES,
    PINS,
    py37_findings,
    ROOT,
)
import numpy as np
import pytest

#: Workstation packages (the tools extra): never imported at module level by drone code or lane
#: tests.
WORKSTATION = (
    'torch',
    'timm',
    'rosbags',
    'onnxslim',
    'onnxscript',
    'torch_pruning',
    'sklearn',
    'skimage',
    'matplotlib',
    'faster_coco_eval',
    'mcap',
)
#: JetPack / ROS modules: the lane has none, so its test files import them lazily or stub them.
PLATFORM = ('tensorrt', 'pycuda', 'rclpy')
LANE_SUPPORT = ('conftest.py', 'lane_py36.py', 'plain_msgs.py')


def _rel(path):
    return str(path.relative_to(ROOT))


def _lane_files():
    return [ROOT / 'test' / m for m in LANE_MODULES + LANE_SUPPORT]


def test_drone_sources_cover_the_drone_side():
    rels = {_rel(p) for p in drone_sources()}
    for must in (
        'tools/build_engine.py',
        'tools/eval_bag.py',
        'vitedge_ros/ros/node.py',
        'vitedge_ros/ros/core.py',
        'vitedge_ros/runtime/trt_builder.py',
        'vitedge_ros/runtime/engines/onnxruntime_engine.py',
        'vitedge_ros/geometry/projection.py',
        'vitedge_ros/replay/driver.py',
    ):
        assert must in rels, must
    assert not any(
        r.startswith(('vitedge_ros/models/', 'vitedge_ros/compress/', 'vitedge_ros/train'))
        for r in rels
    )


@pytest.mark.parametrize('rel', sorted({_rel(p) for p in drone_sources() + _lane_files()}))
def test_no_python37_features(rel):
    assert py37_findings(ROOT / rel) == []


def test_every_drone_and_lane_file_compiles_on_python36():
    py36 = find_python36()
    if py36 is None:
        pytest.skip('no Python 3.6 interpreter here')
    files = [str(p) for p in drone_sources() + _lane_files()]
    code = (
        'import sys\nbad = []\nfor f in sys.argv[1:]:\n    try:\n        compile(open(f, '
        'encoding="utf-8").read(),'
        ' f, "exec")\n    except SyntaxError as e:\n        bad.append("%s:%s: %s" % (f, '
        'e.lineno, e.msg))\n'
        'print("\\n".join(bad))\n'
    )
    proc = subprocess.run(
        [py36, '-c', code] + files,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ''


def _module_level_imports(path):
    out = []
    for node in ast.parse(path.read_text(encoding='utf-8')).body:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.append(node.module or '')
    return out


@pytest.mark.parametrize('rel', sorted({_rel(p) for p in drone_sources() + _lane_files()}))
def test_no_heavy_import_at_module_level(rel):
    """
    Drone modules import no workstation package at module level.

    The lane's test files no platform one either.
    """
    heavy = WORKSTATION + (PLATFORM if rel.startswith('test/') else ())
    assert [m for m in _module_level_imports(ROOT / rel) if m.split('.')[0] in heavy] == []


def test_lane_module_list_names_existing_files_without_repeats():
    names = list(LANE_MODULES)
    assert len(names) == len(set(names))
    assert all((ROOT / 'test' / n).is_file() for n in names)


def test_lane_without_python36_prints_one_skip_line():
    env = dict(os.environ, VITEDGE_PY36='none')
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'test' / 'lane_py36.py')],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and 'py36 lane: skipped' in lines[0] and proc.stderr == ''


def test_py37_scanner_finds_each_kind(tmp_path):
    src = tmp_path / 'mod.py'
    src.write_text(
        textwrap.dedent("""\
        import dataclasses
        import time as t
        from functools import cached_property, lru_cache
        from typing import Literal
        import subprocess, math, contextlib
        def f(x: list[int], y: int | None = None) -> None:
            subprocess.run(['ls'], capture_output=True, text=True)
            t.perf_counter_ns(); math.prod([1]); contextlib.nullcontext(); 'ab'.removeprefix('a')
            math.hypot(1, 2, 3); math.hypot(3, 4)
        @lru_cache
        def g():
            return 1
        """),
        encoding='utf-8',
    )
    found = '\n'.join(py37_findings(src))
    assert 'math.hypot with 2' not in found
    for what in (
        'import dataclasses',
        'from functools import cached_property',
        'from typing import Literal',
        'run(capture_output=...)',
        'run(text=...)',
        'time.perf_counter_ns',
        'math.prod',
        'contextlib.nullcontext',
        '.removeprefix()',
        'bare @lru_cache',
        'list[...]',
        'X | Y annotation',
        'math.hypot with 3 arguments',
    ):
        assert what in found, what
    clean = tmp_path / 'ok.py'
    clean.write_text(
        'import subprocess\nfrom typing import List\n\n\ndef f(x: List[int]) -> None:\n'
        '    subprocess.run(["ls"], stdout=subprocess.PIPE, universal_newlines=True)\n',
        encoding='utf-8',
    )
    assert py37_findings(clean) == []


def _setup_info():
    code = (
        'import json\nfrom distutils.core import run_setup\nd = run_setup("setup.py", '
        'stop_after="init")\n'
        'print(json.dumps({"python_requires": str(d.python_requires), "extras": d.extras_require, '
        '"scripts": d.scripts, "entry_points": d.entry_points}))\n'
    )
    proc = subprocess.run(
        [sys.executable, '-c', code],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pins(path):
    out = {}
    for line in path.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if '==' in line:
            name, version = line.split('==')
            out[name.strip().lower().replace('_', '-')] = version.strip()
    return out


def _merged_extras(extras):
    """
    Return ``extras_require`` with setuptools' ``'name:marker'`` keys folded back.

    Each becomes a ``'req; marker'`` entry again.

    Older setuptools (65, Python 3.10's venv default) moves a requirement's environment marker into
    the key.
    """
    out = {}
    for key, reqs in extras.items():
        name, _, marker = key.partition(':')
        reqs = [reqs] if isinstance(reqs, str) else reqs
        out.setdefault(name, []).extend(r + '; ' + marker if marker else r for r in reqs)
    return out


def test_setup_installs_on_python36_with_the_pins_and_ships_the_drone_commands():
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    info = _setup_info()
    assert '3.6.9' in SpecifierSet(info['python_requires'])  # JetPack 4.6's Python
    extras = _merged_extras(info['extras'])
    assert sorted(extras['jetson']) == sorted(extras['runtime'] + ['pycuda'])
    commands = {
        'vitedge_node = vitedge_ros.ros.startup:main',
        'vitedge_build_engine = vitedge_ros.runtime.build_engine_cli:main',
    }
    assert commands <= set(info['entry_points']['console_scripts'])
    lanes = {'3.6': _pins(PINS), '3.11': _pins(ROOT / 'requirements' / 'constraints.txt')}
    for py, pins in lanes.items():
        env = {'python_version': py, 'python_full_version': py + '.0'}
        wanted = [Requirement(r) for r in extras['runtime']]
        active = [r for r in wanted if r.marker is None or r.marker.evaluate(env)]
        assert {r.name.lower() for r in active} == {
            'numpy',
            'opencv-python-headless',
            'onnxruntime',
            'pyyaml',
        }
        for req in active:
            version = pins.get(req.name.lower())
            assert version is not None and req.specifier.contains(version, prereleases=True), (
                py,
                str(req),
                version,
            )


def test_plain_message_stand_ins_match_rosbags_humble_definitions():
    rosbags = pytest.importorskip('rosbags.typesys')
    from plain_msgs import PlainTypestore

    store = rosbags.get_typestore(rosbags.Stores.ROS2_HUMBLE)
    from vitedge_ros.ros.rosbags_types import vision_msgs_definitions

    for full, text in vision_msgs_definitions().items():
        store.register(rosbags.get_types_from_msg(text, full))
    plain = PlainTypestore()

    def convert(desc):
        kind, arg = desc
        kind = getattr(kind, 'name', kind)
        if kind == 'BASE':
            return arg[0], -1
        if kind == 'NAME':
            return arg, -1
        inner, size = arg
        return convert(inner)[0], (0 if kind == 'SEQUENCE' else size)

    for full, fields in plain.fields.items():
        theirs = [
            (convert(desc)[0], name, convert(desc)[1]) for name, desc in store.fielddefs[full][1]
        ]
        assert fields == theirs, full


def test_parity_comparisons_can_fail():
    ref = [[0, 0.9, 10.0, 20.0, 50.0, 80.0], [1, 0.5, 100.0, 100.0, 140.0, 160.0]]
    assert compare_detections(ref, [list(r) for r in ref]) == []
    assert compare_detections(ref, [[0, 0.90005, 10.04, 20.0, 50.0, 80.0], ref[1]]) == []
    assert compare_detections(ref, ref[:1]) == ['1 detections, reference 2']
    assert 'class' in compare_detections(ref, [[2] + ref[0][1:], ref[1]])[0]
    assert 'score' in compare_detections(ref, [[0, 0.8] + ref[0][2:], ref[1]])[0]
    assert 'score' in compare_detections(ref, [[0, 0.9002] + ref[0][2:], ref[1]])[0]
    assert 'box' in compare_detections(ref, [ref[0][:2] + [10.1, 20.0, 50.0, 80.0], ref[1]])[0]
    lab = np.zeros((100, 100), np.uint8)
    lab[:, 50:] = 3
    other = lab.copy()
    other[0, :5] = 3  # 5 of 10000 pixels: 99.95 % agree
    assert compare_label_maps(lab, other) == []
    other[1, :10] = 3  # 15 pixels: 99.85 %
    assert 'agree on 99.85' in compare_label_maps(lab, other)[0]
    assert 'label map' in compare_label_maps(lab, lab[:, :90])[0]

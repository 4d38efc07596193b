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
The Python 3.6 lane of ``make test``: the drone-side tests on JetPack 4.6's Python and packages.

    .venv/bin/python test/lane_py36.py          # ``make test`` runs it after the main lane; ``make
    test-py36``

The Jetson Nano's newest JetPack (4.6.x) ships Python 3.6; the last releases for it are numpy
1.19.5, onnxruntime 1.10.0, opencv-python-headless 4.5/4.6, PyYAML 5.4/6.0, onnx 1.11.0 and pytest
7.0.1, pinned in ``requirements/jetson-py36.txt``. Where a Python 3.6 interpreter exists
(``VITEDGE_PY36``, else pyenv's ``~/.pyenv/versions/3.6*/bin/python3.6``, else ``python3.6`` on
PATH) this script, run by the main venv:

1. builds ``.venv36/`` once (a stamp holds the hash of the pins, setup.py and setup.cfg):
   ``BOOTSTRAP``, then this package with its ``runtime`` extra (= ``jetson`` less pycuda, which
   needs CUDA to build), constrained by the pins. pip runs outside the source tree: pip on Python <
   3.10 reads a ``setup.cfg`` in its working directory as distutils configuration, whose ament
   ``[install]`` section would move the commands from ``bin/`` to ``lib/vitedge_ros/``;
2. with the main venv, writes ``build/lane36/``: the torch-made test bundles the lane cannot make
   (exported at opset ``LANE_OPSET``, which onnxruntime 1.10 reads), and the parity reference:
   fixed synthetic frames (PNG) and what the main lane's onnxruntime makes of them through each
   shipped bundle (detections, label maps, raw outputs; ``reference/reference.json``). Computed in
   the same run rather than committed, so it is always the main lane's answer for the bundles of
   this checkout (a re-exported bundle needs no regeneration step);
3. runs ``LANE_MODULES`` in ``.venv36`` with ``VITEDGE_LANE_DIR`` set; pytest prints its closing
   count line.

Where no Python 3.6 exists it prints one line saying the lane was skipped and exits 0
(``VITEDGE_PY36=none`` forces that). Exit status: pytest's, or 2 when the venv cannot be built.

The module also holds what the main lane's tests of the lane use: ``drone_sources()`` (the files
that run on the drone) and ``py37_findings()`` (a static scan for Python >= 3.7 features that
compile on 3.6 but fail when run), and the parity comparisons. It stays importable on Python 3.6
(the lane's conftest imports it).
"""

import ast
import hashlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / '.venv36'
LANE_DIR = ROOT / 'build' / 'lane36'
PINS = ROOT / 'requirements' / 'jetson-py36.txt'
#: The last pip, setuptools and wheel for Python 3.6. Without ``wheel`` pip 21.3 falls back to
#: ``setup.py install``, which reads setup.cfg's ament ``[install]`` section and puts the commands
#: in lib/vitedge_ros/.
BOOTSTRAP = ('pip==21.3.1', 'setuptools==59.6.0', 'wheel==0.37.1')
#: Opset of the lane's tiny test bundles: the export default for the Nano (target trt8.2: opset 13,
#: timm's fused attention unfused, LayerNorm decomposed); onnxruntime 1.10 reads <= 15.
LANE_OPSET = 13
#: Newest ai.onnx opset of the onnxruntime the lane pins. Its own refusal of opset 17 says:
#: "Current official support for domain ai.onnx is till opset 15" (onnxruntime 1.10.0, measured in
#: this lane).
ORT_MAX_OPSET = {(1, 10): 15}
REFERENCE_BUNDLES = ('aerial_vit_tiny', 'aerial_seg_tiny')
REFERENCE_SEEDS = (2000000, 2000001, 2000002, 2000003)  # generate_scene seeds, 640×480
#: Parity tolerances between the lanes' onnxruntime (1.10 on 3.6 vs the main lane's) on the same
#: frames. Measured with opset-13 re-exports of both shipped bundles (onnxruntime 1.10.0 vs 1.31.1,
#: numpy 1.19.5 vs 2.4.6, OpenCV 4.5.5 vs 5.0.0): raw outputs <= 4.6e-5 (detection rows, network
#: pixels; logits <= 1e-5), scores <= 2e-7, box corners <= 3.1e-5 px, label maps 100 % identical;
#: frames decoded by each lane's OpenCV.
RAW_ATOL = 5e-4  # raw engine outputs, same input tensor
SCORE_ATOL = 1e-4  # detection scores
BOX_ATOL_PX = 0.05  # detection box corners, input-image pixels
LABEL_AGREEMENT = 0.999  # fraction of label-map pixels that must be identical

#: Test modules the lane runs: torch-, timm- and rosbags-free at import, on Python 3.6.
LANE_MODULES = (
    'test_drone_py36.py',
    'test_lane_parity.py',
    'test_geometry.py',
    'test_latest_wins.py',
    'test_runtime_decoders.py',
    'test_runtime_preprocess.py',
    'test_runtime_bundle.py',
    'test_segment_runtime.py',
    'test_fixtures_smoke.py',
    'test_runtime_torch_free.py',
    'test_ros_core.py',
    'test_ros_image_conversion.py',
    'test_ros_messages.py',
    'test_ros_node_stubbed.py',
    'test_segment_ros.py',
    'test_segment_shipped.py',
    'test_tensorrt_fake.py',
    'test_tensorrt_engine.py',
    'test_build_engine.py',
    'test_ros_startup.py',
    'test_ros_diagnostics.py',
    'test_engine_cache.py',
    'test_tf_buffer.py',
    'test_tasks.py',
)

#: What runs on the drone: these packages whole, plus every vitedge_ros module these entry points
#: import.
DRONE_PACKAGES = ('runtime', 'geometry', 'perception', 'ros')
DRONE_ENTRY_POINTS = ('tools/build_engine.py', 'tools/eval_bag.py', 'vitedge_ros/ros/node.py')

# -------------------------------------------------------------------------- Python >= 3.7 features
# From "What's New in Python" 3.7 to 3.12 (docs.python.org/3/whatsnew/): modules and names that
# Python 3.6 lacks. Each use compiles on 3.6 and fails only when that line runs, so py_compile
# alone cannot find it.
NEW_MODULES = {
    'dataclasses': '3.7',
    'contextvars': '3.7',
    'importlib.resources': '3.7',
    'importlib.metadata': '3.8',
    'zoneinfo': '3.9',
    'graphlib': '3.9',
    'tomllib': '3.11',
}
NEW_NAMES = {
    'time': {
        'perf_counter_ns': '3.7',
        'time_ns': '3.7',
        'monotonic_ns': '3.7',
        'process_time_ns': '3.7',
        'thread_time': '3.7',
        'thread_time_ns': '3.7',
    },
    'math': {
        'prod': '3.8',
        'dist': '3.8',
        'isqrt': '3.8',
        'comb': '3.8',
        'perm': '3.8',
        'lcm': '3.9',
        'nextafter': '3.9',
        'ulp': '3.9',
    },
    'functools': {'cached_property': '3.8', 'singledispatchmethod': '3.8', 'cache': '3.9'},
    'contextlib': {
        'nullcontext': '3.7',
        'asynccontextmanager': '3.7',
        'AsyncExitStack': '3.7',
        'aclosing': '3.10',
        'chdir': '3.11',
    },
    'typing': {
        'Literal': '3.8',
        'Protocol': '3.8',
        'TypedDict': '3.8',
        'Final': '3.8',
        'final': '3.8',
        'get_args': '3.8',
        'get_origin': '3.8',
        'runtime_checkable': '3.8',
        'Annotated': '3.9',
        'ParamSpec': '3.10',
        'TypeAlias': '3.10',
        'Self': '3.11',
        'OrderedDict': '3.7.2',
    },
    'shlex': {'join': '3.8'},
    'asyncio': {'run': '3.7', 'create_task': '3.7', 'get_running_loop': '3.7'},
    'statistics': {
        'fmean': '3.8',
        'geometric_mean': '3.8',
        'multimode': '3.8',
        'quantiles': '3.8',
    },
    'itertools': {'pairwise': '3.10'},
    'threading': {'get_native_id': '3.8', 'excepthook': '3.8'},
    'datetime.datetime': {'fromisoformat': '3.7'},
    'ast': {'unparse': '3.9'},
    're': {'Pattern': '3.7', 'Match': '3.7'},
    'tracemalloc': {'reset_peak': '3.9'},
}
#: Functions that take more positional arguments from some version on: name -> (arguments 3.6
#: takes, version).
WIDER_CALLS = {'math.hypot': (2, '3.8 (n-dimensional)')}
#: Methods new in 3.7+ on builtin or stdlib types, found by attribute name on any object.
NEW_METHODS = {
    'removeprefix': '3.9 (str)',
    'removesuffix': '3.9 (str)',
    'isascii': '3.7 (str)',
    'bit_count': '3.10 (int)',
    'is_relative_to': '3.9 (pathlib)',
    'with_stem': '3.9 (pathlib)',
    'link_to': '3.8 (pathlib)',
    'hardlink_to': '3.10 (pathlib)',
}
#: Keyword arguments new in 3.7+: (call names it applies to, or None for any call) and the version.
NEW_KEYWORDS = {
    'capture_output': (('run',), '3.7 (subprocess)'),
    'text': (('run', 'check_output', 'Popen'), '3.7 (subprocess)'),
    'missing_ok': (None, '3.8 (Path.unlink)'),
    'force': (('basicConfig',), '3.8 (logging)'),
}
BUILTIN_GENERICS = ('list', 'dict', 'tuple', 'set', 'frozenset', 'type')


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return base + '.' + node.attr if base else ''
    return ''


def _annotations(tree: ast.AST) -> Iterable[ast.AST]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for a in args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    yield a.annotation
            if node.returns is not None:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def py37_findings(path: Path) -> List[str]:
    """
    Find uses of Python >= 3.7 features in ``path`` that Python 3.6 compiles but cannot run.

    Returns ``'file:line: what (needs Python X)'`` strings; empty when clean. Syntax that 3.6
    cannot even compile (walrus, positional-only parameters, ``f'{x=}'``, ``from __future__ import
    annotations``) is found by ``py_compile`` with a real 3.6 (test_py36_lane.py) and here where
    ``ast`` sees it.
    """
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    rel = path.relative_to(ROOT) if path.is_absolute() and ROOT in path.parents else path
    out = []

    def add(node: ast.AST, what: str, version: str) -> None:
        out.append(
            '{}:{}: {} (needs Python {})'.format(rel, getattr(node, 'lineno', 0), what, version)
        )

    aliases = {}  # local name -> module (import x as y / from a import b)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in NEW_MODULES:
                    add(node, 'import ' + a.name, NEW_MODULES[a.name])
                aliases[a.asname or a.name.split('.')[0]] = (
                    a.name if a.asname else a.name.split('.')[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == '__future__' and any(a.name == 'annotations' for a in node.names):
                add(node, 'from __future__ import annotations', '3.7')
            if node.module in NEW_MODULES:
                add(node, 'from {} import ...'.format(node.module), NEW_MODULES[node.module])
            for a in node.names:
                full = node.module + '.' + a.name
                if full in NEW_MODULES:
                    add(node, 'import ' + full, NEW_MODULES[full])
                new = NEW_NAMES.get(node.module, {})
                if a.name in new:
                    add(node, 'from {} import {}'.format(node.module, a.name), new[a.name])
                aliases[a.asname or a.name] = full
        elif isinstance(node, ast.NamedExpr if hasattr(ast, 'NamedExpr') else ()):
            add(node, 'assignment expression :=', '3.8')
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node.value)
            head, _, rest = dotted.partition('.')
            owner = aliases.get(head, head) + ('.' + rest if rest else '') if dotted else ''
            if node.attr in NEW_NAMES.get(owner, {}):
                add(node, '{}.{}'.format(owner, node.attr), NEW_NAMES[owner][node.attr])
            elif node.attr in NEW_METHODS:
                add(node, '.{}()'.format(node.attr), NEW_METHODS[node.attr])
        elif isinstance(node, ast.Call):
            fname = _dotted(node.func).rsplit('.', 1)[-1]
            head, _, rest = _dotted(node.func).partition('.')
            full = aliases.get(head, head) + ('.' + rest if rest else '')
            if full in WIDER_CALLS and len(node.args) > WIDER_CALLS[full][0]:
                add(
                    node, '{} with {} arguments'.format(full, len(node.args)), WIDER_CALLS[full][1]
                )
            if fname == 'breakpoint':
                add(node, 'breakpoint()', '3.7')
            for kw in node.keywords:
                rule = NEW_KEYWORDS.get(kw.arg or '')
                if rule and (rule[0] is None or fname in rule[0]):
                    add(node, '{}({}=...)'.format(fname or 'call', kw.arg), rule[1])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for dec in node.decorator_list:
                if _dotted(dec).rsplit('.', 1)[-1] == 'lru_cache':
                    add(dec, 'bare @lru_cache (without parentheses)', '3.8')
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id in BUILTIN_GENERICS and node.value.id not in aliases:
                add(
                    node,
                    '{}[...] (PEP 585 generic; use typing.{})'.format(
                        node.value.id, node.value.id.capitalize()
                    ),
                    '3.9',
                )
    for ann in _annotations(tree):
        for node in ast.walk(ann):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                add(node, 'X | Y annotation (PEP 604; use typing.Union/Optional)', '3.10')
    return sorted(set(out))


# ----------------------------------------------------------------------------------- drone sources
def _module_file(name: str) -> Optional[Path]:
    base = ROOT.joinpath(*name.split('.'))
    for cand in (base.with_suffix('.py'), base / '__init__.py'):
        if cand.is_file():
            return cand
    return None


def _package_of(path: Path) -> List[str]:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    return parts[:-1]


def _imported_modules(path: Path) -> List[str]:
    """vitedge_ros modules ``path`` imports anywhere (module level or inside functions)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = _package_of(path)
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = '.'.join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ''
            out.append(base)
            out += [base + '.' + a.name for a in node.names]
    return [m for m in out if m == 'vitedge_ros' or m.startswith('vitedge_ros.')]


def drone_sources() -> List[Path]:
    """
    Files that run on the drone.

    DRONE_PACKAGES, DRONE_ENTRY_POINTS and all they import from vitedge_ros.
    """
    todo = [ROOT / p for p in DRONE_ENTRY_POINTS if (ROOT / p).is_file()]
    for pkg in DRONE_PACKAGES:
        todo += sorted((ROOT / 'vitedge_ros' / pkg).rglob('*.py'))
    seen = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imported_modules(path):
            parts = name.split('.')
            for i in range(1, len(parts) + 1):
                found = _module_file('.'.join(parts[:i]))
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


# ------------------------------------------------------------------------------------- onnx opsets
def onnx_opset(onnx_path: Path) -> int:
    """Return the ai.onnx opset a model imports (needs the onnx package)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return max([int(o.version) for o in model.opset_import if o.domain in ('', 'ai.onnx')] or [0])


def ort_refuses(onnx_path: Path) -> Optional[str]:
    """
    Why the running onnxruntime cannot read ``onnx_path``'s opset.

    Or None when it can (or is not listed).
    """
    import onnxruntime

    version = tuple(int(p) for p in onnxruntime.__version__.split('.')[:2])
    limit = ORT_MAX_OPSET.get(version)
    opset = onnx_opset(onnx_path)
    if limit is None or opset <= limit:
        return None
    return '{} is opset {}; onnxruntime {} reads up to opset {}'.format(
        onnx_path, opset, onnxruntime.__version__, limit
    )


# ----------------------------------------------------------------------------------------------
# parity
def compare_detections(
    ref: Sequence[Sequence[float]],
    got: Sequence[Sequence[float]],
    score_atol: float = SCORE_ATOL,
    box_atol: float = BOX_ATOL_PX,
) -> List[str]:
    """
    Problems between two detection lists of rows ``[class_id, score, x1, y1, x2, y2]`` (pixels).

    In order.

    Same count and classes, scores within ``score_atol``, box corners within ``box_atol`` pixels.
    """
    if len(ref) != len(got):
        return ['{} detections, reference {}'.format(len(got), len(ref))]
    out = []
    for i, (r, g) in enumerate(zip(ref, got)):
        if int(r[0]) != int(g[0]):
            out.append('detection {}: class {} != reference {}'.format(i, int(g[0]), int(r[0])))
        elif abs(float(r[1]) - float(g[1])) > score_atol:
            out.append('detection {}: score {:.6f} != reference {:.6f}'.format(i, g[1], r[1]))
        elif max(abs(float(a) - float(b)) for a, b in zip(r[2:6], g[2:6])) > box_atol:
            out.append(
                'detection {}: box {} != reference {}'.format(i, list(g[2:6]), list(r[2:6]))
            )
    return out


def compare_label_maps(ref: Any, got: Any, min_agreement: float = LABEL_AGREEMENT) -> List[str]:
    """
    Problems between two H×W uint8 label maps.

    Same shape, at least ``min_agreement`` identical pixels.
    """
    import numpy as np

    ref, got = np.asarray(ref), np.asarray(got)
    if ref.shape != got.shape:
        return ['label map {} != reference {}'.format(got.shape, ref.shape)]
    agree = float((ref == got).mean()) if ref.size else 1.0
    if agree < min_agreement:
        return ['label maps agree on {:.4%} of pixels (need {:.2%})'.format(agree, min_agreement)]
    return []


def detection_rows(result: Any) -> List[List[float]]:
    """``[class_id, score, x1, y1, x2, y2]`` rows of a FrameResult's detections."""
    return [
        [int(d.class_id), float(d.score)] + [float(v) for v in d.box] for d in result.detections
    ]


def write_reference(out: Path, models: Path = ROOT / 'models') -> Dict[str, Any]:
    """
    Frames and the main lane's onnxruntime results of each shipped bundle on them, under ``out``.

    Writes ``frame_<i>.png`` (BGR, 640×480), per bundle and frame ``<bundle>_<i>.npz`` (``input``:
    the preprocessed tensor, then every raw output) and for segmenters ``<bundle>_<i>_labels.png``,
    and ``reference.json`` (versions, each bundle's ONNX sha256 and task, detection rows per
    frame). Needs the workstation's packages (the synthetic scene generator); run by the main venv.
    """
    import cv2
    import numpy as np
    import onnxruntime
    from vitedge_ros.data.synthetic import generate_scene
    from vitedge_ros.runtime import load_bundle, Pipeline

    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, seed in enumerate(REFERENCE_SEEDS):
        name = 'frame_{}.png'.format(i)
        if not cv2.imwrite(
            str(out / name),
            np.ascontiguousarray(generate_scene(seed, width=640, height=480).image),
        ):
            raise OSError('cannot write {}'.format(out / name))
        frames.append(name)
    meta = {
        'python': sys.version.split()[0],
        'onnxruntime': onnxruntime.__version__,
        'numpy': np.__version__,
        'opencv': cv2.__version__,
        'frames': frames,
        'bundles': {},
    }
    for bname in REFERENCE_BUNDLES:
        bundle = load_bundle(models / bname)
        pipe = Pipeline(bundle, backend='onnxruntime')
        entry = {
            'task': bundle.task,
            'onnx_sha256': file_sha256(bundle.onnx_path),
            'detections': [],
        }
        for i, name in enumerate(frames):
            bgr = cv2.imread(str(out / name), cv2.IMREAD_COLOR)
            tensor, _tf = pipe.preprocess(bgr)
            raw = pipe.engine.infer(tensor)
            np.savez(str(out / '{}_{}.npz'.format(bname, i)), input=tensor, **raw)
            res = pipe(bgr)
            entry['detections'].append(detection_rows(res))
            if res.segmentation is not None:
                cv2.imwrite(str(out / '{}_{}_labels.png'.format(bname, i)), res.segmentation)
        pipe.close()
        meta['bundles'][bname] = entry
    (out / 'reference.json').write_text(json.dumps(meta, indent=1), encoding='utf-8')
    return meta


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(str(path), 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


# -------------------------------------------------------------------------------------- the runner
def find_python(version: str, env_var: str) -> Optional[str]:
    """
    Return a working Python ``version`` ('3.6'), or None.

    Looked for in ``env_var`` ('none' disables), pyenv's, or python<version> on PATH.
    """
    forced = os.environ.get(env_var)
    if forced is not None:
        cands = [] if forced.strip().lower() in ('', 'none') else [forced]
    else:
        pyenv = Path(os.environ.get('PYENV_ROOT', str(Path.home() / '.pyenv'))) / 'versions'
        cands = [
            str(p) for p in sorted(pyenv.glob('{0}*/bin/python{0}'.format(version)), reverse=True)
        ]
        cands += [p for p in [shutil.which('python' + version)] if p]
    check = 'import sys; print(sys.version_info[:2] == ({}))'.format(version.replace('.', ', '))
    for cand in cands:
        try:
            proc = subprocess.run(
                [cand, '-c', check], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if proc.returncode == 0 and proc.stdout.strip() == b'True':
            return cand
    return None


def find_python36() -> Optional[str]:
    """
    Return a working Python 3.6 interpreter, or None.

    Looked for in ``VITEDGE_PY36`` ('none' disables), pyenv's, or python3.6 on PATH.
    """
    return find_python('3.6', 'VITEDGE_PY36')


def run_steps(steps: Sequence[Sequence[str]]) -> None:
    """
    Run each command (outside the source tree).

    RuntimeError with the output's last lines on a failure.
    """
    for cmd in steps:
        proc = subprocess.run(
            list(cmd),
            cwd=tempfile.gettempdir(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
        if proc.returncode != 0:
            tail = [
                ln
                for ln in proc.stdout.splitlines()
                if ln.strip() and 'DEPRECATION' not in ln and 'WARNING' not in ln
            ][-5:]
            raise RuntimeError(
                '{} failed (exit {}): {}'.format(
                    ' '.join(cmd[:6]), proc.returncode, ' | '.join(tail)
                )
            )


def _stamp_text() -> str:
    h = hashlib.sha256(' '.join(BOOTSTRAP).encode())
    for rel in ('requirements/jetson-py36.txt', 'setup.py', 'setup.cfg'):
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()


def venv_python() -> Path:
    """Return the lane venv's interpreter."""
    return VENV / 'bin' / 'python'


def ensure_venv(py36: str, log: Any = print) -> Path:
    """
    Build ``.venv36`` (once per pins/setup change) and return its python.

    Raises RuntimeError on failure.
    """
    stamp = VENV / '.installed'
    want = _stamp_text()
    vpy = venv_python()
    if stamp.is_file() and stamp.read_text(encoding='utf-8') == want and vpy.is_file():
        return vpy
    log(
        'py36 lane: building {} with {} (once; pins in {})'.format(
            VENV.name, py36, PINS.relative_to(ROOT)
        )
    )
    if VENV.exists():
        shutil.rmtree(str(VENV))
    pip = [str(vpy), '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
    steps = [
        [py36, '-m', 'venv', str(VENV)],
        pip + list(BOOTSTRAP),
        pip + ['-r', str(PINS), '{}[runtime]'.format(ROOT)],
    ]
    run_steps(steps)
    stamp.write_text(want, encoding='utf-8')
    return vpy


def write_lane_fixtures(out: Path) -> None:
    """
    Tiny test bundles (torch export at LANE_OPSET) and the parity reference.

    Made by the main venv.
    """
    sys.path.insert(0, str(ROOT / 'test'))
    from conftest import export_tiny_classifier, export_tiny_detector
    from test_segment_ros import export_tiny_seg

    if out.exists():
        shutil.rmtree(str(out))
    out.mkdir(parents=True)
    export_tiny_detector(out / 'tiny_detector', opset=LANE_OPSET)
    export_tiny_classifier(out / 'tiny_classifier', opset=LANE_OPSET)
    export_tiny_seg(out / 'tiny_seg', opset=LANE_OPSET)
    write_reference(out / 'reference')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the lane (see the module docstring); returns the exit status."""
    import logging
    import warnings

    args = list(sys.argv[1:] if argv is None else argv)
    t0 = time.monotonic()
    py36 = find_python36()
    if py36 is None:
        print(
            'py36 lane: skipped: no Python 3.6 interpreter (set VITEDGE_PY36 or install one, e.g. '
            '`pyenv install 3.6.15`)'
        )
        return 0
    try:
        vpy = ensure_venv(py36)
    except RuntimeError as exc:
        print('py36 lane: error: cannot build {}: {}'.format(VENV.name, exc), file=sys.stderr)
        return 2
    t1 = time.monotonic()
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        write_lane_fixtures(LANE_DIR)
    t2 = time.monotonic()
    modules = list(LANE_MODULES)
    env = dict(
        os.environ,
        VITEDGE_LANE='py36',
        VITEDGE_LANE_DIR=str(LANE_DIR),
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE='1',
    )
    env.pop('PYTHONHOME', None)
    cmd = (
        [str(vpy), '-m', 'pytest', '-q', '-p', 'no:cacheprovider']
        + [str(Path('test') / m) for m in modules]
        + args
    )
    rc = subprocess.call(cmd, cwd=str(ROOT), env=env)
    print(
        'py36 lane: Python 3.6 ({}), {} test modules: venv {:.0f} s, fixtures {:.0f} s, tests '
        '{:.0f} s'.format(py36, len(modules), t1 - t0, t2 - t1, time.monotonic() - t2)
    )
    return rc


if __name__ == '__main__':
    sys.exit(main())

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
The benchmark driver behind ``tools/benchmark.py``.

Run the sections, write bench/*.json, render the page.
"""

import json
import logging
import os
from pathlib import Path
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import machine
from .render import load_results, render_page, write_plots

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RECIPE = 'bench/recipes/digits_vit_bench.yaml'
DEFAULT_BUNDLE = 'models/aerial_vit_tiny'
DEFAULT_STUDENT = 'models/aerial_vit_tiny_student'
DEFAULT_BASELINE_SOURCE = 'config/recipes/digits_vit.yaml'
ALL_SECTIONS = ('latency', 'digits', 'overhead', 'replay', 'roofline', 'targets')
# repeats: (rounds, block, warmup) for the latency sections; frames/passes for overhead; runs for
# replay
FULL = {
    'targets': (7, 20, 5),
    'latency': (7, 5, 3),
    'digits': (9, 20, 10),
    'overhead': (30, 5),
    'replay': 3,
}
QUICK = {
    'targets': (2, 3, 1),
    'latency': (2, 2, 1),
    'digits': (2, 3, 1),
    'overhead': (4, 2),
    'replay': 1,
}


def write_json(data: Dict[str, Any], path: Union[str, Path]) -> Path:
    """Write JSON atomically (temporary file + rename), keys in insertion order, 1-space indent."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name('.' + path.name + '.tmp')
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + '\n')
    os.replace(tmp, path)
    return path


def render(bench_dir: Union[str, Path], docs_dir: Union[str, Path], plots: bool = True) -> Path:
    """Re-render docs/BENCHMARKS.md (and, with ``plots``, docs/img/*.png) from bench/*.json."""
    res = load_results(bench_dir)
    docs_dir = Path(docs_dir)
    page = docs_dir / 'BENCHMARKS.md'
    page.parent.mkdir(parents=True, exist_ok=True)
    rel = os.path.relpath(docs_dir / 'img', page.parent)
    page.write_text(render_page(res, img_rel=rel))
    if plots:
        write_plots(res, docs_dir / 'img')
    return page


def _run_info(t0: float, load0: Optional[list]) -> Dict[str, Any]:
    return {
        'seconds': round(time.perf_counter() - t0, 1),
        'load_before': load0,
        'load_after': machine.load_average(),
    }


def _bundle_ready(bundle: Path) -> bool:
    return (bundle / 'bundle.yaml').is_file() and (bundle / 'model.onnx').is_file()


def student_problem(student: Path, bundle: Path) -> Optional[str]:
    """
    Say why ``student`` cannot be the second detector of the page, or None when it can.

    A folder without a bundle is no problem (it is left out); a bundle must be a detector with
    the labels of ``bundle`` and another folder than ``bundle``.
    """
    if not _bundle_ready(student):
        return None
    from ..runtime import BundleError, load_bundle
    from ..tasks import get_task

    if student.resolve() == bundle.resolve():
        return 'the same bundle as --bundle'
    try:
        s = load_bundle(student)
        labels = list(load_bundle(bundle).labels) if _bundle_ready(bundle) else list(s.labels)
    except BundleError as exc:
        return str(exc)
    if not get_task(s.task).boxes or list(s.labels) != labels:
        return 'a {} bundle with labels {}, not a detector with {}'.format(
            s.task, list(s.labels), labels
        )
    return None


def roofline_models(
    work: Path, bundle: Path, bench_dir: Path, student: Optional[Path] = None
) -> List[Dict[str, Any]]:
    """
    Return the graphs to estimate.

    The shipped detector and its student (where ``student`` is a bundle), the digits and
    DeiT-Tiny graphs of the last run.
    """
    models: List[Dict[str, Any]] = []
    for key, b, what in (
        ('aerial_vit_tiny', bundle, 'shipped detector'),
        ('aerial_vit_tiny_student', student, 'shipped student detector'),
    ):
        if b is not None and _bundle_ready(b):
            models.append(
                {
                    'key': key,
                    'label': '{} `{}` (FP32 ONNX)'.format(what, b.name),
                    'onnx': b / 'model.onnx',
                    'precisions': ['fp32', 'fp16', 'int8'],
                    'note': "int8: the FP32 graph's MACs at the INT8 rate",
                }
            )
    res = load_results(bench_dir)
    dig = res.get('digits')
    if dig and dig.get('status') != 'pending':
        pts = {p['name']: p for p in dig['points']}
        par = dig['pareto']
        fp32 = [c['name'] for c in par['compressed'] if c['name'] != par['final']]
        for key, name, precs, label in (
            ('digits/baseline', 'baseline', ['fp32', 'fp16'], 'digits baseline'),
            (
                'digits/compressed_fp32',
                fp32[0] if fp32 else None,
                ['fp32', 'fp16'],
                'digits compressed (FP32 graph)',
            ),
            (
                'digits/compressed_int8',
                par['final'],
                ['int8'],
                'digits compressed (INT8 QDQ graph)',
            ),
        ):
            if name in pts and (work / pts[name]['onnx']).is_file():
                models.append(
                    {
                        'key': key,
                        'label': label,
                        'onnx': work / pts[name]['onnx'],
                        'precisions': precs,
                    }
                )
    lat = res.get('latency')
    if lat and lat.get('status') != 'pending':
        for m in lat['models']:
            for k, precs, label in (
                ('baseline', ['fp32', 'fp16'], 'FP32 graph'),
                ('compressed_fp32', ['fp32', 'fp16'], 'compressed, FP32 graph'),
                ('compressed_int8', ['int8'], 'compressed, INT8 QDQ graph'),
            ):
                p = work / m['onnx'][k]
                if p.is_file():
                    models.append(
                        {
                            'key': '{}/{}'.format(m['key'], k),
                            'label': '{} {}'.format(m['arch'], label),
                            'onnx': p,
                            'precisions': precs,
                        }
                    )
    return models


def run_benchmark(
    out: Union[str, Path] = 'bench',
    work: Union[str, Path] = 'bench_out',
    docs: Union[str, Path] = 'docs',
    *,
    sections: Sequence[str] = ALL_SECTIONS,
    recipe: Union[str, Path] = DEFAULT_RECIPE,
    bundle: Union[str, Path] = DEFAULT_BUNDLE,
    student: Optional[Union[str, Path]] = DEFAULT_STUDENT,
    threads: int = 2,
    quick: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """
    Run ``sections``, writing ``out/<section>.json`` after each.

    Then writes machine.json and renders the page. ``student`` (a second detector bundle; None
    or a directory without a bundle leaves it out) joins the replay section (its own replay runs
    and both bundles' inference timed interleaved) and the roofline section.
    """
    import torch

    root = ROOT
    out, work, docs = (Path(p) if Path(p).is_absolute() else root / p for p in (out, work, docs))
    recipe = Path(recipe) if Path(recipe).is_absolute() else root / recipe
    bundle = Path(bundle) if Path(bundle).is_absolute() else root / bundle
    if student is not None:
        student = Path(student) if Path(student).is_absolute() else root / student
        student = student if _bundle_ready(student) else None
    work.mkdir(parents=True, exist_ok=True)
    reps = QUICK if quick else FULL
    t_all = time.perf_counter()
    mach = machine.describe(root)
    mach['load_start'] = machine.load_average()
    torch.set_num_threads(threads)
    seconds: Dict[str, float] = {}
    for name in sections:
        if name not in ALL_SECTIONS:
            raise ValueError(
                'unknown section {!r} (known: {})'.format(name, ', '.join(ALL_SECTIONS))
            )
    for name in [s for s in ALL_SECTIONS if s in sections]:
        t0, load0 = time.perf_counter(), machine.load_average()
        log('[bench] {} ...'.format(name))
        if name == 'latency':
            from .latency import run_latency

            r, b, w = reps['latency']
            data = run_latency(recipe, root, work / 'latency', rounds=r, block=b, warmup=w)
        elif name == 'digits':
            from .digits import run_digits

            r, b, w = reps['digits']
            data = run_digits(
                recipe,
                root,
                work / 'digits',
                threads=threads,
                rounds=r,
                block=b,
                warmup=w,
                progress=progress,
            )
        elif name in ('overhead', 'replay'):
            if not _bundle_ready(bundle):
                data = {
                    'section': name,
                    'status': 'pending',
                    'reason': 'the shipped detector bundle `{}` is not in this checkout yet (it '
                    'is being '
                    'trained); run `make bench` again once it is committed'.format(
                        bundle.relative_to(root) if bundle.is_relative_to(root) else bundle
                    ),
                }
            elif name == 'overhead':
                from .overhead import run_overhead

                frames, passes = reps['overhead']
                data = run_overhead(bundle, work=work / 'overhead', frames=frames, repeats=passes)
            else:
                from .overhead import run_replay

                data = run_replay(bundle, work / 'replay', repeats=reps['replay'])
                if student is not None:
                    from .bundles import compare_inference

                    data['student'] = run_replay(
                        student, work / 'replay_student', repeats=reps['replay']
                    )
                    r, b, w = reps['targets']
                    data['inference'] = compare_inference(
                        {bundle.name: bundle, student.name: student},
                        bundle.name,
                        rounds=r,
                        block=b,
                        warmup=w,
                    )
            if 'bundle_dir' in data:
                data['bundle_dir'] = (
                    str(Path(data['bundle_dir']).relative_to(root))
                    if Path(data['bundle_dir']).is_relative_to(root)
                    else data['bundle_dir']
                )
        elif name == 'targets':
            from .targets import run_targets

            r, b, w = reps['targets']
            data = run_targets(root, work / 'targets', rounds=r, block=b, warmup=w)
        else:
            from .roofline import run_roofline

            data = run_roofline(roofline_models(work, bundle, out, student))
            for row in data['rows']:
                row.pop('onnx', None)
            if not _bundle_ready(bundle):
                data['note'] = (
                    'shipped detector rows pending: `{}` is not in this checkout yet'.format(
                        bundle.relative_to(root) if bundle.is_relative_to(root) else bundle
                    )
                )
        data['run'] = _run_info(t0, load0)
        data['run']['quick'] = bool(quick)
        write_json(data, out / '{}.json'.format(name))
        seconds[name] = round(time.perf_counter() - t0, 1)
        log('[bench] {} done in {} s'.format(name, seconds[name]))
    old = {}
    if (out / 'machine.json').is_file():
        old = json.loads((out / 'machine.json').read_text())
    mach['load_end'] = machine.load_average()
    mach['sections_run'] = [s for s in ALL_SECTIONS if s in sections]
    mach['section_seconds'] = (
        dict(old.get('section_seconds') or {}, **seconds)
        if set(sections) != set(ALL_SECTIONS)
        else seconds
    )
    mach['total_seconds'] = round(time.perf_counter() - t_all, 1)
    mach['quick'] = bool(quick)
    write_json(mach, out / 'machine.json')
    page = render(out, docs)
    log('[bench] wrote {} and {}/*.json in {} s'.format(page, out, mach['total_seconds']))
    return mach

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
Side-by-side benchmark: write bench/*.json, regenerate docs/BENCHMARKS.md (+ docs/img/bench_*.png).

    tools/benchmark.py --out bench                 # everything (make bench; < 15 min on 2 cores)
    tools/benchmark.py --out bench --sections digits,roofline
    tools/benchmark.py --render-only               # re-render the page from the committed JSON
    tools/benchmark.py --train-baseline  # retrain bench/checkpoints/digits_vit_baseline.pt
    tools/benchmark.py --gpu --out bench # on a GPU machine: bench/gpu.json (after a CPU run)

Sections: latency (one model four ways), digits (recipe vs Torch-Pruning / quantize_static /
quantize_dynamic alone, Pareto front), overhead (per-frame runtime steps), replay (eval_bag
throughput and peak RSS), roofline (Jetson estimates next to real GPU figures), targets (the Nano's
opset-13 graph against opset 17 on onnxruntime CPU). Every number on the page comes from the JSON.

Exit codes: 0 ok, 2 bad arguments (or a missing workstation package), 3 --gpu measured no figure,
130 interrupted (the sections finished so far are kept).
"""

import argparse
import logging
from pathlib import Path
import sys
from typing import List, Optional

from ..cli import workstation_tool

PROG = 'benchmark'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/benchmark.py`` / ``vitedge_benchmark``.

    Returns the exit code (module doc).

    Relative --out, --docs, --recipe, --bundle and --work are taken from the repository root (ROOT
    of bench/run.py).
    """
    from .run import (
        ALL_SECTIONS,
        DEFAULT_BASELINE_SOURCE,
        DEFAULT_BUNDLE,
        DEFAULT_RECIPE,
        DEFAULT_STUDENT,
        ROOT,
        student_problem,
    )

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        '--out',
        type=Path,
        default=Path('bench'),
        help='directory of the JSON results (default bench)',
    )
    p.add_argument(
        '--work',
        type=Path,
        default=Path('bench_out'),
        help='scratch directory for models and bags (default bench_out, git-ignored)',
    )
    p.add_argument(
        '--docs',
        type=Path,
        default=Path('docs'),
        help='where BENCHMARKS.md and img/ go (default docs)',
    )
    p.add_argument(
        '--sections',
        default=','.join(ALL_SECTIONS),
        help='comma-separated subset of: {} (default all)'.format(', '.join(ALL_SECTIONS)),
    )
    p.add_argument(
        '--recipe',
        type=Path,
        default=Path(DEFAULT_RECIPE),
        help='digits recipe (default %(default)s)',
    )
    p.add_argument(
        '--bundle',
        type=Path,
        default=Path(DEFAULT_BUNDLE),
        help='detector bundle for overhead/replay/roofline (default %(default)s)',
    )
    p.add_argument(
        '--student',
        type=Path,
        default=Path(DEFAULT_STUDENT),
        help='second (student) detector bundle for replay/roofline, left out where it is not a '
        'bundle (default %(default)s)',
    )
    p.add_argument('--threads', type=int, default=2, help='torch threads for training (default 2)')
    p.add_argument(
        '--quick', action='store_true', help='few repeats (a smoke run; figures not for the page)'
    )
    p.add_argument(
        '--render-only', action='store_true', help='only re-render docs/BENCHMARKS.md from --out'
    )
    p.add_argument(
        '--no-plots', action='store_true', help='with --render-only: leave the PNGs as they are'
    )
    p.add_argument(
        '--train-baseline',
        action='store_true',
        help='retrain the digits baseline checkpoint named in the recipe (from {})'.format(
            DEFAULT_BASELINE_SOURCE
        ),
    )
    p.add_argument(
        '--gpu',
        action='store_true',
        help='measure torch CUDA / onnxruntime CUDA / TensorRT on this GPU machine into '
        'OUT/gpu.json',
    )
    p.add_argument('--quiet', action='store_true', help='no progress bars')
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format='%(message)s')

    from .run import render, run_benchmark

    out = args.out if args.out.is_absolute() else ROOT / args.out
    docs = args.docs if args.docs.is_absolute() else ROOT / args.docs
    if args.render_only:
        page = render(out, docs, plots=not args.no_plots)
        print('rendered {} from {}/*.json'.format(page, out))
        return 0
    if args.train_baseline:
        from .digits import load_bench_recipe, train_baseline

        rec = load_bench_recipe(ROOT / args.recipe, ROOT)
        train_baseline(
            ROOT / DEFAULT_BASELINE_SOURCE,
            rec['model']['checkpoint'],
            ROOT / args.work / 'baseline',
            threads=args.threads,
            progress=not args.quiet,
        )
        print('wrote {}'.format(rec['model']['checkpoint']))
        return 0
    if args.gpu:
        from .gpu import run_gpu
        from .run import write_json

        data = run_gpu(ROOT / args.work, ROOT / args.bundle, out)
        if not data['figures']:
            for e in data['errors']:
                print('{model} {backend} {precision}: {error}'.format(**e), file=sys.stderr)
            print('no GPU figure measured: bench/gpu.json not written', file=sys.stderr)
            return 3
        write_json(data, out / 'gpu.json')
        page = render(out, docs)
        print('wrote {} and re-rendered {}'.format(out / 'gpu.json', page))
        return 0
    sections = [s.strip() for s in args.sections.split(',') if s.strip()]
    bad = [s for s in sections if s not in ALL_SECTIONS]
    if bad:
        p.error(
            'unknown section(s) {} (known: {})'.format(', '.join(bad), ', '.join(ALL_SECTIONS))
        )
    why = student_problem(ROOT / args.student, ROOT / args.bundle)
    if why:
        p.error('--student {}: {}'.format(args.student, why))
    try:
        run_benchmark(
            out,
            args.work,
            docs,
            sections=sections,
            recipe=args.recipe,
            bundle=args.bundle,
            student=args.student,
            threads=args.threads,
            quick=args.quick,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print('interrupted: the sections finished so far are in {}'.format(out), file=sys.stderr)
        return 130
    return 0

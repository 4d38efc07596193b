#!/usr/bin/env python3
"""Side-by-side benchmark: writes bench/*.json and regenerates docs/BENCHMARKS.md (+ docs/img/bench_*.png).

    tools/benchmark.py --out bench                 # everything (make bench; < 15 min on 2 cores)
    tools/benchmark.py --out bench --sections digits,roofline
    tools/benchmark.py --render-only               # re-render the page from the committed JSON
    tools/benchmark.py --train-baseline            # retrain bench/checkpoints/digits_vit_baseline.pt
    tools/benchmark.py --gpu --out bench           # on a GPU machine: bench/gpu.json (after a CPU run)

Console script ``vitedge_benchmark``. Options and exit codes: ``--help``, vitedge_ros/bench/cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.bench.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

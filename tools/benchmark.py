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
Side-by-side benchmark: write bench/*.json and regenerate docs/BENCHMARKS.md.

The figures go to docs/img/bench_*.png as well.

    tools/benchmark.py --out bench                 # everything (make bench; < 15 min on 2 cores)
    tools/benchmark.py --out bench --sections digits,roofline
    tools/benchmark.py --render-only               # re-render the page from the committed JSON
    tools/benchmark.py --train-baseline    # retrain bench/checkpoints/digits_vit_baseline.pt
    tools/benchmark.py --gpu --out bench           # on a GPU machine: bench/gpu.json (after CPU)

Console script ``vitedge_benchmark``. Options and exit codes: ``--help``, vitedge_ros/bench/cli.py.
"""


from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.bench.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

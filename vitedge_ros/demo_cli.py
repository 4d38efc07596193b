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
Run the shipped detector over a generated drone camera sequence (what `make demo` runs).

    tools/demo.py [--bundle models/aerial_vit_tiny] [--frames 120] [--out demo_out] [--backend
    auto]

Exit codes: 0 ok, 2 bad arguments or bundle (or a missing workstation package).
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional

from .cli import workstation_tool

PROG = 'demo'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``tools/demo.py`` / ``vitedge_demo``; returns the exit code (module doc)."""
    from .demo import DEFAULT_BUNDLE, run_demo
    from .runtime.errors import VitedgeError

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument('--bundle', type=Path, default=DEFAULT_BUNDLE, help='model bundle directory')
    p.add_argument('--frames', type=int, default=120, help='frames in the generated flight')
    p.add_argument('--seed', type=int, default=7, help='seed of the generated flight')
    p.add_argument(
        '--out', type=Path, default=Path('demo_out'), help='where the video, strip and summary go'
    )
    p.add_argument('--backend', default='auto', choices=['auto', 'onnxruntime', 'tensorrt'])
    args = p.parse_args(argv)
    if args.frames <= 0:
        p.error('--frames must be > 0')
    try:
        run_demo(
            args.bundle, frames=args.frames, seed=args.seed, out_dir=args.out, backend=args.backend
        )
    except VitedgeError as exc:
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    return 0

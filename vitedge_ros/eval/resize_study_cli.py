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
Measure which resize the frame path should use.

INTER_AREA vs INTER_LINEAR, and reduced JPEG decoding.

    tools/resize_study.py [--bundle models/aerial_vit_tiny] [--out docs/reports/resize_study.json]
                          [--md docs/reports/resize_study.md] [--quick]

Scores the bundle (onnxruntime) on the demo flight, the validation flights of its training config,
and those flights at 1280x960 through JPEG (reduced decode when the frame is >= 2x the network
size); person precision and recall at IoU 0.5 and mAP@0.5 per variant. See docs/EVALUATION.md
("Resize: measured, not assumed"). Exit codes: 0 ok, 2 bad bundle (or a missing workstation
package).
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional

from ..cli import workstation_tool

PROG = 'resize_study'
#: The shipped detector of the repository (package root's models/).
DEFAULT_BUNDLE = Path(__file__).resolve().parents[2] / 'models' / 'aerial_vit_tiny'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/resize_study.py`` / ``vitedge_resize_study``.

    Returns the exit code (module doc).
    """
    from .resize_study import render_markdown, run_resize_study, write_study
    from ..runtime.errors import VitedgeError

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument('--bundle', type=Path, default=DEFAULT_BUNDLE, help='detector bundle')
    p.add_argument(
        '--out', type=Path, default=Path('docs/reports/resize_study.json'), help='JSON results'
    )
    p.add_argument(
        '--md', type=Path, default=Path('docs/reports/resize_study.md'), help='the Markdown table'
    )
    p.add_argument(
        '--quick', action='store_true', help='a few frames (a smoke run; figures not for the docs)'
    )
    args = p.parse_args(argv)
    try:
        study = run_resize_study(args.bundle, quick=args.quick)
    except VitedgeError as exc:
        print('resize_study: {}'.format(exc), file=sys.stderr)
        return 2
    command = 'tools/resize_study.py' + (
        ' --bundle {}'.format(args.bundle) if args.bundle != p.get_default('bundle') else ''
    )
    write_study(study, args.out, args.md, command)
    print(render_markdown(study, command))
    return 0

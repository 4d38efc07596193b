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
Count false persons per frame of a detector bundle on real photos with nobody in them.

    tools/false_positives.py --bundle models/aerial_vit_tiny --out fp_out
    tools/false_positives.py --bundle DIR --out DIR --images MY_EMPTY_FIELDS/
                             [--class person] [--threshold 0.35]

Without --images it uses the held-out real photos that training never reads
(vitedge_ros.data.textures: two views of each at 640x480 and 1280x720, or --sizes). Writes
OUT/false_positives.json and .md.

Exit codes: 0 ok, 2 bad arguments, bundle or image folder (or a missing workstation package).
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional, Tuple

from ..cli import workstation_tool

PROG = 'false_positives'


def _sizes(text: str) -> List[Tuple[int, int]]:
    """
    ``--sizes``: 'WxH[,WxH...]' -> [(W, H), ...] in pixels, sides >= 16.

    Argparse type; exit 2 otherwise.
    """
    try:
        sizes = [tuple(int(v) for v in s.lower().split('x')) for s in text.split(',') if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(len(s) != 2 or min(s) < 16 for s in sizes):
        raise argparse.ArgumentTypeError(
            'expected WxH[,WxH...] with sides >= 16, got {!r}'.format(text)
        )
    return sizes


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/false_positives.py`` / ``vitedge_false_positives``.

    Returns the exit code.
    """
    p = argparse.ArgumentParser(
        description=__doc__.strip().splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    p.add_argument('--bundle', required=True, help='detector bundle directory')
    p.add_argument('--out', required=True, help='output directory for false_positives.json / .md')
    p.add_argument(
        '--images',
        default=None,
        help='a folder of your own photos with no object of --class '
        '(default: the held-out real photos)',
    )
    p.add_argument(
        '--class',
        dest='class_name',
        default='person',
        help='class that is absent (default person)',
    )
    p.add_argument(
        '--threshold', type=float, default=None, help="score threshold (default: the bundle's)"
    )
    p.add_argument(
        '--sizes', type=_sizes, default=None, help='held-out frame sizes, e.g. 640x480,1280x720'
    )
    p.add_argument('--backend', default='onnxruntime', choices=('onnxruntime', 'tensorrt', 'auto'))
    args = p.parse_args(argv)

    from .negatives import (
        false_positives_per_frame,
        heldout_false_positives,
        write_false_positive_report,
    )
    from ..data.common import IMAGE_EXTENSIONS
    from ..runtime.errors import VitedgeError

    try:
        if args.images is None:
            result = heldout_false_positives(
                args.bundle,
                args.class_name,
                sizes=args.sizes,
                score_threshold=args.threshold,
                backend=args.backend,
            )
        else:
            folder = Path(args.images)
            if not folder.is_dir():
                raise ValueError('--images: not a folder: {}'.format(folder))
            files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
            if not files:
                raise ValueError(
                    '--images: no image files ({}) in {}'.format(
                        ' '.join(IMAGE_EXTENSIONS), folder
                    )
                )
            result = false_positives_per_frame(
                args.bundle,
                [str(f) for f in files],
                args.class_name,
                score_threshold=args.threshold,
                backend=args.backend,
            )
            result['source'] = str(folder)
        paths = write_false_positive_report(result, args.out)
    except (VitedgeError, ValueError, OSError) as exc:
        print('false_positives: error: {}'.format(exc), file=sys.stderr)
        return 2
    groups = ', '.join(
        '{} {:.2f}'.format(k, v['per_frame'])
        for k, v in {**result['by_size'], **result['by_group']}.items()
    )
    print(
        '{:.2f} false {}s per frame ({} in {} frames, threshold {}){}'.format(
            result['per_frame'],
            args.class_name,
            result['false_positives'],
            result['frames'],
            result['score_threshold'],
            '; ' + groups if groups else '',
        )
    )
    if result['skipped']:
        print('skipped {} unreadable frame(s)'.format(len(result['skipped'])))
    print('wrote {} and {}'.format(paths['json'], paths['md']))
    return 0

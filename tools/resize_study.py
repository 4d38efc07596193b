#!/usr/bin/env python3
"""Measure which resize the frame path should use: INTER_AREA vs INTER_LINEAR, and reduced JPEG decoding.

    tools/resize_study.py [--bundle models/aerial_vit_tiny] [--out docs/reports/resize_study.json]
                          [--md docs/reports/resize_study.md] [--quick]

Scores the bundle (onnxruntime) on the demo flight, the validation flights of its training config, and those
flights at 1280x960 through JPEG (reduced decode when the frame is >= 2x the network size); person precision and
recall at IoU 0.5 and mAP@0.5 per variant. See docs/EVALUATION.md ("Resize: measured, not assumed").
Exit codes: 0 ok, 2 bad bundle.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from vitedge_ros.eval.resize_study import render_markdown, run_resize_study, write_study
    from vitedge_ros.runtime.errors import VitedgeError

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--bundle', type=Path, default=ROOT / 'models' / 'aerial_vit_tiny', help='detector bundle')
    p.add_argument('--out', type=Path, default=Path('docs/reports/resize_study.json'), help='JSON results')
    p.add_argument('--md', type=Path, default=Path('docs/reports/resize_study.md'), help='the Markdown table')
    p.add_argument('--quick', action='store_true', help='a few frames (a smoke run; figures not for the docs)')
    args = p.parse_args(argv)
    try:
        study = run_resize_study(args.bundle, quick=args.quick)
    except VitedgeError as exc:
        print('resize_study: {}'.format(exc), file=sys.stderr)
        return 2
    command = 'tools/resize_study.py' + (' --bundle {}'.format(args.bundle) if args.bundle != p.get_default(
        'bundle') else '')
    write_study(study, args.out, args.md, command)
    print(render_markdown(study, command))
    return 0


if __name__ == '__main__':
    sys.exit(main())

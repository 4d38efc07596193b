#!/usr/bin/env python3
"""Count false persons per frame of a detector bundle on real photos with nobody in them (``vitedge_false_positives``).

    tools/false_positives.py --bundle models/aerial_vit_tiny --out fp_out
    tools/false_positives.py --bundle DIR --out DIR --images MY_EMPTY_FIELDS/ [--class person] [--threshold 0.35]

Options and exit codes: ``--help``, vitedge_ros/eval/false_positives_cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.eval.false_positives_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

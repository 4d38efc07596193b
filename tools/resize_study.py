#!/usr/bin/env python3
"""Measure which resize the frame path should use: INTER_AREA vs INTER_LINEAR, and reduced JPEG decoding.

    tools/resize_study.py [--bundle models/aerial_vit_tiny] [--out docs/reports/resize_study.json]
                          [--md docs/reports/resize_study.md] [--quick]

Console script ``vitedge_resize_study``. Options and exit codes: ``--help``, vitedge_ros/eval/resize_study_cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.eval.resize_study_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

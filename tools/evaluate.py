#!/usr/bin/env python3
"""Score a detector bundle on an annotated image folder (see vitedge_ros/eval/images.py).

    tools/evaluate.py IMAGES --gt FILE_OR_DIR --bundle DIR --out DIR [--label-map MAP] [--backend NAME]
                      [--score-threshold T] [--worst N] [--overwrite] [-q]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.eval.images import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

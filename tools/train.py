#!/usr/bin/env python3
"""Train a detector or classifier from a YAML config; checkpoints every epoch, resumes, exports a bundle.

    tools/train.py --config config/train/aerial_vit_tiny.yaml --out runs/aerial_vit_tiny [--resume]

Console script ``vitedge_train``. Options and exit codes: ``--help``, vitedge_ros/train_cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.train_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Rewrite an old (version-1, pickled nn.Module) checkpoint as tensors + a plain structure description.

    tools/convert_checkpoint.py OLD.pt --trust-checkpoint [--out NEW.pt]      # default: OLD.pt in place

Console script ``vitedge_convert_checkpoint``. Options and exit codes: ``--help``, vitedge_ros/checkpoint_cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.checkpoint_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

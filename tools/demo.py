#!/usr/bin/env python3
"""Run the shipped detector over a generated drone camera sequence (what `make demo` runs) (``vitedge_demo``).

    tools/demo.py [--bundle models/aerial_vit_tiny] [--frames 120] [--out demo_out] [--backend auto]

Options and exit codes: ``--help``, vitedge_ros/demo_cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.demo_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

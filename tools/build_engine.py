#!/usr/bin/env python3
"""Build a TensorRT engine for a model bundle, on the machine that will run it (``vitedge_build_engine``).

    python3 tools/build_engine.py BUNDLE_DIR --precision fp16|fp32|int8 [--calib-images DIR] [--workspace-mb N]

Options, the engine's file name and exit codes: vitedge_ros/runtime/build_engine_cli.py, docs/TENSORRT.md.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.runtime.build_engine_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

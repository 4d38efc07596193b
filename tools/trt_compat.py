#!/usr/bin/env python3
"""List the ONNX nodes a TensorRT version's ONNX parser refuses (see vitedge_ros/export/trt_audit.py).

    python3 tools/trt_compat.py MODEL_ONNX_OR_BUNDLE [--target trt8.2|trt8.6|trt10 ...]

Exit codes: 0 no blockers, 1 blockers found, 2 bad input.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.export.trt_audit_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

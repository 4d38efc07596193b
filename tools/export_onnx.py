#!/usr/bin/env python3
"""Export a checkpoint (or wrap an existing ONNX file) as a model bundle for a TensorRT parser target.

    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR [--target trt8.2|trt8.6|trt10] [--fp16] [--like BUNDLE]
    python tools/export_onnx.py --from-onnx model_int8.onnx --like FP32_BUNDLE --out BUNDLE_DIR [--target ...]
    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR --raw-pixels [bgr|rgb] [--interpolation area|linear]
    python tools/export_onnx.py --from-onnx B/model.onnx --like B --out B_RAW --raw-pixels   # no torch needed

Console script ``vitedge_export_onnx``. Options and exit codes: ``--help``, vitedge_ros/export/cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.export.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

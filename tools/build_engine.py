#!/usr/bin/env python3
"""Build a TensorRT engine for a model bundle, on the machine that will run it.

    python3 tools/build_engine.py BUNDLE_DIR --precision fp16
    python3 tools/build_engine.py BUNDLE_DIR --precision int8 --calib-images DIR   # implicit INT8
    python3 tools/build_engine.py QDQ_BUNDLE_DIR --precision int8                  # explicit INT8 (QDQ)

The engine is written to BUNDLE_DIR/engines/<onnx sha[:12]>-trt<version>-<gpu>-<precision>.engine
(atomically), beside a timing cache (and a calibration cache for implicit INT8). An engine with the same key
is kept unless --force is given. See docs/TENSORRT.md.

Before TensorRT is called, the graph is audited for the running TensorRT version's ONNX parser
(vitedge_ros.export.trt_audit); nodes it would refuse are named and nothing is built. Under fp16/int8 the
LayerNorm, Softmax and peak-extraction layers are pinned to FP32 (TensorRT 8.2-10.x). TensorRT 11 builds only
at the precision the ONNX graph itself has.

Exit codes: 0 built or up to date; 2 bad arguments or bundle; 3 TensorRT/GPU/pycuda missing, this TensorRT
cannot build that precision from this graph (TensorRT 11), or INT8 calibration failed; 4 the graph would not
parse on this TensorRT (audit refusal or parser error) or the build failed; 130 interrupted.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.runtime.build_engine_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

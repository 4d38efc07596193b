#!/usr/bin/env python3
# Copyright 2026 vitedge_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Export a checkpoint (or wrap an existing ONNX file) as a model bundle for a TensorRT parser target.

    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR [--target trt8.2|trt8.6|trt10]
                                [--fp16] [--like BUNDLE]
    python tools/export_onnx.py --from-onnx model_int8.onnx --like FP32_BUNDLE --out BUNDLE_DIR
                                [--target ...]
    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR --raw-pixels [bgr|rgb]
                                [--interpolation area|linear]
    python tools/export_onnx.py --from-onnx B/model.onnx --like B --out B_RAW --raw-pixels
                                # no torch needed

Console script ``vitedge_export_onnx``. Options and exit codes: ``--help``,
vitedge_ros/export/cli.py.
"""


from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.export.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

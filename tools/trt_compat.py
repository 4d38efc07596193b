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
List the ONNX nodes a TensorRT version's ONNX parser refuses (see vitedge_ros/export/trt_audit.py).

    python3 tools/trt_compat.py MODEL_ONNX_OR_BUNDLE [--target trt8.2|trt8.6|trt10 ...]

Exit codes: 0 no blockers, 1 blockers found, 2 bad input.
"""

from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.export.trt_audit_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

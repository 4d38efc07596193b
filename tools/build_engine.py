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
Build a TensorRT engine for a model bundle on the machine that will run it.

Console script ``vitedge_build_engine``.

    python3 tools/build_engine.py BUNDLE_DIR --precision fp16|fp32|int8
                                  [--calib-images DIR] [--workspace-mb N]

Options, the engine's file name and exit codes: vitedge_ros/runtime/build_engine_cli.py,
docs/TENSORRT.md.
"""


from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.runtime.build_engine_cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

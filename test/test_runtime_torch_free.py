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

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_runtime_frame_leaves_torch_timm_rclpy_unimported(tiny_detector_bundle):
    code = (
        'import sys, json, pkgutil, importlib, numpy as np\n'
        'import vitedge_ros.runtime as r\n'
        'for m in pkgutil.walk_packages(r.__path__, "vitedge_ros.runtime."):\n'
        '    try: importlib.import_module(m.name)\n'
        '    except ImportError: pass\n'
        'from vitedge_ros.runtime import Pipeline\n'
        'p = Pipeline(sys.argv[1], backend="auto")\n'
        'res = p(np.zeros((120, 160, 3), np.uint8))\n'
        'heavy = sorted({"torch", "timm", "rclpy"} & set(sys.modules))\n'
        'print(json.dumps({"n": len(res.detections), "heavy": heavy}))\n'
    )
    out = subprocess.run(
        [sys.executable, '-c', code, str(tiny_detector_bundle)],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['heavy'] == []
    assert result['n'] > 0

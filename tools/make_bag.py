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
Write a synthetic drone-flight rosbag2 with ground truth, to try tools/eval_bag.py in one command.

    tools/make_bag.py --out flight --frames 60 [--storage mcap|sqlite3] [--compressed] [--no-raw]
                      [--altitude 15] [--tilt-deg 0] [--hfov-deg 60]
    tools/eval_bag.py flight --bundle models/aerial_vit_tiny --image-topic /camera/image_raw \
        --gt flight_gt.json --out flight_eval --params config/synthetic_world.yaml

The command line lives in ``vitedge_ros.replay.cli`` (``make_bag_main``).
"""

from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.replay.cli import make_bag_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(make_bag_main())

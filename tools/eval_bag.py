#!/usr/bin/env python3
"""Replay a rosbag2 flight through a detector bundle without ROS (see docs/EVALUATION.md).

    tools/eval_bag.py BAG --bundle DIR --image-topic TOPIC --out DIR [--realtime [--rate R]]
                      [--gt FILE | --gt-topic TOPIC] [--overlay] [--backend NAME]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.replay.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Run a bundle on an image, a folder of images, a video or a rosbag2 image topic (see vitedge_ros/predict.py).

    tools/predict.py SOURCE --bundle DIR --out DIR [--image-topic TOPIC] [--backend NAME]
                     [--score-threshold T] [--max-frames N] [--overwrite] [-q]
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.predict import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Run a compression recipe (prune, low-rank, distilled fine-tuning, token merging, quantization).

    tools/compress.py --recipe config/recipes/digits_vit.yaml --out runs/compress_digits [--resume]
    torchrun --nproc_per_node 2 tools/compress.py --recipe ... --out ...     # DDP fine-tuning (gloo on CPU)

Console script ``vitedge_compress``. Options and exit codes: ``--help``, vitedge_ros/compress/cli.py.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.compress.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

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
Train a detector or classifier from a YAML config.

Checkpoints every epoch, resumes, exports a bundle.

    tools/train.py --config config/train/aerial_vit_tiny.yaml --out runs/aerial_vit_tiny [--resume]

Exit codes: 0 trained, 2 bad config, data, checkpoint or weights (before any work) or a missing
workstation package, 130 interrupted (resume with --resume).
"""

import argparse
import json
import logging
from pathlib import Path
import sys
from typing import List, Optional

from .cli import workstation_tool

PROG = 'train'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/train.py`` / ``vitedge_train``.

    Returns the exit code (module doc).
    """
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        '--config', required=True, type=Path, help='training YAML (see config/train/)'
    )
    parser.add_argument(
        '--out', required=True, type=Path, help='output directory (checkpoints, bundle/)'
    )
    parser.add_argument(
        '--resume', action='store_true', help='continue from OUT/last.pt if present'
    )
    parser.add_argument('--epochs', type=int, help='override train.epochs')
    parser.add_argument('--no-export', action='store_true', help='skip the ONNX bundle export')
    parser.add_argument(
        '--threads', type=int, default=0, help='torch CPU threads (0: torch default)'
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='accept an old pickled model.checkpoint: unpickling runs any code in it '
        '(trusted files only)',
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    import torch

    from .training.config import ConfigError, load_config
    from .training.run import run_training

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.config)
        if args.epochs:
            cfg['train']['epochs'] = args.epochs
        result = run_training(
            cfg,
            args.out,
            resume=args.resume,
            export=not args.no_export,
            allow_pickle=args.trust_checkpoint,
        )
    except ConfigError as exc:  # bad config, data, checkpoint or weights: found before any work
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            'interrupted: resume with --resume (last finished epoch is in {}/last.pt)'.format(
                args.out
            ),
            file=sys.stderr,
        )
        return 130
    print(json.dumps({k: v for k, v in result.items() if k != 'history'}, indent=2, default=float))
    return 0

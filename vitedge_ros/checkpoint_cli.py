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
Rewrite an old (version-1, pickled nn.Module) checkpoint as tensors + a structure description.

    tools/convert_checkpoint.py OLD.pt --trust-checkpoint [--out NEW.pt]  # default: OLD.pt

Version-1 checkpoints pickled the whole model: reading one runs any code the file names, so this
tool needs --trust-checkpoint (use it only on files whose origin you trust). The new file is read
back with torch.load(weights_only=True) and the rebuilt model's outputs are compared with the
pickled model's on random inputs of the checkpoint's input size; it is written only when they are
identical (max abs difference 0).

Exit codes: 0 converted, 2 bad input (missing/corrupt file, not trusted, outputs differ) or a
missing workstation package, 130 interrupted.
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional

from .cli import workstation_tool

PROG = 'convert_checkpoint'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/convert_checkpoint.py`` / ``vitedge_convert_checkpoint``.

    Returns the exit code.
    """
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument('checkpoint', type=Path, help='version-1 checkpoint (pickled module)')
    p.add_argument(
        '--out',
        type=Path,
        default=None,
        help='where to write the converted checkpoint (default: in place)',
    )
    p.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='unpickle CHECKPOINT, which runs any code in it: only for files you trust',
    )
    p.add_argument(
        '--samples',
        type=int,
        default=4,
        help='random inputs for the output comparison (default 4)',
    )
    args = p.parse_args(argv)
    from .checkpoint import CheckpointError, convert_checkpoint, PICKLE_RISK

    if not args.trust_checkpoint:
        print(
            'convert_checkpoint: {}: a version-1 checkpoint is a pickle; {}'.format(
                args.checkpoint, PICKLE_RISK
            ),
            file=sys.stderr,
        )
        return 2
    from .cli import run_guarded

    out = args.out or args.checkpoint
    code, proof = run_guarded(
        'convert_checkpoint',
        lambda: convert_checkpoint(args.checkpoint, out, samples=args.samples),
        (CheckpointError,),
        interrupted='interrupted; nothing was written',
    )
    if code:
        return code
    print(
        "converted {} (sha256 {}) -> {}: rebuilt model outputs equal the pickled model's on {} "
        'inputs '
        '(max abs difference {})'.format(
            args.checkpoint, proof['sha256'][:12], out, proof['samples'], proof['max_abs_diff']
        )
    )
    return 0

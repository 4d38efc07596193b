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
Run a compression recipe (prune, low-rank, distilled fine-tuning, token merging, quantization).

    tools/compress.py --recipe config/recipes/digits_vit.yaml --out runs/compress_digits [--resume]
    torchrun --nproc_per_node 2 tools/compress.py --recipe ... --out ...     # DDP fine-tuning
    (gloo on CPU)

Writes OUT/report.json, OUT/report.md, OUT/pareto.png, OUT/bundle/ (the last stage as a model
bundle), OUT/stages/NN-name.pt (a checkpoint per stage) and OUT/onnx/NN-name.onnx. Every stage's
ONNX graph is exported for --target (default trt8.2, the Jetson Nano's TensorRT: opset 13,
LayerNorm decomposed) and checked against torch with export_onnx.py's tolerance; the bundle is
audited for trt8.2, trt8.6 and trt10 (bundle.yaml trt_targets).

An unreadable model.checkpoint / teacher.checkpoint, or a model whose trial export fails, is
rejected before any work with one line naming the key (exit code 2). --resume reuses a stage only
when its config and everything it depends on are unchanged, and says which stages it reuses or
reruns and why.

Exit codes: 0 ok, 1 a stage failed, 2 invalid recipe or arguments (before any work) or a bundle
graph the target's TensorRT parser refuses (the nodes named) or a missing workstation package, 4 a
stage's ONNX export or parity failed (as tools/export_onnx.py), 130 interrupted.
"""

import argparse
import logging
from pathlib import Path
import sys
from typing import List, Optional

from ..cli import workstation_tool

PROG = 'compress'


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Run ``tools/compress.py`` / ``vitedge_compress`` and return the exit code.

    The exit codes are listed in the module doc.
    """
    from ..export.targets import DEFAULT_TARGET
    from ..export.trt_audit import TRT_TARGETS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        '--recipe', required=True, type=Path, help='recipe YAML (see config/recipes/)'
    )
    parser.add_argument(
        '--out', type=Path, default=None, help='output directory (required unless --check)'
    )
    parser.add_argument(
        '--resume',
        action='store_true',
        help='reuse stages whose checkpoint in OUT/stages matches the recipe (changed ones rerun)',
    )
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='let model/teacher checkpoints be old pickled files: unpickling runs any code in '
        'them, '
        'so only for files you trust',
    )
    parser.add_argument(
        '--device',
        default='cpu',
        choices=['cpu'],
        help='torch device for the stages (cpu; latency is always onnxruntime CPU)',
    )
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads (default 2)')
    parser.add_argument(
        '--target',
        default=DEFAULT_TARGET,
        choices=TRT_TARGETS,
        help='TensorRT parser target of every stage graph and the bundle (default %(default)s)',
    )
    parser.add_argument('--check', action='store_true', help='only validate the recipe')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from .recipe import load_recipe, RecipeError

    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as exc:
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    if args.check:
        print('{}: ok ({} stages)'.format(args.recipe, len(recipe['stages'])))
        return 0
    if args.out is None:
        print(
            'error: --out DIR is required to run a recipe (only --check runs without it)',
            file=sys.stderr,
        )
        return 2
    from .runner import run_recipe, RunError
    from ..export.onnx_export import EXIT_EXPORT_FAILED, ExportError, ExportTargetError

    try:
        report = run_recipe(
            args.recipe,
            args.out,
            resume=args.resume,
            progress=not args.quiet,
            threads=args.threads,
            target=args.target,
            allow_pickle=args.trust_checkpoint,
        )
    except (
        RecipeError
    ) as exc:  # found before any work: class mismatch, unreadable data, weights or checkpoint
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            'interrupted: run again with --resume to continue from the last finished stage',
            file=sys.stderr,
        )
        return 130
    except ExportTargetError as exc:
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    except ExportError as exc:
        print('error: export failed: {}'.format(exc), file=sys.stderr)
        return EXIT_EXPORT_FAILED
    except RunError as exc:
        print('error: {}'.format(exc), file=sys.stderr)
        return 1
    if report:
        for e in report['stages']:
            m = {k: round(v, 4) for k, v in e['metric'].items() if isinstance(v, float)}
            print(
                '{:<12} {:<9} {}  params {:>9}  MACs {:>12}  ONNX {:>10} B  ORT {:.3f} ms'.format(
                    e['name'],
                    e['type'],
                    m,
                    e['params'],
                    e['macs'],
                    e['onnx_bytes'],
                    e['latency_ms'],
                )
            )
        print('report: {}'.format(args.out / 'report.md'))
    return 0

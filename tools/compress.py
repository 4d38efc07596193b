#!/usr/bin/env python3
"""Run a compression recipe (prune, low-rank, distilled fine-tuning, token merging, quantization).

    tools/compress.py --recipe config/recipes/digits_vit.yaml --out runs/compress_digits [--resume]
    torchrun --nproc_per_node 2 tools/compress.py --recipe ... --out ...     # DDP fine-tuning (gloo on CPU)

Writes OUT/report.json, OUT/report.md, OUT/pareto.png, OUT/bundle/ (the last stage as a model bundle),
OUT/stages/NN-name.pt (a checkpoint per stage) and OUT/onnx/NN-name.onnx. An invalid recipe is rejected
before any work with the path of the bad key (exit code 2).
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--recipe', required=True, type=Path, help='recipe YAML (see config/recipes/)')
    parser.add_argument('--out', required=True, type=Path, help='output directory')
    parser.add_argument('--resume', action='store_true', help='skip stages whose checkpoint exists in OUT/stages')
    parser.add_argument('--device', default='cpu', choices=['cpu'],
                        help='torch device for the stages (cpu; latency is always onnxruntime CPU)')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads (default 2)')
    parser.add_argument('--check', action='store_true', help='only validate the recipe')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from vitedge_ros.compress.recipe import RecipeError, load_recipe

    try:
        recipe = load_recipe(args.recipe)
    except RecipeError as exc:
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    if args.check:
        print('{}: ok ({} stages)'.format(args.recipe, len(recipe['stages'])))
        return 0
    from vitedge_ros.compress.runner import run_recipe

    try:
        report = run_recipe(args.recipe, args.out, resume=args.resume, progress=not args.quiet,
                            threads=args.threads)
    except RecipeError as exc:  # found before any work: class mismatch, unreadable data, weights or checkpoint
        print('error: {}'.format(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted: run again with --resume to continue from the last finished stage', file=sys.stderr)
        return 130
    if report:
        for e in report['stages']:
            m = {k: round(v, 4) for k, v in e['metric'].items() if isinstance(v, float)}
            print('{:<12} {:<9} {}  params {:>9}  MACs {:>12}  ONNX {:>10} B  ORT {:.3f} ms'.format(
                e['name'], e['type'], m, e['params'], e['macs'], e['onnx_bytes'], e['latency_ms']))
        print('report: {}'.format(args.out / 'report.md'))
    return 0


if __name__ == '__main__':
    sys.exit(main())

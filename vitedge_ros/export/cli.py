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
Export a checkpoint (or wrap an existing ONNX file) as a model bundle for a TensorRT parser target.

    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR [--target trt8.2|trt8.6|trt10]
        [--fp16] [--like BUNDLE]
    python tools/export_onnx.py --from-onnx model_int8.onnx --like FP32_BUNDLE --out BUNDLE_DIR
        [--target ...]
    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR --raw-pixels [bgr|rgb]
        [--interpolation area|linear]
    python tools/export_onnx.py --from-onnx B/model.onnx --like B --out B_RAW --raw-pixels
        (no torch needed)

--raw-pixels [ORDER] (default order bgr, what cv2.imdecode and bgr8 cameras give): the graph takes
the frame as decoded, float32 0..255 NCHW in ORDER, and folds the channel order, mean and std into
its first layer; bundle.yaml says input.pixels: raw, input.pixel_order: ORDER; the host then only
resizes and converts (docs/TENSORRT.md, "Raw-pixel bundles"). The raw graph is compared with the
normalised one on synthetic frames, each through its own host path (1e-4 of the output range). With
--like a raw bundle it is implied. --interpolation: the resize that bundle.yaml asks the runtime
for (default: --like's, else the checkpoint's, else area); with --from-onnx it changes no weight,
only what the runtime does.

--target (default trt8.2, the Jetson Nano's TensorRT 8.2 and the most compatible): trt8.2 exports
opset 13 with LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add; trt8.6 and trt10
export opset 17 with LayerNormalization. Every Reshape carries allowzero at opset >= 14. The graph
is audited for trt8.2, trt8.6 and trt10 (vitedge_ros/export/trt_audit.py); the targets it parses on
are written to bundle.yaml trt_targets, and a graph with blockers for the requested target is
refused (exit 2, the nodes named).

From a checkpoint: static 1x3xHxW input, onnxslim, ONNX checker, outputs compared with torch on
sample inputs (max abs error printed; exit 4 above --atol, default 1e-4, 1e-2 with --fp16). --like
BUNDLE keeps that bundle's name and source metadata (re-export of a shipped bundle for another
target). From an ONNX file (a QDQ INT8 graph, or an older bundle's graph): checker, standard-domain
ops, static input matching --like, lowered to the target where needed, then compared with the
reference bundle on onnxruntime. See docs/TENSORRT.md.

Checkpoints are read with torch.load(weights_only=True) and rebuilt from their structure
description; an old pickled checkpoint is refused (exit 2) unless --trust-checkpoint (unpickling
runs code from the file).

Exit codes: 0 ok, 2 bad arguments or input (missing/corrupt checkpoint or ONNX, mismatched bundle,
audit blockers for the target; a missing workstation package), 4 export failure (tracing, checker,
parity), 130 interrupted.
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional

from ..cli import workstation_tool

PROG = 'export_onnx'
EXIT_OK, EXIT_BAD_INPUT, EXIT_INTERRUPTED = (
    0,
    2,
    130,
)  # EXIT_EXPORT_FAILED (4) comes from the library


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Return the arguments of ``tools/export_onnx.py`` (argparse exits 2 on a bad combination)."""
    from .targets import DEFAULT_TARGET
    from .trt_audit import TRT_TARGETS

    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Exit codes: 0 ok, 2 bad arguments/input or audit blockers, 4 export or parity '
        'failure, 130 interrupted.',
    )
    p.add_argument(
        'checkpoint',
        nargs='?',
        type=Path,
        help='checkpoint written by tools/train.py / compress.py',
    )
    p.add_argument('--out', type=Path, required=True, help='bundle directory to write')
    p.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='accept an old pickled checkpoint: unpickling runs any code in it (trusted files '
        'only)',
    )
    p.add_argument(
        '--target',
        default=DEFAULT_TARGET,
        choices=TRT_TARGETS,
        help='oldest TensorRT ONNX parser the bundle must load on (default %(default)s: Jetson '
        'Nano)',
    )
    p.add_argument(
        '--name', default=None, help="bundle name (default: the checkpoint's, or --like's)"
    )
    p.add_argument(
        '--opset',
        type=int,
        default=None,
        help="ONNX opset (default: the target's, 13 for trt8.2 and 17 otherwise)",
    )
    p.add_argument(
        '--atol',
        type=float,
        default=None,
        help='parity tolerance, max abs error (default 1e-4; 1e-2 with --fp16)',
    )
    p.add_argument(
        '--fp16', action='store_true', help='FP16 weights and compute, FP32 input/outputs'
    )
    p.add_argument(
        '--trt8-compat',
        action='store_true',
        help='decompose LayerNorm even for a target that imports LayerNormalization (always on '
        'for '
        'trt8.2)',
    )
    p.add_argument('--no-simplify', action='store_true', help='skip onnxslim')
    p.add_argument('--samples', type=int, default=3, help='parity samples (default %(default)s)')
    p.add_argument(
        '--samples-dir', type=Path, default=None, help='images to use as parity samples'
    )
    p.add_argument(
        '--from-onnx',
        type=Path,
        default=None,
        help='wrap this ONNX file (e.g. QDQ INT8) as a bundle',
    )
    p.add_argument(
        '--like',
        type=Path,
        default=None,
        help='reference bundle: for --from-onnx (labels, input, decoder, parity reference), or '
        'for a '
        'checkpoint (keep its name and source)',
    )
    p.add_argument(
        '--raw-pixels',
        nargs='?',
        const='bgr',
        default=None,
        choices=('bgr', 'rgb'),
        metavar='ORDER',
        help='the graph takes raw 0..255 pixels in ORDER (bgr when ORDER is left out), '
        'normalisation '
        'folded into its first layer',
    )
    p.add_argument(
        '--interpolation',
        default=None,
        choices=('area', 'linear'),
        help="resize the runtime uses for this bundle (default: --like's, else the checkpoint's)",
    )
    p.add_argument(
        '--rtol',
        type=float,
        default=0.1,
        help='--from-onnx without --atol: max error relative to the reference output range '
        '(default %(default)s)',
    )
    p.add_argument(
        '--score-threshold',
        default=None,
        metavar='auto|VALUE',
        help="detectors: the bundle's decoder.score_threshold, a VALUE in [0, 1] or auto: picked "
        'after the export through the runtime on SYNTHETIC flight frames (seeds 9000-9007) '
        "(default: --like's, else the checkpoint's)",
    )
    p.add_argument(
        '--min-precision',
        type=float,
        default=0.8,
        help='--score-threshold auto: person precision target (default %(default)s)',
    )
    p.add_argument(
        '--min-recall',
        type=float,
        default=0.8,
        help='--score-threshold auto: person recall target (default %(default)s)',
    )
    args = p.parse_args(argv)
    if args.score_threshold is not None and args.score_threshold != 'auto':
        try:
            args.score_threshold = float(args.score_threshold)
        except ValueError:
            p.error('--score-threshold: auto or a number in [0, 1], got {!r}'.format(
                args.score_threshold))
        if not 0.0 <= args.score_threshold <= 1.0:
            p.error('--score-threshold: {} is not in [0, 1]'.format(args.score_threshold))
    for key in ('min_precision', 'min_recall'):
        if not 0.0 <= getattr(args, key) <= 1.0:
            p.error('--{}: {} is not in [0, 1]'.format(key.replace('_', '-'), getattr(args, key)))
    if (args.checkpoint is None) == (args.from_onnx is None):
        p.error('give either CHECKPOINT or --from-onnx FILE --like BUNDLE')
    if args.from_onnx is not None and (args.fp16 or args.trt8_compat):
        p.error('--fp16 and --trt8-compat apply to checkpoint export, not to --from-onnx')
    if args.samples <= 0:
        p.error('--samples must be > 0')
    if args.atol is not None and args.atol <= 0:
        p.error('--atol must be > 0')
    if args.opset is not None:
        from .targets import export_opset

        try:
            export_opset(args.target, args.opset)
        except ValueError as exc:
            p.error('--opset: {}'.format(exc))
    return args


def _checkpoint(args: argparse.Namespace) -> int:
    from .checkpoint_export import export_checkpoint

    s = export_checkpoint(
        args.checkpoint,
        args.out,
        target=args.target,
        opset=args.opset,
        fp16=args.fp16,
        decompose_layernorm=True if args.trt8_compat else None,
        atol=args.atol,
        do_simplify=not args.no_simplify,
        n_samples=args.samples,
        samples_dir=args.samples_dir,
        name=args.name,
        like=args.like,
        allow_pickle=args.trust_checkpoint,
        raw_pixels=args.raw_pixels,
        interpolation=args.interpolation,
    )
    spec, info = s['spec'], s['export']
    print(
        'exported {} ({}, {} -> {}), target {}, opset {}, {} node types'.format(
            s['bundle'].onnx_path,
            s['task'],
            'x'.join(str(d) for d in (1, 3, spec.height, spec.width)),
            ', '.join(s['output_names']),
            info.get('target'),
            info.get('opset'),
            len(s['ops']),
        )
    )
    print(
        'parity torch vs onnxruntime: max abs error {:.3g} (tolerance {:.3g})'.format(
            s['parity'], s['atol']
        )
    )
    if 'parity_fp32' in s:
        print('parity fp32 torch vs fp16 onnx: max abs error {:.3g}'.format(s['parity_fp32']))
    print(
        'LayerNorm: {} modules decomposed before export, {} LayerNormalization nodes left; {} '
        'Reshapes given '
        'allowzero'.format(
            info.get('layernorms_decomposed', 0),
            sum(1 for _d, op in s['ops'] if op == 'LayerNormalization'),
            info.get('reshape_allowzero_set', 0),
        )
    )
    _print_raw(info.get('raw_pixels'))
    print(
        'TensorRT parser audit: no blockers for {} (bundle.yaml trt_targets)'.format(
            ', '.join(s['trt_targets'])
        )
    )
    return EXIT_OK


def _print_raw(raw) -> None:
    if raw:
        print(
            'raw pixels ({}): {} at {}; against the normalised graph: max abs error {:.3g}, '
            '{:.3g} of the output '
            'range'.format(
                raw['pixel_order'],
                raw['method'],
                raw['node'],
                raw['parity_max_abs'],
                raw['parity_rel'],
            )
        )


def _from_onnx(args: argparse.Namespace) -> int:
    from .checkpoint_export import wrap_onnx

    s = wrap_onnx(
        args.from_onnx,
        args.like,
        args.out,
        target=args.target,
        atol=args.atol,
        rtol=args.rtol,
        n_samples=args.samples,
        samples_dir=args.samples_dir,
        name=args.name,
        raw_pixels=args.raw_pixels,
        interpolation=args.interpolation,
    )
    ref = s['reference']
    for k, v in s['worst'].items():
        print(
            'parity {} vs {}: {}: max abs error {:.3g}, {:.1%} of the reference range'.format(
                args.from_onnx.name, ref.path.name, k, v['max_abs'], v['rel']
            )
        )
    if s['agree'] is not None:
        print(
            'top-1 agreement with the reference: {:.1%} over {} samples'.format(
                s['agree'], s['n_samples']
            )
        )
    if s['failed']:
        from .onnx_export import EXIT_EXPORT_FAILED

        print('export_onnx: parity failed: {}'.format(s['failed']), file=sys.stderr)
        return EXIT_EXPORT_FAILED
    ch = s['changes']
    print(
        'wrote bundle {} ({}, target {}, opset {} -> {}, {} LayerNormalization nodes decomposed, '
        '{})'.format(
            s['out'],
            args.from_onnx.name,
            args.target,
            s['opset_in'],
            s['opset'],
            ch['layernorm_nodes_decomposed'],
            'QDQ INT8' if s['has_qdq'] else 'float',
        )
    )
    _print_raw(s.get('raw_pixels'))
    print(
        'TensorRT parser audit: no blockers for {} (bundle.yaml trt_targets)'.format(
            ', '.join(s['trt_targets'])
        )
    )
    return EXIT_OK


def _task_of_input(args: argparse.Namespace) -> Optional[str]:
    """Return the task of what is exported (--like's, else the checkpoint's); None: unreadable."""
    try:
        if args.from_onnx is not None:
            from ..runtime import load_bundle

            return load_bundle(args.like, require_onnx=False).task
        from ..checkpoint import load_checkpoint

        return str(load_checkpoint(args.checkpoint, allow_pickle=args.trust_checkpoint)['task'])
    except Exception:  # noqa: BLE001 - the export itself reports an unreadable input, in one line
        return None


def _export_with_threshold(args: argparse.Namespace) -> int:
    """
    Export into a staging folder next to --out, set the threshold there, then move the files in.

    A refused task is named before any work; a failed or interrupted pick leaves --out as it was
    (the staging folder is removed). The files move one by one with ``os.replace``, bundle.yaml
    last, so other files in --out (engines built there) stay.
    """
    import os
    import shutil

    from .checkpoint_export import BadInput
    from ..tasks import get_task, UnknownTaskError

    task = _task_of_input(args)
    if task is not None:
        try:
            boxes = get_task(task).boxes
        except UnknownTaskError:
            boxes = True  # the export names an unknown task itself
        if not boxes:
            raise BadInput(
                '--score-threshold: a {} model has no score threshold (detectors only)'.format(
                    task
                )
            )
    final = args.out
    staging = final.parent / '.{}.staging'.format(final.name)
    shutil.rmtree(staging, ignore_errors=True)
    args.out = staging
    try:
        code = _from_onnx(args) if args.from_onnx is not None else _checkpoint(args)
        if code != EXIT_OK:
            return code
        _score_threshold(args)
        final.mkdir(parents=True, exist_ok=True)
        names = sorted(p.name for p in staging.iterdir() if p.name != 'bundle.yaml')
        for name in names + ['bundle.yaml']:
            os.replace(str(staging / name), str(final / name))
        print('wrote bundle {} (score threshold set)'.format(final))
        return EXIT_OK
    finally:
        args.out = final
        shutil.rmtree(staging, ignore_errors=True)


def _score_threshold(args: argparse.Namespace) -> None:
    """Set the exported bundle's score threshold (``--score-threshold``); BadInput on a misfit."""
    from .checkpoint_export import BadInput
    from .threshold import pick_bundle_threshold, set_score_threshold

    try:
        if args.score_threshold == 'auto':
            thr, record = pick_bundle_threshold(args.out, args.min_precision, args.min_recall)
            pr = record['at_threshold']
            print(
                'score threshold {} picked on {} ({} frames, flights {}): person precision '
                '{:.3f}, recall {:.3f}{}'.format(
                    thr,
                    record['picked_on'],
                    record['frames'],
                    record['flights'],
                    pr['precision'],
                    pr['recall'],
                    '' if pr.get('meets_targets', True) else ' (targets not reached: best F1)',
                )
            )
        else:
            thr, record = args.score_threshold, None
        set_score_threshold(args.out, thr, record)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


@workstation_tool(PROG)
def main(argv: Optional[List[str]] = None) -> int:
    """
    Entry point of ``tools/export_onnx.py`` / ``vitedge_export_onnx``.

    Returns the exit code (module doc).
    """
    args = parse_args(argv)
    from .checkpoint_export import BadInput
    from .onnx_export import EXIT_EXPORT_FAILED, ExportError

    try:
        if args.from_onnx is not None and args.like is None:
            raise BadInput(
                '--from-onnx needs --like REFERENCE_BUNDLE (labels, input, decoder and the parity '
                'reference come from it)'
            )
        if args.score_threshold is None:
            return _from_onnx(args) if args.from_onnx is not None else _checkpoint(args)
        return _export_with_threshold(args)
    except BadInput as exc:
        print('export_onnx: bad input: {}'.format(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except ExportError as exc:
        print('export_onnx: export failed: {}'.format(exc), file=sys.stderr)
        return EXIT_EXPORT_FAILED
    except KeyboardInterrupt:
        print('\nexport_onnx: interrupted; the bundle was left as it was', file=sys.stderr)
        return EXIT_INTERRUPTED

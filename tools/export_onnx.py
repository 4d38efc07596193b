#!/usr/bin/env python3
"""Export a checkpoint (or wrap an existing ONNX file) as a model bundle, with a parity check.

    python tools/export_onnx.py CHECKPOINT --out BUNDLE_DIR [--trt8-compat] [--fp16] [--opset 17]
    python tools/export_onnx.py --from-onnx model_int8.onnx --like FP32_BUNDLE --out BUNDLE_DIR

From a checkpoint (tools/train.py, tools/compress.py stages: baseline, pruned, low-rank, fine-tuned): ONNX
opset >= 17 with a static 1x3xHxW input, simplified with onnxslim, ONNX checker, outputs compared with torch
on sample inputs (max abs error printed; exit 4 above --atol), bundle.yaml written.

From an ONNX file (e.g. a QDQ INT8 graph made with onnxruntime's quantize_static): ONNX checker, opset,
static input matching the reference bundle, standard-domain ops only, then outputs compared with the
reference bundle on onnxruntime (max abs and range-relative error; top-1 agreement for classifiers). The graph
is copied as it is (no simplification, which would fold the weights' DequantizeLinear nodes).

--trt8-compat replaces every nn.LayerNorm by ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add before export, so the graph
has no LayerNormalization node (an opset-17 op that TensorRT parses from 8.6 on; the Jetson Nano's JetPack
4.6 has TensorRT 8.2). --fp16 stores FP16 weights and computes in FP16 with FP32 input/outputs (half-size
file); the default FP32 graph is what tools/build_engine.py --precision fp16 expects. See docs/TENSORRT.md.

Checkpoints are read with torch.load(weights_only=True) and rebuilt from their structure description; an old
pickled checkpoint is refused (exit 2) unless --trust-checkpoint (unpickling runs code from the file).

Exit codes: 0 ok, 2 bad arguments or input (missing/corrupt checkpoint or ONNX, mismatched bundle),
4 export failure (tracing, checker, parity above tolerance), 130 interrupted.
"""
import argparse
import copy
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

EXIT_OK, EXIT_BAD_INPUT, EXIT_EXPORT_FAILED, EXIT_INTERRUPTED = 0, 2, 4, 130
DEFAULT_ATOL = 1e-4
DEFAULT_ATOL_FP16 = 1e-2
DEFAULT_RTOL_FROM_ONNX = 0.1
IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


class BadInput(ValueError):
    """Bad arguments or input files (exit 2)."""


# --------------------------------------------------------------------------------------------- torch side

def _torch():
    import torch
    from torch import nn

    return torch, nn


def layernorm_decomposed(ln: Any) -> Any:
    """An ``nn.Module`` computing ``ln`` (an ``nn.LayerNorm``) with ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add only."""
    torch, nn = _torch()

    class LayerNormDecomposed(nn.Module):
        """LayerNorm without the opset-17 LayerNormalization op (TensorRT < 8.6 cannot parse it)."""

        def __init__(self, src: Any) -> None:
            super().__init__()
            self.normalized_shape = tuple(src.normalized_shape)
            self.eps = float(src.eps)
            self.weight = src.weight
            self.bias = src.bias

        def forward(self, x: Any) -> Any:
            dims = tuple(range(-len(self.normalized_shape), 0))
            mean = x.mean(dim=dims, keepdim=True)
            d = x - mean
            var = d.pow(2).mean(dim=dims, keepdim=True)
            y = d / torch.sqrt(var + self.eps)
            if self.weight is not None:
                y = y * self.weight
            if self.bias is not None:
                y = y + self.bias
            return y

        def extra_repr(self) -> str:
            return '{}, eps={}'.format(self.normalized_shape, self.eps)

    return LayerNormDecomposed(ln)


def decompose_layernorms(module: Any) -> Tuple[Any, int]:
    """A deep copy of ``module`` with every ``nn.LayerNorm`` decomposed; returns (copy, how many replaced)."""
    _torch_mod, nn = _torch()
    out = copy.deepcopy(module)
    count = 0

    def swap(parent: Any) -> None:
        nonlocal count
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.LayerNorm):
                setattr(parent, name, layernorm_decomposed(child))
                count += 1
            else:
                swap(child)

    swap(out)
    return out.eval(), count


def half_wrapper(module: Any) -> Any:
    """``module`` in FP16 with FP32 input and outputs (a deep copy; the original is untouched)."""
    torch, nn = _torch()

    class HalfIO(nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = copy.deepcopy(inner).half().eval()

        def forward(self, x: Any) -> Any:
            out = self.inner(x.half())
            if isinstance(out, dict):
                return {k: v.float() for k, v in out.items()}
            if isinstance(out, (tuple, list)):
                return tuple(o.float() for o in out)
            return out.float()

    wrapped = HalfIO(module).eval()
    if hasattr(module, 'output_names'):
        wrapped.output_names = module.output_names
    return wrapped


def onnx_op_types(path: Path) -> List[Tuple[str, str]]:
    """Sorted (domain, op_type) pairs of a graph."""
    import onnx

    model = onnx.load(str(path))
    return sorted({(n.domain or '', n.op_type) for n in model.graph.node})


def sample_inputs(spec: Any, n: int, samples_dir: Optional[Path], seed: int = 0) -> np.ndarray:
    """N×3×H×W float32 samples: preprocessed images from ``samples_dir``, else uniform pixel noise normalised
    like the bundle (in the range real frames have, unlike standard-normal noise)."""
    from vitedge_ros.runtime.preprocess import Preprocessor

    pre = Preprocessor(spec)
    if samples_dir is not None:
        import cv2

        files = sorted(p for p in Path(samples_dir).rglob('*') if p.suffix.lower() in IMAGE_EXTS)[:n]
        imgs = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files]
        imgs = [im for im in imgs if im is not None]
        if not imgs:
            raise BadInput('--samples-dir {}: no readable images ({})'.format(samples_dir, ', '.join(IMAGE_EXTS)))
    else:
        rng = np.random.default_rng(seed)
        imgs = [rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8) for _ in range(n)]
    return np.concatenate([pre(im)[0] for im in imgs], axis=0).astype(np.float32)


def export_checkpoint(args: argparse.Namespace) -> int:
    """CHECKPOINT → bundle."""
    from vitedge_ros.checkpoint import CheckpointError, load_checkpoint
    from vitedge_ros.export import ExportError, check_parity, export_bundle
    from vitedge_ros.models import DetectorExport
    from vitedge_ros.runtime.bundle import parse_input_spec
    from vitedge_ros.runtime.errors import BundleError

    try:
        ckpt = load_checkpoint(args.checkpoint, allow_pickle=args.trust_checkpoint)
    except CheckpointError as exc:
        raise BadInput('CHECKPOINT {}'.format(exc)) from exc
    try:
        spec = parse_input_spec(ckpt['input'], '{}: input'.format(args.checkpoint))
    except BundleError as exc:
        raise BadInput(str(exc)) from exc
    task = ckpt['task']
    model = ckpt['model'].eval()
    replaced = 0
    if args.trt8_compat:
        model, replaced = decompose_layernorms(model)
    if task == 'detect':
        module = model if isinstance(model, DetectorExport) else DetectorExport(model)
        names: Sequence[str] = module.output_names
    else:
        module, names = model, ['logits']
    reference = module
    if args.fp16:
        module = half_wrapper(module)
    atol = args.atol if args.atol is not None else (DEFAULT_ATOL_FP16 if args.fp16 else DEFAULT_ATOL)
    samples = sample_inputs(spec, args.samples, args.samples_dir) if args.samples_dir else None
    export_info = {'opset': args.opset, 'simplified': not args.no_simplify, 'trt8_compat': bool(args.trt8_compat),
                   'layernorms_decomposed': replaced, 'fp16_weights': bool(args.fp16), 'atol': atol}
    source: Dict[str, Any] = {'arch': ckpt.get('arch', ''), 'checkpoint': Path(args.checkpoint).name,
                              'epoch': ckpt.get('epoch', 0), 'metrics': ckpt.get('metrics', {}),
                              'export': export_info}
    name = args.name or ckpt.get('name') or Path(args.out).name
    try:
        bundle, err = export_bundle(module, args.out, name=name, task=task, labels=ckpt['labels'], input_spec=spec,
                                    decoder=ckpt['decoder'], source=source, output_names=names, atol=atol,
                                    samples=samples, do_simplify=not args.no_simplify, opset=args.opset)
    except ExportError as exc:
        print('export_onnx: export failed: {}'.format(exc), file=sys.stderr)
        return EXIT_EXPORT_FAILED
    ops = onnx_op_types(bundle.onnx_path)
    if args.trt8_compat and any(op == 'LayerNormalization' for _d, op in ops):
        print('export_onnx: export failed: --trt8-compat: the graph still has LayerNormalization nodes '
              '(a functional layer_norm outside nn.LayerNorm?)', file=sys.stderr)
        return EXIT_EXPORT_FAILED
    print('exported {} ({}, {} -> {}), opset {}, {} node types'.format(
        bundle.onnx_path, task, 'x'.join(str(d) for d in (1, 3, spec.height, spec.width)), ', '.join(names),
        args.opset, len(ops)))
    print('parity torch vs onnxruntime: max abs error {:.3g} (tolerance {:.3g})'.format(err, atol))
    if args.fp16:
        err32 = check_parity(reference, bundle.onnx_path, (1, 3, spec.height, spec.width), samples=samples)
        print('parity fp32 torch vs fp16 onnx: max abs error {:.3g}'.format(err32))
    if args.trt8_compat:
        print('trt8-compat: {} LayerNorm modules decomposed; no LayerNormalization node'.format(replaced))
    return EXIT_OK


# --------------------------------------------------------------------------------------------- ONNX side

def _load_onnx_checked(path: Path) -> Any:
    """Load and check an ONNX file, raising BadInput with a clear message."""
    import onnx

    if not path.is_file():
        raise BadInput('{}: ONNX file does not exist'.format(path))
    if path.stat().st_size == 0:
        raise BadInput('{}: ONNX file is empty'.format(path))
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise BadInput('{}: not a readable ONNX model (corrupt or truncated?): {}'.format(
            path, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)) from exc
    if not model.graph.node:
        raise BadInput('{}: ONNX graph has no nodes (corrupt or truncated?)'.format(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise BadInput('{}: ONNX checker failed (corrupt, truncated or invalid graph): {}'.format(
            path, str(exc).strip().splitlines()[0])) from exc
    return model


def _onnx_opset(model: Any) -> int:
    for imp in model.opset_import:
        if imp.domain in ('', 'ai.onnx'):
            return int(imp.version)
    return 0


def _static_input(model: Any) -> Tuple[str, Tuple[int, ...]]:
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise BadInput('expected exactly one graph input, found {}'.format(len(inputs)))
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) if d.HasField('dim_value') else -1 for d in dims)
    return inputs[0].name, shape


def outputs_error(names: Sequence[str], ref: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> Dict[str, Any]:
    """Per-output max abs error and error relative to the reference's largest magnitude."""
    from vitedge_ros.export import detection_rows_error

    out: Dict[str, Any] = {}
    for name, r, g in zip(names, ref, got):
        r = np.asarray(r, np.float32)
        g = np.asarray(g, np.float32)
        if r.shape != g.shape:
            raise BadInput('output {!r}: shape {} differs from the reference bundle\'s {}'.format(
                name, g.shape, r.shape))
        err = detection_rows_error(r, g) if name == 'detections' else (
            float(np.max(np.abs(r - g))) if r.size else 0.0)
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        out[name] = {'max_abs': err, 'rel': err / scale if scale > 0 else err}
    return out


def wrap_onnx(args: argparse.Namespace) -> int:
    """ONNX FILE + reference bundle → bundle."""
    import onnxruntime as ort

    from vitedge_ros.runtime.bundle import atomic_write_bytes, load_bundle, write_bundle_yaml
    from vitedge_ros.runtime.errors import BundleError

    if args.like is None:
        raise BadInput('--from-onnx needs --like REFERENCE_BUNDLE (labels, input, decoder and the parity '
                       'reference come from it)')
    try:
        ref = load_bundle(args.like)
    except BundleError as exc:
        raise BadInput('--like: {}'.format(exc)) from exc
    src = Path(args.from_onnx)
    out = Path(args.out)
    if out.resolve() == ref.path.resolve():
        raise BadInput('--out must differ from --like (the reference bundle would be overwritten)')
    model = _load_onnx_checked(src)
    opset = _onnx_opset(model)
    if opset < 17:
        raise BadInput('{}: opset {} (bundles need opset >= 17)'.format(src, opset))
    custom = sorted({n.domain for n in model.graph.node if n.domain not in ('', 'ai.onnx')})
    if custom:
        raise BadInput('{}: nodes from non-standard domains {} (bundles carry standard ONNX ops only; quantize '
                       'with QuantFormat.QDQ)'.format(src, ', '.join(custom)))
    _name, shape = _static_input(model)
    want = (1, 3, ref.input.height, ref.input.width)
    if shape != want:
        raise BadInput('{}: input shape {} must be static {} like {}'.format(src, shape, want, ref.path))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(str(src), sess_options=opts, providers=['CPUExecutionProvider'])
    except Exception as exc:
        raise BadInput('{}: onnxruntime cannot load it: {}'.format(src, str(exc).strip().splitlines()[0])) from exc
    rsess = ort.InferenceSession(str(ref.onnx_path), sess_options=opts, providers=['CPUExecutionProvider'])
    rnames = [o.name for o in rsess.get_outputs()]
    names = [o.name for o in sess.get_outputs()]
    if names != rnames:
        raise BadInput('{}: outputs {} differ from the reference bundle\'s {}'.format(src, names, rnames))
    samples = sample_inputs(ref.input, args.samples, args.samples_dir)
    worst: Dict[str, Dict[str, float]] = {}
    agree = []
    for s in samples:
        x = s[None]
        r = rsess.run(None, {rsess.get_inputs()[0].name: x})
        g = sess.run(None, {sess.get_inputs()[0].name: x})
        for k, v in outputs_error(names, r, g).items():
            w = worst.setdefault(k, {'max_abs': 0.0, 'rel': 0.0})
            w['max_abs'] = max(w['max_abs'], v['max_abs'])
            w['rel'] = max(w['rel'], v['rel'])
        if ref.task == 'classify':
            agree.append(int(np.argmax(r[0])) == int(np.argmax(g[0])))
    err = max(v['max_abs'] for v in worst.values())
    rel = max(v['rel'] for v in worst.values())
    for k, v in worst.items():
        print('parity {} vs {}: {}: max abs error {:.3g}, {:.1%} of the reference range'.format(
            src.name, ref.path.name, k, v['max_abs'], v['rel']))
    if agree:
        print('top-1 agreement with the reference: {:.1%} over {} samples'.format(np.mean(agree), len(agree)))
    failed = (err > args.atol) if args.atol is not None else (rel > args.rtol)
    if failed:
        tol = 'max abs {:.3g} > --atol {:.3g}'.format(err, args.atol) if args.atol is not None else \
            'relative {:.3g} > --rtol {:.3g}'.format(rel, args.rtol)
        print('export_onnx: parity failed: {}'.format(tol), file=sys.stderr)
        return EXIT_EXPORT_FAILED
    data = src.read_bytes()
    has_qdq = any(n.op_type in ('QuantizeLinear', 'DequantizeLinear') for n in model.graph.node)
    source = dict(ref.source)
    source.update({'from_onnx': src.name, 'parity_reference': ref.name, 'parity_max_abs_err': float(err),
                   'parity_rel_err': float(rel), 'quantized': 'int8-qdq' if has_qdq else 'none'})
    if agree:
        source['parity_top1_agreement'] = float(np.mean(agree))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / 'model.onnx', data)
    meta = {'name': args.name or '{}-{}'.format(ref.name, 'int8' if has_qdq else src.stem), 'task': ref.task,
            'input': ref.input.to_dict(), 'labels': list(ref.labels), 'decoder': dict(ref.decoder), 'source': source}
    write_bundle_yaml(out, meta)
    print('wrote bundle {} ({}, opset {}, {})'.format(out, src.name, opset, 'QDQ INT8' if has_qdq else 'float'))
    return EXIT_OK


# --------------------------------------------------------------------------------------------- CLI

def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='Exit codes: 0 ok, 2 bad arguments/input, 4 export or parity failure, '
                                       '130 interrupted.')
    p.add_argument('checkpoint', nargs='?', type=Path, help='checkpoint written by tools/train.py / compress.py')
    p.add_argument('--out', type=Path, required=True, help='bundle directory to write')
    p.add_argument('--trust-checkpoint', action='store_true',
                   help='accept an old pickled checkpoint: unpickling runs any code in it (trusted files only)')
    p.add_argument('--name', default=None, help='bundle name (default: the checkpoint\'s)')
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (>= 17; default %(default)s)')
    p.add_argument('--atol', type=float, default=None,
                   help='parity tolerance, max abs error (default 1e-4; 1e-2 with --fp16)')
    p.add_argument('--fp16', action='store_true', help='FP16 weights and compute, FP32 input/outputs')
    p.add_argument('--trt8-compat', action='store_true',
                   help='decompose LayerNorm so TensorRT < 8.6 (JetPack 4.6: 8.2) can parse the graph')
    p.add_argument('--no-simplify', action='store_true', help='skip onnxslim')
    p.add_argument('--samples', type=int, default=3, help='parity samples (default %(default)s)')
    p.add_argument('--samples-dir', type=Path, default=None, help='images to use as parity samples')
    p.add_argument('--from-onnx', type=Path, default=None, help='wrap this ONNX file (e.g. QDQ INT8) as a bundle')
    p.add_argument('--like', type=Path, default=None, help='reference bundle for --from-onnx')
    p.add_argument('--rtol', type=float, default=DEFAULT_RTOL_FROM_ONNX,
                   help='--from-onnx without --atol: max error relative to the reference output range '
                        '(default %(default)s)')
    args = p.parse_args(argv)
    if (args.checkpoint is None) == (args.from_onnx is None):
        p.error('give either CHECKPOINT or --from-onnx FILE --like BUNDLE')
    if args.from_onnx is not None and (args.fp16 or args.trt8_compat):
        p.error('--fp16 and --trt8-compat apply to checkpoint export, not to --from-onnx')
    if args.opset < 17:
        p.error('--opset must be >= 17 (bundle contract), got {}'.format(args.opset))
    if args.samples <= 0:
        p.error('--samples must be > 0')
    if args.atol is not None and args.atol <= 0:
        p.error('--atol must be > 0')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        return wrap_onnx(args) if args.from_onnx is not None else export_checkpoint(args)
    except BadInput as exc:
        print('export_onnx: bad input: {}'.format(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print('\nexport_onnx: interrupted; the bundle was left as it was', file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == '__main__':
    sys.exit(main())

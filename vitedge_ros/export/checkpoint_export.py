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
Checkpoint -> bundle, and ONNX file -> bundle, for a TensorRT parser target.

The logic of tools/export_onnx.py.

- :func:`export_checkpoint`: a checkpoint written by ``tools/train.py`` / ``tools/compress.py``
  exported for a target (default ``trt8.2``: opset 13, LayerNorm decomposed), optionally as FP16
  weights, parity-checked against the torch model, audited (:mod:`.trt_audit`), bundle.yaml written
  with ``trt_targets``. With ``like`` the metadata (name, source) of an existing bundle is kept: a
  shipped bundle re-exported for another target.
- :func:`wrap_onnx`: an existing ONNX graph (a QDQ INT8 graph from onnxruntime's
  ``quantize_static``, or an older bundle's opset-17 graph) made into a bundle like a reference
  bundle: lowered to the target when needed (LayerNormalization nodes decomposed, opset re-stamped,
  ``allowzero`` on Reshapes: :func:`.targets.prepare_for_ target`), audited, and compared with the
  reference on onnxruntime.

Errors: :class:`BadInput` (exit 2 in the tool: missing/corrupt files, mismatched reference, audit
    blockers for the
requested target), :class:`.onnx_export.ExportError` (exit 4: tracing, checker, parity).
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .onnx_export import (
    check_parity,
    detection_rows_error,
    export_bundle,
    ExportTargetError,
    half_wrapper,
    PARITY_ATOL,
    PARITY_ATOL_FP16,
)
from .targets import check_target, DEFAULT_TARGET, prepare_for_target, require_target, TargetError
from .trt_audit import onnx_opset
from ..runtime.errors import VitedgeError
from ..tasks import get_task, UnknownTaskError

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
DEFAULT_RTOL_FROM_ONNX = 0.1


class BadInput(VitedgeError, ValueError):
    """Bad arguments or input files, or a graph the requested target refuses (exit 2)."""


def onnx_op_types(path: Union[str, Path]) -> List[Tuple[str, str]]:
    """Sorted (domain, op_type) pairs of a graph."""
    import onnx

    model = onnx.load(str(path))
    return sorted({(n.domain or '', n.op_type) for n in model.graph.node})


def sample_inputs(spec: Any, n: int, samples_dir: Optional[Path], seed: int = 0) -> np.ndarray:
    """
    N×3×H×W float32 parity samples.

    Preprocessed images from ``samples_dir``, else uniform pixel noise normalised like the bundle
    (in the range real frames have, unlike standard-normal noise).
    """
    from ..runtime.preprocess import Preprocessor

    pre = Preprocessor(spec)
    if samples_dir is not None:
        import cv2

        files = sorted(p for p in Path(samples_dir).rglob('*') if p.suffix.lower() in IMAGE_EXTS)[
            :n
        ]
        imgs = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in files]
        imgs = [im for im in imgs if im is not None]
        if not imgs:
            raise BadInput(
                '--samples-dir {}: no readable images ({})'.format(
                    samples_dir, ', '.join(IMAGE_EXTS)
                )
            )
    else:
        rng = np.random.default_rng(seed)
        imgs = [
            rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8) for _ in range(n)
        ]
    return np.concatenate([pre(im)[0] for im in imgs], axis=0).astype(np.float32)


def _reference_bundle(like: Union[str, Path], out: Path, flag: str = '--like') -> Any:
    from ..runtime.bundle import load_bundle
    from ..runtime.errors import BundleError

    try:
        ref = load_bundle(like)
    except BundleError as exc:
        raise BadInput('{}: {}'.format(flag, exc)) from None
    if out.resolve() == ref.path.resolve():
        raise BadInput(
            '--out must differ from {} (the reference bundle would be overwritten)'.format(flag)
        )
    return ref


def export_checkpoint(
    checkpoint: Union[str, Path],
    out: Union[str, Path],
    *,
    target: str = DEFAULT_TARGET,
    opset: Optional[int] = None,
    fp16: bool = False,
    decompose_layernorm: Optional[bool] = None,
    atol: Optional[float] = None,
    do_simplify: bool = True,
    n_samples: int = 3,
    samples_dir: Optional[Path] = None,
    name: Optional[str] = None,
    like: Optional[Union[str, Path]] = None,
    allow_pickle: bool = False,
    raw_pixels: Optional[str] = None,
    interpolation: Optional[str] = None,
) -> Dict[str, Any]:
    """
    CHECKPOINT -> bundle at ``out`` for ``target``.

    Returns a summary dict (bundle, parity, ops, info).

    ``fp16``: FP16 weights/compute with FP32 I/O (parity against torch FP16, tolerance
    :data:`.onnx_export.PARITY_ATOL_FP16`; the error against the FP32 model is measured too).
    ``decompose_layernorm``: force the LayerNorm decomposition on a target that imports
    LayerNormalization. ``like``: a bundle whose name and ``source`` are kept (labels, input and
    decoder must equal the checkpoint's). ``allow_pickle``: accept an old pickled checkpoint
    (unpickling runs code from the file; trusted files only). ``raw_pixels`` (``'bgr'``/``'rgb'``):
    the bundle takes raw pixels in that order (``input.pixels: raw``, the normalisation folded into
    the graph); default: as ``like`` does, else normalised input. ``interpolation``
    (``area``/``linear``): the resize bundle.yaml asks for; default: ``like``'s, else the
    checkpoint's. Raises :class:`BadInput` (bad checkpoint/reference, unknown target, blockers for
    the target) or :class:`.onnx_export.ExportError` (tracing, checker, parity above tolerance).
    """
    from ..checkpoint import CheckpointError, load_checkpoint
    from ..runtime.bundle import parse_input_spec
    from ..runtime.errors import BundleError

    try:
        check_target(target)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    out = Path(out)
    ref = _reference_bundle(like, out) if like is not None else None
    try:
        ckpt = load_checkpoint(checkpoint, allow_pickle=allow_pickle)
    except CheckpointError as exc:
        raise BadInput('CHECKPOINT {}'.format(exc)) from exc
    try:
        spec = parse_input_spec(ckpt['input'], '{}: input'.format(checkpoint))
    except BundleError as exc:
        raise BadInput(str(exc)) from exc
    task = ckpt['task']
    try:
        module, names = get_task(task).export_module(ckpt['model'].eval())
    except UnknownTaskError as exc:
        raise BadInput('CHECKPOINT {}: {}'.format(checkpoint, exc)) from None
    if ref is not None:
        for key, mine, theirs in (
            ('labels', list(ckpt['labels']), list(ref.labels)),
            ('input', spec.model_fields(), ref.input.model_fields()),
            ('decoder', dict(ckpt['decoder']), dict(ref.decoder)),
            ('task', task, ref.task),
        ):
            if mine != theirs:
                raise BadInput(
                    "--like {}: {} {!r} differs from the checkpoint's {!r}".format(
                        ref.path, key, theirs, mine
                    )
                )
    if ref is not None:
        raw_pixels = raw_pixels or (ref.input.pixel_order if ref.input.raw else None)
        interpolation = interpolation or ref.input.interpolation
    if raw_pixels not in (None, 'bgr', 'rgb'):
        raise BadInput(
            "raw pixels: channel order must be 'bgr' or 'rgb', got {!r}".format(raw_pixels)
        )
    if interpolation is not None:
        if interpolation not in ('area', 'linear'):
            raise BadInput(
                "interpolation must be 'area' or 'linear', got {!r}".format(interpolation)
            )
        spec = spec._replace(interpolation=interpolation)
    if spec.raw:
        raise BadInput(
            "{}: the checkpoint's input says pixels: raw; a checkpoint holds the model as trained "
            '(normalised input)'.format(checkpoint)
        )
    reference = module
    if fp16:
        module = half_wrapper(module)
    tol = atol if atol is not None else (PARITY_ATOL_FP16 if fp16 else PARITY_ATOL)
    samples = sample_inputs(spec, n_samples, samples_dir) if samples_dir else None
    if ref is not None:
        source = dict(ref.source)  # type: Dict[str, Any]
        source['export'] = {'checkpoint': Path(checkpoint).name}
        bundle_name = name or ref.name
    else:
        source = {
            'arch': ckpt.get('arch', ''),
            'checkpoint': Path(checkpoint).name,
            'epoch': ckpt.get('epoch', 0),
            'metrics': ckpt.get('metrics', {}),
            'export': {},
        }
        bundle_name = name or ckpt.get('name') or out.name
    source['export'].update({'fp16_weights': bool(fp16)})
    try:
        bundle, err = export_bundle(
            module,
            out,
            name=bundle_name,
            task=task,
            labels=ckpt['labels'],
            input_spec=spec,
            decoder=ckpt['decoder'],
            source=source,
            output_names=names,
            atol=tol,
            samples=samples,
            do_simplify=do_simplify,
            opset=opset,
            target=target,
            decompose_layernorm=decompose_layernorm,
            reference=reference if not fp16 else None,
            raw_pixels=raw_pixels,
        )
    except ExportTargetError as exc:
        raise BadInput(str(exc)) from None
    summary = {
        'bundle': bundle,
        'parity': err,
        'atol': tol,
        'task': task,
        'output_names': names,
        'ops': onnx_op_types(bundle.onnx_path),
        'export': dict(bundle.source.get('export') or {}),
        'trt_targets': list(bundle.trt_targets),
        'spec': bundle.input,
    }
    if fp16:
        summary['parity_fp32'] = check_parity(
            reference, bundle.onnx_path, (1, 3, spec.height, spec.width), samples=samples
        )
    return summary


# ---------------------------------------------------------------------------------------------
# ONNX side


def load_onnx_checked(path: Path) -> Any:
    """Load and check an ONNX file, raising BadInput with a clear one-line message."""
    import onnx

    from .trt_audit import load_model

    try:
        model = load_model(
            Path(path)
        )  # missing, empty, unreadable or node-less: one line naming the file
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise BadInput(
            '{}: ONNX checker failed (corrupt, truncated or invalid graph): {}'.format(
                path, str(exc).strip().splitlines()[0]
            )
        ) from exc
    return model


def static_input(model: Any) -> Tuple[str, Tuple[int, ...]]:
    """Name and shape (-1 for a dynamic dimension) of the single graph input."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise BadInput('expected exactly one graph input, found {}'.format(len(inputs)))
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) if d.HasField('dim_value') else -1 for d in dims)
    return inputs[0].name, shape


def outputs_error(
    names: Sequence[str], ref: Sequence[np.ndarray], got: Sequence[np.ndarray]
) -> Dict[str, Any]:
    """Per-output max abs error and error relative to the reference's largest magnitude."""
    out = {}  # type: Dict[str, Any]
    for name, r, g in zip(names, ref, got):
        r = np.asarray(r, np.float32)
        g = np.asarray(g, np.float32)
        if r.shape != g.shape:
            raise BadInput(
                "output {!r}: shape {} differs from the reference bundle's {}".format(
                    name, g.shape, r.shape
                )
            )
        err = (
            detection_rows_error(r, g)
            if name == 'detections'
            else (float(np.max(np.abs(r - g))) if r.size else 0.0)
        )
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        out[name] = {'max_abs': err, 'rel': err / scale if scale > 0 else err}
    return out


def wrap_onnx(
    src: Union[str, Path],
    like: Union[str, Path],
    out: Union[str, Path],
    *,
    target: str = DEFAULT_TARGET,
    atol: Optional[float] = None,
    rtol: float = DEFAULT_RTOL_FROM_ONNX,
    n_samples: int = 3,
    samples_dir: Optional[Path] = None,
    name: Optional[str] = None,
    raw_pixels: Optional[str] = None,
    interpolation: Optional[str] = None,
) -> Dict[str, Any]:
    """
    ONNX FILE + reference bundle -> bundle at ``out`` for ``target``; returns a summary dict.

    The graph takes the same input as the reference (normalised or raw pixels). ``raw_pixels``
    (``'bgr'``/ ``'rgb'``, reference with normalised input only): the new bundle takes raw pixels
    in that order, the graph converted after the parity check
    (:func:`.onnx_export.raw_pixel_graph`, its own parity against the graph it came from in
    ``source.export.raw_pixels``). ``tools/export_onnx.py --from-onnx B/model.onnx --like B
    --raw-pixels`` makes a raw-pixel copy of bundle B without torch. ``interpolation``
    (``area``/``linear``): the resize the new bundle asks the runtime for (default: the
    reference's).

    The graph is lowered for the target only where needed (:func:`.targets.prepare_for_target`: no
    simplification, which would fold the weights' DequantizeLinear), audited, then compared with
    the reference on onnxruntime (max abs and range-relative error per output; top-1 agreement for
    classifiers). ``summary['failed']`` holds the tolerance message when parity fails (nothing is
    written then). Raises :class:`BadInput`.
    """
    import onnxruntime as ort

    from ..runtime.bundle import atomic_write_bytes, write_bundle_yaml

    try:
        check_target(target)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    src = Path(src)
    out = Path(out)
    ref = _reference_bundle(like, out)
    if raw_pixels not in (None, 'bgr', 'rgb'):
        raise BadInput(
            "raw pixels: channel order must be 'bgr' or 'rgb', got {!r}".format(raw_pixels)
        )
    if raw_pixels and ref.input.raw:
        raise BadInput(
            '--like {} already takes raw pixels: its graphs cannot be converted again'.format(
                ref.path
            )
        )
    if interpolation not in (None, 'area', 'linear'):
        raise BadInput("interpolation must be 'area' or 'linear', got {!r}".format(interpolation))
    model = load_onnx_checked(src)
    if onnx_opset(model) < 13:
        raise BadInput('{}: opset {} (bundles need opset >= 13)'.format(src, onnx_opset(model)))
    custom = sorted({n.domain for n in model.graph.node if n.domain not in ('', 'ai.onnx')})
    if custom:
        raise BadInput(
            '{}: nodes from non-standard domains {} (bundles carry standard ONNX ops only; '
            'quantize '
            'with QuantFormat.QDQ)'.format(src, ', '.join(custom))
        )
    _name, shape = static_input(model)
    want = (1, 3, ref.input.height, ref.input.width)
    if shape != want:
        raise BadInput(
            '{}: input shape {} must be static {} like {}'.format(src, shape, want, ref.path)
        )
    opset_in = onnx_opset(model)
    try:
        model, changes = prepare_for_target(model, target)
        trt_targets = require_target(model, target, what=str(src))
    except (TargetError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    data = model.SerializeToString()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(data, sess_options=opts, providers=['CPUExecutionProvider'])
    except Exception as exc:
        from ..runtime.ort_compat import explain_load_error

        raise BadInput(explain_load_error(str(src), str(exc), ort.__version__)) from exc
    rsess = ort.InferenceSession(
        str(ref.onnx_path), sess_options=opts, providers=['CPUExecutionProvider']
    )
    rnames = [o.name for o in rsess.get_outputs()]
    names = [o.name for o in sess.get_outputs()]
    if names != rnames:
        raise BadInput(
            "{}: outputs {} differ from the reference bundle's {}".format(src, names, rnames)
        )
    samples = sample_inputs(ref.input, n_samples, samples_dir)
    worst = {}  # type: Dict[str, Dict[str, float]]
    agree = []
    for s in samples:
        x = s[None]
        r = rsess.run(None, {rsess.get_inputs()[0].name: x})
        g = sess.run(None, {sess.get_inputs()[0].name: x})
        for k, v in outputs_error(names, r, g).items():
            w = worst.setdefault(k, {'max_abs': 0.0, 'rel': 0.0})
            w['max_abs'] = max(w['max_abs'], v['max_abs'])
            w['rel'] = max(w['rel'], v['rel'])
        same = get_task(ref.task).agreement(r, g)
        if same is not None:
            agree.append(same)
    err = max(v['max_abs'] for v in worst.values())
    rel = max(v['rel'] for v in worst.values())
    summary = {
        'worst': worst,
        'err': err,
        'rel': rel,
        'agree': float(np.mean(agree)) if agree else None,
        'reference': ref,
        'opset': onnx_opset(model),
        'opset_in': opset_in,
        'changes': changes,
        'trt_targets': trt_targets,
        'failed': None,
        'n_samples': len(samples),
    }
    failed = (err > atol) if atol is not None else (rel > rtol)
    if failed:
        summary['failed'] = (
            'max abs {:.3g} > --atol {:.3g}'.format(err, atol)
            if atol is not None
            else 'relative {:.3g} > --rtol {:.3g}'.format(rel, rtol)
        )
        return summary
    spec = ref.input
    raw_info = None
    if raw_pixels:
        from .onnx_export import ExportError, raw_pixel_graph

        try:
            model, spec, raw_info, trt_targets = raw_pixel_graph(
                model, ref.input, raw_pixels, target
            )
        except ExportTargetError as exc:
            raise BadInput(str(exc)) from None
        except ExportError as exc:
            summary['failed'] = str(exc)
            return summary
        data = model.SerializeToString()
        summary['trt_targets'] = trt_targets
    if interpolation:
        spec = spec._replace(interpolation=interpolation)
    has_qdq = any(n.op_type in ('QuantizeLinear', 'DequantizeLinear') for n in model.graph.node)
    source = dict(ref.source)
    source.update(
        {
            'from_onnx': src.name,
            'parity_reference': ref.name,
            'parity_max_abs_err': float(err),
            'parity_rel_err': float(rel),
            'quantized': 'int8-qdq' if has_qdq else 'none',
        }
    )
    export_info = dict(source.get('export') or {})
    export_info.update(
        {
            'target': target,
            'opset': onnx_opset(model),
            'opset_in': opset_in,
            'layernorm_nodes_decomposed': changes['layernorm_nodes_decomposed'],
            'reshape_allowzero_set': changes['reshape_allowzero_set'],
            'ir_version': changes['ir_version'],
        }
    )
    if raw_info is not None:
        export_info['raw_pixels'] = raw_info
    source['export'] = export_info
    if agree:
        source['parity_top1_agreement'] = float(np.mean(agree))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / 'model.onnx', data)
    default_name = '{}-{}'.format(
        ref.name, 'int8' if has_qdq else ('raw' if raw_pixels else src.stem)
    )
    meta = {
        'name': name or default_name,
        'task': ref.task,
        'input': spec.to_dict(),
        'labels': list(ref.labels),
        'trt_targets': trt_targets,
        'decoder': dict(ref.decoder),
        'source': source,
    }
    write_bundle_yaml(out, meta)
    summary['has_qdq'] = has_qdq
    summary['out'] = out
    summary['raw_pixels'] = raw_info
    return summary

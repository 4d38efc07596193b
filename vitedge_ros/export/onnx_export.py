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
Export a torch model to a bundle for a TensorRT parser target.

ONNX with a static 1×3×H×W input, simplified, fixed for the target, audited, checked,
parity-tested.

The target (``trt8.2`` by default: the Jetson Nano's TensorRT 8.2, opset 13, LayerNorm decomposed)
decides the opset and the graph fixes (:mod:`.targets`); the graph is audited with
:mod:`.trt_audit` for every public target and the ones it parses on are recorded in bundle.yaml
``trt_targets``. Used by ``tools/train.py``, ``tools/compress.py`` and ``tools/export_onnx.py``.
Every file is written through a temporary file and a rename, so an interrupted export never leaves
a half-written bundle.
"""

import copy
import io
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
import warnings

import numpy as np
import onnx
import torch
from torch import nn

from .targets import (
    check_target,
    clean_targets,
    decomposes_layernorm,
    DEFAULT_TARGET,
    EXPORT_OPSET,
    export_opset,
    prepare_for_target,
    require_target,
    summarize,
    TargetError,
)
from ..runtime.bundle import (
    atomic_write_bytes,
    Bundle,
    InputSpec,
    load_bundle,
    parse_input_spec,
    write_bundle_yaml,
)
from ..runtime.errors import VitedgeError

LOG = logging.getLogger(__name__)
DEFAULT_OPSET = EXPORT_OPSET[DEFAULT_TARGET]  # 13: what the default target (trt8.2) exports at
# max abs error torch vs onnxruntime for an FP32 export (export_onnx.py and every compress stage)
PARITY_ATOL = 1e-4
PARITY_ATOL_FP16 = (
    1e-2  # the same for an FP16-weights export (--fp16), compared with torch in FP16
)
EXIT_EXPORT_FAILED = (
    4  # exit code of tools/export_onnx.py and tools/compress.py on export or parity failure
)


class ExportError(VitedgeError, RuntimeError):
    """Export failed (tracing, ONNX checker, or parity above tolerance)."""


class ParityError(ExportError):
    """torch and onnxruntime outputs differ by more than the tolerance."""


class ExportTargetError(ExportError):
    """
    The exported graph has blockers for the requested TensorRT parser target.

    The message names the blocking nodes.
    """


def check_parity_tolerance(
    err: float, atol: float = PARITY_ATOL, what: str = 'onnxruntime'
) -> None:
    """
    Raise :class:`ParityError` when the max abs parity error ``err`` is above ``atol``.

    A NaN ``err`` fails too.

    The one check used by ``tools/export_onnx.py`` (via :func:`export_bundle`) and by every
    compress stage.
    """
    if not err <= atol:
        raise ParityError(
            'parity: {} differs from torch by {:.3g} (tolerance {:.3g})'.format(what, err, atol)
        )


def _onnx_bytes(
    module: nn.Module, example: torch.Tensor, output_names: Sequence[str], opset: int
) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            module,
            (example,),
            buf,
            opset_version=opset,
            input_names=['input'],
            output_names=list(output_names),
            do_constant_folding=True,
            dynamo=False,
        )
    return buf.getvalue()


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """
    Simplify the graph with onnxslim.

    Constant folding, dead-node removal, fusion of shape ops.
    """
    try:
        import onnxslim
    except ImportError:  # pragma: no cover - tools extra installs it
        LOG.warning('onnxslim not installed: exporting without graph simplification')
        return model
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        slim = onnxslim.slim(model)
    return slim if slim is not None else model


def layernorm_decomposed(ln: nn.LayerNorm) -> nn.Module:
    """
    Return an ``nn.Module`` computing ``ln`` with ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add only.

    The module shares ``ln``'s parameters.
    """

    class LayerNormDecomposed(nn.Module):
        """
        LayerNorm without the opset-17 LayerNormalization op.

        TensorRT < 8.6 cannot parse it.
        """

        def __init__(self, src: nn.LayerNorm) -> None:
            super().__init__()
            self.normalized_shape = tuple(src.normalized_shape)
            self.eps = float(src.eps)
            self.weight = src.weight
            self.bias = src.bias

        def forward(self, x: torch.Tensor) -> torch.Tensor:
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


def decompose_layernorms(module: nn.Module) -> Tuple[nn.Module, int]:
    """
    Return a deep copy of ``module`` with every ``nn.LayerNorm`` decomposed.

    Returns (copy, how many replaced).
    """
    out = copy.deepcopy(module)
    count = 0

    def swap(parent: nn.Module) -> None:
        nonlocal count
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.LayerNorm):
                setattr(parent, name, layernorm_decomposed(child))
                count += 1
            else:
                swap(child)

    swap(out)
    return out.eval(), count


def unfuse_attention(module: nn.Module) -> int:
    """
    Turn off timm's fused attention (``fused_attn``) in place; returns how many modules had it on.

    The TorchScript exporter maps ``F.scaled_dot_product_attention`` from opset 14 only; the
    unfused path (q·kᵀ·scale, softmax, ·v: timm ``Attention.forward``) is the same function and
    exports at opset 13.
    """
    count = 0
    for m in module.modules():
        if getattr(m, 'fused_attn', False) is True:
            m.fused_attn = False
            count += 1
    return count


def half_wrapper(module: nn.Module) -> nn.Module:
    """
    Return ``module`` in FP16 with FP32 input and outputs.

    ``module`` is deep-copied; the original is untouched.
    """

    class HalfIO(nn.Module):

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = copy.deepcopy(inner).half().eval()

        def forward(self, x: torch.Tensor) -> Any:
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


def export_model(
    module: nn.Module,
    input_shape: Sequence[int],
    output_names: Sequence[str] = ('output',),
    opset: Optional[int] = None,
    do_simplify: bool = True,
    target: str = DEFAULT_TARGET,
    decompose_layernorm: Optional[bool] = None,
    strict: bool = True,
) -> Tuple[onnx.ModelProto, Dict[str, Any]]:
    """
    Export ``module`` (eval mode) for ``target``.

    Returns ``(model, info)`` without writing anything.

    ``opset``: default the target's (13 for trt8.2, 17 for trt8.6/trt10); ``decompose_layernorm``:
    replace ``nn.LayerNorm`` before tracing (default: when the target's parser lacks
    LayerNormalization). The graph is simplified (onnxslim), fixed for the target
    (:func:`.targets.prepare_for_target`), checked (``onnx.checker``) and audited:
    ``info['trt_targets']`` lists the public targets it parses on. Raises :class:`ExportError`
    (tracing, checker) or, when ``strict``, :class:`ExportTargetError` (blockers for ``target`` or
    a newer target, nodes named); with ``strict=False`` the blockers are only summarised in
    ``info['trt_blockers']``.
    """
    try:
        check_target(target)
        opset = export_opset(target, opset)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    from ..models.static_size import static_size_copy

    # a dynamic_img_size timm ViT is fixed at input_shape with its resampled position grid baked in
    # (a copy)
    module = static_size_copy(module.eval(), input_shape)
    replaced = unfused = 0
    if decompose_layernorm if decompose_layernorm is not None else decomposes_layernorm(target):
        module, replaced = decompose_layernorms(module)  # a copy
    if opset < 14 and any(getattr(m, 'fused_attn', False) is True for m in module.modules()):
        module = module if replaced else copy.deepcopy(module).eval()
        unfused = unfuse_attention(module)
    example = torch.zeros(*input_shape)
    try:
        data = _onnx_bytes(module, example, output_names, opset)
    except Exception as exc:
        raise ExportError(
            'torch.onnx.export failed for {}: {}'.format(type(module).__name__, exc)
        ) from exc
    model = onnx.load_from_string(data)
    if do_simplify:
        model = simplify(model)
    try:
        model, changes = prepare_for_target(model, target)
    except ValueError as exc:
        raise ExportTargetError('target {}: {}'.format(target, exc)) from None
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError('ONNX checker rejected the exported graph: {}'.format(exc)) from exc
    blockers = ''
    try:
        clean = require_target(
            model, target, what='the exported {} graph'.format(type(module).__name__)
        )
    except TargetError as exc:
        if strict:
            raise ExportTargetError(str(exc)) from None
        results = clean_targets(model)
        clean = [t for t in results if not results[t]]
        blockers = summarize(results[target]) if results[target] else str(exc)
    info = {
        'target': target,
        'opset': changes['opset'],
        'layernorms_decomposed': replaced,
        'attention_unfused': unfused,
        'layernorm_nodes_decomposed': changes['layernorm_nodes_decomposed'],
        'reshape_allowzero_set': changes['reshape_allowzero_set'],
        'ir_version': changes['ir_version'],
        'simplified': bool(do_simplify),
        'trt_targets': clean,
        'trt_blockers': blockers,
    }
    return model, info


def export_onnx(
    module: nn.Module,
    out_path: Union[str, Path],
    input_shape: Sequence[int],
    output_names: Sequence[str] = ('output',),
    opset: Optional[int] = None,
    do_simplify: bool = True,
    target: str = DEFAULT_TARGET,
    strict: bool = True,
    info: Optional[Dict[str, Any]] = None,
) -> Path:
    """
    Export ``module`` for ``target`` (see :func:`export_model`) to ``out_path`` atomically.

    Returns the path.

    ``info``: a dict updated with :func:`export_model`'s info (target, opset, ``trt_targets``,
    ``trt_blockers``).
    """
    model, details = export_model(
        module,
        input_shape,
        output_names,
        opset=opset,
        do_simplify=do_simplify,
        target=target,
        strict=strict,
    )
    atomic_write_bytes(out_path, model.SerializeToString())
    if info is not None:
        info.update(details)
    return Path(out_path)


def torch_outputs(module: nn.Module, x: np.ndarray) -> List[np.ndarray]:
    """Run ``module`` on a numpy batch and return its outputs as a list of arrays."""
    with torch.no_grad():
        out = module.eval()(torch.from_numpy(x))
    if isinstance(out, dict):
        out = list(out.values())
    if not isinstance(out, (list, tuple)):
        out = [out]
    return [o.detach().cpu().numpy() for o in out]


def detection_rows_error(ref: np.ndarray, got: np.ndarray, min_score: float = 0.3) -> float:
    """
    Return the max abs difference of detection rows (B×K×6) with score ≥ ``min_score``.

    Rows are matched by class and centre.

    A confident torch detection that onnxruntime does not give counts as an infinite error.
    """
    r = ref.reshape(-1, 6)
    g = got.reshape(-1, 6)
    r = r[r[:, 4] >= min_score]
    worst = 0.0
    for row in r:
        same = g[(g[:, 5] == row[5])]
        if same.shape[0] == 0:
            return float('inf')
        cr = np.array([(row[0] + row[2]) / 2, (row[1] + row[3]) / 2])
        cg = np.stack([(same[:, 0] + same[:, 2]) / 2, (same[:, 1] + same[:, 3]) / 2], axis=1)
        j = int(np.argmin(np.abs(cg - cr).sum(axis=1)))
        worst = max(worst, float(np.max(np.abs(same[j] - row))))
    return worst


def output_error(name: str, ref: np.ndarray, got: np.ndarray) -> float:
    """Max abs difference of one output (detections are compared row-matched, see above)."""
    if ref.shape != got.shape:
        raise ExportError(
            'parity: output {!r} shapes differ: torch {} vs onnxruntime {}'.format(
                name, ref.shape, got.shape
            )
        )
    if name == 'detections':
        return detection_rows_error(ref, got)
    return float(np.max(np.abs(ref - got))) if ref.size else 0.0


def check_parity(
    module: nn.Module,
    onnx_path: Union[str, Path],
    input_shape: Sequence[int],
    n_samples: int = 3,
    seed: int = 0,
    samples: Optional[np.ndarray] = None,
) -> float:
    """Max abs difference between torch and onnxruntime (CPU) outputs over sample inputs."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    name = sess.get_inputs()[0].name
    rng = np.random.default_rng(seed)
    if samples is None:
        samples = rng.standard_normal((n_samples,) + tuple(input_shape[1:])).astype(np.float32)
    worst = 0.0
    for s in samples:
        x = np.ascontiguousarray(s[None].astype(np.float32))
        ref = torch_outputs(module, x)
        got = sess.run(None, {name: x})
        for o, r, g in zip(sess.get_outputs(), ref, got):
            worst = max(
                worst, output_error(o.name, np.asarray(r, np.float32), np.asarray(g, np.float32))
            )
    return worst


def export_bundle(
    module: nn.Module,
    bundle_dir: Union[str, Path],
    *,
    name: str,
    task: str,
    labels: Sequence[str],
    input_spec: Union[InputSpec, Dict[str, Any]],
    decoder: Dict[str, Any],
    source: Optional[Dict[str, Any]] = None,
    output_names: Sequence[str] = ('output',),
    atol: float = PARITY_ATOL,
    samples: Optional[np.ndarray] = None,
    do_simplify: bool = True,
    opset: Optional[int] = None,
    target: str = DEFAULT_TARGET,
    decompose_layernorm: Optional[bool] = None,
    reference: Optional[nn.Module] = None,
    raw_pixels: Optional[str] = None,
    n_raw_frames: int = 3,
) -> Tuple[Bundle, float]:
    """
    Export ``module`` as a bundle for ``target`` (model.onnx + bundle.yaml).

    Returns (bundle, parity max abs error).

    Parity is measured against ``reference`` (default: ``module``) with :func:`check_parity`;
    bundle.yaml records ``trt_targets`` (the public targets the graph parses on) and
    ``source.export`` (target, opset, fixes). ``raw_pixels`` (``'bgr'`` or ``'rgb'``): the bundle
    takes raw 0..255 pixels in that channel order, the normalisation folded into the graph
    (:func:`.raw_pixels.to_raw_pixels`); the raw graph is then compared with the normalised one on
    ``n_raw_frames`` synthetic frames, each through its own host path (tolerance
    :data:`.raw_pixels.RAW_PARITY_RTOL` of the output range) and audited again. Raises
    :class:`ParityError` above ``atol``, :class:`ExportTargetError` on audit blockers,
    :class:`ExportError` otherwise; the bundle directory is left as it was on any error.
    """
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    spec = (
        input_spec
        if isinstance(input_spec, InputSpec)
        else parse_input_spec(dict(input_spec), 'input_spec')
    )
    shape = (1, 3, spec.height, spec.width)
    model, info = export_model(
        module,
        shape,
        output_names,
        opset=opset,
        do_simplify=do_simplify,
        target=target,
        decompose_layernorm=decompose_layernorm,
    )
    onnx_path = bundle_dir / 'model.onnx'
    tmp_onnx = bundle_dir / '.model.onnx.export'
    raw_info = None  # type: Optional[Dict[str, Any]]
    try:
        atomic_write_bytes(tmp_onnx, model.SerializeToString())
        err = check_parity(
            reference if reference is not None else module, tmp_onnx, shape, samples=samples
        )
        check_parity_tolerance(err, atol)
        if raw_pixels:
            model, spec, raw_info, info['trt_targets'] = raw_pixel_graph(
                model, spec, raw_pixels, target, n_raw_frames
            )
            atomic_write_bytes(tmp_onnx, model.SerializeToString())
        tmp_onnx.replace(onnx_path)
    finally:
        if tmp_onnx.exists():
            tmp_onnx.unlink()
    src = dict(source or {})
    src['parity_max_abs_err'] = float(err)
    export_info = dict(src.get('export') or {})
    export_info.update({k: v for k, v in info.items() if k not in ('trt_targets', 'trt_blockers')})
    export_info['atol'] = float(atol)
    if raw_info is not None:
        export_info['raw_pixels'] = raw_info
    src['export'] = export_info
    meta = {
        'name': name,
        'task': task,
        'input': spec.to_dict(),
        'labels': list(labels),
        'trt_targets': list(info['trt_targets']),
        'decoder': dict(decoder),
        'source': src,
    }
    write_bundle_yaml(bundle_dir, meta)
    return load_bundle(bundle_dir), err


def raw_pixel_graph(
    model: onnx.ModelProto,
    spec: InputSpec,
    pixel_order: str,
    target: str = DEFAULT_TARGET,
    n_frames: int = 3,
) -> Tuple[onnx.ModelProto, InputSpec, Dict[str, Any], List[str]]:
    """
    Return a normalised-input graph made to take raw pixels (:mod:`.raw_pixels`).

    The graph is parity-checked and audited.

    Returns ``(model, raw spec, info, trt_targets)``; ``info`` holds the method, the node and the
    parity against the normalised graph (``max_abs``, ``rel``). Raises :class:`ParityError` above
    :data:`.raw_pixels.RAW_PARITY_RTOL`, :class:`ExportTargetError` on blockers,
    :class:`ExportError` otherwise.
    """
    from .raw_pixels import raw_parity, RAW_PARITY_RTOL, raw_spec, sample_frames, to_raw_pixels

    if spec.raw:
        raise ExportError('the graph already takes raw pixels (input.pixels: raw)')
    try:
        raw_model, fold = to_raw_pixels(model, spec, pixel_order)
    except ValueError as exc:
        raise ExportError('raw pixels: {}'.format(exc)) from None
    rspec = raw_spec(spec, pixel_order)
    par = raw_parity(model, raw_model, spec, rspec, sample_frames(spec, n_frames))
    if not par['rel'] <= RAW_PARITY_RTOL:
        raise ParityError(
            'raw-pixel graph differs from the normalised one by {:.3g} of the output range (max '
            'abs '
            '{:.3g}; tolerance {:.3g})'.format(par['rel'], par['max_abs'], RAW_PARITY_RTOL)
        )
    try:
        onnx.checker.check_model(raw_model, full_check=True)
        clean = require_target(raw_model, target, what='the raw-pixel graph')
    except TargetError as exc:
        raise ExportTargetError(str(exc)) from None
    except Exception as exc:
        raise ExportError('ONNX checker rejected the raw-pixel graph: {}'.format(exc)) from exc
    info = dict(fold)
    info.update(
        {
            'parity_max_abs': float(par['max_abs']),
            'parity_rel': float(par['rel']),
            'parity_frames': int(n_frames),
        }
    )
    return raw_model, rspec, info, clean

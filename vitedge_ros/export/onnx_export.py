"""Export a torch model to a bundle: ONNX (opset 17, static 1×3×H×W), simplified, checked, parity-tested.

Used by ``tools/train.py``, ``tools/compress.py`` and ``tools/export_onnx.py``. Every file is written
through a temporary file and a rename, so an interrupted export never leaves a half-written bundle.
"""
import io
import logging
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import torch
from torch import nn

from ..runtime.bundle import Bundle, InputSpec, atomic_write_bytes, load_bundle, write_bundle_yaml

LOG = logging.getLogger(__name__)
DEFAULT_OPSET = 17
PARITY_ATOL = 1e-4  # max abs error torch vs onnxruntime for an FP32 export (export_onnx.py and every compress stage)
PARITY_ATOL_FP16 = 1e-2  # the same for an FP16-weights export (--fp16), compared with torch in FP16
EXIT_EXPORT_FAILED = 4  # exit code of tools/export_onnx.py and tools/compress.py on export or parity failure


class ExportError(RuntimeError):
    """Export failed (tracing, ONNX checker, or parity above tolerance)."""


class ParityError(ExportError):
    """torch and onnxruntime outputs differ by more than the tolerance."""


def check_parity_tolerance(err: float, atol: float = PARITY_ATOL, what: str = 'onnxruntime') -> None:
    """Raise :class:`ParityError` when the parity error ``err`` (max abs) is above ``atol`` (NaN fails too).

    The one check used by ``tools/export_onnx.py`` (via :func:`export_bundle`) and by every compress stage.
    """
    if not err <= atol:
        raise ParityError('parity: {} differs from torch by {:.3g} (tolerance {:.3g})'.format(what, err, atol))


def _onnx_bytes(module: nn.Module, example: torch.Tensor, output_names: Sequence[str], opset: int) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')
        torch.onnx.export(module, (example,), buf, opset_version=opset, input_names=['input'],
                          output_names=list(output_names), do_constant_folding=True, dynamo=False)
    return buf.getvalue()


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """Simplify the graph with onnxslim (constant folding, dead-node removal, fusion of shape ops)."""
    try:
        import onnxslim
    except ImportError:  # pragma: no cover - tools extra installs it
        LOG.warning('onnxslim not installed: exporting without graph simplification')
        return model
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        slim = onnxslim.slim(model)
    return slim if slim is not None else model


def export_onnx(module: nn.Module, out_path: Union[str, Path], input_shape: Sequence[int],
                output_names: Sequence[str] = ('output',), opset: int = DEFAULT_OPSET,
                do_simplify: bool = True) -> Path:
    """Export ``module`` (eval mode) to ``out_path`` atomically; returns the path."""
    module = module.eval()
    example = torch.zeros(*input_shape)
    try:
        data = _onnx_bytes(module, example, output_names, opset)
    except Exception as exc:
        raise ExportError('torch.onnx.export failed for {}: {}'.format(type(module).__name__, exc)) from exc
    model = onnx.load_from_string(data)
    if do_simplify:
        model = simplify(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError('ONNX checker rejected the exported graph: {}'.format(exc)) from exc
    atomic_write_bytes(out_path, model.SerializeToString())
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
    """Max abs difference of detection rows (B×K×6) with score ≥ ``min_score``, matched by class and centre.

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
        raise ExportError('parity: output {!r} shapes differ: torch {} vs onnxruntime {}'.format(
            name, ref.shape, got.shape))
    if name == 'detections':
        return detection_rows_error(ref, got)
    return float(np.max(np.abs(ref - got))) if ref.size else 0.0


def check_parity(module: nn.Module, onnx_path: Union[str, Path], input_shape: Sequence[int],
                 n_samples: int = 3, seed: int = 0, samples: Optional[np.ndarray] = None) -> float:
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
            worst = max(worst, output_error(o.name, np.asarray(r, np.float32), np.asarray(g, np.float32)))
    return worst


def export_bundle(module: nn.Module, bundle_dir: Union[str, Path], *, name: str, task: str, labels: Sequence[str],
                  input_spec: Union[InputSpec, Dict[str, Any]], decoder: Dict[str, Any],
                  source: Optional[Dict[str, Any]] = None, output_names: Sequence[str] = ('output',),
                  atol: float = PARITY_ATOL, samples: Optional[np.ndarray] = None,
                  do_simplify: bool = True, opset: int = DEFAULT_OPSET) -> Tuple[Bundle, float]:
    """Export ``module`` as a bundle (model.onnx + bundle.yaml); returns (bundle, parity max abs error).

    Raises :class:`ExportError` when torch and onnxruntime disagree by more than ``atol``.
    """
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    spec = input_spec if isinstance(input_spec, InputSpec) else InputSpec(
        int(input_spec['width']), int(input_spec['height']), input_spec.get('color', 'rgb'),
        tuple(input_spec.get('mean', (0.0, 0.0, 0.0))), tuple(input_spec.get('std', (1.0, 1.0, 1.0))),
        input_spec.get('resize', 'letterbox'))
    shape = (1, 3, spec.height, spec.width)
    onnx_path = bundle_dir / 'model.onnx'
    tmp_onnx = bundle_dir / '.model.onnx.export'
    try:
        export_onnx(module, tmp_onnx, shape, output_names=output_names, do_simplify=do_simplify, opset=opset)
        err = check_parity(module, tmp_onnx, shape, samples=samples)
        check_parity_tolerance(err, atol)
        tmp_onnx.replace(onnx_path)
    finally:
        if tmp_onnx.exists():
            tmp_onnx.unlink()
    src = dict(source or {})
    src.setdefault('parity_max_abs_err', float(err))
    meta = {'name': name, 'task': task, 'input': spec.to_dict(), 'labels': list(labels),
            'decoder': dict(decoder), 'source': src}
    write_bundle_yaml(bundle_dir, meta)
    return load_bundle(bundle_dir), err

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
Export targets on onnxruntime CPU.

The TensorRT 8.2 graph (opset 13, LayerNorm decomposed) against opset 17.

The Nano's bundles are exported for ``trt8.2``: opset 13, every LayerNorm written as
ReduceMean/Sub/Pow/Sqrt/ Div/Mul/Add and timm's fused attention unfused
(:mod:`vitedge_ros.export.targets`). onnxruntime's graph optimiser fuses the decomposed pattern
back into its LayerNormalization kernel (``LayerNormFusion`` in
onnxruntime/core/optimizer/layer_norm_fusion.cc), so the fallback backend should not get slower.
This section measures it: each model's checkpoint is exported for ``trt8.2`` and for ``trt8.6``
(opset 17 with LayerNormalization) and both graphs are timed in this process, interleaved (batch 1,
one thread), with the per-round latency ratio and the largest output difference between the two
graphs on the same inputs.
"""

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np

from .stats import latency_summary, ratio_stat, round_sig, SIG

#: (row label, checkpoint relative to the repository root) timed by default.
DEFAULT_MODELS = (
    ('shipped detector (models/aerial_vit_tiny)', 'models/checkpoints/aerial_vit_tiny.pt'),
    (
        'segmenter teacher (models/checkpoints/aerial_seg_tiny.pt)',
        'models/checkpoints/aerial_seg_tiny.pt',
    ),
)
TARGETS = ('trt8.2', 'trt8.6')


def _graph_summary(path: Path) -> Dict[str, Any]:
    import onnx

    from ..export.trt_audit import onnx_opset

    model = onnx.load(str(path))
    ops = [n.op_type for n in model.graph.node]
    return {
        'opset': onnx_opset(model),
        'nodes': len(ops),
        'layernorm_nodes': ops.count('LayerNormalization'),
    }


def _session(path: Path) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])


def export_pair(checkpoint: Path, work: Path) -> Dict[str, Path]:
    """
    Export ``checkpoint`` for every target of :data:`TARGETS` under ``work``.

    Returns ``{target: onnx path}``.

    Raises the export library's errors (:class:`~vitedge_ros.export.checkpoint_export.BadInput`,
    :class:`~vitedge_ros.export.onnx_export.ExportError`).
    """
    from ..export.checkpoint_export import export_checkpoint

    out = {}
    for target in TARGETS:
        summary = export_checkpoint(
            checkpoint,
            work / '{}_{}'.format(checkpoint.stem, target.replace('.', '')),
            target=target,
        )
        out[target] = Path(summary['bundle'].onnx_path)
    return out


def run_targets(
    root: Union[str, Path],
    work: Union[str, Path],
    models: Sequence[Tuple[str, str]] = DEFAULT_MODELS,
    *,
    rounds: int = 7,
    block: int = 20,
    warmup: int = 5,
) -> Dict[str, Any]:
    """
    Time each model's ``trt8.2`` and ``trt8.6`` graphs on onnxruntime CPU (1 thread, batch 1).

    The graphs are timed interleaved.

    Returns the section's JSON: per model the two graphs' opset, node and LayerNormalization
    counts, latency in ms (median (min-max) of per-round medians), the per-round ratio trt8.2 /
    trt8.6 (1.0 = no change; above 1 = the opset-13 graph is slower) and the max abs output
    difference on 3 random inputs.
    """
    from .stats import interleaved

    root, work = Path(root), Path(work)
    rows: List[Dict[str, Any]] = []
    for label, rel in models:
        graphs = export_pair(root / rel, work)
        sessions = {t: _session(p) for t, p in graphs.items()}
        inp = sessions[TARGETS[0]].get_inputs()[0]
        shape = [int(d) for d in inp.shape]
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
        diff = 0.0
        for x in xs:
            a = sessions[TARGETS[0]].run(None, {inp.name: x})
            b = sessions[TARGETS[1]].run(None, {sessions[TARGETS[1]].get_inputs()[0].name: x})
            diff = max(
                [diff]
                + [
                    float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
                    for u, v in zip(a, b)
                ]
            )
        fns = {
            t: (lambda s=s, x=xs[0]: s.run(None, {s.get_inputs()[0].name: x}))
            for t, s in sessions.items()
        }
        ms = interleaved(fns, rounds=rounds, block=block, warmup=warmup)
        rows.append(
            {
                'model': label,
                'checkpoint': rel,
                'input': shape,
                'graphs': {t: _graph_summary(p) for t, p in graphs.items()},
                'ms': {t: latency_summary(v, SIG) for t, v in ms.items()},
                'ratio_trt82_to_trt86': ratio_stat(ms['trt8.2'], ms['trt8.6']),
                'max_abs_output_diff': round_sig(diff),
            }
        )
    import onnxruntime as ort

    return {
        'section': 'targets',
        'onnxruntime': ort.__version__,
        'threads': 1,
        'rounds': rounds,
        'block': block,
        'rows': rows,
    }

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
The ``quantize`` stage.

INT8 (static Q/DQ), FP16 or dynamic INT8 graphs of the previous stage's ONNX export.

Algorithms: :mod:`vitedge_ros.compress.quantize` (onnxruntime quantization tools). The stage starts
from the ONNX graph of the last non-branch stage that exported one, writes
``OUT/onnx/NN-<name>.onnx`` (and ``NN-<name>-<mode>.onnx`` for each ``also`` mode), and measures
them with onnxruntime: its report entry's metric is the graph's, not a torch model's, and the
runner does not export it again.
"""

import logging
from typing import Any, Dict, List, Optional

from .base import RunError, Stage, stage_schema, StageContext, StageResult
from .fields import boolean, choice, fail, integer, list_of, num, string
from ..measure import onnx_bytes
from ...tasks import get_task

KEEP_FP32 = ('patch_embed', 'head', 'softmax', 'layernorm', 'attn_qk')
QUANT_MODES = ('int8', 'fp16', 'dynamic')
CALIBRATIONS = ('minmax', 'entropy', 'percentile')

_FIELDS = stage_schema(
    {
        'mode': (choice(*QUANT_MODES), 'int8'),
        'calibration': (choice(*CALIBRATIONS), 'minmax'),
        'percentile': (num(90, 100, hi_open=False), 99.999),
        'calib_batches': (integer(1), 16),
        'calib_batch_size': (integer(1), 8),
        'exclude': (list_of(string), []),
        'keep_fp32': (
            list_of(choice(*KEEP_FP32)),
            ['patch_embed', 'head', 'softmax', 'layernorm'],
        ),
        'per_channel': (boolean, True),
        'sensitivity': (boolean, True),
        'sensitivity_samples': (integer(1), 200),
        'also': (list_of(choice(*QUANT_MODES)), []),
    }
)


def SCHEMA(v: Any, path: str) -> Dict[str, Any]:  # noqa: N802 - a checker like the mappings
    """
    Return the stage's mapping.

    ``also`` may not repeat ``mode`` (RecipeError naming the list item).
    """
    cfg = _FIELDS(v, path)
    for i, m in enumerate(cfg['also']):
        if m == cfg['mode']:
            raise fail('{}.also[{}]'.format(path, i), 'repeats mode {!r}'.format(m))
    return cfg


def label(params: Dict[str, Any]) -> str:
    """Return the stage's report name: its mode (``int8``, ``fp16``, ``dynamic``)."""
    return params['mode']


def check(recipe: Dict[str, Any], index: int) -> None:
    """Quantize is the last stage (its output is an ONNX graph, not a model), unless a branch."""
    if index != len(recipe['stages']) - 1 and not recipe['stages'][index]['branch']:
        raise fail(
            'stages[{}].quantize'.format(index),
            'quantize must be the last stage (or a branch: true stage)',
        )


def source_entry(entries: List[Dict[str, Any]]) -> Dict[str, Any]:
    """
    Return the report entry of the last non-branch stage with an FP32 ONNX export.

    Raises :class:`RunError` when there is none.
    """
    from . import stage_for

    for e in reversed(entries):
        if not e.get('branch') and stage_for(e['type']).exports:
            return e
    raise RunError('no stage before this one to take the model from')


def run(ctx: StageContext, st: Dict[str, Any]) -> StageResult:
    """
    Quantize the source stage's ONNX graph in every requested mode; measure each with onnxruntime.

    Raises :class:`RunError` when onnxruntime cannot run the primary mode's graph (an ``also`` mode
    that fails is reported in ``details.variants`` with its error).
    """
    from .. import quantize as Q
    from ..evaluation import evaluate_outputs, onnx_outputs

    data, name = ctx.data, ctx.name
    src = source_entry(ctx.entries)
    fp32 = ctx.out / src['onnx']
    calib = data.calibration(st['calib_batches'] * st['calib_batch_size'])
    ref = onnx_outputs(fp32, data, ctx.threads)
    variants: Dict[str, Any] = {}
    primary = None
    notes: List[str] = []
    for mode in [st['mode']] + list(st['also']):
        path = ctx.onnx_path(name if mode == st['mode'] else '{}-{}'.format(name, mode))
        info: Dict[str, Any] = {}
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            if mode == 'int8':
                info = Q.quantize_int8(
                    fp32,
                    path,
                    calib,
                    method=st['calibration'],
                    percentile=st['percentile'],
                    keep_fp32=st['keep_fp32'],
                    exclude=st['exclude'],
                    per_channel=st['per_channel'],
                )
                info['keep_fp32'] = list(st['keep_fp32'])
            elif mode == 'fp16':
                Q.convert_fp16(fp32, path)
            else:
                info = Q.quantize_dynamic_int8(
                    fp32, path, keep_fp32=st['keep_fp32'], exclude=st['exclude']
                )
        finally:
            logging.getLogger().setLevel(quiet)
        try:
            outs = onnx_outputs(path, data, ctx.threads)
        except Exception as exc:  # e.g. an op without an FP16 kernel in onnxruntime's CPU provider
            if mode == st['mode']:
                raise RunError(
                    'stage {}: onnxruntime cannot run the {} graph: {}'.format(name, mode, exc)
                ) from exc
            variants[mode] = {
                'onnx': ctx.relative(path),
                'onnx_bytes': onnx_bytes(path),
                'error': str(exc).splitlines()[0][:200],
            }
            continue
        metric = evaluate_outputs(outs, data)
        metric.update(get_task(data.task).source_agreement(ref, outs))
        if mode == st['mode']:
            primary = (path, metric, info)
        else:
            variants[mode] = {
                'onnx': ctx.relative(path),
                'onnx_bytes': onnx_bytes(path),
                **{k: v for k, v in metric.items() if k != 'per_class'},
            }
    path, metric, info = primary
    details: Dict[str, Any] = {'mode': st['mode']}
    if st['mode'] == 'int8':
        details['quantization'] = dict(info.items())
        details['qdq'] = Q.qdq_summary(path)
        if st['sensitivity']:
            details['sensitivity'], n = _sensitivity(ctx, st, fp32, calib)
            notes.append(
                'sensitivity: SQNR (dB) of the {} output over {} samples with only that layer '
                'quantized'.format(get_task(data.task).watched_output[0], n)
            )
    if variants:
        details['variants'] = variants
    notes.append('metric and latency from onnxruntime on the {} ONNX graph'.format(st['mode']))
    if st['mode'] == 'int8':
        notes.append(
            'INT8 pays off on TensorRT (explicit Q/DQ); on a CPU without VNNI onnxruntime may '
            'run the Q/DQ graph slower than FP32: its latency is reported as measured'
        )
    fields = {
        'source_stage': src['name'],
        'metric': metric,
        'onnx': ctx.relative(path),
        'onnx_bytes': onnx_bytes(path),
        'precision': st['mode'],
    }
    return StageResult(ctx.model, details=details, notes=notes, fields=fields)


def _sensitivity(ctx: StageContext, st: Dict[str, Any], fp32: Any, calib: Any) -> Any:
    """
    Return the per-layer sensitivity and the sample count.

    The sensitivity is :func:`vitedge_ros.compress.quantize.sensitivity`.
    """
    from .. import quantize as Q

    task = get_task(ctx.data.task)
    samples = ctx.data.eval_inputs(st['sensitivity_samples'])
    score: Optional[Any] = task.answer_agreement if task.argmax_answer else None
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        result = Q.sensitivity(
            fp32,
            calib,
            samples,
            method=st['calibration'],
            percentile=st['percentile'],
            keep_fp32=st['keep_fp32'],
            exclude=st['exclude'],
            per_channel=st['per_channel'],
            output_index=task.watched_output[1],
            threads=ctx.threads,
            score=score,
        )
    finally:
        logging.getLogger().setLevel(quiet)
    return result, len(samples)


STAGE = Stage('quantize', SCHEMA, run, label=label, check=check, exports=False)

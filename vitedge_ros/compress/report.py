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
Compression report: report.json, report.md and a Pareto plot.

The plot shows accuracy vs onnxruntime CPU latency.
"""

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .measure import ESTIMATE_LABEL


def primary_metric(entry: Dict[str, Any]) -> Optional[float]:
    """
    Return the stage's main figure.

    Top-1 for classifiers, mAP@0.5 for detectors, mIoU for segmenters.
    """
    m = entry.get('metric') or {}
    for k in ('top1', 'map50', 'miou'):
        if k in m:
            return float(m[k])
    return None


def metric_name(entries: List[Dict[str, Any]]) -> str:
    """'top1', 'map50' or 'miou'."""
    for e in entries:
        if 'top1' in (e.get('metric') or {}):
            return 'top1'
        if 'miou' in (e.get('metric') or {}):
            return 'miou'
    return 'map50'


def summarize(entries: List[Dict[str, Any]]) -> Dict[str, Any]:
    """
    Return the ratios of every stage against the baseline.

    Quantized stages are also compared with their FP32 source.
    """
    if not entries:
        return {}
    base = entries[0]
    by_name = {e['name']: e for e in entries}
    out: Dict[str, Any] = {'baseline': base['name'], 'metric': metric_name(entries), 'stages': {}}
    for e in entries:
        s: Dict[str, Any] = {}
        pm, bm = primary_metric(e), primary_metric(base)
        if pm is not None and bm is not None:
            s['metric_delta_points_vs_baseline'] = round(100.0 * (pm - bm), 3)
        if e.get('latency_ms') and base.get('latency_ms'):
            s['speedup_vs_baseline'] = round(base['latency_ms'] / e['latency_ms'], 3)
        if e.get('params') and base.get('params'):
            s['params_reduction_vs_baseline'] = round(base['params'] / e['params'], 3)
        if e.get('macs') and base.get('macs'):
            s['macs_reduction_vs_baseline'] = round(base['macs'] / e['macs'], 3)
        src = by_name.get(e.get('source_stage') or '')
        if src is not None and e.get('type') == 'quantize':
            sm = primary_metric(src)
            if pm is not None and sm is not None:
                s['metric_delta_points_vs_source'] = round(100.0 * (pm - sm), 3)
            if e.get('latency_ms') and src.get('latency_ms'):
                s['speedup_vs_source'] = round(src['latency_ms'] / e['latency_ms'], 3)
            if 'agreement_with_source' in (e.get('metric') or {}):
                s['agreement_with_source'] = e['metric']['agreement_with_source']
        for k in ('person_ap50', 'person_ap50_95'):
            if k in (e.get('metric') or {}) and k in (base.get('metric') or {}):
                s[k + '_delta_points_vs_baseline'] = round(
                    100.0 * (e['metric'][k] - base['metric'][k]), 3
                )
        out['stages'][e['name']] = s
    return out


def write_json(report: Dict[str, Any], path: Union[str, Path]) -> None:
    """report.json (floats as they are; NaN/inf written as null)."""

    def clean(o):
        if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if hasattr(o, 'item') and callable(o.item):
            return clean(o.item())
        return o

    Path(path).write_text(json.dumps(clean(report), indent=1) + '\n')


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return '–'
    if isinstance(v, float):
        return '{:.{}f}'.format(v, digits)
    return str(v)


def _si(v: Optional[float]) -> str:
    if v is None:
        return '–'
    for unit, f in (('G', 1e9), ('M', 1e6), ('k', 1e3)):
        if abs(v) >= f:
            return '{:.2f} {}'.format(v / f, unit)
    return '{:.0f}'.format(v)


def markdown(report: Dict[str, Any]) -> str:
    """report.md text."""
    entries = report['stages']
    mname = report.get('summary', {}).get('metric', metric_name(entries))
    det = mname == 'map50'
    lines = ['# Compression report: {}'.format(report.get('recipe', '')), '']
    ms = report['measure']
    lines.append(
        'Recipe file: `{}`. Latencies: onnxruntime {} CPU execution provider, batch 1, {} '
        'thread(s), '
        'median of {} runs (interleaved rounds of back-to-back runs) after {} warm-up runs, all '
        'measured '
        'in one process ({}).'.format(
            report.get('recipe_path', ''),
            report.get('onnxruntime_version', ''),
            ms['threads'],
            ms['latency_runs'],
            ms['warmup'],
            report.get('cpu', ''),
        )
    )
    lines.append('')
    seg = mname == 'miou'
    mcols = (
        ['mAP@0.5', 'mAP@0.5:0.95', 'person AP@0.5']
        if det
        else (['mIoU', 'person IoU', 'pixel acc.', 'ONNX argmax agreement'] if seg else ['top-1'])
    )
    est_keys = sorted({k for e in entries for k in (e.get('estimates_ms') or {})})
    head = (
        ['stage', 'type']
        + mcols
        + ['params', 'MACs', 'ONNX bytes', 'ORT CPU ms', 'speed-up']
        + ['{} ms*'.format(k) for k in est_keys]
    )
    lines.append('| ' + ' | '.join(head) + ' |')
    lines.append('|' + '---|' * len(head))
    summ = report.get('summary', {}).get('stages', {})
    for e in entries:
        m = e.get('metric') or {}
        if det:
            mv = [_fmt(m.get('map50')), _fmt(m.get('map50_95')), _fmt(m.get('person_ap50'))]
        elif seg:
            agree = e.get('parity_argmax_agreement', m.get('agreement_with_source'))
            mv = [
                _fmt(m.get('miou'), 4),
                _fmt((m.get('per_class_iou') or {}).get('person')),
                _fmt(m.get('pixel_acc')),
                _fmt(agree, 5),
            ]
        else:
            mv = [_fmt(m.get('top1'), 4)]
        sp = summ.get(e['name'], {}).get('speedup_vs_baseline')
        row = (
            [e['name'] + (' (branch)' if e.get('branch') else ''), e.get('type', '')]
            + mv
            + [
                _si(e.get('params')),
                _si(e.get('macs')),
                _si(e.get('onnx_bytes')),
                _fmt(e.get('latency_ms')),
                '{:.2f}×'.format(sp) if sp else '–',
            ]
            + [_fmt((e.get('estimates_ms') or {}).get(k), 4) for k in est_keys]
        )
        lines.append('| ' + ' | '.join(row) + ' |')
    lines.append('')
    peaks = []
    for k, d in report['estimates']['devices'].items():
        ops = ', '.join('{} {:.3g} op/s'.format(p, v) for p, v in d['peak_ops_per_s'].items())
        peaks.append(
            '{} {} ({:.3g} B/s, {})'.format(k, ops, d['bandwidth_bytes_per_s'], d['note'])
        )
    lines.append(
        '\\* {}: {}. Assumed peaks: {}.'.format(
            ESTIMATE_LABEL, report['estimates']['formula'], '; '.join(peaks)
        )
    )
    lines.append('')
    lines.append('## Against the baseline')
    lines.append('')
    keys = sorted({k for s in summ.values() for k in s})
    if keys:
        lines.append('| stage | ' + ' | '.join(keys) + ' |')
        lines.append('|' + '---|' * (len(keys) + 1))
        for name, s in summ.items():
            lines.append('| {} | {} |'.format(name, ' | '.join(_fmt(s.get(k)) for k in keys)))
    lines.append('')
    for e in entries:
        d = e.get('details') or {}
        notes = e.get('notes') or []
        if not d and not notes:
            continue
        lines.append('## {} ({})'.format(e['name'], e.get('type', '')))
        lines.append('')
        for n in notes:
            lines.append('- ' + n)
        if 'after' in d:
            a = d['after']
            lines.append(
                '- structure after pruning: embed {}, blocks {}'.format(
                    a['embed_dim'],
                    ', '.join(
                        '{}×{} heads / mlp {}'.format(b['heads'], b['head_dim'], b['mlp'])
                        for b in a['blocks']
                    ),
                )
            )
        if 'layers' in d and isinstance(d['layers'], dict):
            lines.append(
                '- factorised: {}; left dense: {}'.format(
                    ', '.join('{} r={}'.format(k, v['rank']) for k, v in d['layers'].items())
                    or 'none',
                    len(d.get('skipped', {})),
                )
            )
        if 'tome_sweep' in d:
            lines.append(
                '- token merging sweep (torch, no retraining): '
                + ', '.join(
                    'r={} → {} {:.4f} ({} tokens at the end)'.format(
                        s['r'], mname, s['metric'], s['tokens'][-1] if s['tokens'] else '?'
                    )
                    for s in d['tome_sweep']
                )
            )
        if 'variants' in d:
            for k, v in d['variants'].items():
                vals = ', '.join(
                    '{} {}'.format(a, _fmt(b))
                    for a, b in v.items()
                    if not isinstance(b, (dict, list))
                )
                lines.append('- variant {}: {}'.format(k, vals))
        if 'quantization' in d:
            q = d['quantization']
            lines.append(
                (
                    '- {} MatMul/Gemm/Conv nodes quantized, {} kept in float ({}); calibration {}'
                ).format(
                    len(q.get('quantized_nodes', [])),
                    len(q.get('float_nodes', [])),
                    ', '.join(q.get('keep_fp32', [])),
                    q.get('method'),
                )
            )
            if 'qdq' in d:
                lines.append(
                    '- Q/DQ: {quantize_linear} QuantizeLinear, {dequantize_linear} '
                    'DequantizeLinear, '
                    'zero-point types {zero_point_types}, non-zero zero points '
                    '{nonzero_zero_points}'.format(**d['qdq'])
                )
        if d.get('sensitivity'):
            lines.append('')
            lines.append(
                'Per-layer INT8 sensitivity (one layer quantized at a time, worst first):'
            )
            lines.append('')
            cols = [k for k in d['sensitivity'][0] if k != 'node']
            lines.append('| node | ' + ' | '.join(cols) + ' |')
            lines.append('|' + '---|' * (len(cols) + 1))
            for r in d['sensitivity'][:12]:
                lines.append(
                    '| `{}` | {} |'.format(r['node'], ' | '.join(_fmt(r.get(c)) for c in cols))
                )
        lines.append('')
    return '\n'.join(lines) + '\n'


def pareto_plot(report: Dict[str, Any], path: Union[str, Path]) -> None:
    """Accuracy vs latency scatter with the Pareto front, as PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    entries = [
        e for e in report['stages'] if e.get('latency_ms') and primary_metric(e) is not None
    ]
    mname = report.get('summary', {}).get('metric', 'top1')
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    pts = [(e['latency_ms'], primary_metric(e), e['name']) for e in entries]
    for x, y, n in pts:
        ax.scatter([x], [y], s=30)
        ax.annotate(n, (x, y), textcoords='offset points', xytext=(4, 4), fontsize=8)
    front = []
    for x, y, n in sorted(pts):
        if not front or y > front[-1][1]:
            front.append((x, y, n))
    if front:
        ax.plot(
            [p[0] for p in front],
            [p[1] for p in front],
            '--',
            lw=1,
            color='gray',
            label='Pareto front',
        )
        ax.legend(loc='lower right', fontsize=8)
    ax.set_xlabel('onnxruntime CPU latency, batch 1 (ms, median)')
    ax.set_ylabel({'top1': 'top-1', 'miou': 'mIoU'}.get(mname, 'mAP@0.5'))
    ax.set_title('{}: accuracy vs latency'.format(report.get('recipe', '')))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)


DOC_BEGIN = (
    '<!-- compress-report:{} begin '
    '(generated by python -m vitedge_ros.compress.report; do not edit) -->'
)
DOC_END = '<!-- compress-report:{} end -->'


def doc_section(report: Dict[str, Any]) -> str:
    """Return a docs section with a run's figures, generated from its report.json."""
    entries = report['stages']
    mname = report.get('summary', {}).get('metric', metric_name(entries))
    det = mname == 'map50'
    summ = report.get('summary', {}).get('stages', {})
    lines = [
        'Measured by `tools/compress.py --recipe {}` (onnxruntime {} CPU, {} thread(s), batch 1, '
        'median of {} '
        'runs in one process on {}; torch {}).'.format(
            report.get('recipe_path', ''),
            report.get('onnxruntime_version', ''),
            report['measure']['threads'],
            report['measure']['latency_runs'],
            report.get('cpu', ''),
            report.get('torch_version', ''),
        ),
        '',
    ]
    mcols = ['mAP@0.5', 'mAP@0.5:0.95', 'person AP@0.5'] if det else ['top-1']
    head = (
        ['stage']
        + mcols
        + [
            'Δ vs baseline (points)',
            'params',
            'params ÷',
            'MACs',
            'ONNX bytes',
            'ORT CPU ms',
            'speed-up',
            'Nano FP16 ms*',
            'Orin Nano ms*',
        ]
    )
    lines.append('| ' + ' | '.join(head) + ' |')
    lines.append('|' + '---|' * len(head))
    for e in entries:
        m = e.get('metric') or {}
        s = summ.get(e['name'], {})
        mv = (
            [_fmt(m.get('map50')), _fmt(m.get('map50_95')), _fmt(m.get('person_ap50'))]
            if det
            else [_fmt(m.get('top1'), 4)]
        )
        est = e.get('estimates_ms') or {}
        nano = est.get('jetson-nano-fp16', est.get('jetson-nano-int8'))
        orin = est.get('orin-nano-int8', est.get('orin-nano-fp16'))
        delta = (
            s.get('person_ap50_delta_points_vs_baseline')
            if det
            else s.get('metric_delta_points_vs_baseline')
        )
        lines.append(
            '| '
            + ' | '.join(
                [e['name'] + (' (branch)' if e.get('branch') else '')]
                + mv
                + [
                    _fmt(delta, 2),
                    '{:,}'.format(e['params']),
                    _fmt(s.get('params_reduction_vs_baseline'), 2),
                    _si(e.get('macs')),
                    '{:,}'.format(e['onnx_bytes']),
                    _fmt(e.get('latency_ms')),
                    '{:.2f}×'.format(s['speedup_vs_baseline'])
                    if s.get('speedup_vs_baseline')
                    else '–',
                    _fmt(nano, 4),
                    _fmt(orin, 4),
                ]
            )
            + ' |'
        )
    lines.append('')
    lines.append(
        '\\* estimate (roofline lower bound), not a measurement: assumed peaks under '
        '"Measurements". '
        '"Δ" is {} in points.'.format('person AP@0.5' if det else 'top-1')
    )
    for e in entries:
        s = summ.get(e['name'], {})
        if e.get('type') == 'quantize' and s:
            lines.append('')
            parts = ['{} {}'.format(k.replace('_', ' '), _fmt(v)) for k, v in s.items()]
            lines.append(
                '- `{}` against its FP32 source `{}`: {}.'.format(
                    e['name'], e.get('source_stage'), ', '.join(parts)
                )
            )
            for k, v in ((e.get('details') or {}).get('variants') or {}).items():
                lines.append(
                    '- variant `{}`: {} bytes, ORT CPU {} ms{}'.format(
                        k,
                        v.get('onnx_bytes'),
                        _fmt(v.get('latency_ms')),
                        ', error: ' + v['error'] if 'error' in v else '',
                    )
                )
            sens = (e.get('details') or {}).get('sensitivity') or []
            if sens:
                lines.append(
                    '- most sensitive layers (INT8 one at a time, SQNR dB): '
                    + ', '.join('`{}` {:.1f}'.format(r['node'], r['sqnr_db']) for r in sens[:4])
                )
        if e.get('type') == 'tome' and (e.get('details') or {}).get('tome_sweep'):
            lines.append('')
            lines.append(
                '- token merging without retraining: '
                + ', '.join(
                    'r={} → {} {:.4f}'.format(t['r'], mname, t['metric'])
                    for t in e['details']['tome_sweep']
                )
            )
    return '\n'.join(lines) + '\n'


def update_doc(doc_path: Union[str, Path], reports: Dict[str, Union[str, Path]]) -> None:
    """Replace the generated sections (between markers, one per key) of a markdown file."""
    doc = Path(doc_path)
    text = doc.read_text()
    for key, rpath in reports.items():
        begin, end = DOC_BEGIN.format(key), DOC_END.format(key)
        if begin not in text or end not in text:
            raise ValueError('{}: markers for {!r} not found'.format(doc, key))
        rep = json.loads(Path(rpath).read_text())
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + begin + '\n' + doc_section(rep) + end + tail
    doc.write_text(text)


def main(argv: Optional[List[str]] = None) -> int:
    """
    Regenerate the doc's report sections.

    Usage: ``python -m vitedge_ros.compress.report DOC KEY=REPORT.json ...``.
    """
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(
            'usage: python -m vitedge_ros.compress.report DOC.md KEY=report.json [KEY=report.json '
            '...]'
        )
        return 2
    update_doc(args[0], dict(a.split('=', 1) for a in args[1:]))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

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
tools/benchmark.py: statistics, Pareto front, the renderer, the committed page.

The renderer is tested on hand-made JSON.
"""

import copy
import json
from pathlib import Path
import shutil
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vitedge_ros.bench.pareto import dominated_by, dominates, pareto_front  # noqa: E402
from vitedge_ros.bench.render import fmt, fmt_ms, fmt_stat, load_results, render_page  # noqa: E402
from vitedge_ros.bench.stats import interleaved, ratio_stat, round_sig, stat  # noqa: E402


def test_stat_median_min_max():
    assert stat([3.0, 1.0, 2.0, 10.0]) == {'median': 2.5, 'min': 1.0, 'max': 10.0, 'n': 4}
    assert stat([5]) == {'median': 5.0, 'min': 5.0, 'max': 5.0, 'n': 1}
    assert stat([0.123456, 0.2, 0.3]) == {'median': 0.2, 'min': 0.1235, 'max': 0.3, 'n': 3}
    with pytest.raises(ValueError):
        stat([])


def test_round_sig_and_ratio_stat():
    assert round_sig(1234567.0) == 1235000.0
    assert round_sig(0.000123456) == 0.0001235
    assert round_sig(0.0) == 0.0
    assert round_sig(float('nan')) is None and round_sig(None) is None
    # ratios are taken per paired repeat, then summarised
    assert ratio_stat([2.0, 4.0, 9.0], [1.0, 2.0, 3.0]) == {
        'median': 2.0,
        'min': 2.0,
        'max': 3.0,
        'n': 3,
    }
    with pytest.raises(ValueError):
        ratio_stat([1.0], [1.0, 2.0])


def test_interleaved_counts_and_order():
    calls = []
    fns = {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}
    out = interleaved(fns, rounds=3, block=4, warmup=2)
    assert set(out) == {'a', 'b'} and all(len(v) == 3 for v in out.values())
    assert all(t >= 0 for v in out.values() for t in v)
    assert calls.count('a') == calls.count('b') == 2 + 3 * 5
    # the order rotates per round: round 2 starts with b
    body = calls[4:]
    assert body[:5] == ['a'] * 5 and body[10:15] == ['b'] * 5


# --- Pareto front
# -------------------------------------------------------------------------------------------

POINTS = [
    {'name': 'base', 'latency_ms': 1.0, 'top1': 0.95},
    {'name': 'small', 'latency_ms': 0.5, 'top1': 0.94},
    {'name': 'worse', 'latency_ms': 0.6, 'top1': 0.93},  # slower and less accurate than small
    {'name': 'fastest', 'latency_ms': 0.3, 'top1': 0.70},
    {'name': 'tie', 'latency_ms': 0.5, 'top1': 0.94},  # equal to small: neither dominates
    {'name': 'slow_same', 'latency_ms': 2.0, 'top1': 0.95},  # as accurate as base, slower
]


def test_pareto_front_hand_made():
    assert pareto_front(POINTS) == ['fastest', 'small', 'tie', 'base']
    assert dominates(POINTS[1], POINTS[2]) and not dominates(POINTS[1], POINTS[4])
    assert dominated_by(POINTS, 'worse') == ['small', 'tie']
    assert dominated_by(POINTS, 'slow_same') == ['base']
    assert dominated_by(POINTS, 'worse', among=['tie', 'base']) == ['tie']
    assert dominated_by(POINTS, 'base') == []
    with pytest.raises(KeyError):
        dominated_by(POINTS, 'nope')


# --- renderer on hand-made JSON
# -----------------------------------------------------------------------------


def S(med, lo, hi, n=3):
    """
    Return a repeat statistic of a dimensionless figure.

    As bench.stats.stat gives it for ratios, frames/s and MB.
    """
    return {'median': med, 'min': lo, 'max': hi, 'n': n}


def M(med, lo, hi, n=3):
    """
    Return a latency summary in ms (runtime.latency_stats.latency_summary keys).

    As the benchmark JSON holds them.
    """
    return {'n': n, 'mean_ms': med, 'median_ms': med, 'p95_ms': hi, 'min_ms': lo, 'max_ms': hi}


def hand_made():
    machine = {
        'cpu': 'Test CPU 9000',
        'logical_cores': 2,
        'usable_cores': 2,
        'cpu_flags': {'avx2': True},
        'memory_gib': 7.5,
        'os': 'TestOS 1',
        'kernel': '6.1',
        'python': '3.11.7',
        'versions': {'torch': '2.0', 'onnxruntime': '1.31.1'},
        'git_commit': 'abc',
        'date_utc': 'today',
        'load_start': [1.5, 1.0, 0.5],
        'load_end': [2.5, 1.0, 0.5],
        'total_seconds': 321.5,
        'section_seconds': {'latency': 12.5},
    }
    lat = {
        'models': [
            {
                'model': 'deit (224x224, random init)',
                'key': 'deit_tiny_224',
                'arch': 'deit',
                'input': [1, 3, 224, 224],
                'weights': 'random init',
                'rows': [
                    {
                        'key': 'timm_eager',
                        'label': 'timm, torch eager FP32',
                        'latency_ms': M(71.31, 70.26, 83.54),
                        'speedup_vs_timm_eager': S(1.0, 1.0, 1.0),
                        'macs': 1253683200,
                        'params': 5717416,
                    },
                    {
                        'key': 'compressed_int8',
                        'label': 'compressed recipe, INT8 QDQ ONNX',
                        'latency_ms': M(9.876, 9.5, 12.25),
                        'speedup_vs_timm_eager': S(7.221, 5.9, 8.3),
                        'macs': 365402112,
                        'params': 1532104,
                    },
                ],
            }
        ],
        'measure': {'rounds': 7, 'block': 5},
    }

    def pt(name, kind, top1, med, sp, front):
        return {
            'name': name,
            'label': 'label of ' + name,
            'kind': kind,
            'precision': 'fp32',
            'top1': top1,
            'macs': 1000,
            'params': 77,
            'onnx_bytes': 4242,
            'latency_ms': M(med, med / 2, med * 2),
            'speedup_vs_baseline': S(sp, 0.5, 4.5),
            'on_front': front,
            'onnx': name + '.onnx',
        }

    digits = {
        'data': {'img_size': 32, 'train': 1437, 'test': 360, 'seed': 0},
        'baseline_checkpoint': {
            'path': 'bench/checkpoints/x.pt',
            'name': 'x:baseline',
            'params': 77,
            'epochs': 15,
        },
        'recipe': {
            'path': 'bench/recipes/r.yaml',
            'stages': [
                {'type': 'prune', 'ratio': 0.5, 'importance': 'taylor'},
                {'type': 'finetune', 'epochs': 3, 'lr': 0.001, 'batch_size': 32},
            ],
        },
        'recipe_seconds': 99.5,
        'torch_pruning': {
            'ratio': 0.3125,
            'macs': 5000,
            'target_macs': 5100,
            'macs_rel_error': 0.0196,
            'top1_before_finetune': 0.5,
            'finetune': {'epochs': 3, 'lr': 0.001, 'batch_size': 32},
        },
        'quantize_static_call': 'quantize_static(baseline.onnx, out, reader)',
        'quantize_dynamic_call': 'quantize_dynamic(baseline.onnx, out)',
        'measure': {'rounds': 9, 'block': 20},
        'points': [
            pt('baseline', 'baseline', 0.9833, 0.4321, 1.0, True),
            pt('int8', 'recipe', 0.975, 0.2468, 1.751, True),
            pt('tp_alone', 'baseline', 0.9611, 0.3, 1.44, False),
        ],
        'order': ['baseline', 'int8', 'tp_alone'],
        'pareto': {
            'front': ['int8', 'baseline'],
            'final': 'int8',
            'compressed': [
                {
                    'name': 'int8',
                    'role': 'final (the bundle)',
                    'on_front': True,
                    'dominated_by': [],
                    'dominated_by_baselines': [],
                }
            ],
        },
        'four_ways': {
            'model': 'digits ViT',
            'input': [1, 3, 32, 32],
            'weights': 'trained on digits',
            'rows': [
                {
                    'label': 'timm, torch eager FP32',
                    'latency_ms': M(1.234, 1.1, 1.5),
                    'speedup_vs_timm_eager': S(1.0, 1.0, 1.0),
                    'macs': 23,
                    'params': 77,
                    'top1': 0.9833,
                }
            ],
        },
    }
    overhead = {
        'bundle': 'aerial_vit_tiny',
        'network_input': [320, 240],
        'frame_size': [640, 480],
        'frames': 30,
        'repeats': 5,
        'jpeg_quality': 90,
        'jpeg_bytes_median': 54321,
        'backend': 'onnxruntime',
        'onnxruntime_threads': 'default',
        'detections_per_frame_median': 4.0,
        'rows': [
            {
                'label': 'JPEG decode',
                'ms': M(3.456, 3.2, 4.1),
                'ratio_to_inference': S(0.1729, 0.15, 0.2),
            }
        ],
        'totals': {
            'compressed_transport': {
                'steps': ['jpeg_decode'],
                'ms': M(5.5, 5.25, 6.75),
                'ratio_to_inference': S(0.275, 0.25, 0.3),
            }
        },
    }
    roofline = {
        'source': 'measure',
        'devices': ['jetson-nano', 'orin-nano'],
        'assumptions': {
            'label': 'estimate (roofline lower bound)',
            'formula': 'max(a, b)',
            'devices': {
                'jetson-nano': {'peak_ops_per_s': {'fp32': 1.0}, 'bandwidth_bytes_per_s': 2.0}
            },
        },
        'rows': [
            {
                'model': 'digits/baseline',
                'label': 'digits baseline',
                'precision': 'fp16',
                'macs': 23,
                'estimates_ms': {'jetson-nano': 0.0123, 'orin-nano': 0.004567},
            }
        ],
    }
    return {
        'machine': machine,
        'latency': lat,
        'digits': digits,
        'overhead': overhead,
        'roofline': roofline,
        'gpu': [],
    }


def _rows(page):
    return [line for line in page.splitlines() if line.startswith('| ')]


def test_render_tables_hold_exactly_the_json_numbers():
    page = render_page(hand_made())
    rows = _rows(page)
    assert (
        '| timm, torch eager FP32 | 1253683200 | 5717416 | 71.31 (70.26–83.54) | 1.0× (1.0–1.0) |'
        in rows
    )
    assert (
        '| compressed recipe, INT8 QDQ ONNX | 365402112 | 1532104 | 9.876 (9.5–12.25) | 7.221× '
        '(5.9–8.3) |' in rows
    )
    assert (
        '| timm, torch eager FP32 | 23 | 77 | 1.234 (1.1–1.5) | 1.0× (1.0–1.0) | 0.9833 |' in rows
    )
    assert (
        '| `int8` | label of int8 | fp32 | 0.975 | 1000 | 77 | 4242 | 0.2468 (0.1234–0.4936) | '
        '1.751× (0.5–4.5) | yes |'
    ) in rows
    assert (
        '| **tp_alone** | label of tp_alone | fp32 | 0.9611 | 1000 | 77 | 4242 | 0.3 (0.15–0.6) | '
        '1.44× (0.5–4.5) | no |'
    ) in rows
    assert '| JPEG decode | 3.456 (3.2–4.1) | 0.1729× (0.15–0.2) |' in rows
    assert (
        '| **overhead total, compressed transport** (jpeg_decode) | 5.5 (5.25–6.75) | 0.275× '
        '(0.25–0.3) |' in rows
    )
    assert (
        '| digits baseline | fp16 | 23 | 0.0123 | 0.004567 | not measured (no GPU lent to this '
        'task) |'
    ) in rows
    assert '| CPU | Test CPU 9000 |' in rows and '| onnxruntime | 1.31.1 |' in rows
    assert 'Pareto front (fastest first): `int8`, `baseline`.' in page
    assert (
        '- `int8` — final (the bundle) — is **on** the Pareto front; no baseline is both' in page
    )
    assert '](img/bench_pareto.png)' in page
    assert '## How to read this' in page
    # replay was not given: the page says so instead of inventing figures
    assert '**Pending:** not measured yet (no JSON file in bench/)' in page
    assert '- replay: not measured yet' in page


def test_render_pending_reason_and_off_front_verdict():
    res = hand_made()
    res['overhead'] = {'section': 'overhead', 'status': 'pending', 'reason': 'bundle missing'}
    d = res['digits']
    d['pareto']['compressed'][0].update(
        {'on_front': False, 'dominated_by': ['tp_alone'], 'dominated_by_baselines': ['tp_alone']}
    )
    page = render_page(res)
    assert '**Pending:** bundle missing' in page
    assert (
        'is **not** on the Pareto front (dominated by `tp_alone`); dominated by the baseline(s) '
        '`tp_alone`' in page
    )


def test_render_gpu_figure_next_to_estimate():
    res = hand_made()
    res['gpu'] = [
        {
            '_file': 'gpu.json',
            'device': 'NVIDIA Test',
            'source': 'tools/benchmark.py --gpu',
            'date_utc': 'd',
            'figures': [
                {
                    'model': 'digits/baseline',
                    'backend': 'tensorrt',
                    'precision': 'fp16',
                    'latency_ms': M(0.0812, 0.08, 0.09),
                    'speedup_vs_torch_cuda_fp32': S(3.5, 3.0, 4.0),
                }
            ],
        }
    ]
    page = render_page(res)
    assert (
        '| digits baseline | fp16 | 23 | 0.0123 | 0.004567 | 0.0812 (0.08–0.09) ms, tensorrt on '
        'NVIDIA Test '
        '(`bench/gpu.json`, tools/benchmark.py --gpu) |'
    ) in _rows(page)
    assert '| digits/baseline | tensorrt | fp16 | 0.0812 (0.08–0.09) | 3.5× (3.0–4.0) |' in _rows(
        page
    )


def test_every_number_on_the_page_is_in_the_json():
    """
    Every decimal and every number of 3+ digits on the hand-made page occurs in the JSON.

    None is typed by hand.
    """
    import re

    res = hand_made()
    page = render_page(res)
    blob = json.dumps(res)
    nums = re.findall(r'(?<![\w.-])(\d+\.\d+|\d{3,})(?![\w.])', page)
    assert len(nums) > 40
    for num in nums:
        assert num in blob, num


def test_fmt():
    assert (
        fmt(None) == '–'
        and fmt(True) == 'yes'
        and fmt(3) == '3'
        and fmt(0.1 + 0.2) == '0.30000000000000004'
    )
    assert fmt_stat({'median': 1.5, 'min': 1.0, 'max': 2.0}) == '1.5 (1.0–2.0)'
    assert fmt_ms({'n': 3, 'median_ms': 1.5, 'min_ms': 1.0, 'max_ms': 2.0}) == '1.5 (1.0–2.0)'
    assert (
        fmt_ms({'n': 0, 'median_ms': None, 'min_ms': None, 'max_ms': None}) == '–'
        and fmt_ms(None) == '–'
    )


def test_bench_latency_figures_are_the_one_latency_summary():
    """A bench section writes a latency as runtime.latency_stats.latency_summary at 4 digits."""
    from vitedge_ros.bench.stats import latency_summary, SIG

    s = latency_summary([3.0, 1.0, 2.0, 10.123456], SIG)
    assert s == {
        'n': 4,
        'mean_ms': 4.031,
        'median_ms': 2.5,
        'p95_ms': 9.055,
        'min_ms': 1.0,
        'max_ms': 10.12,
    }
    assert fmt_ms(s) == '2.5 (1.0–10.12)'


# --- the committed page comes from the committed JSON
# -----------------------------------------------------------


@pytest.mark.needs('torch', 'onnx')
def test_render_only_round_trips_the_committed_page(tmp_path):
    bench = ROOT / 'bench'
    page = ROOT / 'docs' / 'BENCHMARKS.md'
    if not (bench / 'machine.json').is_file() or not page.is_file():
        pytest.skip('no committed bench/*.json and docs/BENCHMARKS.md yet')
    from vitedge_ros.bench import cli as tool  # what tools/benchmark.py calls

    out_docs = tmp_path / 'docs'
    assert (
        tool.main(['--render-only', '--out', str(bench), '--docs', str(out_docs), '--no-plots'])
        == 0
    )
    assert (out_docs / 'BENCHMARKS.md').read_text() == page.read_text()
    assert render_page(load_results(bench)) == page.read_text()


@pytest.mark.needs('torch', 'onnx', 'matplotlib')
def test_render_only_writes_the_pareto_plot(tmp_path):
    bench = tmp_path / 'bench'
    bench.mkdir()
    res = copy.deepcopy(hand_made())
    for k in ('machine', 'digits'):
        (bench / '{}.json'.format(k)).write_text(json.dumps(res[k]))
    from vitedge_ros.bench import cli as tool

    assert tool.main(['--render-only', '--out', str(bench), '--docs', str(tmp_path / 'docs')]) == 0
    png = tmp_path / 'docs' / 'img' / 'bench_pareto.png'
    assert png.is_file() and png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    text = (tmp_path / 'docs' / 'BENCHMARKS.md').read_text()
    assert '![Pareto plot: top-1 versus onnxruntime CPU latency](img/bench_pareto.png)' in text
    shutil.rmtree(tmp_path / 'docs')


# --- Torch-Pruning alone at the same MACs
# -------------------------------------------------------------------


@pytest.mark.needs('torch', 'timm', 'torch_pruning')
def test_tp_match_macs_tiny_vit(tmp_path):
    import torch
    from vitedge_ros.bench.digits import tp_match_macs
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = create_model(
        'deit_tiny_patch16_224',
        num_classes=10,
        img_size=16,
        pretrained=False,
        patch_size=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
    ).eval()
    from vitedge_ros.bench.digits import _onnx_macs

    full = _onnx_macs(model, (1, 3, 16, 16), tmp_path / 'full.onnx')
    pruned, info = tp_match_macs(model, full // 2, (1, 3, 16, 16), tmp_path, iters=6)
    assert info['target_macs'] == full // 2
    assert abs(info['macs'] - full // 2) / (full // 2) < 0.15 and info['macs_rel_error'] < 0.15
    assert pruned(torch.zeros(1, 3, 16, 16)).shape == (1, 10)
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in model.parameters())


@pytest.mark.needs('torch', 'timm', 'onnx')
def test_targets_section_times_both_graphs_of_one_checkpoint(tmp_path):
    """
    Section 6: the trt8.2 graph (opset 13, no LayerNormalization) and the opset-17 one.

    Same outputs.
    """
    from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
    from vitedge_ros.bench.targets import run_targets
    from vitedge_ros.checkpoint import save_checkpoint

    spec = dict(TINY_DETECTOR_INPUT)
    ckpt = save_checkpoint(
        tmp_path / 'det.pt',
        make_tiny_detector(),
        name='tiny_det',
        task='detect',
        labels=DETECTOR_LABELS,
        input_spec=spec,
        decoder={'type': 'vit_center', 'score_threshold': 0.3, 'max_detections': 20},
        arch='vit_center',
    )
    data = run_targets(
        tmp_path, tmp_path / 'work', [('tiny detector', ckpt.name)], rounds=2, block=2, warmup=1
    )
    (row,) = data['rows']
    assert (
        row['graphs']['trt8.2']['opset'] == 13 and row['graphs']['trt8.2']['layernorm_nodes'] == 0
    )
    assert (
        row['graphs']['trt8.6']['opset'] == 17 and row['graphs']['trt8.6']['layernorm_nodes'] > 0
    )
    assert row['max_abs_output_diff'] <= 1e-4
    assert row['ms']['trt8.2']['n'] == 2 and row['ratio_trt82_to_trt86']['n'] == 2
    page = render_page({'targets': data})
    assert '## 6. Export targets' in page and fmt_ms(row['ms']['trt8.2']) in page


# --- section 3: the frame path before and after issue 16, same run
# ------------------------------------------------


def _two_path_overhead():
    def cell(ms, r):
        return {'ms': M(ms, ms * 0.9, ms * 1.1), 'ratio_to_inference': S(r, r * 0.9, r * 1.1)}

    return {
        'section': 'overhead',
        'bundle': 'aerial_vit_tiny',
        'network_input': [448, 336],
        'frame_size': [640, 480],
        'frames': 30,
        'repeats': 5,
        'jpeg_quality': 90,
        'jpeg_bytes_median': 47589,
        'backend': 'onnxruntime',
        'onnxruntime_threads': 'default (all cores)',
        'paths': {
            'before': {
                'bundle': 'aerial_vit_tiny',
                'pixels': 'normalized',
                'interpolation': 'area',
                'detections_per_frame_median': 8.0,
            },
            'after': {
                'bundle': 'aerial_vit_tiny-raw',
                'pixels': 'raw',
                'pixel_order': 'bgr',
                'interpolation': 'linear',
                'detections_per_frame_median': 8.0,
            },
        },
        'rows': [
            {
                'step': 'preprocess',
                'label': 'preprocess',
                'before': cell(4.176, 0.3413),
                'after': cell(0.4321, 0.0345),
            }
        ],
        'totals': [
            {
                'name': 'raw_transport',
                'steps': ['preprocess'],
                'target_after': 0.1,
                'before': cell(4.783, 0.3893),
                'after': cell(1.087, 0.0871),
                'after_meets_target': True,
            },
            {
                'name': 'compressed_transport',
                'steps': ['preprocess'],
                'target_after': 0.15,
                'before': cell(5.664, 0.457),
                'after': cell(2.012, 0.1612),
                'after_meets_target': False,
            },
        ],
    }


def test_render_overhead_before_and_after_side_by_side():
    from vitedge_ros.bench.render import _overhead

    lines = _overhead(_two_path_overhead())
    rows = [line for line in lines if line.startswith('| ')]
    assert rows[0] == (
        '| step | before: ms per frame | before: ratio to inference | after: ms per frame | '
        'after: ratio to inference |'
    )
    assert any(r.startswith('| preprocess | 4.176 (') and '| 0.4321 (' in r for r in rows)
    assert any(
        'overhead total, raw transport' in r and '0.0871×' in r and 'meets target ≤ 0.1×' in r
        for r in rows
    )
    assert any(
        'overhead total, compressed transport' in r and 'misses target ≤ 0.15×' in r for r in rows
    )
    assert '`aerial_vit_tiny-raw`' in lines[0] and 'resize linear' in lines[0]


def test_overhead_runs_both_paths_on_a_tiny_bundle(tiny_detector_bundle, tmp_path):
    from vitedge_ros.bench.overhead import run_overhead, STEPS, TOTALS
    from vitedge_ros.runtime import load_bundle

    o = run_overhead(
        tiny_detector_bundle, work=tmp_path, frames=3, repeats=2, width=160, height=120
    )
    assert (
        o['paths']['before']['pixels'] == 'normalized' and o['paths']['after']['pixels'] == 'raw'
    )
    assert load_bundle(tmp_path / 'tiny_detector-raw').input.raw  # the raw twin the after path ran
    assert [r['step'] for r in o['rows']] == list(STEPS)
    for r in o['rows']:
        for path in ('before', 'after'):
            assert r[path]['ms']['n'] == 2 and r[path]['ms']['median_ms'] >= 0
    assert [t['name'] for t in o['totals']] == [name for name, _ in TOTALS]
    inference = {
        p: next(r for r in o['rows'] if r['step'] == 'inference')[p]['ratio_to_inference'][
            'median'
        ]
        for p in ('before', 'after')
    }
    assert inference == {'before': 1.0, 'after': 1.0}


def test_compare_inference_times_every_bundle_against_the_reference(
    tiny_detector_bundle, tmp_path
):
    from vitedge_ros.bench.bundles import compare_inference

    other = tmp_path / 'copy'
    shutil.copytree(tiny_detector_bundle, other)
    r = compare_inference(
        {'full': tiny_detector_bundle, 'copy': other}, 'full', rounds=3, block=2, warmup=1
    )
    assert list(r['ms']) == ['full', 'copy'] and list(r['speedup']) == ['copy']
    assert r['ms']['full']['n'] == 3 and r['speedup']['copy']['n'] == 3
    assert r['input']['full'] == [1, 3, 64, 96]
    assert r['speedup']['copy']['min'] > 0
    with pytest.raises(KeyError, match='nope'):
        compare_inference({'full': tiny_detector_bundle}, 'nope')
    with pytest.raises(FileNotFoundError, match='no model.onnx'):
        compare_inference({'full': tmp_path}, 'full')


def test_render_replay_puts_the_student_beside_the_full_detector():
    from vitedge_ros.bench.render import _replay

    def one(name, fps, person):
        return {
            'bundle': name,
            'backend': 'onnxruntime',
            'frames': 60,
            'frame_size': [640, 480],
            'repeats': 3,
            'tool': 'tools/eval_bag.py',
            'figures': {'fps': S(fps, fps - 1, fps + 1), 'peak_rss_mb': S(300.0, 299.0, 301.0)},
            'frames_processed': [60, 60, 60],
            'frames_dropped': [0, 0, 0],
            'torch_imported': False,
            'map50': 0.5,
            'map50_person': person,
        }

    r = one('aerial_vit_tiny', 50.0, 0.81)
    r['student'] = one('aerial_vit_tiny_student', 90.0, 0.79)
    r['inference'] = {
        'threads': 1,
        'rounds': 7,
        'block': 20,
        'input': {
            'aerial_vit_tiny': [1, 3, 336, 448],
            'aerial_vit_tiny_student': [1, 3, 336, 448],
        },
        'ms': {'aerial_vit_tiny': M(12.0, 11.0, 13.0), 'aerial_vit_tiny_student': M(5.0, 4.5, 6)},
        'speedup': {'aerial_vit_tiny_student': S(2.4, 2.2, 2.6)},
    }
    lines = _replay(r)
    rows = [line for line in lines if line.startswith('| ')]
    assert rows[0] == (
        '| figure | `aerial_vit_tiny` median (min–max) | `aerial_vit_tiny_student` median '
        '(min–max) |'
    )
    assert '| throughput (frames/s) | 50.0 (49.0–51.0) | 90.0 (89.0–91.0) |' in rows
    assert '| mAP@0.5 (all classes / person), SYNTHETIC flight | 0.5 / 0.81 | 0.5 / 0.79 |' in rows
    assert '| `aerial_vit_tiny_student` | 1×3×336×448 | 5.0 (4.5–6) | 2.4× (2.2–2.6) |' in rows
    assert '| `aerial_vit_tiny` | 1×3×336×448 | 12.0 (11.0–13.0) | 1 (reference) |' in rows


def test_student_problem_refuses_what_cannot_be_the_second_detector(
    tiny_classifier_bundle, tmp_path
):
    from vitedge_ros.bench.run import student_problem

    full = ROOT / 'models' / 'aerial_vit_tiny'
    student = ROOT / 'models' / 'aerial_vit_tiny_student'
    assert student_problem(student, full) is None
    assert student_problem(tmp_path / 'absent', full) is None  # left out, no problem
    assert student_problem(full, full) == 'the same bundle as --bundle'
    assert student_problem(Path(tiny_classifier_bundle), full).startswith(
        'a classify bundle with labels'
    )
    assert 'not a detector with' in student_problem(ROOT / 'models' / 'aerial_seg_tiny', full)

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
One latency summary (vitedge_ros/runtime/latency_stats.py) for the compression report.

The benchmark and the replay.

Issue 15 item 6: six latency-statistics helpers with four sets of key names became one function
with one key vocabulary: ``n``, ``mean_ms``, ``median_ms``, ``p95_ms``, ``min_ms``, ``max_ms``.
"""

import math
from pathlib import Path
import statistics

import numpy as np
import pytest
from vitedge_ros.runtime.latency_stats import (
    interleaved,
    KEYS,
    latency_summary,
    percentile,
    round_sig,
)

ROOT = Path(__file__).resolve().parents[1]


def test_summary_of_known_values():
    # 1..10 ms: mean 5.5, median 5.5, p95 by linear interpolation at rank 0.95 * 9 = 8.55 -> 9 +
    # 0.55 = 9.55
    s = latency_summary(range(1, 11))
    assert list(s) == list(KEYS)
    assert s == {
        'n': 10,
        'mean_ms': 5.5,
        'median_ms': 5.5,
        'p95_ms': pytest.approx(9.55),
        'min_ms': 1.0,
        'max_ms': 10.0,
    }
    # the same rule as Python's statistics.quantiles(method='inclusive') (type 7, Hyndman & Fan
    # 1996)
    v = [0.3, 7.1, 2.2, 2.9, 15.0, 4.4, 1.0]
    assert latency_summary(v)['p95_ms'] == pytest.approx(
        statistics.quantiles(v, n=20, method='inclusive')[-1]
    )
    assert percentile(v, 50) == pytest.approx(statistics.median(v))


def test_one_value_empty_and_generators():
    assert latency_summary([4.25]) == {
        'n': 1,
        'mean_ms': 4.25,
        'median_ms': 4.25,
        'p95_ms': 4.25,
        'min_ms': 4.25,
        'max_ms': 4.25,
    }
    empty = latency_summary([])
    assert empty['n'] == 0 and all(empty[k] is None for k in KEYS[1:])  # never a made-up 0 ms
    assert latency_summary(x / 2 for x in (2, 4))['median_ms'] == 1.5
    assert percentile([], 95) is None


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError, match='non-finite'):
        latency_summary([1.0, float('nan')])
    with pytest.raises(ValueError, match='non-finite'):
        latency_summary([float('inf')])


def test_significant_digits():
    s = latency_summary([0.123456, 0.2, 0.3], sig=4)
    assert s == {
        'n': 3,
        'mean_ms': 0.2078,
        'median_ms': 0.2,
        'p95_ms': 0.29,
        'min_ms': 0.1235,
        'max_ms': 0.3,
    }
    assert (
        round_sig(1234567.0) == 1235000.0
        and round_sig(float('nan')) is None
        and round_sig(0.0) == 0.0
    )
    assert math.isclose(round_sig(0.000123456), 0.0001235)


def test_replay_demo_and_image_metrics_share_the_vocabulary():
    """
    The modules that wrote their own latency vocabulary are gone.

    eval/latency.py wrote count/p50, compress/measure.py median/p95/runs.
    """
    assert not (ROOT / 'vitedge_ros' / 'eval' / 'latency.py').exists()
    users = [
        'vitedge_ros/demo.py',
        'vitedge_ros/eval/images.py',
        'vitedge_ros/replay/metrics.py',
        'vitedge_ros/eval/segmentation.py',
        'vitedge_ros/compress/measure.py',
        'vitedge_ros/bench/stats.py',
        'vitedge_ros/runtime/trt_builder.py',
    ]
    for path in users:
        assert 'latency_summary' in (ROOT / path).read_text(encoding='utf-8'), path
    # the only other percentiles: metres and degrees of localisation, pixels and ratios of box
    # errors (not latencies)
    for path in sorted((ROOT / 'vitedge_ros').rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        if 'np.percentile(' in path.read_text(encoding='utf-8'):
            assert rel in (
                'vitedge_ros/runtime/latency_stats.py',
                'vitedge_ros/eval/localisation.py',
                'vitedge_ros/eval/box_errors.py',
            ), rel


@pytest.mark.needs('onnx')
def test_compression_report_measures_with_the_same_summary(tmp_path):
    import onnx
    from onnx import helper, TensorProto
    from vitedge_ros.compress.measure import measure_latencies

    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'])],
        'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    onnx.save(model, str(tmp_path / 'relu.onnx'))
    out = measure_latencies({'relu': tmp_path / 'relu.onnx'}, runs=6, warmup=1, block=3)
    s = out['relu']
    assert list(s) == list(KEYS) and s['n'] == 6
    assert 0 < s['min_ms'] <= s['median_ms'] <= s['p95_ms'] <= s['max_ms']


def test_percentile_matches_numpy():
    rng = np.random.default_rng(0)
    v = rng.exponential(3.0, size=101)
    for q in (0, 50, 90, 95, 99, 100):
        assert percentile(v, q) == pytest.approx(float(np.percentile(v, q)))


def test_interleaved_per_round_or_every_run():
    """
    The one timing loop gives per-round medians or every counted run.

    Per-round medians for benchmark ratios, every run for the compression report.
    """
    calls = []
    fns = {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}
    runs = interleaved(fns, rounds=3, block=4, warmup=2, per_round=False)
    assert {k: len(v) for k, v in runs.items()} == {'a': 12, 'b': 12} and min(runs['a']) >= 0
    assert calls.count('a') == 2 + 3 * 5  # warm-up, then 3 rounds of (1 dropped + 4 counted)
    medians = interleaved(fns, rounds=3, block=4, warmup=0)
    assert {k: len(v) for k, v in medians.items()} == {'a': 3, 'b': 3}

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
The one latency summary of the project.

The same keys in the compression report, the benchmark and the replay.

``latency_summary(values_ms)`` -> ``{'n', 'mean_ms', 'median_ms', 'p95_ms', 'min_ms', 'max_ms'}``
(:data:`KEYS`); ``interleaved(fns, ...)`` times several callables in one process, interleaved in
rounds (the benchmark and the compression report time the same way). Percentiles are numpy's
default ("linear", type 7 of Hyndman & Fan 1996, the same as ``np.percentile`` and
``statistics.quantiles(method='inclusive')``). No measurements give ``n: 0`` and ``None`` for every
figure (a figure without measurements is never 0 ms). numpy only and Python 3.6 syntax: the drone's
node, the replay and the workstation tools import it alike.
"""

import math
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

__all__ = ['KEYS', 'interleaved', 'latency_summary', 'percentile', 'round_sig']

#: The key vocabulary of a latency summary, in the order it is written.
KEYS = ('n', 'mean_ms', 'median_ms', 'p95_ms', 'min_ms', 'max_ms')


def round_sig(x: Optional[float], sig: int = 4) -> Optional[float]:
    """``x`` rounded to ``sig`` significant digits; None, NaN and inf give None."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    if x == 0.0:
        return 0.0
    digits = sig - int(math.floor(math.log10(abs(x)))) - 1
    return float(round(x, digits))


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """
    Return the ``q``-th percentile of ``values``, q in 0..100, by numpy's linear interpolation.

    None when ``values`` is empty.
    """
    v = np.asarray(values, dtype=np.float64)
    return float(np.percentile(v, q)) if v.size else None


def latency_summary(values_ms: Iterable[float], sig: Optional[int] = None) -> Dict[str, Any]:
    """
    Summary of latencies in milliseconds.

    Count, mean, median, 95th percentile, min and max (:data:`KEYS`).

    ``sig`` rounds every figure to that many significant digits (the benchmark JSON keeps 4); None
    keeps full precision. NaN values are an error (ValueError): a latency that was not measured
    must not be averaged in.
    """
    v = np.asarray([float(x) for x in values_ms], dtype=np.float64)
    if v.size and not np.all(np.isfinite(v)):
        raise ValueError(
            'latency_summary: {} non-finite value(s)'.format(int(np.sum(~np.isfinite(v))))
        )
    if v.size == 0:
        return {
            'n': 0,
            'mean_ms': None,
            'median_ms': None,
            'p95_ms': None,
            'min_ms': None,
            'max_ms': None,
        }
    figures = (
        float(v.mean()),
        float(np.median(v)),
        float(np.percentile(v, 95)),
        float(v.min()),
        float(v.max()),
    )
    if sig is not None:
        figures = tuple(round_sig(f, sig) for f in figures)
    out = {'n': int(v.size)}  # type: Dict[str, Any]
    out.update(zip(KEYS[1:], figures))
    return out


def interleaved(
    fns: Dict[str, Callable[[], Any]],
    rounds: int = 7,
    block: int = 20,
    warmup: int = 5,
    on_round: Optional[Callable[[int], None]] = None,
    per_round: bool = True,
) -> Dict[str, List[float]]:
    """
    Time several callables in this process, interleaved; returns per-round medians in ms for each.

    With ``per_round=False`` it returns every counted run instead (``rounds * block`` values per
    callable): what the compression report summarises with :func:`latency_summary`; the benchmark
    keeps the per-round medians, whose pairs of the same round give robust speed-up ratios.

    Every callable runs ``warmup`` times first. Then, in each of ``rounds`` rounds, each callable
    (in an order rotated by one per round) runs ``block + 1`` times back to back; the first run of
    the block (which pays for caches the other models evicted) is dropped and the median of the
    others is that round's value. Interleaving spreads changes of machine load (other processes)
    over all models alike, so the ratios of values from the same round are robust where absolute
    values are noisy.
    """
    names = list(fns)
    for name in names:
        for _ in range(max(0, int(warmup))):
            fns[name]()
    out = {k: [] for k in names}  # type: Dict[str, List[float]]
    for r in range(max(1, int(rounds))):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            fn = fns[name]
            times = []
            for j in range(max(1, int(block)) + 1):
                t0 = time.perf_counter()
                fn()
                dt = (time.perf_counter() - t0) * 1e3
                if j > 0:
                    times.append(dt)
            if per_round:
                out[name].append(float(np.median(times)))
            else:
                out[name].extend(times)
        if on_round is not None:
            on_round(r)
    return out

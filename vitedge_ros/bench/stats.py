"""Repeat statistics of dimensionless figures (median with min–max) and interleaved same-process timing.

Latencies in ms are summarised by the project's one latency summary, ``runtime.latency_stats.latency_summary``
(keys ``n``, ``mean_ms``, ``median_ms``, ``p95_ms``, ``min_ms``, ``max_ms``; 4 significant digits here, ``SIG``);
``stat`` is for ratios, frames per second and megabytes.
"""
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from ..runtime.latency_stats import latency_summary, round_sig

__all__ = ['SIG', 'interleaved', 'latency_summary', 'ratio_stat', 'round_sig', 'stat']

SIG = 4   # significant digits kept in the JSON (the page prints the JSON values as they are)


def stat(values: Sequence[float], sig: int = SIG) -> Dict[str, Any]:
    """Median, min and max of repeated measurements of a dimensionless figure, and how many there were.

    Raises ValueError on an empty sequence (a figure without measurements must not be rendered).
    """
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.size == 0:
        raise ValueError('stat() of no values')
    return {'median': round_sig(float(np.median(v)), sig), 'min': round_sig(float(v.min()), sig),
            'max': round_sig(float(v.max()), sig), 'n': int(v.size)}


def ratio_stat(num: Sequence[float], den: Sequence[float], sig: int = SIG) -> Dict[str, Any]:
    """Statistic of the per-repeat ratios ``num[i] / den[i]`` (paired repeats of the same round)."""
    if len(num) != len(den):
        raise ValueError('ratio_stat: {} numerators for {} denominators'.format(len(num), len(den)))
    return stat([float(a) / float(b) for a, b in zip(num, den)], sig)


def interleaved(fns: Dict[str, Callable[[], Any]], rounds: int = 7, block: int = 20, warmup: int = 5,
                on_round: Optional[Callable[[int], None]] = None) -> Dict[str, List[float]]:
    """Time several callables in this process, interleaved; returns per-round medians in ms for each.

    Every callable runs ``warmup`` times first. Then, in each of ``rounds`` rounds, each callable (in an order
    rotated by one per round) runs ``block + 1`` times back to back; the first run of the block (which pays
    for caches the other models evicted) is dropped and the median of the others is that round's value.
    Interleaving spreads changes of machine load (other processes) over all models alike, so the ratios
    of values from the same round are robust where absolute values are noisy.
    """
    names = list(fns)
    for name in names:
        for _ in range(max(0, int(warmup))):
            fns[name]()
    out: Dict[str, List[float]] = {k: [] for k in names}
    for r in range(max(1, int(rounds))):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn = fns[name]
            times = []
            for j in range(max(1, int(block)) + 1):
                t0 = time.perf_counter()
                fn()
                dt = (time.perf_counter() - t0) * 1e3
                if j > 0:
                    times.append(dt)
            out[name].append(float(np.median(times)))
        if on_round is not None:
            on_round(r)
    return out

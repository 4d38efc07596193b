"""The one latency summary of the project: the same keys in the compression report, the benchmark and the replay.

``latency_summary(values_ms)`` -> ``{'n', 'mean_ms', 'median_ms', 'p95_ms', 'min_ms', 'max_ms'}`` (:data:`KEYS`).
Percentiles are numpy's default ("linear", type 7 of Hyndman & Fan 1996, the same as ``np.percentile`` and
``statistics.quantiles(method='inclusive')``). No measurements give ``n: 0`` and ``None`` for every figure (a
figure without measurements is never 0 ms). numpy only and Python 3.6 syntax: the drone's node, the replay and
the workstation tools import it alike.
"""
import math
from typing import Any, Dict, Iterable, Optional, Sequence

import numpy as np

__all__ = ['KEYS', 'latency_summary', 'percentile', 'round_sig']

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
    """Return the ``q``-th percentile of ``values``, q in 0..100, by numpy's linear interpolation; None if empty."""
    v = np.asarray(values, dtype=np.float64)
    return float(np.percentile(v, q)) if v.size else None


def latency_summary(values_ms: Iterable[float], sig: Optional[int] = None) -> Dict[str, Any]:
    """Summary of latencies in milliseconds: count, mean, median, 95th percentile, min and max (:data:`KEYS`).

    ``sig`` rounds every figure to that many significant digits (the benchmark JSON keeps 4); None keeps full
    precision. NaN values are an error (ValueError): a latency that was not measured must not be averaged in.
    """
    v = np.asarray([float(x) for x in values_ms], dtype=np.float64)
    if v.size and not np.all(np.isfinite(v)):
        raise ValueError('latency_summary: {} non-finite value(s)'.format(int(np.sum(~np.isfinite(v)))))
    if v.size == 0:
        return {'n': 0, 'mean_ms': None, 'median_ms': None, 'p95_ms': None, 'min_ms': None, 'max_ms': None}
    figures = (float(v.mean()), float(np.median(v)), float(np.percentile(v, 95)), float(v.min()), float(v.max()))
    if sig is not None:
        figures = tuple(round_sig(f, sig) for f in figures)
    out = {'n': int(v.size)}  # type: Dict[str, Any]
    out.update(zip(KEYS[1:], figures))
    return out

"""Latency statistics (ms): mean, p50, p95, max."""
from typing import Dict, Iterable

import numpy as np


def summarize(values_ms: Iterable[float]) -> Dict[str, float]:
    """Mean, median, 95th percentile, min and max of a sequence of latencies in ms."""
    v = np.asarray(list(values_ms), dtype=np.float64)
    if v.size == 0:
        return {'count': 0, 'mean': 0.0, 'p50': 0.0, 'p95': 0.0, 'min': 0.0, 'max': 0.0}
    return {'count': int(v.size), 'mean': float(v.mean()), 'p50': float(np.percentile(v, 50)),
            'p95': float(np.percentile(v, 95)), 'min': float(v.min()), 'max': float(v.max())}

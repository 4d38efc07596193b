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
Repeat statistics of dimensionless figures (median with min–max).

Timing and latency summaries re-exported.

Latencies in ms are summarised by the project's one latency summary,
``runtime.latency_stats.latency_summary`` (keys ``n``, ``mean_ms``, ``median_ms``, ``p95_ms``,
``min_ms``, ``max_ms``; 4 significant digits here, ``SIG``); ``stat`` is for ratios, frames per
second and megabytes.
"""

from typing import Any, Dict, Sequence

import numpy as np

from ..runtime.latency_stats import interleaved, latency_summary, round_sig

__all__ = ['SIG', 'interleaved', 'latency_summary', 'ratio_stat', 'round_sig', 'stat']

SIG = 4  # significant digits kept in the JSON (the page prints the JSON values as they are)


def stat(values: Sequence[float], sig: int = SIG) -> Dict[str, Any]:
    """
    Return the median, min, max and count of repeated measurements of a dimensionless figure.

    Raises ValueError on an empty sequence (a figure without measurements must not be rendered).
    """
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.size == 0:
        raise ValueError('stat() of no values')
    return {
        'median': round_sig(float(np.median(v)), sig),
        'min': round_sig(float(v.min()), sig),
        'max': round_sig(float(v.max()), sig),
        'n': int(v.size),
    }


def ratio_stat(num: Sequence[float], den: Sequence[float], sig: int = SIG) -> Dict[str, Any]:
    """
    Return the statistic of the per-repeat ratios ``num[i] / den[i]``.

    The repeats are paired: ``num[i]`` and ``den[i]`` come from the same round.
    """
    if len(num) != len(den):
        raise ValueError(
            'ratio_stat: {} numerators for {} denominators'.format(len(num), len(den))
        )
    return stat([float(a) / float(b) for a, b in zip(num, den)], sig)

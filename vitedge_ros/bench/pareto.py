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

"""Pareto front of (latency, accuracy) points: lower latency and higher accuracy are better."""

from typing import Any, Dict, List, Sequence


def dominates(
    a: Dict[str, Any], b: Dict[str, Any], x: str = 'latency_ms', y: str = 'top1'
) -> bool:
    """
    Return True when point ``a`` dominates point ``b``.

    ``a`` dominates when it is at least as fast (``x``) and as accurate (``y``) as ``b`` and
    strictly better in one of the two.
    """
    ax, ay, bx, by = float(a[x]), float(a[y]), float(b[x]), float(b[y])
    return ax <= bx and ay >= by and (ax < bx or ay > by)


def dominated_by(
    points: Sequence[Dict[str, Any]],
    name: str,
    x: str = 'latency_ms',
    y: str = 'top1',
    among: Sequence[str] = (),
) -> List[str]:
    """
    Return the names of the points that dominate the point called ``name``.

    Only the points named in ``among`` are considered when it is given, otherwise all.
    """
    target = next((p for p in points if p['name'] == name), None)
    if target is None:
        raise KeyError('no point named {!r}'.format(name))
    return [
        p['name']
        for p in points
        if p['name'] != name and (not among or p['name'] in among) and dominates(p, target, x, y)
    ]


def pareto_front(
    points: Sequence[Dict[str, Any]], x: str = 'latency_ms', y: str = 'top1'
) -> List[str]:
    """Names of the non-dominated points, fastest first (equal points are all kept)."""
    front = [p for p in points if not any(dominates(q, p, x, y) for q in points if q is not p)]
    return [p['name'] for p in sorted(front, key=lambda p: (float(p[x]), -float(p[y])))]

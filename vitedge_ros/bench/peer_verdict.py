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
Where the shipped ViT stands against each CNN peer of bench/peer.json, criterion by criterion.

The criteria are issue 18's acceptance: with the same training image passes, the shipped ViT
detector is at least as good as the peer on validation person AP@0.5, on validation
mAP@0.5:0.95 and on false persons per real no-person frame, at lower onnxruntime CPU latency (the
median of the per-round latency ratios, both graphs timed interleaved in one process). Each
comparison is computed from the JSON alone, so the page and the model card say the same thing.
"""

from typing import Any, Callable, Dict, List, NamedTuple, Optional

#: The shipped ViT's key in bench/peer.json (``vitedge_ros.bench.peer.run_peer``).
VIT_KEY = 'aerial_vit_tiny'


class Criterion(NamedTuple):
    """
    One acceptance criterion: its name, how to read it from a model row, which way is better.

    ``by_ratio``: decided by the median per-round latency ratio (peer / ViT) instead of the two
    values.
    """

    name: str
    value: Callable[[Dict[str, Any]], Optional[float]]
    higher_is_better: bool
    unit: str
    by_ratio: bool = False


def _person_ap50(m: Dict[str, Any]) -> Optional[float]:
    return ((m.get('per_class') or {}).get('person') or {}).get('ap50')


def _false_persons(m: Dict[str, Any]) -> Optional[float]:
    return (m.get('false_persons') or {}).get('per_frame')


def _latency(m: Dict[str, Any]) -> Optional[float]:
    return (m.get('latency_ms') or {}).get('median_ms')


CRITERIA = (
    Criterion('val person AP@0.5', _person_ap50, True, ''),
    Criterion('val mAP@0.5:0.95', lambda m: m.get('map50_95'), True, ''),
    Criterion('false persons per real no-person frame', _false_persons, False, ''),
    Criterion('onnxruntime CPU latency (median, 1 thread)', _latency, False, ' ms', by_ratio=True),
)


class Comparison(NamedTuple):
    """
    The ViT against one peer on one criterion.

    ``gap``: how far the ViT is behind (0 when it is not; rounded to 4 decimals).
    """

    criterion: str
    peer: str
    vit_value: Optional[float]
    peer_value: Optional[float]
    vit_at_least_as_good: Optional[bool]
    gap: Optional[float]
    unit: str


def family(row: Dict[str, Any]) -> str:
    """
    Return ``vit`` or ``peer`` for a model row of bench/peer.json.

    Its ``family``; rows written before that key existed: a peer is the row trained for a number
    of epochs by the harness (``training.epochs``).
    """
    if row.get('family') in ('vit', 'peer'):
        return row['family']
    return 'peer' if 'epochs' in (row.get('training') or {}) else 'vit'


def _ratio_says_vit_faster(peer_row: Dict[str, Any]) -> Optional[bool]:
    r = (peer_row.get('latency_ratio_to_vit') or {}).get('median')
    return None if r is None else r > 1.0


def compare(data: Dict[str, Any]) -> List[Comparison]:
    """
    Return the ViT's comparison with every peer on every criterion of :data:`CRITERIA`.

    ``data`` is bench/peer.json; peers are its rows of :func:`family` ``peer``. The latency
    criterion is decided by the median per-round ratio
    (peer / ViT > 1: the ViT is faster), the figure the interleaved timing was made for; the
    others by the values themselves (ties count for the ViT). A value missing on either side gives
    ``None`` (undecided). Raises ValueError when the JSON holds no shipped ViT row.
    """
    rows = {m['key']: m for m in data.get('models', [])}
    vit = rows.get(VIT_KEY)
    if vit is None:
        raise ValueError('bench/peer.json: no {} row to compare'.format(VIT_KEY))
    peers = [m for m in data['models'] if family(m) == 'peer']
    out = []
    for p in peers:
        for c in CRITERIA:
            a, b = c.value(vit), c.value(p)
            ok = None  # type: Optional[bool]
            gap = None  # type: Optional[float]
            if a is not None and b is not None:
                if c.by_ratio:
                    ok = _ratio_says_vit_faster(p)
                else:
                    ok = a >= b if c.higher_is_better else a <= b
                gap = 0.0 if ok else round(abs(float(a) - float(b)), 4)
            out.append(Comparison(c.name, p['label'], a, b, ok, gap, c.unit))
    return out

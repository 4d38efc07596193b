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
Roofline estimates for Jetson Nano and Orin Nano, beside real GPU figures.

The estimate (``vitedge_ros.compress.measure``) is a lower bound computed from the ONNX graph
(MACs, weights and MatMul/Conv activations) and assumed device peaks; it is labelled an estimate
everywhere. Real GPU figures come only from a benchmark JSON written on a GPU machine
(``bench/gpu*.json``), in this schema::

    {"section": "gpu", "device": "<GPU name as the driver reports it>",
     "source": "<command that made it>",
     "date_utc": "...", "versions": {"torch": ..., "onnxruntime": ..., "tensorrt": ...},
     "figures": [{"model": "<key, e.g. digits/compressed_fp32>",
                  "backend": "tensorrt|onnxruntime-cuda|torch-cuda",
                  "precision": "fp32|fp16|int8",
                  "latency_ms": {"n": .., "mean_ms": .., "median_ms": .., "p95_ms": ..,
                                 "min_ms": .., "max_ms": ..},
                  "speedup_vs_torch_cuda_fp32": {"median": .., "min": .., "max": .., "n": ..}}]}

``tools/benchmark.py --gpu`` writes one (all figures of one model from the same process,
interleaved); any other tool may add a file of that shape, and ``--render-only`` puts it on the
page next to the estimates.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

from ..compress.measure import DEVICES, estimate_assumptions, graph_stats, roofline_estimates

NO_GPU = 'not measured (no GPU lent to this task)'


def estimate_rows(
    key: str, label: str, onnx_path: Union[str, Path], precisions: Sequence[str], note: str = ''
) -> List[Dict[str, Any]]:
    """One row per precision: MACs and the lower-bound latency on each device."""
    g = graph_stats(onnx_path)
    est = roofline_estimates(
        g['macs'], g['weight_elements'], g['activation_elements'], list(precisions)
    )
    rows = []
    for prec in precisions:
        rows.append(
            {
                'model': key,
                'label': label,
                'precision': prec,
                'macs': int(g['macs']),
                'weight_elements': int(g['weight_elements']),
                'note': note,
                'estimates_ms': {dev: est['{}-{}'.format(dev, prec)] for dev in DEVICES},
            }
        )
    return rows


def run_roofline(models: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """
    ``models``: dicts with key, label, onnx, precisions (and an optional note).

    Returns roofline.json.
    """
    rows: List[Dict[str, Any]] = []
    for m in models:
        rows += estimate_rows(m['key'], m['label'], m['onnx'], m['precisions'], m.get('note', ''))
    return {
        'section': 'roofline',
        'source': 'vitedge_ros.compress.measure.roofline_estimates',
        'assumptions': estimate_assumptions(),
        'devices': list(DEVICES),
        'rows': rows,
    }


def load_gpu_results(bench_dir: Union[str, Path]) -> List[Dict[str, Any]]:
    """Every ``gpu*.json`` under ``bench_dir`` (sorted by name)."""
    out = []
    for p in sorted(Path(bench_dir).glob('gpu*.json')):
        data = json.loads(p.read_text())
        data['_file'] = p.name
        out.append(data)
    return out

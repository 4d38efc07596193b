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
Onnxruntime CPU inference of detector bundles, timed interleaved in one process.

What the student bundle's speed-up over the full detector is measured by (issue 16's
">= 1.8x faster in the same run"): each bundle's ``model.onnx`` on onnxruntime CPU (1 thread,
batch 1, no spinning, ``compress.measure.ort_session``), fed one fixed frame-shaped input of
its own input shape and dtype, timed by ``runtime.latency_stats.interleaved`` so that load
changes fall on every bundle alike; the speed-up is the statistic of per-round ratios.
"""

from pathlib import Path
from typing import Any, Dict, Mapping, Union

import numpy as np

from .stats import interleaved, latency_summary, ratio_stat, SIG


def _feed(session: Any) -> Dict[str, np.ndarray]:
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    rng = np.random.default_rng(0)
    if 'uint8' in inp.type:
        x = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        # pixels as a raw-pixel bundle takes them (0..255); a normalised bundle sees the same
        # range, which only changes values, not the amount of work
        x = rng.uniform(0.0, 255.0, size=shape).astype(
            np.float16 if 'float16' in inp.type else np.float32
        )
    return {inp.name: x}


def compare_inference(
    bundles: Mapping[str, Union[str, Path]],
    reference: str,
    *,
    rounds: int = 9,
    block: int = 20,
    warmup: int = 5,
    threads: int = 1,
) -> Dict[str, Any]:
    """
    Time every bundle's ``model.onnx`` interleaved; return the figures for the page.

    ``bundles``: label -> bundle directory; ``reference``: the label the speed-ups are relative
    to. Returns ``{'threads', 'rounds', 'block', 'input': {label: shape}, 'ms': {label: latency
    summary of per-round medians (ms)}, 'speedup': {label: stat of reference_ms / label_ms per
    round}}``. Raises KeyError when ``reference`` is not one of ``bundles`` and FileNotFoundError
    when a bundle has no model.onnx.
    """
    from ..compress.measure import ort_session

    if reference not in bundles:
        raise KeyError('reference bundle {!r} is not among {}'.format(reference, list(bundles)))
    sessions, feeds = {}, {}
    for label, d in bundles.items():
        path = Path(d) / 'model.onnx'
        if not path.is_file():
            raise FileNotFoundError('{}: no model.onnx'.format(d))
        sessions[label] = ort_session(path, threads)
        feeds[label] = _feed(sessions[label])
    fns = {
        label: (lambda s=sessions[label], f=feeds[label]: s.run(None, f)) for label in sessions
    }
    ms = interleaved(fns, rounds=rounds, block=block, warmup=warmup)
    return {
        'threads': int(threads),
        'rounds': int(rounds),
        'block': int(block),
        'input': {k: list(v[next(iter(v))].shape) for k, v in feeds.items()},
        'ms': {k: latency_summary(v, SIG) for k, v in ms.items()},
        'speedup': {k: ratio_stat(ms[reference], v) for k, v in ms.items() if k != reference},
    }

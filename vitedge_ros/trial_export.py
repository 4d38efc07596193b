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
A trial ONNX export of an untrained model, before any training.

An unexportable model fails in seconds.

Training and compression end with an ONNX export at the bundle's static input size. A model that
cannot be exported there (an op without an ONNX symbolic, a shape the exporter cannot trace) would
otherwise fail only after the training, so ``tools/train.py`` and ``tools/compress.py`` export a
copy of the untrained model once (without onnxslim) and run it on onnxruntime before the first
epoch.
"""

import copy
import logging
from pathlib import Path
import tempfile
import time
from typing import Sequence, Tuple

from torch import nn

from .export.targets import DEFAULT_TARGET
from .runtime.errors import VitedgeError

LOG = logging.getLogger(__name__)


class TrialExportError(VitedgeError, ValueError):
    """
    The untrained model cannot be exported.

    One line: the model, the size and the exporter's reason.
    """


def trial_export(
    module: nn.Module,
    input_shape: Sequence[int],
    output_names: Sequence[str],
    what: str = 'model',
    target: str = DEFAULT_TARGET,
) -> Tuple[float, float]:
    """
    Export a copy of ``module`` for ``target`` and run it once on onnxruntime.

    The copy is exported at ``input_shape`` (N×3×H×W).
    The TensorRT audit is not enforced here (the graph is not simplified yet); the final export
    enforces it.

    Returns (seconds, max abs parity error on one random input). Raises :class:`TrialExportError`
    naming ``what``, the size and the first line of the exporter's (or onnxruntime's) error.
    """
    from .export import check_parity, export_onnx

    shape = tuple(int(d) for d in input_shape)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='vitedge-trial-') as tmp:
        path = Path(tmp) / 'trial.onnx'
        try:
            copy_ = copy.deepcopy(module).eval()
            export_onnx(
                copy_,
                path,
                shape,
                output_names=output_names,
                do_simplify=False,
                target=target,
                strict=False,
            )
            err = float(check_parity(copy_, path, shape, n_samples=1))
        except (
            Exception
        ) as exc:  # whatever the exporter raises, it is this model's problem: say so now
            first = next(
                (ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__
            )
            raise TrialExportError(
                'trial export of the untrained {} at {} failed before any training: {}'.format(
                    what, 'x'.join(str(d) for d in shape), first[:400]
                )
            ) from exc
    seconds = time.perf_counter() - t0
    LOG.info(
        'trial export of the untrained %s at %s: ok (%.1f s)',
        what,
        'x'.join(str(d) for d in shape),
        seconds,
    )
    return seconds, err

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
Bundle export: torch -> ONNX, graph fixes for TensorRT targets, and the TensorRT parser audit.

- :mod:`.trt_audit` (and :mod:`.trt_audit_cli`): what a TensorRT ONNX parser refuses; onnx + numpy
  only, Python 3.6 (it runs on the drone inside ``tools/build_engine.py``).
- :mod:`.onnx_export`: torch -> ONNX file, parity with onnxruntime, bundle writing (needs torch).
- :mod:`.targets`: export targets (``trt8.2`` | ``trt8.6`` | ``trt10``) and the graph fixes each
  needs (onnx only).
- :mod:`.checkpoint_export`: checkpoint -> bundle for a target (LayerNorm decomposition, FP16
  wrapper; torch).

Importing this package never imports torch: the torch-side names (``export_bundle``,
``check_parity``, ...) are resolved from :mod:`.onnx_export` on first use (PEP 562 module
``__getattr__``, Python >= 3.7, i.e. on the workstation only).
"""

import importlib

_LAZY = {
    'onnx_export': (
        'DEFAULT_OPSET',
        'ExportError',
        'ExportTargetError',
        'ParityError',
        'PARITY_ATOL',
        'PARITY_ATOL_FP16',
        'EXIT_EXPORT_FAILED',
        'check_parity',
        'check_parity_tolerance',
        'decompose_layernorms',
        'detection_rows_error',
        'export_bundle',
        'export_model',
        'export_onnx',
        'half_wrapper',
        'output_error',
        'simplify',
        'torch_outputs',
    ),
}
_WHERE = {name: mod for mod, names in _LAZY.items() for name in names}


def __getattr__(name):  # noqa: D105 - PEP 562 lazy import of the torch-side API
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))
    return getattr(importlib.import_module('.' + mod, __name__), name)


def __dir__():  # noqa: D105
    return sorted(list(globals()) + list(_WHERE))

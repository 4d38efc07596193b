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
ONNX Runtime engine.

CPU by default; CUDA/TensorRT execution providers when asked and present.
"""

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .base import Engine
from ..errors import BundleError, EngineError
from ..ort_compat import explain_load_error


class OnnxRuntimeEngine(Engine):
    """Runs an ONNX file with onnxruntime."""

    name = 'onnxruntime'

    def __init__(
        self,
        onnx_path: Union[str, Path],
        providers: Optional[Sequence[str]] = None,
        intra_op_threads: int = 0,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - the runtime extra installs it
            raise EngineError(
                'onnxruntime is not installed: pip install onnxruntime (or onnxruntime-gpu; in a '
                'ROS 2 '
                'Python: pip3 install -r requirements/ros-humble.txt, which keeps numpy < 2), or '
                'use '
                'backend tensorrt'
            ) from exc
        path = Path(onnx_path)
        if not path.is_file():
            raise BundleError('{}: missing ONNX file'.format(path))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads:
            opts.intra_op_num_threads = int(intra_op_threads)
        opts.log_severity_level = 3
        available = ort.get_available_providers()
        chosen: List[str] = [p for p in (providers or ['CPUExecutionProvider']) if p in available]
        if not chosen:
            raise EngineError(
                'none of the requested onnxruntime providers {} is available '
                '(available: {})'.format(list(providers or []), available)
            )
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own exception types
            # opset/IR too new for this onnxruntime, a missing kernel, or a corrupt file: said as
            # such
            raise BundleError(
                explain_load_error(
                    str(path), str(exc) or repr(exc), getattr(ort, '__version__', '?')
                )
            ) from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BundleError('{}: expected exactly one input, found {}'.format(path, len(inputs)))
        self.input_name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.providers = self.session.get_providers()

    def infer(self, x: np.ndarray) -> Dict[str, np.ndarray]:
        """Run one batch."""
        outs = self.session.run(self.output_names, {self.input_name: x})
        return dict(zip(self.output_names, outs))

    def describe(self) -> str:
        """Backend and providers."""
        return 'onnxruntime ({})'.format(', '.join(self.providers))

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
A torch engine for tools and parity checks.

Torch is imported only when this engine is built.
"""

from typing import Any, Dict, List, Optional

import numpy as np

from .base import Engine
from ..errors import EngineError


class TorchEngine(Engine):
    """
    Wraps an ``nn.Module`` whose forward returns one or more tensors.

    The forward returns a tensor, a tuple of tensors or a dict of tensors.
    """

    name = 'torch'

    def __init__(
        self, module: Any, output_names: Optional[List[str]] = None, device: str = 'cpu'
    ) -> None:
        try:
            import torch
        except ImportError as exc:
            raise EngineError(
                'backend torch needs PyTorch: pip install "vitedge_ros[tools]"'
            ) from exc
        self._torch = torch
        self.module = module.eval().to(device)
        self.device = device
        self.output_names = list(output_names or [])

    def infer(self, x: np.ndarray) -> Dict[str, np.ndarray]:
        """Run one batch under ``torch.inference_mode``."""
        torch = self._torch
        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
        if isinstance(out, dict):
            return {k: v.detach().cpu().numpy() for k, v in out.items()}
        if not isinstance(out, (tuple, list)):
            out = (out,)
        names = self.output_names or ['output{}'.format(i) for i in range(len(out))]
        return {n: o.detach().cpu().numpy() for n, o in zip(names, out)}

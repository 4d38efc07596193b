"""The small interface every inference engine implements."""
from typing import Dict, List, Tuple

import numpy as np


class Engine:
    """An inference engine: one float32 NCHW input, named outputs."""

    name = 'engine'
    input_name = 'input'
    input_shape: Tuple[int, ...] = ()
    output_names: List[str] = []

    def infer(self, x: np.ndarray) -> Dict[str, np.ndarray]:
        """Run one batch; returns outputs by name (host numpy arrays)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (device memory, sessions)."""

    def describe(self) -> str:
        """One line: backend and device."""
        return self.name

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

"""Classification metrics."""

import numpy as np


def top1(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of N×C scores against N labels."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        return 0.0
    return float((logits.reshape(labels.size, -1).argmax(axis=1) == labels).mean())


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of rows where two N×C score arrays have the same argmax."""
    a, b = np.asarray(a), np.asarray(b)
    return float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if a.size else 0.0

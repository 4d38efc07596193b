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

"""Result types of the runtime: detections, classifications and per-frame results."""

from typing import Any, Dict, List, NamedTuple, Optional, Tuple


class Detection(NamedTuple):
    """One detected object, its box in input-image pixels (x1, y1, x2, y2)."""

    class_id: int
    label: str
    score: float
    box: Tuple[float, float, float, float]

    @property
    def center(self) -> Tuple[float, float]:
        """Box centre (x, y) in pixels."""
        return ((self.box[0] + self.box[2]) / 2.0, (self.box[1] + self.box[3]) / 2.0)

    @property
    def size(self) -> Tuple[float, float]:
        """Box width and height in pixels."""
        return (self.box[2] - self.box[0], self.box[3] - self.box[1])


class Classification(NamedTuple):
    """One class hypothesis of a classifier."""

    class_id: int
    label: str
    score: float


class FrameResult(NamedTuple):
    """What the pipeline returns for one frame."""

    detections: List[Detection]
    classes: List[Classification]
    timings_ms: Dict[str, float]
    image_size: Tuple[int, int]
    #: segment task: H×W uint8 class ids in input-image pixels (``None`` for the other tasks)
    segmentation: Optional[Any] = None

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
Torch model definitions.

The ViT detector and segmenter and a ``create_model`` factory over timm.
"""

from .factory import create_model
from .vit_detector import (
    build_targets,
    detection_loss,
    DetectorExport,
    resize_detector,
    ViTCenterDetector,
    with_box,
)
from .vit_segmenter import segmentation_loss, SegmenterExport, ViTSegmenter

__all__ = [
    'create_model',
    'ViTCenterDetector',
    'DetectorExport',
    'build_targets',
    'detection_loss',
    'resize_detector',
    'with_box',
    'ViTSegmenter',
    'SegmenterExport',
    'segmentation_loss',
]

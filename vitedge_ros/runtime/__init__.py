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
Torch-free perception runtime: bundles, preprocessing, engines, decoders and the pipeline.

Nothing here imports torch, timm or rclpy at import time.
"""

from .bundle import Bundle, InputSpec, load_bundle, write_bundle_yaml
from .detection import Classification, Detection, FrameResult
from .errors import BundleError, EngineError, FrameError
from .pipeline import Pipeline

__all__ = [
    'Bundle',
    'InputSpec',
    'load_bundle',
    'write_bundle_yaml',
    'Classification',
    'Detection',
    'FrameResult',
    'BundleError',
    'EngineError',
    'FrameError',
    'Pipeline',
]

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

import numpy as np
from vitedge_ros.runtime import load_bundle, Pipeline


def test_tiny_detector_bundle_runs(tiny_detector_bundle):
    bundle = load_bundle(tiny_detector_bundle)
    assert bundle.task == 'detect' and bundle.labels == ['person', 'vehicle', 'obstacle']
    res = Pipeline(bundle, backend='onnxruntime')(np.zeros((48, 80, 3), np.uint8))
    assert len(res.detections) == 20
    for d in res.detections:
        assert 0 <= d.box[0] <= d.box[2] <= 80 and 0 <= d.box[1] <= d.box[3] <= 48


def test_tiny_classifier_bundle_runs(tiny_classifier_bundle):
    res = Pipeline(tiny_classifier_bundle, backend='onnxruntime')(np.zeros((32, 32, 3), np.uint8))
    assert len(res.classes) == 3
    assert abs(sum(c.score for c in res.classes)) <= 1.0 + 1e-6

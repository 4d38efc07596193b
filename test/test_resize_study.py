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

"""tools/resize_study.py: the resize variants are scored on the same frames (issue 16, item 2)."""

from collections import namedtuple
import json

import numpy as np
from vitedge_ros.eval.resize_study import evaluate_variants, render_markdown

Scene = namedtuple('Scene', 'image boxes labels')


def _scenes(w, h, n=3):
    from vitedge_ros.data.synthetic import generate_scene

    return [generate_scene(300 + i, width=w, height=h) for i in range(n)]


def test_variants_differ_only_by_the_resize(tiny_detector_bundle):
    variants = [('area', 'area', 1), ('inter_linear', 'inter_linear', 1), ('linear', 'linear', 1)]
    same = evaluate_variants(
        tiny_detector_bundle, _scenes(96, 64), variants
    )  # network size: no resize at all
    assert same['area']['map50'] == same['inter_linear']['map50'] == same['linear']['map50']
    assert same['area']['person_tp'] == same['inter_linear']['person_tp']
    big = evaluate_variants(
        tiny_detector_bundle, _scenes(480, 320), variants
    )  # scale 0.2: linear falls back
    assert big['linear']['map50'] == big['area']['map50']
    assert big['linear']['person_fp'] == big['area']['person_fp']
    for r in big.values():
        assert (
            0.0 <= r['person_precision'] <= 1.0
            and r['frames'] == 3
            and r['jpeg_decode_ms_median'] is None
        )


def test_reduced_jpeg_variant_keeps_boxes_in_full_frame_pixels(tiny_detector_bundle):
    variants = [('full', 'area', 1), ('half', 'area', 2)]
    res = evaluate_variants(tiny_detector_bundle, _scenes(192, 128, 2), variants, jpeg=True)
    assert res['half']['jpeg_reduce'] == 2 and res['half']['jpeg_decode_ms_median'] > 0
    study = {
        'bundle': 'tiny',
        'network_input': [96, 64],
        'backend': 'onnxruntime',
        'sets': {'s': {'what': 'two frames', 'results': res}},
    }
    md = render_markdown(study, 'tools/resize_study.py --quick')
    assert '| two frames | `half` |' in md and 'tools/resize_study.py --quick' in md
    json.dumps(study)  # JSON-serialisable as written by the tool
    assert np.isfinite(res['full']['map50'])

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

"""vitedge_ros.eval.box_errors: centre versus size errors of matched boxes, on hand-made boxes."""

import json

import numpy as np
import pytest
from vitedge_ros.eval.box_errors import localisation_errors, main, matched_pairs


def test_a_shifted_box_is_limited_by_its_centre():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]])
    e = localisation_errors(np.array([[2.0, 0.0, 12.0, 10.0]]), gt)  # 2 px right, same size
    assert e['matches'] == 1 and e['centre_error_px']['median'] == 2.0
    assert e['iou']['median'] == pytest.approx(80 / 120, abs=1e-4)
    assert e['iou_gain_true_centre']['median'] == pytest.approx(1 - 80 / 120, abs=1e-4)
    assert e['iou_gain_true_size']['median'] == 0.0 and e['limited_by'] == 'centre'
    assert e['abs_log_w_ratio']['median'] == 0.0 and e['centre_error_rel']['median'] == 0.2


def test_a_larger_box_is_limited_by_its_size():
    gt = np.array([[0.0, 0.0, 10.0, 10.0]])
    e = localisation_errors(np.array([[-1.0, -1.0, 11.0, 11.0]]), gt)  # 12×12, same centre
    assert e['centre_error_px']['median'] == 0.0 and e['limited_by'] == 'size'
    assert e['iou']['median'] == pytest.approx(100 / 144, abs=1e-4)
    assert e['abs_log_h_ratio']['median'] == pytest.approx(np.log(1.2), abs=1e-4)
    assert e['share_iou_ge_0.75'] == 0.0
    assert localisation_errors(np.zeros((0, 4)), np.zeros((0, 4))) == {'matches': 0}


def test_matching_is_greedy_one_to_one_per_class_at_iou_half():
    gts = [(np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32), np.array([0, 1]))]
    preds = [
        (
            np.array(
                [[0, 0, 10, 9], [1, 0, 11, 10], [20, 0, 30, 10], [40, 0, 50, 10]], np.float32
            ),
            np.array([0.9, 0.8, 0.7, 0.6], np.float32),
            np.array([0, 0, 0, 0]),
        )
    ]
    p, g = matched_pairs(gts, preds, class_id=0)
    # the best-scored detection takes the object; the second one of it is left; class 1 not matched
    assert p.tolist() == [[0, 0, 10, 9]] and g.tolist() == [[0, 0, 10, 10]]


def test_cli_writes_per_class_figures_and_refuses_a_missing_bundle(
    tiny_detector_bundle, tiny_classifier_bundle, tmp_path, capsys
):
    out = tmp_path / 'e.json'
    assert main(['--bundle', str(tiny_detector_bundle), '--out', str(out), '--scenes', '2']) == 0
    data = json.loads(out.read_text())
    assert data['bundles'][0]['bundle'] == 'tiny_detector'
    assert set(data['bundles'][0]['per_class']) == {'person', 'vehicle', 'obstacle'}
    assert 'SYNTHETIC' in data['scenes']
    capsys.readouterr()
    assert main(['--bundle', str(tmp_path / 'nope'), '--out', str(tmp_path / 'x.json')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('box_errors: error: ') and len(err.strip().splitlines()) == 1
    assert not (tmp_path / 'x.json').exists()
    assert main(['--bundle', str(tiny_classifier_bundle), '--out', str(tmp_path / 'x.json')]) == 2
    assert 'a classify bundle has no boxes' in capsys.readouterr().err

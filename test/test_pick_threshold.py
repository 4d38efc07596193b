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
The training score-threshold pick.

Best F1, or best F1 among thresholds reaching precision/recall targets.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from vitedge_ros.training import config, threshold


def _case(monkeypatch):
    """
    10 persons: 7 found at 0.9, 1 at 0.37, 1 at 0.32, 1 missed.

    False persons: 2 at 0.37, 2 at 0.32.

    t=0.40: P 1.0, R 0.7, F1 0.824 (the best F1); t=0.35: P 0.8, R 0.8, F1 0.8; t=0.30: P 9/13, R
    0.9.
    """
    gt = np.array([[20 * i, 0, 20 * i + 10, 10] for i in range(10)], np.float32)
    far = np.array([[300 + 20 * i, 300, 310 + 20 * i, 310] for i in range(4)], np.float32)
    boxes = np.concatenate([gt[:9], far])
    scores = np.array([0.9] * 7 + [0.37, 0.32] + [0.37, 0.37, 0.32, 0.32], np.float32)
    preds = [(boxes, scores, np.zeros(len(boxes), np.int64))]
    monkeypatch.setattr(threshold, 'predict_detector', lambda model, val, min_score: preds)
    return SimpleNamespace(boxes=[gt], labels=[np.zeros(10, np.int64)], ignored=None)


def test_best_f1_without_targets(monkeypatch):
    t, pr = threshold.pick_threshold(None, _case(monkeypatch))
    assert t == 0.4 and pr['precision'] == 1.0 and pr['recall'] == pytest.approx(0.7)
    assert 'meets_targets' not in pr


def test_targets_pick_the_best_f1_that_reaches_them(monkeypatch):
    t, pr = threshold.pick_threshold(None, _case(monkeypatch), min_precision=0.8, min_recall=0.8)
    assert (
        t == 0.35 and pr['precision'] == pytest.approx(0.8) and pr['recall'] == pytest.approx(0.8)
    )
    assert pr['meets_targets'] is True
    t, pr = threshold.pick_threshold(None, _case(monkeypatch), min_recall=0.85)
    assert (
        t <= 0.3 and pr['recall'] == pytest.approx(0.9) and pr['meets_targets'] is True
    )  # ties: lowest


def test_unreachable_targets_fall_back_to_best_f1(monkeypatch, caplog):
    t, pr = threshold.pick_threshold(None, _case(monkeypatch), min_precision=0.9, min_recall=0.9)
    assert t == 0.4 and pr['meets_targets'] is False
    assert 'no score threshold reaches precision >= 0.9 and recall >= 0.9' in caplog.text


@pytest.mark.parametrize(
    'export, match',
    [
        (
            {'score_threshold': 'auto', 'min_recall': 1.5},
            r'export\.min_recall: expected a number in \[0, 1\], got 1\.5',
        ),
        (
            {'score_threshold': 0.3, 'min_precision': 0.8},
            r'export\.min_precision: a target for score_threshold: auto',
        ),
        ({'min_recall': 'high'}, r'export\.min_recall: expected a number in \[0, 1\], got .high.'),
    ],
)
def test_targets_are_checked_before_any_work(export, match):
    cfg = {
        'name': 't',
        'task': 'detect',
        'model': {'arch': 'vit_center'},
        'input': {
            'width': 64,
            'height': 48,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.25] * 3,
            'resize': 'letterbox',
        },
        'data': {'name': 'synthetic-aerial'},
        'train': {'epochs': 1},
        'export': export,
    }
    with pytest.raises(config.ConfigError, match=match):
        config.validate_config(cfg)

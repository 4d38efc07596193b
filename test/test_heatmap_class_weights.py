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

"""train.heatmap_class_weights: one class's heatmap terms weighted in the focal loss."""

import pytest
from test_train_tool import tiny_detect_config
import torch
from vitedge_ros.models.vit_detector import build_targets, detection_loss, focal_loss
from vitedge_ros.training.config import ConfigError, validate_config
from vitedge_ros.training.run import detector_options, label_weights, run_training


def _batch():
    """One person (class 0) and one obstacle (class 2) on an 8×12 map, stride 8."""
    boxes = [torch.tensor([[8.0, 8.0, 24.0, 32.0], [56.0, 16.0, 88.0, 40.0]])]
    labels = [torch.tensor([0, 2])]
    t = build_targets(boxes, labels, 3, (8, 12), 8)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 3, 8, 12, generator=g)
    return logits, t


def _channel_loss(logits, t, c):
    keep = [1.0 if k == c else 0.0 for k in range(3)]
    return float(focal_loss(logits, t['heatmap'], class_weights=keep))


def test_class_weights_scale_each_channels_terms():
    logits, t = _batch()
    plain = float(focal_loss(logits, t['heatmap']))
    parts = [_channel_loss(logits, t, c) for c in range(3)]
    assert all(p > 0 for p in parts)
    assert sum(parts) == pytest.approx(plain, rel=1e-6)  # the channels' terms add up
    weighted = float(focal_loss(logits, t['heatmap'], class_weights=[2.0, 1.0, 0.5]))
    assert weighted == pytest.approx(2 * parts[0] + parts[1] + 0.5 * parts[2], rel=1e-6)
    assert float(focal_loss(logits, t['heatmap'], class_weights=[1.0, 1.0, 1.0])) == plain


def test_detection_loss_weights_only_the_heatmap_term():
    logits, t = _batch()
    maps = {
        'heatmap': logits,
        'size': torch.zeros(1, 2, 8, 12),
        'offset': torch.zeros(1, 2, 8, 12),
    }
    plain = detection_loss(maps, t)
    person = detection_loss(maps, t, heatmap_weights=[3.0, 1.0, 1.0])
    assert float(person['size']) == float(plain['size'])
    extra = 2 * _channel_loss(logits, t, 0)
    assert float(person['heatmap']) == pytest.approx(float(plain['heatmap']) + extra, rel=1e-6)
    assert float(person['loss']) == pytest.approx(float(plain['loss']) + extra, rel=1e-6)


def test_label_weights_in_the_data_labels_order():
    labels = ['person', 'vehicle', 'obstacle']
    assert label_weights({'obstacle': 0.5, 'person': 2}, labels, 'p') == [2.0, 1.0, 0.5]
    assert label_weights(None, labels, 'p') is None
    with pytest.raises(ConfigError, match=r"^p: the data have no label 'persons' \(labels: "):
        label_weights({'persons': 2}, labels, 'p')


def test_detector_options_pass_the_weights_to_the_loss():
    class Data:
        labels = ['person', 'vehicle', 'obstacle']

    opts = detector_options({'heatmap_class_weights': {'person': 2.0}}, Data())
    assert opts['loss_fn'].keywords == {'heatmap_weights': [2.0, 1.0, 1.0]}
    assert 'loss_fn' not in detector_options({}, Data())


def test_config_refuses_bad_weights_in_one_line():
    cfg = tiny_detect_config(heatmap_class_weights={'person': 0})
    with pytest.raises(ConfigError, match=r'^train\.heatmap_class_weights\.person: expected'):
        validate_config(cfg)
    cfg = tiny_detect_config(heatmap_class_weights=[2])
    with pytest.raises(ConfigError, match=r'^train\.heatmap_class_weights: expected a mapping'):
        validate_config(cfg)


def test_unknown_label_is_refused_before_any_work(tmp_path, monkeypatch):
    from vitedge_ros.tasks import get_task

    def no_data(*args, **kwargs):
        raise AssertionError('the training data were built before the check')

    monkeypatch.setattr(type(get_task('detect')), 'training_data', no_data)
    cfg = tiny_detect_config(epochs=1, heatmap_class_weights={'people': 2.0})
    with pytest.raises(ConfigError, match='train.heatmap_class_weights: the data have no label'):
        run_training(cfg, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []

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
Knowledge distillation: losses on hand-made logits, DeiT token distillation, feature terms.

Feature and attention terms.
"""

import math

import pytest
import torch


def test_kd_kl_known_value():
    from vitedge_ros.compress.distill import kd_kl

    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0]])  # teacher probs (0.75, 0.25) at T=1
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert abs(float(kd_kl(s, t, 1.0)) - expected) < 1e-6
    # at T=2 the teacher becomes (sqrt3, 1)/(sqrt3+1), and the loss is scaled by T^2
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    expected2 = 4 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
    assert abs(float(kd_kl(s, t, 2.0)) - expected2) < 1e-6
    assert float(kd_kl(t, t, 3.0)) < 1e-7


def test_kd_mse_and_hard():
    from vitedge_ros.compress.distill import kd_hard, kd_mse

    s = torch.tensor([[1.0, 2.0, 3.0]])
    t = torch.tensor([[1.0, 0.0, 3.0]])
    assert abs(float(kd_mse(s, t)) - 4 / 3) < 1e-6
    # hard: CE against argmax of teacher (class 2)
    expected = -(3.0 - math.log(math.exp(1) + math.exp(2) + math.exp(3)))
    assert abs(float(kd_hard(s, t)) - expected) < 1e-6


def test_binary_kd_zero_when_equal():
    from vitedge_ros.compress.distill import binary_kd

    x = torch.randn(2, 3, 4, 4)
    assert float(binary_kd(x, x, 2.0)) < 1e-5
    assert float(binary_kd(x, x + 1.0, 2.0)) > 1e-3


def _models():
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    teacher = create_model(
        'deit_tiny_distilled_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        depth=2,
        embed_dim=64,
        num_heads=2,
    ).eval()
    student = create_model(
        'deit_tiny_distilled_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        depth=1,
        embed_dim=32,
        num_heads=1,
    )
    return teacher, student


def test_token_distillation_soft_and_hard_train_the_student():
    from vitedge_ros.compress.distill import Distiller, kd_kl

    teacher, student = _models()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    for hard in (False, True):
        d = Distiller(
            student, teacher, {'type': 'token', 'temperature': 2.0, 'alpha': 0.5, 'hard': hard}
        )
        student.train()
        loss = d.classifier_loss(student, x, y)
        loss.backward()
        assert student.head_dist.weight.grad is not None and student.head.weight.grad is not None
        student.zero_grad()
    # the soft value is 0.5 CE(cls head) + 0.5 KL(dist head ‖ teacher)
    d = Distiller(student, teacher, {'type': 'token', 'temperature': 2.0, 'alpha': 0.5})
    student.train()  # no dropout in these models: train mode is deterministic
    with torch.no_grad():
        loss = d.classifier_loss(student, x, y)
        student.set_distilled_training(True)
        cls, dist = student(x)
        student.set_distilled_training(False)
        t = teacher(x)
        expected = 0.5 * torch.nn.functional.cross_entropy(cls, y) + 0.5 * kd_kl(dist, t, 2.0)
    assert abs(float(loss) - float(expected)) < 1e-5


def test_feature_and_attention_distillation_with_projection():
    from vitedge_ros.compress.distill import Distiller

    teacher, student = _models()
    cfg = {
        'type': 'logit',
        'temperature': 1.0,
        'alpha': 0.5,
        'features': [{'student': 'blocks.0', 'teacher': 'blocks.1', 'weight': 1.0}],
        'attention': [{'student': 'blocks.0.attn', 'teacher': 'blocks.1.attn', 'weight': 1.0}],
    }
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([1, 2])
    d = Distiller(student, teacher, cfg, example=x)
    assert (
        isinstance(d.proj[0], torch.nn.Linear)
        and d.proj[0].in_features == 32
        and d.proj[0].out_features == 64
    )
    student.train()
    loss = d.classifier_loss(student, x, y)
    loss.backward()
    assert d.proj[0].weight.grad is not None
    aux = d._aux_losses()
    assert set(aux) == {'feat', 'attn'} and float(aux['attn'].detach()) >= 0
    d.close()


def test_detector_kd_loss(tmp_path):
    from conftest import make_tiny_detector
    from vitedge_ros.compress.distill import Distiller
    from vitedge_ros.models import build_targets

    teacher, student = make_tiny_detector(0).eval(), make_tiny_detector(1)
    x = torch.randn(2, 3, 64, 96)
    tg = build_targets(
        [torch.tensor([[10.0, 10.0, 30.0, 30.0]])] * 2,
        [torch.tensor([0])] * 2,
        3,
        student.map_size,
        student.stride,
    )
    d = Distiller(
        student,
        teacher,
        {
            'type': 'logit',
            'temperature': 2.0,
            'alpha': 0.5,
            'box_weight': 1.0,
            'features': [{'student': 'backbone.blocks.0', 'teacher': 'backbone.blocks.0'}],
        },
        task='detect',
        example=x,
    )
    parts = d.detector_loss(student, x, tg)
    assert {'loss', 'kd', 'feat'} <= set(parts)
    parts['loss'].backward()
    assert student.heatmap.weight.grad is not None


def test_detector_box_kd_follows_the_ltrb_maps():
    """An ltrb student learns the teacher's ltrb map: no box KD on a copy, the L1 gap otherwise."""
    from conftest import make_tiny_detector
    from vitedge_ros.compress.distill import Distiller
    from vitedge_ros.models import build_targets

    teacher = make_tiny_detector(0, box='ltrb').eval()
    student = make_tiny_detector(0, box='ltrb')
    x = torch.randn(1, 3, 64, 96)
    tg = build_targets(
        [torch.tensor([[10.0, 10.0, 30.0, 30.0]])], [torch.tensor([0])], 3, (8, 12), 8, box='ltrb'
    )
    cfg = {'type': 'mse', 'alpha': 1.0, 'box_weight': 1.0}
    d = Distiller(student, teacher, cfg, task='detect', example=x)
    same = d.detector_loss(student, x, tg)
    assert float(same['kd']) == pytest.approx(0.0, abs=1e-7)  # same maps: no heatmap or box KD
    with torch.no_grad():
        student.box_ltrb.bias += 0.5  # every ltrb value 0.5 above the teacher's
    shifted = d.detector_loss(student, x, tg)
    assert float(shifted['kd']) == pytest.approx(4 * 0.5, rel=1e-4)  # 4 channels × 0.5, averaged
    shifted['loss'].backward()
    assert student.box_ltrb.bias.grad.abs().min() > 0

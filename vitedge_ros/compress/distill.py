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
Knowledge distillation losses and the loss hooks of the training loops.

The hooks are what ``training.train_classifier`` and ``training.train_detector`` call.

* logit KD: ``kd_kl`` (KL(teacher‖student) of temperature-softened distributions × T²) and
  ``kd_mse``;
* DeiT distillation token: the student's distillation head learns the teacher's soft (KL, T) or
  hard (argmax, cross-entropy) prediction while the class head learns the labels;
* feature distillation between named layers (MSE of token features, through a learned linear
  projection when the widths differ) and attention distillation (KL between head-averaged attention
  maps, recomputed from the ``qkv`` output so it works with fused attention and with different head
  counts);
* detector KD: per-pixel binary KL on temperature-softened heatmap logits, plus
  teacher-heat-weighted L1 on the size and offset maps.
* segmenter KD: pixel-wise KL between temperature-softened class distributions of the logit maps
  (``logit``) or MSE of the logits (``mse``), on top of the CE + Dice task loss.

Projections are trained with the student (pass ``hook.trainable`` to the training loop) and are not
part of the exported model.
"""

import contextlib
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn
import torch.nn.functional as F


def kd_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Hinton KD: ``T² · KL(softmax(t/T) ‖ softmax(s/T))`` averaged over the batch."""
    t = float(temperature)
    log_p = F.log_softmax(student / t, dim=-1)
    log_q = F.log_softmax(teacher / t, dim=-1)
    return F.kl_div(log_p, log_q, reduction='batchmean', log_target=True) * t * t


def kd_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared error between logits."""
    return F.mse_loss(student, teacher)


def kd_hard(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's argmax (DeiT hard distillation)."""
    return F.cross_entropy(student, teacher.argmax(dim=-1))


def pixel_kd(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """
    Return the mean per-pixel ``T² · KL(softmax(t/T) ‖ softmax(s/T))`` of B×C×h×w logits.

    The KL is taken over the class axis and averaged over the pixels.
    """
    c = student.shape[1]
    return kd_kl(
        student.permute(0, 2, 3, 1).reshape(-1, c),
        teacher.permute(0, 2, 3, 1).reshape(-1, c),
        temperature,
    )


def binary_kd(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """
    Return the mean per-element binary KL of sigmoid(·/T) distributions × T².

    Used for heatmap distillation.
    """
    t = float(temperature)
    ps = student_logits / t
    pt = torch.sigmoid(teacher_logits / t)
    # KL(pt‖ps) = BCE(ps, pt) − H(pt)
    bce = F.binary_cross_entropy_with_logits(ps, pt, reduction='none')
    ent = F.binary_cross_entropy(pt.clamp(1e-6, 1 - 1e-6), pt, reduction='none')
    return (bce - ent).mean() * t * t


def _box_view(key: str, m: torch.Tensor) -> torch.Tensor:
    """
    Return a detector box map as the box KD compares it.

    The offset's sigmoid, log sizes and distances as they are.
    """
    return torch.sigmoid(m) if key == 'offset' else m


def attention_map(qkv_out: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Head-averaged attention probabilities B×N×N from a ``qkv`` output B×N×3·H·d."""
    b, n, c = qkv_out.shape
    hd = c // (3 * num_heads)
    q, k, _ = qkv_out.reshape(b, n, 3, num_heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
    attn = (q * hd**-0.5) @ k.transpose(-2, -1)
    return attn.softmax(dim=-1).mean(dim=1)


class _Capture:
    """Forward hooks that store a module's output by layer name."""

    def __init__(self, model: nn.Module, names: Sequence[str]) -> None:
        self.outputs: Dict[str, torch.Tensor] = {}
        self.handles = []
        self.modules = []
        for name in names:
            try:
                self.modules.append((name, model.get_submodule(name)))
            except AttributeError as exc:
                raise ValueError(
                    'distillation layer {!r} not found in {}'.format(name, type(model).__name__)
                ) from exc
        self.attach()

    def attach(self) -> None:
        """Register the hooks (again)."""
        self.remove()
        self.handles = [mod.register_forward_hook(self._hook(name)) for name, mod in self.modules]

    def _hook(self, name: str):
        def fn(_m, _i, out):
            self.outputs[name] = out[0] if isinstance(out, (tuple, list)) else out

        return fn

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, 'module', model)


def _num_heads(model: nn.Module, qkv_name: str) -> int:
    attn = (
        model.get_submodule(qkv_name.rsplit('.', 1)[0])
        if qkv_name.endswith('.qkv')
        else model.get_submodule(qkv_name)
    )
    return int(attn.num_heads)


class Distiller(nn.Module):
    """
    Builds the KD loss hook for a student/teacher pair.

    ``cfg`` keys: type (logit|mse|token|none), temperature, alpha (weight of the KD term vs the
    task loss), hard (token type), features / attention (lists of {student, teacher, weight}),
    box_weight (detector).
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        cfg: Dict[str, Any],
        task: str = 'classify',
        example: Optional[torch.Tensor] = None,
    ) -> None:
        super().__init__()
        self.cfg = dict(cfg)
        self.task = task
        self.teacher = [teacher.eval()]  # a list: not a submodule, never trained or saved
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.features: List[Dict[str, Any]] = list(cfg.get('features') or [])
        self.attention: List[Dict[str, Any]] = [dict(a) for a in (cfg.get('attention') or [])]
        for a in self.attention:
            for side in ('student', 'teacher'):
                if not a[side].endswith('.qkv'):
                    a[side] = a[side] + '.qkv' if a[side].endswith('attn') else a[side]
        s_names = [f['student'] for f in self.features] + [a['student'] for a in self.attention]
        t_names = [f['teacher'] for f in self.features] + [a['teacher'] for a in self.attention]
        self._s_cap = _Capture(student, s_names) if s_names else None
        self._t_cap = _Capture(teacher, t_names) if t_names else None
        self.proj = nn.ModuleList()
        if self.features:
            if example is None:
                raise ValueError(
                    'feature distillation needs an example input to size the projections'
                )
            with torch.no_grad():
                was = student.training
                student.eval()
                student(example)
                student.train(was)
                teacher(example)
            for f in self.features:
                sw = self._s_cap.outputs[f['student']].shape[-1]
                tw = self._t_cap.outputs[f['teacher']].shape[-1]
                self.proj.append(nn.Identity() if sw == tw else nn.Linear(sw, tw))
        self.student_heads = {
            a['student']: _num_heads(student, a['student']) for a in self.attention
        }
        self.teacher_heads = {
            a['teacher']: _num_heads(teacher, a['teacher']) for a in self.attention
        }

    def close(self) -> None:
        """Remove the forward hooks."""
        for cap in (self._s_cap, self._t_cap):
            if cap is not None:
                cap.remove()

    @contextlib.contextmanager
    def hooks_removed(self):
        """Detach the student's hooks (closures do not pickle) while the student is saved."""
        if self._s_cap is not None:
            self._s_cap.remove()
        try:
            yield
        finally:
            if self._s_cap is not None:
                self._s_cap.attach()

    def _aux_losses(self) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        if self.features:
            total = 0.0
            for f, proj in zip(self.features, self.proj):
                s = proj(self._s_cap.outputs[f['student']])
                t = self._t_cap.outputs[f['teacher']]
                if s.shape != t.shape:
                    raise ValueError(
                        'feature distillation {} → {}: shapes {} and {} differ'.format(
                            f['student'], f['teacher'], tuple(s.shape), tuple(t.shape)
                        )
                    )
                total = total + float(f.get('weight', 1.0)) * F.mse_loss(s, t)
            out['feat'] = total
        if self.attention:
            total = 0.0
            for a in self.attention:
                sa = attention_map(
                    self._s_cap.outputs[a['student']], self.student_heads[a['student']]
                )
                ta = attention_map(
                    self._t_cap.outputs[a['teacher']], self.teacher_heads[a['teacher']]
                )
                kl = (ta * (ta.clamp_min(1e-8).log() - sa.clamp_min(1e-8).log())).sum(-1).mean()
                total = total + float(a.get('weight', 1.0)) * kl
            out['attn'] = total
        return out

    def classifier_loss(
        self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        """Loss hook for ``train_classifier``."""
        kind = self.cfg.get('type', 'logit')
        alpha = float(self.cfg.get('alpha', 0.5))
        temp = float(self.cfg.get('temperature', 1.0))
        with torch.no_grad():
            t_out = self.teacher[0](xb)
            t_out = t_out[0] if isinstance(t_out, (tuple, list)) else t_out
        net = _unwrap(model)
        token = kind == 'token' and hasattr(net, 'set_distilled_training')
        if token:
            net.set_distilled_training(True)
        try:
            out = model(xb)
        finally:
            if token:
                net.set_distilled_training(False)
        if token and isinstance(out, (tuple, list)):
            cls_out, dist_out = out[0], out[1]
            task = F.cross_entropy(cls_out, yb, label_smoothing=label_smoothing)
            kd = kd_hard(dist_out, t_out) if self.cfg.get('hard') else kd_kl(dist_out, t_out, temp)
        else:
            logits = out[0] if isinstance(out, (tuple, list)) else out
            task = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
            if kind == 'mse':
                kd = kd_mse(logits, t_out)
            elif kind in ('logit', 'token'):
                kd = kd_hard(logits, t_out) if self.cfg.get('hard') else kd_kl(logits, t_out, temp)
            else:
                kd = torch.zeros((), dtype=logits.dtype)
        loss = (1 - alpha) * task + alpha * kd if kind != 'none' else task
        for v in self._aux_losses().values():
            loss = loss + v
        return loss

    def detector_loss(
        self, model: nn.Module, x: torch.Tensor, targets: Dict[str, torch.Tensor]
    ) -> Dict[str, Any]:
        """Loss hook for ``train_detector``: task loss plus heatmap/box KD and feature terms."""
        from ..models.vit_detector import detection_loss

        alpha = float(self.cfg.get('alpha', 0.5))
        temp = float(self.cfg.get('temperature', 1.0))
        kind = self.cfg.get('type', 'logit')
        with torch.no_grad():
            t_maps = self.teacher[0](x)
        maps = model(x)
        parts = detection_loss(maps, targets)
        loss = parts['loss']
        if kind != 'none':
            if kind == 'mse':
                kd = F.mse_loss(maps['heatmap'], t_maps['heatmap'])
            else:
                kd = binary_kd(maps['heatmap'], t_maps['heatmap'], temp)
            w = torch.sigmoid(t_maps['heatmap']).amax(dim=1, keepdim=True)
            wn = w.sum().clamp(min=1.0)
            box = sum(
                ((_box_view(k, maps[k]) - _box_view(k, t_maps[k])).abs() * w).sum() / wn
                for k in ('size', 'offset', 'ltrb')
                if k in maps and k in t_maps
            )
            kd = kd + float(self.cfg.get('box_weight', 1.0)) * box
            loss = (1 - alpha) * loss + alpha * kd
            parts['kd'] = kd.detach()
        for k, v in self._aux_losses().items():
            loss = loss + v
            parts[k] = v.detach()
        parts['loss'] = loss
        return parts

    def segmenter_loss(
        self,
        model: nn.Module,
        x: torch.Tensor,
        masks: torch.Tensor,
        class_weights: Optional[torch.Tensor] = None,
    ) -> Dict[str, Any]:
        """Loss hook for ``train_segmenter``: CE + Dice, pixel-wise logit KD and feature terms."""
        from ..models.vit_segmenter import segmentation_loss

        alpha = float(self.cfg.get('alpha', 0.5))
        temp = float(self.cfg.get('temperature', 1.0))
        kind = self.cfg.get('type', 'logit')
        with torch.no_grad():
            t_logits = self.teacher[0](x)
        logits = model(x)
        parts = segmentation_loss(logits, masks, class_weights=class_weights)
        loss = parts['loss']
        if kind != 'none':
            kd = (
                F.mse_loss(logits, t_logits) if kind == 'mse' else pixel_kd(logits, t_logits, temp)
            )
            loss = (1 - alpha) * loss + alpha * kd
            parts['kd'] = kd.detach()
        for k, v in self._aux_losses().items():
            loss = loss + v
            parts[k] = v.detach()
        parts['loss'] = loss
        return parts

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
Training loops shared by tools/train.py and the recipes' fine-tuning.

They run the epochs, steps, optimizer and schedule. Loops take a ``loss_fn`` hook so that
distillation can replace the plain loss without copying the loop.
"""

import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .data import images_to_tensor, SegmentationSet
from ..models.vit_detector import build_targets, detection_loss, SIGMA_FACTOR


def _augment(
    images: np.ndarray,
    boxes: List[np.ndarray],
    rng: np.random.Generator,
    ignored: Optional[List[np.ndarray]] = None,
):
    """
    Randomly flip images horizontally and vertically (aerial views have no up).

    Ignored regions flip with their image.
    """
    h, w = images.shape[1:3]
    out_i, out_b, out_g = [], [], []
    for k, (img, b) in enumerate(zip(images, boxes)):
        group = [b.copy()] + (
            [np.asarray(ignored[k], np.float32).reshape(-1, 4).copy()]
            if ignored is not None
            else []
        )
        if rng.random() < 0.5:
            img = img[:, ::-1]
            for g in group:
                g[:, [0, 2]] = w - g[:, [2, 0]]
        if rng.random() < 0.5:
            img = img[::-1]
            for g in group:
                g[:, [1, 3]] = h - g[:, [3, 1]]
        out_i.append(np.ascontiguousarray(img))
        out_b.append(group[0])
        if ignored is not None:
            out_g.append(group[1])
    if ignored is not None:
        return np.stack(out_i), out_b, out_g
    return np.stack(out_i), out_b


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Build an AdamW optimizer without weight decay on norms, biases and embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or name.endswith('.bias') or 'pos_embed' in name or 'token' in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return torch.optim.AdamW(
        [
            {'params': decay, 'weight_decay': weight_decay},
            {'params': no_decay, 'weight_decay': 0.0},
        ],
        lr=lr,
    )


def cosine_lr(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up then cosine decay to 1% of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, unit='step', dynamic_ncols=True, leave=False)


EpochHook = Callable[[int, nn.Module, torch.optim.Optimizer, Dict[str, float]], None]


def _run_epochs(
    model: nn.Module,
    n: int,
    batch_size: int,
    epochs: int,
    lr: float,
    weight_decay: float,
    seed: int,
    step_fn: Callable[[np.ndarray, np.random.Generator], Dict[str, torch.Tensor]],
    desc: str,
    progress: bool,
    on_epoch_end: Optional[EpochHook],
    start_epoch: int,
    optimizer_state: Optional[Dict[str, Any]],
    warmup_fraction: float = 0.05,
    trainable: Optional[nn.Module] = None,
) -> List[Dict[str, float]]:
    opt = make_optimizer(trainable if trainable is not None else model, lr, weight_decay)
    if optimizer_state:
        opt.load_state_dict(optimizer_state)
    steps_per_epoch = max(1, n // batch_size)
    total = steps_per_epoch * epochs
    warmup = max(1, int(total * warmup_fraction))
    history: List[Dict[str, float]] = []
    bar = _progress(total - start_epoch * steps_per_epoch, desc, progress)
    for epoch in range(start_epoch, epochs):
        model.train()
        rng = np.random.default_rng(seed * 1000 + epoch)
        order = rng.permutation(n)
        sums: Dict[str, float] = {}
        t0 = time.perf_counter()
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for g in opt.param_groups:
                g['lr'] = cosine_lr(step, total, warmup, lr)
            idx = order[i * batch_size:(i + 1) * batch_size]
            parts = step_fn(idx, rng)
            opt.zero_grad(set_to_none=True)
            parts['loss'].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    epoch=epoch + 1, loss='{:.3f}'.format(float(parts['loss'].detach()))
                )
        stats = {k: v / steps_per_epoch for k, v in sums.items()}
        stats['epoch'] = epoch + 1
        stats['seconds'] = time.perf_counter() - t0
        history.append(stats)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, model, opt, stats)
    if bar is not None:
        bar.close()
    model.eval()
    return history


DetLossFn = Callable[[nn.Module, torch.Tensor, Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]


def default_detection_loss(
    model: nn.Module,
    x: torch.Tensor,
    targets: Dict[str, torch.Tensor],
    giou_weight: float = 0.0,
    size_weight: float = 1.0,
    heatmap_weights: Optional[Sequence[float]] = None,
) -> Dict[str, torch.Tensor]:
    """
    Return the CenterNet loss of a :class:`ViTCenterDetector`.

    Plus ``giou_weight`` × the GIoU loss of the centre-cell boxes, the log-size L1 term weighted
    by ``size_weight``, the classes' heatmap terms by ``heatmap_weights`` (one per class)
    (:func:`vitedge_ros.models.vit_detector.detection_loss`).
    """
    return detection_loss(
        model(x),
        targets,
        size_weight=size_weight,
        giou_weight=giou_weight,
        heatmap_weights=heatmap_weights,
    )


def train_detector(
    model: nn.Module,
    data: Any,
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    loss_fn: Optional[DetLossFn] = None,
    augment: bool = True,
    progress: bool = True,
    on_epoch_end: Optional[EpochHook] = None,
    start_epoch: int = 0,
    optimizer_state: Optional[Dict[str, Any]] = None,
    trainable: Optional[nn.Module] = None,
    sigma_factor: float = SIGMA_FACTOR,
) -> List[Dict[str, float]]:
    """
    Train a ViTCenterDetector; returns per-epoch mean losses.

    ``sigma_factor``: the heatmap Gaussian's width (:func:`vitedge_ros.models.vit_detector.
    gaussian_radius`).

    ``data``: a :class:`DetectionSet` (each epoch a permutation of it) or a
    :class:`vitedge_ros.data.sources.DetectionSampler` (``len(data)`` fresh crops per epoch, drawn
    from weighted sources). Ignored regions, where the data has them, get no negative heatmap loss.
    """
    loss_fn = loss_fn or default_detection_loss
    det = getattr(model, 'detector', model)
    sampler = data if hasattr(data, 'batch') else None

    def step(idx: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        if sampler is not None:
            imgs, boxes, labels, ignored = sampler.batch(len(idx), rng)
        else:
            imgs = data.images[idx]
            boxes, labels = [data.boxes[i] for i in idx], [data.labels[i] for i in idx]
            ignored = [data.ignored[i] for i in idx] if data.ignored is not None else None
        if augment:
            flipped = _augment(imgs, boxes, rng, ignored)
            imgs, boxes = flipped[0], flipped[1]
            ignored = flipped[2] if ignored is not None else None
        x = images_to_tensor(imgs, data.spec)
        targets = build_targets(
            [torch.from_numpy(b) for b in boxes],
            [torch.from_numpy(lab) for lab in labels],
            det.num_classes,
            det.map_size,
            det.stride,
            ignore=[torch.from_numpy(g) for g in ignored] if ignored is not None else None,
            sigma_factor=sigma_factor,
            box=det.box,
        )
        return loss_fn(model, x, targets)

    n = len(sampler) if sampler is not None else len(data.images)
    return _run_epochs(
        model,
        n,
        batch_size,
        epochs,
        lr,
        weight_decay,
        seed,
        step,
        'train detector',
        progress,
        on_epoch_end,
        start_epoch,
        optimizer_state,
        trainable=trainable,
    )


ClsLossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def train_classifier(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    loss_fn: Optional[ClsLossFn] = None,
    augment: bool = True,
    label_smoothing: float = 0.0,
    progress: bool = True,
    on_epoch_end: Optional[EpochHook] = None,
    start_epoch: int = 0,
    optimizer_state: Optional[Dict[str, Any]] = None,
    trainable: Optional[nn.Module] = None,
) -> List[Dict[str, float]]:
    """
    Train a classifier on float32 N×3×H×W inputs (already normalised).

    Returns per-epoch losses.
    """
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))

    def step(idx: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        xb, yb = xt[idx], yt[idx]
        if augment:
            xb = _shift(xb, rng)
        if loss_fn is not None:
            loss = loss_fn(model, xb, yb)
        else:
            out = model(xb)
            out = out[0] if isinstance(out, (tuple, list)) else out
            loss = F.cross_entropy(out, yb, label_smoothing=label_smoothing)
        return {'loss': loss}

    return _run_epochs(
        model,
        len(xt),
        batch_size,
        epochs,
        lr,
        weight_decay,
        seed,
        step,
        'train classifier',
        progress,
        on_epoch_end,
        start_epoch,
        optimizer_state,
        trainable=trainable,
    )


def _shift(xb: torch.Tensor, rng: np.random.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to ``max_shift`` pixels (edge padding), one offset per batch."""
    dx, dy = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    if dx == 0 and dy == 0:
        return xb
    p = max_shift
    padded = F.pad(xb, (p, p, p, p), mode='replicate')
    h, w = xb.shape[2:]
    return padded[:, :, p + dy:p + dy + h, p + dx:p + dx + w]


def _augment_seg(
    images: np.ndarray, masks: np.ndarray, rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Randomly flip images and masks horizontally / vertically.

    Images also get a small brightness/contrast jitter.
    """
    out_i, out_m = [], []
    for img, m in zip(images, masks):
        if rng.random() < 0.5:
            img, m = img[:, ::-1], m[:, ::-1]
        if rng.random() < 0.5:
            img, m = img[::-1], m[::-1]
        out_i.append(np.ascontiguousarray(img))
        out_m.append(np.ascontiguousarray(m))
    return np.stack(out_i), np.stack(out_m)


SegLossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], Dict[str, torch.Tensor]]


def class_weights_from_masks(
    masks: np.ndarray, num_classes: int, power: float = 0.5, max_weight: float = 10.0
) -> torch.Tensor:
    """
    Return inverse-frequency class weights ``(median_freq / freq) ** power``.

    The weights are clipped and mean-normalised.
    """
    from ..eval.segmentation import IGNORE_INDEX

    m = masks.reshape(-1)
    m = m[m != IGNORE_INDEX]
    counts = np.bincount(m, minlength=num_classes)[:num_classes].astype(np.float64)
    freq = counts / max(1.0, counts.sum())
    present = freq > 0
    med = np.median(freq[present]) if present.any() else 1.0
    w = np.where(present, (med / np.maximum(freq, 1e-12)) ** power, 1.0)
    w = np.clip(w, 1.0 / max_weight, max_weight)
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train_segmenter(
    model: nn.Module,
    data: SegmentationSet,
    *,
    epochs: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    loss_fn: Optional[SegLossFn] = None,
    augment: bool = True,
    class_weights: Optional[torch.Tensor] = None,
    dice_weight: float = 0.5,
    progress: bool = True,
    on_epoch_end: Optional[EpochHook] = None,
    start_epoch: int = 0,
    optimizer_state: Optional[Dict[str, Any]] = None,
    trainable: Optional[nn.Module] = None,
    loss_stride: int = 2,
) -> List[Dict[str, float]]:
    """
    Train a ViTSegmenter (CE + Dice on logits upsampled to the mask size); per-epoch mean losses.

    ``loss_fn(model, x, masks)`` replaces the plain loss (distillation); ``masks`` are B×h×w int64
    ids, subsampled by ``loss_stride`` (2: the loss at half the network size costs a quarter of
    full size and still resolves objects a few pixels wide).
    """
    from ..models.vit_segmenter import segmentation_loss

    def default_loss(
        mdl: nn.Module, x: torch.Tensor, masks: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        return segmentation_loss(
            mdl(x), masks, class_weights=class_weights, dice_weight=dice_weight
        )

    loss_fn = loss_fn or default_loss

    def step(idx: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        imgs, masks = data.images[idx], data.masks[idx]
        if augment:
            imgs, masks = _augment_seg(imgs, masks, rng)
        x = images_to_tensor(imgs, data.spec)
        if loss_stride > 1:
            masks = masks[:, ::loss_stride, ::loss_stride]
        return loss_fn(model, x, torch.from_numpy(masks.astype(np.int64)))

    return _run_epochs(
        model,
        len(data.images),
        batch_size,
        epochs,
        lr,
        weight_decay,
        seed,
        step,
        'train segmenter',
        progress,
        on_epoch_end,
        start_epoch,
        optimizer_state,
        trainable=trainable,
    )

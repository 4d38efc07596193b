"""Training loops shared by tools/train.py and the compression recipes' fine-tuning stages.

Detectors train on letterboxed uint8 images made with the runtime's own :class:`Preprocessor`, so the
network sees exactly what it will see on the drone. Loops take a ``loss_fn`` hook so that distillation
can replace the plain loss without copying the loop.
"""
import math
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .eval.detection import detection_map
from .models.vit_detector import build_targets, detection_loss
from .runtime.bundle import InputSpec
from .runtime.preprocess import Preprocessor


class DetectionSet(NamedTuple):
    """Detection samples at network size: uint8 images (network colour order) and boxes in network pixels."""

    images: np.ndarray  # N×H×W×3 uint8
    boxes: List[np.ndarray]  # each M×4 float32 xyxy
    labels: List[np.ndarray]  # each M int64
    spec: InputSpec


def scenes_to_detection_set(scenes: Sequence[Any], spec: InputSpec) -> DetectionSet:
    """Letterbox scenes (objects with ``image``, ``boxes``, ``labels``) to the network input."""
    pre = Preprocessor(spec)
    images, boxes, labels = [], [], []
    for sc in scenes:
        img, tf = pre.letterbox(sc.image)
        b = np.asarray(sc.boxes, np.float32).reshape(-1, 4).copy()
        b[:, 0::2] = b[:, 0::2] * tf.scale_x + tf.pad_x
        b[:, 1::2] = b[:, 1::2] * tf.scale_y + tf.pad_y
        images.append(np.ascontiguousarray(img))
        boxes.append(b)
        labels.append(np.asarray(sc.labels, np.int64).reshape(-1))
    return DetectionSet(np.stack(images), boxes, labels, spec)


def make_detection_set(n: int, seed: int, spec: InputSpec, width: int = 640, height: int = 480) -> DetectionSet:
    """Generate ``n`` synthetic aerial scenes (seeds ``seed .. seed+n-1``) at the network input."""
    from .data.synthetic import generate_scene

    return scenes_to_detection_set((generate_scene(seed + i, width=width, height=height) for i in range(n)), spec)


def _normalizer(spec: InputSpec) -> Tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def images_to_tensor(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """N×H×W×3 uint8 → normalised N×3×H×W float32 (same arithmetic as the runtime)."""
    mean, std = _normalizer(spec)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - mean) / std


def _augment(images: np.ndarray, boxes: List[np.ndarray], rng: np.random.Generator):
    """Random horizontal and vertical flips (aerial views have no up)."""
    h, w = images.shape[1:3]
    out_i, out_b = [], []
    for img, b in zip(images, boxes):
        b = b.copy()
        if rng.random() < 0.5:
            img = img[:, ::-1]
            b[:, [0, 2]] = w - b[:, [2, 0]]
        if rng.random() < 0.5:
            img = img[::-1]
            b[:, [1, 3]] = h - b[:, [3, 1]]
        out_i.append(np.ascontiguousarray(img))
        out_b.append(b)
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
    return torch.optim.AdamW([{'params': decay, 'weight_decay': weight_decay},
                              {'params': no_decay, 'weight_decay': 0.0}], lr=lr)


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


def _run_epochs(model: nn.Module, n: int, batch_size: int, epochs: int, lr: float, weight_decay: float,
                seed: int, step_fn: Callable[[np.ndarray, np.random.Generator], Dict[str, torch.Tensor]],
                desc: str, progress: bool, on_epoch_end: Optional[EpochHook], start_epoch: int,
                optimizer_state: Optional[Dict[str, Any]], warmup_fraction: float = 0.05,
                trainable: Optional[nn.Module] = None) -> List[Dict[str, float]]:
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
                bar.set_postfix(epoch=epoch + 1, loss='{:.3f}'.format(float(parts['loss'].detach())))
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


def default_detection_loss(model: nn.Module, x: torch.Tensor,
                           targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Plain CenterNet loss of a :class:`ViTCenterDetector`."""
    return detection_loss(model(x), targets)


def train_detector(model: nn.Module, data: DetectionSet, *, epochs: int, batch_size: int = 32, lr: float = 1e-3,
                   weight_decay: float = 0.05, seed: int = 0, loss_fn: Optional[DetLossFn] = None,
                   augment: bool = True, progress: bool = True, on_epoch_end: Optional[EpochHook] = None,
                   start_epoch: int = 0, optimizer_state: Optional[Dict[str, Any]] = None,
                   trainable: Optional[nn.Module] = None) -> List[Dict[str, float]]:
    """Train a ViTCenterDetector; returns per-epoch mean losses."""
    loss_fn = loss_fn or default_detection_loss
    det = getattr(model, 'detector', model)

    def step(idx: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        imgs = data.images[idx]
        boxes = [data.boxes[i] for i in idx]
        if augment:
            imgs, boxes = _augment(imgs, boxes, rng)
        x = images_to_tensor(imgs, data.spec)
        targets = build_targets([torch.from_numpy(b) for b in boxes],
                                [torch.from_numpy(data.labels[i]) for i in idx], det.num_classes,
                                det.map_size, det.stride)
        return loss_fn(model, x, targets)

    return _run_epochs(model, len(data.images), batch_size, epochs, lr, weight_decay, seed, step, 'train detector',
                       progress, on_epoch_end, start_epoch, optimizer_state, trainable=trainable)


@torch.no_grad()
def predict_detector(model: nn.Module, data: DetectionSet, batch_size: int = 32,
                     min_score: float = 0.01) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Detections per image in network pixels: (boxes, scores, labels), score ≥ ``min_score``."""
    model.eval()
    det = getattr(model, 'detector', model)
    out = []
    for i in range(0, len(data.images), batch_size):
        x = images_to_tensor(data.images[i:i + batch_size], data.spec)
        rows = det.decode(det(x)).numpy()
        for r in rows:
            keep = r[:, 4] >= min_score
            out.append((r[keep, :4], r[keep, 4], r[keep, 5].astype(np.int64)))
    return out


def evaluate_detector(model: nn.Module, data: DetectionSet, class_names: Sequence[str],
                      min_score: float = 0.01) -> Dict[str, Any]:
    """COCO mAP@0.5 and mAP@0.5:0.95 (overall and per class) on a detection set."""
    preds = predict_detector(model, data, min_score=min_score)
    return detection_map(list(zip(data.boxes, data.labels)), preds, class_names)


ClsLossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def train_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int = 64,
                     lr: float = 1e-3, weight_decay: float = 0.05, seed: int = 0, loss_fn: Optional[ClsLossFn] = None,
                     augment: bool = True, label_smoothing: float = 0.0, progress: bool = True,
                     on_epoch_end: Optional[EpochHook] = None, start_epoch: int = 0,
                     optimizer_state: Optional[Dict[str, Any]] = None,
                     trainable: Optional[nn.Module] = None) -> List[Dict[str, float]]:
    """Train a classifier on float32 N×3×H×W inputs (already normalised); returns per-epoch losses."""
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

    return _run_epochs(model, len(xt), batch_size, epochs, lr, weight_decay, seed, step, 'train classifier',
                       progress, on_epoch_end, start_epoch, optimizer_state, trainable=trainable)


def _shift(xb: torch.Tensor, rng: np.random.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to ``max_shift`` pixels (edge padding), one offset per batch."""
    dx, dy = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
    if dx == 0 and dy == 0:
        return xb
    p = max_shift
    padded = F.pad(xb, (p, p, p, p), mode='replicate')
    h, w = xb.shape[2:]
    return padded[:, :, p + dy:p + dy + h, p + dx:p + dx + w]


@torch.no_grad()
def predict_classifier(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits N×C for float32 inputs."""
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        out = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], dtype=np.float32)))
        out = out[0] if isinstance(out, (tuple, list)) else out
        outs.append(out.float().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)


def evaluate_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy."""
    logits = predict_classifier(model, x)
    return float((logits.argmax(axis=1) == np.asarray(y)).mean()) if len(y) else 0.0

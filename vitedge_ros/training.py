"""Training loops shared by tools/train.py and the compression recipes' fine-tuning stages.

Detectors train on letterboxed uint8 images made with the runtime's own :class:`Preprocessor`, so the
network sees exactly what it will see on the drone. Loops take a ``loss_fn`` hook so that distillation
can replace the plain loss without copying the loop.
"""
import math
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .eval.detection import detection_map
from .models.vit_detector import build_targets, detection_loss
from .runtime.bundle import InputSpec
from .runtime.preprocess import Preprocessor


class DetectionSet(NamedTuple):
    """Detection samples at network size: uint8 images (network colour order) and boxes in network pixels.

    ``ignored`` (optional, each K×4 xyxy): regions that are neither objects nor background (no heatmap loss in
    training; detections and ground truth more than half inside are dropped before scoring).
    """

    images: np.ndarray  # N×H×W×3 uint8
    boxes: List[np.ndarray]  # each M×4 float32 xyxy
    labels: List[np.ndarray]  # each M int64
    spec: InputSpec
    ignored: Optional[List[np.ndarray]] = None


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


def detection_scenes(n: int, seed: int, width: int = 640, height: int = 480,
                     flights: Optional[Dict[str, Any]] = None, real_backgrounds: float = 0.0,
                     real_negatives: float = 0.0) -> Iterator[Any]:
    """The generated scenes of :func:`make_detection_set`, one at a time, at scene size (not letterboxed).

    Yields ``Scene`` objects (``image`` BGR uint8 height×width×3, ``boxes`` M×4 xyxy scene pixels,
    ``labels`` M): the ``n`` single scenes (seeds ``seed .. seed+n-1``, the last ``round(n * real_negatives)``
    real texture negatives with no object), then the kept flight frames (:func:`flight_scenes`). For
    consumers that cannot hold a whole set in memory (the peer benchmark writes them to disk).
    Raises ``ValueError`` for a fraction outside [0, 1].
    """
    from .data.synthetic import generate_scene, generate_texture_negative

    for key, v in (('real_backgrounds', real_backgrounds), ('real_negatives', real_negatives)):
        if not 0.0 <= v <= 1.0:
            raise ValueError('{} must be in [0, 1], got {}'.format(key, v))
    n_neg = int(round(n * real_negatives))
    for i in range(n):
        if i < n - n_neg:
            yield generate_scene(seed + i, width=width, height=height, real_background=real_backgrounds)
        else:
            yield generate_texture_negative(seed + i, width=width, height=height)
    if flights:
        yield from flight_scenes(width=width, height=height, **flights)


def make_detection_set(n: int, seed: int, spec: InputSpec, width: int = 640, height: int = 480,
                       flights: Optional[Dict[str, Any]] = None, real_backgrounds: float = 0.0,
                       real_negatives: float = 0.0) -> DetectionSet:
    """Generate ``n`` synthetic aerial scenes (seeds ``seed .. seed+n-1``) at the network input.

    ``real_backgrounds`` (0-1): probability that a scene's bare ground is a real photo texture
    (``generate_scene(real_background=...)``; boxes do not change). ``real_negatives`` (0-1): the fraction
    of the ``n`` scenes, the last ``round(n * real_negatives)`` seeds, that are real photo texture alone
    with no objects (``generate_texture_negative``). Both read training photos only
    (:data:`vitedge_ros.data.textures.TRAIN_REGIONS`). ``flights`` ({count, frames, seed, every,
    real_backgrounds}) appends frames of generated drone flights (:func:`make_flight_detection_set`).
    Raises ``ValueError`` for a fraction outside [0, 1].
    """
    scenes = detection_scenes(n, seed, width, height, flights=flights, real_backgrounds=real_backgrounds,
                              real_negatives=real_negatives)
    return scenes_to_detection_set(scenes, spec)


def flight_scenes(count: int, frames: int, seed: int, every: int = 1, width: int = 640, height: int = 480,
                  real_backgrounds: float = 0.0) -> Iterator[Any]:
    """The kept frames of :func:`make_flight_detection_set`, one at a time, at scene size (not letterboxed)."""
    from .data.synthetic import camera_sequence

    if count < 1 or frames < 1 or every < 1:
        raise ValueError('flights: count, frames and every must be >= 1, got {}, {}, {}'.format(count, frames, every))
    for k in range(count):
        flight = camera_sequence(frames, seed=seed + k, width=width, height=height, real_background=real_backgrounds)
        for i, sc in enumerate(flight):
            if i % every == 0:
                yield sc


def make_flight_detection_set(count: int, frames: int, seed: int, spec: InputSpec, every: int = 1,
                              width: int = 640, height: int = 480, real_backgrounds: float = 0.0) -> DetectionSet:
    """Frames of ``count`` generated drone flights (``camera_sequence`` seeds ``seed .. seed+count-1``).

    Every ``every``-th of ``frames`` frames is kept: neighbouring frames are nearly identical. Flight frames
    add what single scenes lack: resampling blur from the moving camera, sensor noise and objects cut by
    the frame edge. ``real_backgrounds``: probability that a flight's world has real photo texture for
    bare ground (``camera_sequence(real_background=...)``).
    """
    return scenes_to_detection_set(flight_scenes(count, frames, seed, every, width, height, real_backgrounds), spec)


def concat_detection_sets(a: DetectionSet, b: DetectionSet) -> DetectionSet:
    """Both sets in one (same input spec)."""
    if a.spec != b.spec:
        raise ValueError('concat_detection_sets: input specs differ: {} vs {}'.format(a.spec, b.spec))
    ignored = None
    if a.ignored is not None or b.ignored is not None:
        ignored = _ignored_or_empty(a) + _ignored_or_empty(b)
    return DetectionSet(np.concatenate([a.images, b.images]), list(a.boxes) + list(b.boxes),
                        list(a.labels) + list(b.labels), a.spec, ignored)


def _ignored_or_empty(data: DetectionSet) -> List[np.ndarray]:
    if data.ignored is not None:
        return list(data.ignored)
    return [np.zeros((0, 4), np.float32) for _ in data.boxes]


class DetectionData(NamedTuple):
    """Training and validation data of a ``data`` entry with real sources or a mix (see data/sources.py)."""

    train: Any  # DetectionSampler: fresh crops each epoch
    val: DetectionSet  # the first item's validation set, letterboxed whole frames
    labels: List[str]
    val_from: str  # key path of the item validation comes from


SyntheticFn = Callable[[Dict[str, Any], str], DetectionSet]


def is_real_detection_data(data: Dict[str, Any]) -> bool:
    """True for ``data`` entries that :func:`make_detection_data` reads (a mix, coco or visdrone)."""
    from .data.sources import DETECTION_SOURCES

    return 'mix' in data or data.get('name') in DETECTION_SOURCES


def detection_data_classes(data: Dict[str, Any], path: str = 'data') -> List[str]:
    """Label names of a detection ``data`` entry, read without any image; every mix item must agree."""
    from .data.sources import check_same_classes, detection_classes

    items = data['mix'] if 'mix' in data else [data]
    wheres = ['{}.mix[{}]'.format(path, k) for k in range(len(items))] if 'mix' in data else [path]
    return check_same_classes([(w, detection_classes(it, w)) for w, it in zip(wheres, items)])


def make_detection_data(data: Dict[str, Any], spec: InputSpec, synthetic: SyntheticFn,
                        epoch_size: Optional[int] = None, val_limit: Optional[int] = None,
                        path: str = 'data') -> DetectionData:
    """Open the sources of a validated detection ``data`` entry (one real source or a ``mix``).

    ``synthetic(item, split)`` makes the caller's synthetic-aerial scenes for a mix item (training configs and
    recipes name their keys differently). Errors name the key path (``data.mix[1].root``).
    """
    from .data.sources import DetectionSampler, PreparedSource, letterbox_source, open_detection_source

    labels = detection_data_classes(data, path)
    items = data['mix'] if 'mix' in data else [data]
    wheres = ['{}.mix[{}]'.format(path, k) for k in range(len(items))] if 'mix' in data else [path]
    sources, weights = [], []
    for item, where in zip(items, wheres):
        if item['name'] == 'synthetic-aerial':
            scenes = synthetic(item, 'train')
            sources.append(PreparedSource(scenes.images, scenes.boxes, scenes.labels, labels, scenes.ignored, where))
        else:
            sources.append(open_detection_source(item, 'train', where))
        weights.append(float(item.get('weight', 1.0)))
    first, where = items[0], wheres[0]
    if first['name'] == 'synthetic-aerial':
        val = synthetic(first, 'val')
    else:
        images, boxes, lab, ignored, _ = letterbox_source(open_detection_source(first, 'val', where), spec, val_limit)
        val = DetectionSet(images, boxes, lab, spec, ignored)
    return DetectionData(DetectionSampler(spec, sources, weights, epoch_size), val, labels, where)


def sample_detection_set(sampler: Any, n: int, seed: int) -> DetectionSet:
    """``n`` samples of a :class:`DetectionSampler` drawn once (fixed crops, e.g. for calibration)."""
    images, boxes, labels, ignored = sampler.batch(n, np.random.default_rng(seed))
    return DetectionSet(images, boxes, labels, sampler.spec, ignored)


def _normalizer(spec: InputSpec) -> Tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def images_to_tensor(images: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """N×H×W×3 uint8 → normalised N×3×H×W float32 (same arithmetic as the runtime)."""
    mean, std = _normalizer(spec)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - mean) / std


def _augment(images: np.ndarray, boxes: List[np.ndarray], rng: np.random.Generator,
             ignored: Optional[List[np.ndarray]] = None):
    """Random horizontal and vertical flips (aerial views have no up); ignored regions flip with their image."""
    h, w = images.shape[1:3]
    out_i, out_b, out_g = [], [], []
    for k, (img, b) in enumerate(zip(images, boxes)):
        group = [b.copy()] + ([np.asarray(ignored[k], np.float32).reshape(-1, 4).copy()] if ignored is not None else [])
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


def train_detector(model: nn.Module, data: Any, *, epochs: int, batch_size: int = 32, lr: float = 1e-3,
                   weight_decay: float = 0.05, seed: int = 0, loss_fn: Optional[DetLossFn] = None,
                   augment: bool = True, progress: bool = True, on_epoch_end: Optional[EpochHook] = None,
                   start_epoch: int = 0, optimizer_state: Optional[Dict[str, Any]] = None,
                   trainable: Optional[nn.Module] = None) -> List[Dict[str, float]]:
    """Train a ViTCenterDetector; returns per-epoch mean losses.

    ``data``: a :class:`DetectionSet` (each epoch a permutation of it) or a
    :class:`vitedge_ros.data.sources.DetectionSampler` (``len(data)`` fresh crops per epoch, drawn from
    weighted sources). Ignored regions, where the data has them, get no negative heatmap loss.
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
        targets = build_targets([torch.from_numpy(b) for b in boxes], [torch.from_numpy(lab) for lab in labels],
                                det.num_classes, det.map_size, det.stride,
                                ignore=[torch.from_numpy(g) for g in ignored] if ignored is not None else None)
        return loss_fn(model, x, targets)

    n = len(sampler) if sampler is not None else len(data.images)
    return _run_epochs(model, n, batch_size, epochs, lr, weight_decay, seed, step, 'train detector',
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
    gts = list(zip(data.boxes, data.labels))
    if data.ignored is not None:
        gts, preds = drop_ignored(gts, preds, data.ignored, (data.spec.width, data.spec.height))
    return detection_map(gts, preds, class_names)


def drop_ignored(gts: Sequence[Tuple[np.ndarray, np.ndarray]], preds: Sequence[Tuple[np.ndarray, ...]],
                 ignored: Sequence[np.ndarray], size: Tuple[int, int]) -> Tuple[List[Any], List[Any]]:
    """Ground truth and detections without those more than half inside ignored regions (``size`` = w, h).

    The rule of the VisDrone-DET toolkit (``dropObjectsInIgr.m``), applied per image before COCO scoring.
    """
    from .data.sources import drop_in_ignored

    out_g, out_p = [], []
    for (gb, gl), pred, ign in zip(gts, preds, ignored):
        kg = drop_in_ignored(gb, ign, size)
        kp = drop_in_ignored(pred[0], ign, size)
        out_g.append((np.asarray(gb).reshape(-1, 4)[kg], np.asarray(gl).reshape(-1)[kg]))
        out_p.append(tuple(np.asarray(a)[kp] for a in pred))
    return out_g, out_p


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


# --- segmentation ---------------------------------------------------------------------------------------------

class SegmentationSet(NamedTuple):
    """Segmentation samples at network size, and (optionally) the masks in input-image pixels.

    ``masks`` carry ``IGNORE_INDEX`` (255) on letterbox padding. ``frame_masks`` + ``transforms`` let the
    evaluation score label maps in input-image pixels, as the runtime decoder produces them.
    """

    images: np.ndarray  # N×H×W×3 uint8, network colour order
    masks: np.ndarray  # N×H×W uint8 class ids
    spec: InputSpec
    frame_masks: Optional[List[np.ndarray]] = None  # each h×w uint8, input-image pixels
    transforms: Optional[List[Any]] = None  # runtime Transform per sample


def letterbox_mask(mask: np.ndarray, pre: Preprocessor) -> np.ndarray:
    """A label map through the same geometry as its image (nearest neighbour, 255 on the padding)."""
    import cv2

    from .eval.segmentation import IGNORE_INDEX

    h, w = mask.shape[:2]
    (new_w, new_h), tf = pre.geometry(w, h)
    m = mask if (new_w, new_h) == (w, h) else cv2.resize(mask, (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    spec = pre.spec
    if (new_w, new_h) != (spec.width, spec.height):
        canvas = np.full((spec.height, spec.width), IGNORE_INDEX, dtype=np.uint8)
        px, py = int(tf.pad_x), int(tf.pad_y)
        canvas[py:py + new_h, px:px + new_w] = m
        m = canvas
    return np.ascontiguousarray(m.astype(np.uint8))


def scenes_to_segmentation_set(samples: Iterable[Any], spec: InputSpec, keep_frame_masks: bool = False,
                               num_classes: Optional[int] = None) -> SegmentationSet:
    """Letterbox ``(image, mask)`` pairs or scenes (``.image``, ``.mask``) to the network input.

    With ``num_classes`` every mask is checked (size, class ids) with a clear error first.
    """
    from .eval.segmentation import check_mask

    pre = Preprocessor(spec)
    images, masks, frames, tfs = [], [], [], []
    for i, s in enumerate(samples):
        image, mask = (s.image, s.mask) if hasattr(s, 'mask') else (s[0], s[1])
        if num_classes is not None:
            mask = check_mask(mask, num_classes, tuple(image.shape[:2]), what='sample {} mask'.format(i))
        img, tf = pre.letterbox(image)
        images.append(np.ascontiguousarray(img))
        masks.append(letterbox_mask(np.asarray(mask, np.uint8), pre))
        if keep_frame_masks:
            frames.append(np.asarray(mask, np.uint8))
            tfs.append(tf)
    shape = (0, spec.height, spec.width)
    return SegmentationSet(np.stack(images) if images else np.zeros(shape + (3,), np.uint8),
                           np.stack(masks) if masks else np.zeros(shape, np.uint8), spec,
                           frames if keep_frame_masks else None, tfs if keep_frame_masks else None)


def _seg_cache_path(cache_dir: Any, n: int, seed: int, spec: InputSpec, width: int, height: int,
                    keep_frame_masks: bool) -> Any:
    import hashlib
    from pathlib import Path

    key = repr((n, seed, spec.to_dict(), width, height, keep_frame_masks, 'synthetic-v1'))
    return Path(cache_dir) / 'seg_{}_{}_{}x{}_{}.npz'.format(n, seed, width, height,
                                                             hashlib.sha1(key.encode()).hexdigest()[:10])


def make_segmentation_set(n: int, seed: int, spec: InputSpec, width: int = 640, height: int = 480,
                          keep_frame_masks: bool = False, cache_dir: Any = None) -> SegmentationSet:
    """``n`` synthetic aerial scenes (seeds ``seed ..``) with their masks, at the network input.

    With ``cache_dir`` the set is stored there once (``.npz``) and read back on later calls.
    """
    from .data.synthetic import generate_scene

    path = _seg_cache_path(cache_dir, n, seed, spec, width, height, keep_frame_masks) if cache_dir else None
    if path is not None and path.is_file():
        z = np.load(str(path))
        frames = [m for m in z['frame_masks']] if keep_frame_masks else None
        tfs = None
        if keep_frame_masks:
            pre = Preprocessor(spec)
            tfs = [pre.geometry(m.shape[1], m.shape[0])[1] for m in frames]
        return SegmentationSet(z['images'], z['masks'], spec, frames, tfs)
    data = scenes_to_segmentation_set((generate_scene(seed + i, width=width, height=height) for i in range(n)),
                                      spec, keep_frame_masks)
    if path is not None:
        import io

        from .runtime.bundle import atomic_write_bytes

        buf = io.BytesIO()
        arrays = {'images': data.images, 'masks': data.masks}
        if keep_frame_masks:
            arrays['frame_masks'] = np.stack(data.frame_masks)
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    return data


def _augment_seg(images: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Random horizontal / vertical flips of images and masks, and a small brightness/contrast jitter."""
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


def class_weights_from_masks(masks: np.ndarray, num_classes: int, power: float = 0.5,
                             max_weight: float = 10.0) -> torch.Tensor:
    """Inverse-frequency class weights ``(median_freq / freq) ** power``, clipped, mean-normalised."""
    from .eval.segmentation import IGNORE_INDEX

    m = masks.reshape(-1)
    m = m[m != IGNORE_INDEX]
    counts = np.bincount(m, minlength=num_classes)[:num_classes].astype(np.float64)
    freq = counts / max(1.0, counts.sum())
    present = freq > 0
    med = np.median(freq[present]) if present.any() else 1.0
    w = np.where(present, (med / np.maximum(freq, 1e-12)) ** power, 1.0)
    w = np.clip(w, 1.0 / max_weight, max_weight)
    return torch.tensor(w / w.mean(), dtype=torch.float32)


def train_segmenter(model: nn.Module, data: SegmentationSet, *, epochs: int, batch_size: int = 16,
                    lr: float = 1e-3, weight_decay: float = 0.05, seed: int = 0, loss_fn: Optional[SegLossFn] = None,
                    augment: bool = True, class_weights: Optional[torch.Tensor] = None, dice_weight: float = 0.5,
                    progress: bool = True, on_epoch_end: Optional[EpochHook] = None, start_epoch: int = 0,
                    optimizer_state: Optional[Dict[str, Any]] = None,
                    trainable: Optional[nn.Module] = None, loss_stride: int = 2) -> List[Dict[str, float]]:
    """Train a ViTSegmenter (CE + Dice on logits upsampled to the mask size); per-epoch mean losses.

    ``loss_fn(model, x, masks)`` replaces the plain loss (distillation); ``masks`` are B×h×w int64 ids,
    subsampled by ``loss_stride`` (2: the loss at half the network size costs a quarter of full size and
    still resolves objects a few pixels wide).
    """
    from .models.vit_segmenter import segmentation_loss

    def default_loss(mdl: nn.Module, x: torch.Tensor, masks: torch.Tensor) -> Dict[str, torch.Tensor]:
        return segmentation_loss(mdl(x), masks, class_weights=class_weights, dice_weight=dice_weight)

    loss_fn = loss_fn or default_loss

    def step(idx: np.ndarray, rng: np.random.Generator) -> Dict[str, torch.Tensor]:
        imgs, masks = data.images[idx], data.masks[idx]
        if augment:
            imgs, masks = _augment_seg(imgs, masks, rng)
        x = images_to_tensor(imgs, data.spec)
        if loss_stride > 1:
            masks = masks[:, ::loss_stride, ::loss_stride]
        return loss_fn(model, x, torch.from_numpy(masks.astype(np.int64)))

    return _run_epochs(model, len(data.images), batch_size, epochs, lr, weight_decay, seed, step, 'train segmenter',
                       progress, on_epoch_end, start_epoch, optimizer_state, trainable=trainable)


@torch.no_grad()
def predict_segmenter_logits(model: nn.Module, images: np.ndarray, spec: InputSpec,
                             batch_size: int = 16) -> Iterator[np.ndarray]:
    """Logits (C×h×w float32 at map resolution) per network-size image."""
    model.eval()
    for i in range(0, len(images), batch_size):
        out = model(images_to_tensor(images[i:i + batch_size], spec))
        out = out[0] if isinstance(out, (tuple, list)) else out
        yield from out.float().numpy()


def evaluate_segmenter(model: nn.Module, data: SegmentationSet, class_names: Sequence[str],
                       upsample: str = 'linear') -> Dict[str, Any]:
    """Mean IoU, per-class IoU and pixel accuracy of a segmenter on a set.

    Scored in input-image pixels through the runtime decoder when the set has ``frame_masks``, else at the
    network size (letterbox padding ignored).
    """
    from .eval.segmentation import SegmentationMeter
    from .runtime.preprocess import Transform
    from .runtime.segmentation import logits_to_labels

    meter = SegmentationMeter(class_names)
    spec = data.spec
    net = (spec.width, spec.height)
    for i, logits in enumerate(predict_segmenter_logits(model, data.images, spec)):
        hwc = np.ascontiguousarray(logits.transpose(1, 2, 0))
        if data.frame_masks is not None:
            gt, tf = data.frame_masks[i], data.transforms[i]
        else:
            gt, tf = data.masks[i], Transform(1.0, 1.0, 0.0, 0.0, spec.width, spec.height)
        meter.update(gt, logits_to_labels(hwc, tf, net, upsample), what='sample {} mask'.format(i))
    return meter.result()


def segmenter_onnx_agreement(model: nn.Module, onnx_path: Any, images: np.ndarray, spec: InputSpec) -> float:
    """Fraction of logit-map pixels where onnxruntime (CPU) and torch give the same argmax class."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    name = sess.get_inputs()[0].name
    same = total = 0
    for img, ref in zip(images, predict_segmenter_logits(model, images, spec, batch_size=8)):
        x = images_to_tensor(img[None], spec).numpy()
        got = np.asarray(sess.run(None, {name: x})[0])[0]
        a, b = ref.argmax(axis=0), got.argmax(axis=0)
        same += int((a == b).sum())
        total += int(a.size)
    return float(same) / total if total else 1.0

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
Semantic segmentation metrics.

Confusion matrix, per-class IoU, mIoU, pixel accuracy, and mask checks.

Numpy only (no torch), so the runtime-side tools (eval_bag) use it too. Label maps are H×W integer
class ids; ground-truth pixels equal to ``ignore_index`` (255 by default: letterbox padding,
unlabelled) are not counted. mIoU is the mean IoU over the classes that occur in the ground truth
**or** the prediction of the evaluated set (a class absent from both has no defined IoU and is left
out, reported as ``None``).
"""

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..runtime.errors import VitedgeError
from ..runtime.latency_stats import latency_summary

IGNORE_INDEX = 255


class MaskError(VitedgeError, ValueError):
    """
    A ground-truth or predicted mask does not fit (size, dtype, class ids).

    The message says which.
    """


def check_mask(
    mask: Any,
    num_classes: int,
    shape: Optional[Tuple[int, int]] = None,
    what: str = 'mask',
    ignore_index: Optional[int] = IGNORE_INDEX,
) -> np.ndarray:
    """
    Validate a label map and return it as a 2-D integer array.

    Raises :class:`MaskError` naming ``what`` when it is not 2-D (or H×W×1), not an integer array,
    does not have ``shape`` (H, W), or holds class ids outside ``[0, num_classes)`` other than
    ``ignore_index``.
    """
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.ndim != 2 or m.size == 0:
        raise MaskError(
            '{}: expected an H×W label map of class ids, got shape {}'.format(what, m.shape)
        )
    if not np.issubdtype(m.dtype, np.integer):
        raise MaskError('{}: expected integer class ids, got dtype {}'.format(what, m.dtype))
    if shape is not None and tuple(m.shape) != tuple(shape):
        raise MaskError(
            '{}: size {}x{} (WxH) does not match the image size {}x{}'.format(
                what, m.shape[1], m.shape[0], shape[1], shape[0]
            )
        )
    ids = np.unique(m)
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if ignore_index is not None:
        bad = bad[bad != ignore_index]
    if bad.size:
        extra = (
            ' (ignore index {} is allowed)'.format(ignore_index)
            if ignore_index is not None
            else ''
        )
        raise MaskError(
            '{}: unknown class ids {} (the model has {} classes: 0..{}){}'.format(
                what, bad.tolist()[:10], num_classes, num_classes - 1, extra
            )
        )
    return m


def confusion_matrix(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: Optional[int] = IGNORE_INDEX
) -> np.ndarray:
    """
    C×C int64 counts, rows = ground truth, columns = prediction.

    ``ignore_index`` pixels skipped.
    """
    g = np.asarray(gt).reshape(-1).astype(np.int64)
    p = np.asarray(pred).reshape(-1).astype(np.int64)
    if g.shape != p.shape:
        raise MaskError(
            'confusion_matrix: ground truth has {} pixels, prediction {}'.format(g.size, p.size)
        )
    keep = (g >= 0) & (g < num_classes) & (p >= 0) & (p < num_classes)
    if ignore_index is not None:
        keep &= g != ignore_index
    idx = g[keep] * num_classes + p[keep]
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class IoU (NaN where a class is in neither ground truth nor prediction)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(union > 0, tp / np.maximum(union, 1e-12), np.nan)


def metrics_from_confusion(cm: np.ndarray, class_names: Sequence[str]) -> Dict[str, Any]:
    """
    Return the metrics of a confusion matrix.

    ``miou``, ``per_class_iou`` (name → IoU or None), ``pixel_acc``, ``mean_acc``, ``pixels``,
    ``gt_pixels``.

    A class that is predicted but absent from the ground truth has IoU 0 and counts in ``miou``;
    ``miou_present`` averages only the classes with ground-truth pixels (``gt_pixels`` per class).
    """
    cm = np.asarray(cm, dtype=np.int64)
    iou = iou_from_confusion(cm)
    total = int(cm.sum())
    gt_count = cm.sum(axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        acc = np.where(gt_count > 0, np.diag(cm) / np.maximum(gt_count, 1), np.nan)
    valid = ~np.isnan(iou)
    present = valid & (gt_count > 0)
    return {
        'miou': float(np.mean(iou[valid])) if valid.any() else 0.0,
        'miou_present': float(np.mean(iou[present])) if present.any() else 0.0,
        'gt_pixels': {str(n): int(c) for n, c in zip(class_names, gt_count)},
        'per_class_iou': {
            str(n): (None if np.isnan(v) else float(v)) for n, v in zip(class_names, iou)
        },
        'pixel_acc': float(np.trace(cm) / total) if total else 0.0,
        'mean_acc': float(np.nanmean(acc)) if (~np.isnan(acc)).any() else 0.0,
        'pixels': total,
    }


class SegmentationMeter:
    """Accumulates a confusion matrix over frames; ``result()`` gives the metrics."""

    def __init__(
        self, class_names: Sequence[str], ignore_index: Optional[int] = IGNORE_INDEX
    ) -> None:
        self.class_names: List[str] = [str(c) for c in class_names]
        self.num_classes = len(self.class_names)
        self.ignore_index = ignore_index
        self.cm = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.frames = 0

    def update(self, gt: np.ndarray, pred: np.ndarray, what: str = 'mask') -> None:
        """
        Add one frame's ground truth ``gt`` and prediction ``pred`` (label maps).

        The ground truth is validated against the prediction's size and the class count.
        """
        p = np.asarray(pred)
        g = check_mask(gt, self.num_classes, tuple(p.shape[:2]), what, self.ignore_index)
        self.cm += confusion_matrix(g, p, self.num_classes, self.ignore_index)
        self.frames += 1

    def result(self) -> Dict[str, Any]:
        """Metrics so far (see :func:`metrics_from_confusion`), plus ``frames``."""
        out = metrics_from_confusion(self.cm, self.class_names)
        out['frames'] = self.frames
        return out


def segmentation_metrics(
    pairs: Iterable[Tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    ignore_index: Optional[int] = IGNORE_INDEX,
) -> Dict[str, Any]:
    """
    Return mean IoU and the other metrics over ``(ground truth, prediction)`` label-map pairs.

    Both maps of a pair have the same size.
    """
    meter = SegmentationMeter(class_names, ignore_index)
    for i, (g, p) in enumerate(pairs):
        meter.update(g, p, what='mask #{}'.format(i))
    return meter.result()


def label_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """
    Return the fraction of pixels where two label maps agree.

    Two N×C×H×W logit arrays are compared by their argmax over axis 1.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 4:
        a, b = a.argmax(axis=1), b.argmax(axis=1)
    if a.shape != b.shape:
        raise MaskError('label_agreement: shapes differ: {} vs {}'.format(a.shape, b.shape))
    return float((a == b).mean()) if a.size else 1.0


class MaskFolderGroundTruth:
    """
    Ground-truth label maps for bag replay: ``DIR/<stamp_ns>.png`` per frame (header stamp in ns).

    PNG label maps of class ids (8- or 16-bit, single channel), read lazily per frame.
    ``mask_for(stamp, shape)`` returns the validated map or None when the folder has none for that
    stamp; a map of the wrong size or with unknown class ids raises :class:`MaskError` naming the
    file.
    """

    def __init__(
        self, folder: Any, class_names: Sequence[str], ignore_index: Optional[int] = IGNORE_INDEX
    ) -> None:
        from pathlib import Path

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MaskError('{}: ground-truth mask folder does not exist'.format(self.folder))
        self.class_names = [str(c) for c in class_names]
        self.ignore_index = ignore_index
        self.files: Dict[int, Any] = {}
        for f in sorted(self.folder.iterdir()):
            if f.suffix.lower() == '.png' and f.stem.isdigit():
                self.files[int(f.stem)] = f
        if not self.files:
            raise MaskError(
                '{}: no ground-truth masks (expected PNG label maps named <stamp_ns>.png, the '
                'image '
                'header stamp in nanoseconds)'.format(self.folder)
            )

    def __len__(self) -> int:
        return len(self.files)

    def mask_for(self, stamp: int, shape: Tuple[int, int]) -> Optional[np.ndarray]:
        """Return the validated label map of the frame stamped ``stamp`` (ns), or None."""
        from ..data.common import DatasetError
        from ..data.masks import read_label_map

        path = self.files.get(int(stamp))
        if path is None:
            return None
        try:
            raw = read_label_map(path)
        except DatasetError as exc:
            raise MaskError(str(exc)) from exc
        return check_mask(
            raw, len(self.class_names), shape, what=str(path), ignore_index=self.ignore_index
        )


def decoder_timings(
    frame_size: Tuple[int, int] = (640, 480),
    net_size: Tuple[int, int] = (320, 240),
    stride: int = 4,
    num_classes: int = 7,
    runs: int = 50,
    seed: int = 0,
) -> Dict[str, Dict[str, float]]:
    """
    Measure the median / p95 host cost (ms) of the segmenter decoder's paths on random logits.

    numpy and cv2 run on one thread.

    ``linear``: bilinear resampling of the C logit maps + argmax at the network's view resolution,
    nearest copy to the frame (the default); ``nearest``: argmax at map resolution + nearest
    resampling of the label map; ``linear_full_frame``: bilinear logits at full frame size + argmax
    there (the alternative not taken); ``argmax_only``: the argmax at map resolution alone (what an
    in-graph ArgMax would save).
    """
    import time

    import cv2

    from ..runtime.bundle import InputSpec
    from ..runtime.preprocess import Preprocessor, Transform
    from ..runtime.segmentation import logits_to_labels, map_affine

    cv2.setNumThreads(1)
    rng = np.random.default_rng(seed)
    w, h = net_size[0] // stride, net_size[1] // stride
    logits = rng.standard_normal((h, w, num_classes)).astype(np.float32)
    _, tf = Preprocessor(
        InputSpec(net_size[0], net_size[1], 'rgb', (0.0,) * 3, (1.0,) * 3, 'letterbox')
    ).geometry(*frame_size)
    out: Dict[str, Dict[str, float]] = {}
    full = Transform(tf.scale_x, tf.scale_y, tf.pad_x, tf.pad_y, frame_size[0], frame_size[1])
    m_full = map_affine(full, net_size, (w, h))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    cases = {
        'linear': lambda: logits_to_labels(logits, tf, net_size, 'linear'),
        'linear_full_frame': lambda: cv2.warpAffine(
            logits, m_full, frame_size, flags=flags, borderMode=cv2.BORDER_REPLICATE
        ).argmax(axis=2),
        'nearest': lambda: logits_to_labels(logits, tf, net_size, 'nearest'),
        'argmax_only': lambda: logits.argmax(axis=2).astype(np.uint8),
    }
    for name, fn in cases.items():
        fn()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        out[name] = latency_summary(times)
    return out


def _fmt(v: Any, digits: int = 3) -> str:
    return '–' if v is None else ('{:.{}f}'.format(v, digits) if isinstance(v, float) else str(v))


def results_markdown(
    report: Dict[str, Any],
    timings: Optional[Dict[str, Any]] = None,
    bag: Optional[Dict[str, Any]] = None,
) -> str:
    """
    Return the Markdown for docs/SEGMENTATION.md from a compression report.json.

    Decoder timings and eval_bag metrics are added when given.
    """
    stages = report['stages']
    base = stages[0]
    lines = [
        'Compression report `{}` (recipe `{}`; onnxruntime CPU, batch 1, {} thread, all latencies '
        'from one '
        'process on {}). mIoU on 200 held-out synthetic scenes at 640×480, scored in input-image '
        'pixels '
        'through the runtime decoder.'.format(
            report.get('recipe'),
            report.get('recipe_path'),
            report['measure']['threads'],
            report.get('cpu', '?'),
        ),
        '',
        '| stage | mIoU | Δ vs teacher (points) | person IoU | params | MACs | MACs vs teacher | '
        'ORT CPU ms | '
        'ONNX argmax agreement |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    bm = base['metric']['miou']
    for e in stages:
        m = e.get('metric') or {}
        agree = e.get('parity_argmax_agreement', m.get('agreement_with_source'))
        lines.append(
            '| {}{} | {} | {:+.2f} | {} | {:,} | {:.1f} M | {:.3f} | {} | {} |'.format(
                e['name'],
                ' (branch)' if e.get('branch') else '',
                _fmt(m.get('miou'), 4),
                100.0 * (m['miou'] - bm),
                _fmt((m.get('per_class_iou') or {}).get('person')),
                int(e['params']),
                e['macs'] / 1e6,
                e['macs'] / base['macs'],
                _fmt(e.get('latency_ms'), 2),
                _fmt(agree, 5),
            )
        )
    names = list((base['metric'].get('per_class_iou') or {}).keys())
    lines += [
        '',
        'Per-class IoU:',
        '',
        '| stage | ' + ' | '.join(names) + ' |',
        '|---|' + '---|' * len(names),
    ]
    for e in stages:
        pc = (e.get('metric') or {}).get('per_class_iou') or {}
        lines.append('| {} | {} |'.format(e['name'], ' | '.join(_fmt(pc.get(n)) for n in names)))
    if timings:
        lines += [
            '',
            'Host decoder cost (ms, median / p95, one thread):',
            '',
            '| frame | ' + ' | '.join(next(iter(timings.values()))) + ' |',
            '|---|' + '---|' * len(next(iter(timings.values()))),
        ]
        for size, t in timings.items():
            cells = ['{:.2f} / {:.2f}'.format(v['median_ms'], v['p95_ms']) for v in t.values()]
            lines.append('| {} | {} |'.format(size, ' | '.join(cells)))
    if bag:
        acc = bag.get('accuracy') or {}
        lat = bag['latency_ms']
        absent = [n for n, c in (acc.get('gt_pixels') or {}).items() if c == 0]
        note = ''
        if absent:
            note = (
                " ({} absent from this flight's ground truth: any pixel predicted as {} gives it "
                'IoU 0; '
                'mIoU over the classes present {})'.format(
                    ', '.join(absent),
                    'them' if len(absent) > 1 else 'it',
                    _fmt(acc.get('miou_present'), 4),
                )
            )
        lines += [
            '',
            'eval_bag on a synthetic flight ({} frames, {}, backend {}): mIoU {} on {} frames{}, '
            '{:.1f} frames/s, pipeline p50 {:.1f} ms (inference {:.1f}, decoder {:.1f}), peak RSS '
            '{:.0f} MB, '
            'torch imported: {}.'.format(
                bag['frames_in'],
                bag['mode'],
                bag['backend'],
                _fmt(acc.get('miou'), 4),
                acc.get('frames_evaluated'),
                note,
                bag['fps'],
                lat['pipeline']['median_ms'],
                lat['inference']['median_ms'],
                lat['postprocess']['median_ms'],
                bag['peak_rss_mb'],
                'yes' if bag.get('torch_imported') else 'no',
            ),
        ]
    return '\n'.join(lines) + '\n'


def update_doc(doc: Any, marker: str, text: str) -> None:
    """
    Replace the text between ``<!-- marker:begin -->`` and ``<!-- marker:end -->`` in ``doc``.

    ``doc`` is a Markdown file.
    """
    from pathlib import Path

    path = Path(doc)
    src = path.read_text(encoding='utf-8')
    begin, end = '<!-- {}:begin -->'.format(marker), '<!-- {}:end -->'.format(marker)
    if begin not in src or end not in src:
        raise ValueError('{}: markers {} / {} not found'.format(path, begin, end))
    head, rest = src.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + begin + '\n' + text + end + tail, encoding='utf-8')


if (
    __name__ == '__main__'
):  # pragma: no cover - ``python -m vitedge_ros.eval.segmentation [--docs REPORT [BAG]]``
    import json
    import sys

    timings = {'{}x{}'.format(*fs): decoder_timings(fs) for fs in ((640, 480), (1280, 720))}
    if len(sys.argv) > 2 and sys.argv[1] == '--docs':
        rep = json.loads(open(sys.argv[2], encoding='utf-8').read())
        bag_m = (
            json.loads(open(sys.argv[3], encoding='utf-8').read()) if len(sys.argv) > 3 else None
        )
        update_doc('docs/SEGMENTATION.md', 'results', results_markdown(rep, timings, bag_m))
        print('updated docs/SEGMENTATION.md')
    else:
        print(json.dumps(timings, indent=1))

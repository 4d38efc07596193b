"""The demo: the torch-free runtime over a generated drone camera sequence, with a summary a person can read.

It prints one line per frame, then frames, mean and p95 latency per step, detections per class and person
precision/recall at IoU 0.5 against the generator's boxes, and writes an annotated video and image strip.
"""
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import cv2
import numpy as np

from .eval.detection import precision_recall
from .runtime import Pipeline, load_bundle
from .runtime.bundle import atomic_write_bytes
from .runtime.latency_stats import latency_summary

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / 'models' / 'aerial_vit_tiny'
STRIP_FRAMES = 6


def _strip(frames: List[np.ndarray], width: int = 1280) -> np.ndarray:
    """Tile frames in a 3-column grid scaled to ``width`` pixels."""
    cols = 3
    tile_w = width // cols
    tiles = [cv2.resize(f, (tile_w, int(f.shape[0] * tile_w / f.shape[1])), interpolation=cv2.INTER_AREA)
             for f in frames]
    rows = [np.hstack(tiles[i:i + cols] + [np.zeros_like(tiles[0])] * (cols - len(tiles[i:i + cols])))
            for i in range(0, len(tiles), cols)]
    return np.vstack(rows)


def run_demo(bundle: Union[str, Path] = DEFAULT_BUNDLE, frames: int = 120, seed: int = 7,
             out_dir: Optional[Union[str, Path]] = 'demo_out', backend: str = 'auto',
             width: int = 640, height: int = 480, fps: float = 10.0,
             printer: Optional[Callable[[str], None]] = print) -> Dict[str, Any]:
    """Run the demo; returns the summary dict (also written to ``out_dir/summary.json``)."""
    from .data.synthetic import DETECTION_CLASSES, camera_sequence
    from .perception.overlay import render_frame

    say = printer or (lambda _s: None)
    pipe = Pipeline(load_bundle(bundle), backend=backend)
    say('bundle {} ({}), backend: {}'.format(pipe.bundle.name, pipe.bundle.path, pipe.backend_reason))
    out = Path(out_dir) if out_dir is not None else None
    writer = None
    video_path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        video_path = out / 'demo.mp4'
        writer = cv2.VideoWriter(str(out / 'demo.part.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height),
                                 True)
    timings: Dict[str, List[float]] = {}
    per_class: Dict[str, int] = {}
    gts, preds, strip = [], [], []
    strip_every = max(1, frames // STRIP_FRAMES)
    person_id = pipe.labels.index('person') if 'person' in pipe.labels else 0
    gt_labels = [pipe.labels.index(c) if c in pipe.labels else -1 for c in DETECTION_CLASSES]
    try:
        for i, scene in enumerate(camera_sequence(frames, seed=seed, width=width, height=height)):
            res = pipe(scene.image)
            for k, v in res.timings_ms.items():
                timings.setdefault(k, []).append(v)
            for d in res.detections:
                per_class[d.label] = per_class.get(d.label, 0) + 1
            gts.append((scene.boxes, np.asarray([gt_labels[int(lb)] for lb in scene.labels], np.int64)))
            preds.append((np.asarray([d.box for d in res.detections], np.float32).reshape(-1, 4),
                          np.asarray([d.score for d in res.detections], np.float32),
                          np.asarray([d.class_id for d in res.detections], np.int64)))
            n_person = sum(1 for d in res.detections if d.class_id == person_id)
            say('frame {:4d}  {:5.1f} ms  {:2d} detections ({} persons; {} in ground truth)  {}'.format(
                i, res.timings_ms['total'], len(res.detections), n_person, int((scene.labels == 0).sum()),
                ', '.join('{} {:.2f} @({:.0f},{:.0f})'.format(d.label, d.score, *d.center)
                          for d in res.detections[:4]) + (' …' if len(res.detections) > 4 else '')))
            if writer is not None or i % strip_every == 0:
                fps_now = 1000.0 / max(1e-6, res.timings_ms['total'])
                img = render_frame(scene.image, res.detections, pipe.labels, fps=fps_now)
                if writer is not None:
                    writer.write(img)
                if i % strip_every == 0 and len(strip) < STRIP_FRAMES:
                    strip.append(img)
    finally:
        if writer is not None:
            writer.release()
    pr = precision_recall(gts, preds, person_id, iou=0.5)
    summary = {
        'bundle': pipe.bundle.name, 'backend': pipe.backend_name, 'frames': len(gts),
        'latency_ms': {k: latency_summary(v) for k, v in timings.items()},
        'detections_per_class': per_class,
        'person': {'precision': pr['precision'], 'recall': pr['recall'], 'tp': pr['tp'], 'fp': pr['fp'],
                   'fn': pr['fn'], 'iou': 0.5},
    }
    say('')
    say('frames: {}   backend: {}'.format(summary['frames'], pipe.backend_reason))
    say('latency per step (ms):   mean     p95')
    for k in ('preprocess', 'inference', 'postprocess', 'total'):
        s = summary['latency_ms'].get(k) or {}
        say('  {:<20s} {:7.2f} {:7.2f}'.format(k, s.get('mean_ms') or 0.0, s.get('p95_ms') or 0.0))
    say('detections per class: {}'.format(', '.join('{} {}'.format(k, v) for k, v in sorted(per_class.items()))))
    say('persons vs generator boxes @IoU 0.5: precision {:.3f}  recall {:.3f}  (tp {} fp {} fn {})'.format(
        pr['precision'], pr['recall'], pr['tp'], pr['fp'], pr['fn']))
    if out is not None:
        if video_path is not None and Path(str(out / 'demo.part.mp4')).exists():
            Path(str(out / 'demo.part.mp4')).replace(video_path)
            summary['video'] = str(video_path)
        if strip:
            ok, png = cv2.imencode('.png', _strip(strip))
            if ok:
                atomic_write_bytes(out / 'demo_strip.png', png.tobytes())
                summary['strip'] = str(out / 'demo_strip.png')
        atomic_write_bytes(out / 'summary.json', json.dumps(summary, indent=2).encode())
        written = (summary.get('video'), summary.get('strip'), out / 'summary.json')
        say('wrote {}'.format(', '.join(str(p) for p in written if p)))
    return summary

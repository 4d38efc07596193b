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
Score a detector bundle on an annotated image folder (``tools/evaluate.py``).

    tools/evaluate.py IMAGES --gt FILE_OR_DIR --bundle DIR --out DIR
                      [--label-map MAP] [--backend NAME]
                      [--score-threshold T] [--worst N] [--overwrite] [-q]

``--gt`` is a COCO instances JSON (``file_name`` relative to ``IMAGES``) or a folder of
VisDrone-DET annotation files (``<image stem>.txt`` for every image of ``IMAGES``); category names
are mapped to the bundle's labels by the label map, VisDrone's ignored regions and ``others``
honoured (rules and sources in :mod:`vitedge_ros.eval.ground_truth`, shared with
``tools/eval_bag.py``).

Writes in ``--out``:

* ``metrics.json`` and ``metrics.md``: mAP@0.5 and mAP@0.5:0.95 overall and per class
  (faster-coco-eval, COCO's definition, 100 detections per image), counts, the worst images;
* ``gt_coco.json`` and ``detections_coco.json``: the evaluator's exact input (label map and ignored
  regions applied), so any COCO evaluator gives the same numbers;
* ``pr.png``: precision-recall curves at IoU 0.5 per class (COCO's interpolated precision);
* ``worst/``: the ``--worst`` images with the most errors (false positives + misses at IoU 0.5 at
  the bundle's own score threshold), drawn by the one overlay renderer: detections in class
  colours, ground truth in green.

Bad input (missing folder, unreadable or malformed ground truth, bundle that does not load or is
not a detector, images named by the ground truth that are missing) raises :class:`EvaluateError`
with one line (exit 2); an image that cannot be decoded is counted and skipped. Files are written
atomically.
"""

import argparse
from collections import OrderedDict
import json
from pathlib import Path
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from ..cli import run_guarded, workstation_tool
from ..runtime.errors import VitedgeError
from ..tasks import get_task

__all__ = ['EvaluateError', 'build_parser', 'evaluate_images', 'image_errors', 'main']

OUTPUT_FILES = ('metrics.json', 'metrics.md', 'gt_coco.json', 'detections_coco.json', 'pr.png')


class EvaluateError(VitedgeError, ValueError):
    """Input that evaluate cannot use; the message is one line naming the problem."""


def image_errors(
    gt_anns: Sequence[Dict[str, Any]],
    dets: Sequence[Dict[str, Any]],
    num_classes: int,
    min_score: float,
    iou: float = 0.5,
) -> Dict[str, int]:
    """
    Count the false positives and misses of one image at ``iou``.

    Only the detections scoring at least ``min_score`` count.

    ``gt_anns`` / ``dets`` are COCO entries (``bbox`` xywh, ``category_id`` label + 1); crowd
    ground truth is left out. Greedy one-to-one matching per class
    (``vitedge_ros.eval.detection.precision_recall``).
    """
    from .detection import precision_recall

    def xyxy(items: Sequence[Dict[str, Any]]) -> np.ndarray:
        return np.asarray(
            [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (i['bbox'] for i in items)],
            np.float32,
        ).reshape(-1, 4)

    gts = [a for a in gt_anns if not a.get('iscrowd')]
    g = (xyxy(gts), np.asarray([a['category_id'] - 1 for a in gts], np.int64))
    p = (
        xyxy(dets),
        np.asarray([d['score'] for d in dets], np.float32),
        np.asarray([d['category_id'] - 1 for d in dets], np.int64),
    )
    fp = fn = tp = 0
    for cls in range(num_classes):
        r = precision_recall([g], [p], cls, iou=iou, min_score=min_score)
        fp, fn, tp = fp + r['fp'], fn + r['fn'], tp + r['tp']
    return {'tp': tp, 'fp': fp, 'fn': fn, 'errors': fp + fn}


def _plot_pr(
    path: Path, curves: Dict[str, Dict[str, List[float]]], per_class: Dict[str, Any], title: str
) -> None:
    import matplotlib

    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    from ..perception.overlay import label_colour

    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    try:
        for name, c in curves.items():
            b, g, r = label_colour(name)
            ap = per_class.get(name, {}).get('ap50', 0.0)
            ax.plot(
                c['recall'],
                c['precision'],
                color=(r / 255.0, g / 255.0, b / 255.0),
                label='{} (AP@0.5 {:.3f})'.format(name, ap),
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel('recall')
        ax.set_ylabel('precision')
        ax.grid(True, alpha=0.3)
        if curves:
            ax.legend(loc='lower left', fontsize=8)
        else:
            ax.text(0.5, 0.5, 'no ground-truth boxes', ha='center')
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        tmp = path.with_name('.' + path.name + '.tmp.png')
        fig.savefig(str(tmp))
        tmp.replace(path)
    finally:
        plt.close(fig)


def _markdown(m: Dict[str, Any]) -> str:
    def f(v: Any, d: int = 4) -> str:
        return '-' if v is None else '{:.{}f}'.format(float(v), d)

    lines = [
        '# Evaluation of {} on {}'.format(m['bundle']['name'], m['images_dir']),
        '',
        'Ground truth: `{}` ({}); label map: {}.'.format(
            m['gt'], m['gt_format'], m['label_map'] or 'none'
        ),
        '{} of {} images evaluated ({} unreadable); score threshold {}; backend {}.'.format(
            m['images_evaluated'],
            m['images_total'],
            m['images_failed'],
            m['score_threshold'],
            m['backend'],
        ),
        '',
        '| class | AP@0.5 | AP@0.5:0.95 |',
        '|---|---|---|',
        '| **all** | {} | {} |'.format(f(m['map50']), f(m['map50_95'])),
    ]
    for name, ap in m['per_class'].items():
        lines.append('| {} | {} | {} |'.format(name, f(ap['ap50']), f(ap['ap50_95'])))
    if m['gt_labels_not_in_bundle']:
        lines += [
            '',
            'Ground-truth categories not evaluated (no bundle label): {}.'.format(
                ', '.join('{} ({})'.format(k, v) for k, v in m['gt_boxes_not_evaluated'].items())
            ),
        ]
    if m.get('ignored_regions'):
        lines += [
            '',
            '{} ignored regions: {} ground-truth boxes and {} detections inside them '
            'not scored.'.format(
                m['ignored_regions'],
                m['gt_in_ignored_regions'],
                m['detections_in_ignored_regions'],
            ),
        ]
    lines += [
        '',
        '![precision-recall](pr.png)',
        '',
        '## Worst images (false positives + misses at IoU 0.5, score >= {})'.format(
            m['operating_threshold']
        ),
        '',
        '| image | errors | false positives | misses |',
        '|---|---|---|---|',
    ]
    for w in m['worst']:
        lines.append(
            '| [{}]({}) | {} | {} | {} |'.format(
                w['file_name'], w['picture'], w['errors'], w['fp'], w['fn']
            )
        )
    lines += [
        '',
        'Re-evaluate with `gt_coco.json` and `detections_coco.json` (any COCO evaluator).',
        '',
    ]
    return '\n'.join(lines)


def evaluate_images(
    images_dir: Union[str, Path],
    gt: Union[str, Path],
    bundle: Union[str, Path, None],
    out_dir: Union[str, Path],
    label_map: Any = None,
    backend: str = 'auto',
    score_threshold: Optional[float] = None,
    worst: int = 6,
    overwrite: bool = False,
    pipeline: Any = None,
    log: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """
    Run a detector bundle over an annotated image folder and write the evaluation.

    The outputs are those described in the module docstring.

    Args
    ----
        images_dir: folder of images.
        gt: COCO instances JSON or folder of VisDrone-DET ``.txt`` files.
        bundle: detector bundle directory (ignored when ``pipeline`` is given).
        out_dir: output folder.
        label_map: ground-truth name -> bundle label spec (``ground_truth.parse_label_map``).
        backend: runtime backend.
        score_threshold: override of the bundle's threshold for the detections scored (low for a
            full curve).
        worst: number of worst images to draw.
        overwrite: replace the outputs of an earlier run.
        pipeline: a ready pipeline (``__call__(bgr) -> FrameResult``, ``labels``), e.g. for tests.
        log: called with one line per skipped image.

    Returns
    -------
        The metrics written to ``metrics.json``.

    Raises
    ------
        EvaluateError: bad input (one line).

    """
    from .ground_truth import (
        describe_label_map,
        GroundTruthError,
        load_detection_truth,
        parse_label_map,
    )
    from ..data.common import DatasetError, IMAGE_EXTENSIONS, read_image
    from ..runtime.bundle import atomic_write_bytes
    from ..runtime.latency_stats import latency_summary

    root = Path(images_dir)
    out = Path(out_dir)
    if not root.is_dir():
        raise EvaluateError(
            'IMAGES {}: {}'.format(root, 'not a folder' if root.exists() else 'no such folder')
        )
    listing = sorted(
        f.name for f in root.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not overwrite and any((out / n).exists() for n in OUTPUT_FILES):
        raise EvaluateError(
            '{} holds the outputs of an earlier run; '
            'choose another --out or pass --overwrite'.format(out)
        )
    pipe = pipeline
    if pipe is None:
        from ..runtime import Pipeline
        from ..runtime.errors import BundleError, EngineError

        try:
            pipe = Pipeline(bundle, backend=backend, score_threshold=score_threshold)
        except (BundleError, EngineError, OSError, ValueError) as exc:
            raise EvaluateError('bundle {} does not load: {}'.format(bundle, exc)) from None
    try:
        task = getattr(getattr(pipe, 'bundle', None), 'task', 'detect')
        if not get_task(task).boxes:
            raise EvaluateError(
                'bundle {} is a {!r} model; tools/evaluate.py scores detectors (task: detect) '
                'against '
                'boxes'.format(bundle, task)
            )
        labels = list(pipe.labels)
        try:
            lmap = parse_label_map(label_map, labels)
            gt_path = Path(gt)
            names = listing if gt_path.is_dir() else None
            if names is not None and not names:
                raise EvaluateError(
                    'IMAGES {}: no images ({})'.format(root, ' '.join(IMAGE_EXTENSIONS))
                )
            truth = load_detection_truth(gt_path, labels, lmap, image_names=names)
        except GroundTruthError as exc:
            raise EvaluateError(str(exc)) from None
        missing = [
            im['file_name'] for im in truth.images if not (root / im['file_name']).is_file()
        ]
        if missing:
            raise EvaluateError(
                '--gt {}: {} of {} images it names are not in {} (e.g. {})'.format(
                    gt, len(missing), len(truth.images), root, ', '.join(missing[:3])
                )
            )
        if not truth.images:
            raise EvaluateError('--gt {}: no images'.format(gt))
        if truth.not_evaluated and not truth.mapped:
            raise EvaluateError(
                '--gt {}: none of its categories ({}) maps to the bundle labels ({}); give '
                '--label-map NAME=LABEL,...'.format(
                    gt, ', '.join(sorted(truth.not_evaluated)), ', '.join(labels)
                )
            )
        pairs, failures, times = [], [], []
        from ..runtime.errors import FrameError

        for im in truth.images:
            try:
                image = read_image(root / im['file_name'])
                res = pipe(image)
            except (DatasetError, FileNotFoundError, OSError, FrameError) as exc:
                failures.append({'file_name': im['file_name'], 'error': str(exc)})
                if log is not None:
                    log('evaluate: warning: {} skipped: {}'.format(im['file_name'], exc))
                continue
            times.append(float(res.timings_ms.get('total', float('nan'))))
            pairs.append(
                (int(im['id']), (int(image.shape[1]), int(image.shape[0])), list(res.detections))
            )
        if not pairs:
            raise EvaluateError(
                'IMAGES {}: none of the {} images could be read ({})'.format(
                    root, len(truth.images), failures[0]['error'] if failures else ''
                )
            )
        result, gt_coco, dets = truth.evaluate(
            pairs, info={'vitedge_images': str(root)}, curves=True
        )
        curves = result.pop('pr_curves', {})
        # the worst images at the bundle's own threshold (what flies)
        decoder = getattr(getattr(pipe, 'bundle', None), 'decoder', None) or {}
        operating = float(decoder.get('score_threshold', getattr(pipe, 'score_threshold', 0.3)))
        by_img: Dict[int, List[Dict[str, Any]]] = {}
        for d in dets:
            by_img.setdefault(d['image_id'], []).append(d)
        gt_by_img: Dict[int, List[Dict[str, Any]]] = {}
        for a in gt_coco['annotations']:
            gt_by_img.setdefault(a['image_id'], []).append(a)
        ranked = []
        for img_id, _size, _d in pairs:
            e = image_errors(
                gt_by_img.get(img_id, []), by_img.get(img_id, []), len(labels), operating
            )
            ranked.append((e['errors'], -img_id, img_id, e))
        ranked.sort(reverse=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / 'worst').mkdir(exist_ok=True)
        worst_rows = []
        for _e, _neg, img_id, e in ranked[: max(0, int(worst))]:
            name = truth.by_id[img_id]['file_name']
            picture = _draw_worst(
                out,
                read_image(root / name),
                name,
                gt_by_img.get(img_id, []),
                by_img.get(img_id, []),
                labels,
                operating,
                len(worst_rows) + 1,
            )
            worst_rows.append(dict(e, file_name=name, picture=picture))
    finally:
        if pipeline is None:
            pipe.close()
    bundle_obj = getattr(pipe, 'bundle', None)
    m: Dict[str, Any] = OrderedDict()
    m['schema_version'] = 1
    m['tool'] = 'evaluate'
    m['images_dir'] = str(root)
    m['gt'] = str(gt)
    m['gt_format'] = truth.fmt
    m['bundle'] = {
        'name': str(getattr(bundle_obj, 'name', '') or 'custom'),
        'path': str(bundle) if bundle else None,
        'labels': labels,
    }
    m['backend'] = str(getattr(pipe, 'backend_name', 'custom'))
    m['score_threshold'] = float(getattr(pipe, 'score_threshold', score_threshold or 0.0))
    m['operating_threshold'] = operating
    m['label_map'] = describe_label_map(lmap)
    m['images_total'] = len(truth.images)
    m['images_evaluated'] = len(pairs)
    m['images_failed'] = len(failures)
    m['failures'] = failures[:100]
    m['images_in_folder_without_gt'] = len(set(listing) - {im['file_name'] for im in truth.images})
    for key in (
        'map50',
        'map50_95',
        'per_class',
        'annotations_evaluated',
        'labels_not_in_gt',
        'gt_labels_not_in_bundle',
        'gt_boxes_not_evaluated',
        'ignored_regions',
        'gt_in_ignored_regions',
        'detections_in_ignored_regions',
    ):
        m[key] = result[key]
    m['detections_scored'] = len(dets)
    m['latency_ms'] = latency_summary(times)
    m['worst'] = worst_rows
    m['gt_file'] = 'gt_coco.json'
    m['detections_file'] = 'detections_coco.json'
    m['pr_plot'] = 'pr.png'
    atomic_write_bytes(out / 'gt_coco.json', json.dumps(gt_coco).encode('utf-8'))
    atomic_write_bytes(out / 'detections_coco.json', json.dumps(dets).encode('utf-8'))
    _plot_pr(
        out / 'pr.png',
        curves,
        m['per_class'],
        '{} on {} (IoU 0.5)'.format(m['bundle']['name'], root.name),
    )
    atomic_write_bytes(out / 'metrics.md', _markdown(m).encode('utf-8'))
    atomic_write_bytes(out / 'metrics.json', (json.dumps(m, indent=2) + '\n').encode('utf-8'))
    return m


def _draw_worst(
    out: Path,
    image: np.ndarray,
    file_name: str,
    gt_anns: Sequence[Dict[str, Any]],
    dets: Sequence[Dict[str, Any]],
    labels: Sequence[str],
    min_score: float,
    rank: int,
) -> str:
    """
    Write one worst image (detections at ``min_score`` and ground truth) to ``out/worst``.

    Return its path.
    """
    import cv2

    from ..perception.overlay import render_frame
    from ..runtime.bundle import atomic_write_bytes
    from ..runtime.detection import Detection

    shown = [
        Detection(
            d['category_id'] - 1,
            labels[d['category_id'] - 1],
            d['score'],
            (d['bbox'][0], d['bbox'][1], d['bbox'][0] + d['bbox'][2], d['bbox'][1] + d['bbox'][3]),
        )
        for d in dets
        if d['score'] >= min_score
    ]
    gt_boxes = [
        (a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3])
        for a in gt_anns
    ]
    gt_names = [
        labels[a['category_id'] - 1] + (' (crowd)' if a.get('iscrowd') else '') for a in gt_anns
    ]
    picture = render_frame(image, shown, labels, ground_truth=(gt_boxes, gt_names))
    ok, png = cv2.imencode('.png', picture)
    if not ok:
        raise EvaluateError('cannot encode {} as PNG'.format(file_name))
    rel = 'worst/{:02d}_{}.png'.format(rank, Path(file_name).stem.replace('/', '_'))
    atomic_write_bytes(out / rel, png.tobytes())
    return rel


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of tools/evaluate.py."""
    p = argparse.ArgumentParser(
        prog='evaluate.py',
        description='Score a detector bundle on an annotated image '
        'folder: metrics.json/metrics.md (COCO mAP per class), pr.png, worst images.',
    )
    p.add_argument('images', help='folder of images')
    p.add_argument(
        '--gt',
        required=True,
        help='COCO instances JSON, or a folder of VisDrone-DET .txt annotations',
    )
    p.add_argument('--bundle', required=True, help='detector bundle directory')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument(
        '--label-map',
        default=None,
        metavar='MAP',
        help='ground-truth category -> bundle label: '
        '"pedestrian=person,car=vehicle,others=ignore" or a '
        'YAML file (default: pedestrian/people->person, car/van/truck/bus->vehicle; VisDrone '
        'others are '
        'always ignored; '
        'names equal to a bundle label map to themselves)',
    )
    p.add_argument('--backend', default='auto', choices=('auto', 'onnxruntime', 'tensorrt'))
    p.add_argument(
        '--score-threshold',
        type=float,
        default=None,
        help="override the bundle's threshold for the scored detections (e.g. 0.05 for a full "
        'curve)',
    )
    p.add_argument(
        '--worst', type=int, default=6, help='how many of the worst images to draw (default 6)'
    )
    p.add_argument(
        '--overwrite', action='store_true', help='replace the outputs of an earlier run in --out'
    )
    p.add_argument('-q', '--quiet', action='store_true', help='print only errors')
    return p


@workstation_tool('evaluate')
def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Command line of tools/evaluate.py.

    Returns the exit status (0 done, 2 bad input, 130 interrupted).
    """
    args = build_parser().parse_args(argv)
    status, m = run_guarded(
        'evaluate',
        lambda: evaluate_images(
            args.images,
            args.gt,
            args.bundle,
            args.out,
            label_map=args.label_map,
            backend=args.backend,
            score_threshold=args.score_threshold,
            worst=args.worst,
            overwrite=args.overwrite,
            log=lambda s: print(s, file=sys.stderr),
        ),
        (EvaluateError,),
    )
    if status:
        return status
    if not args.quiet:
        per = ', '.join('{} {:.3f}'.format(k, v['ap50']) for k, v in m['per_class'].items())
        print(
            'mAP@0.5 {:.4f}, mAP@0.5:0.95 {:.4f} on {} images ({} unreadable; AP@0.5 {})'.format(
                m['map50'], m['map50_95'], m['images_evaluated'], m['images_failed'], per or '-'
            )
        )
        print(
            'wrote {}/metrics.json, metrics.md, pr.png, gt_coco.json, detections_coco.json, '
            'worst/'.format(args.out)
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())

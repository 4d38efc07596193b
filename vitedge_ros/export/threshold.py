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
A detector bundle's score threshold, picked through the runtime on frames of synthetic flights.

What ``tools/export_onnx.py --score-threshold auto`` does after the export: the exported bundle
runs on onnxruntime through :class:`vitedge_ros.runtime.Pipeline` (the host path that flies) over
the frames of the shipped detector's threshold flights (``THRESHOLD_FLIGHTS``: 8 generated flights,
seeds 9000-9007, every 3rd of 60 frames, 640×480; never ``make demo``'s seed 7), and the rule
the shipped detector's threshold was picked with
(:func:`vitedge_ros.eval.detection.pick_score_threshold`: the best person F1 among the thresholds
whose precision and recall both reach the targets, else the best F1) chooses
``decoder.score_threshold``. SYNTHETIC frames: the pick says nothing about a real camera; pick
again on your own annotated flights for that.
"""

from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from ..data.synthetic import THRESHOLD_FLIGHTS

FLIGHT_SIZE = (640, 480)  # the generator's frames (width, height)
MIN_SCORE = 0.05  # below the lowest threshold tried (0.10)


def pick_bundle_threshold(
    bundle_dir: Union[str, Path],
    min_precision: Optional[float] = 0.8,
    min_recall: Optional[float] = 0.8,
    class_name: str = 'person',
    flights: Optional[Dict[str, int]] = None,
) -> Tuple[float, Dict[str, Any]]:
    """
    Pick the score threshold of a detector bundle for ``class_name`` on synthetic flight frames.

    Returns ``(threshold, record)``; the record (for ``bundle.yaml`` ``source``) says where and by
    which rule it was picked and holds the precision, recall, tp, fp, fn and F1 at IoU 0.5 there.
    Raises ValueError for a bundle that is not a detector or has no ``class_name`` label;
    :class:`vitedge_ros.runtime.BundleError` for an unreadable bundle.
    """
    from ..eval.detection import pick_score_threshold, scene_predictions
    from ..runtime import load_bundle, Pipeline
    from ..tasks import get_task
    from ..training.data import flight_scenes

    bundle = load_bundle(bundle_dir)
    if not get_task(bundle.task).boxes:
        raise ValueError(
            '--score-threshold auto: {} is a {} bundle, not a detector'.format(
                bundle_dir, bundle.task
            )
        )
    if class_name not in bundle.labels:
        raise ValueError(
            '--score-threshold auto: {} has no {!r} label (labels: {})'.format(
                bundle_dir, class_name, ', '.join(bundle.labels)
            )
        )
    fl = dict(flights or THRESHOLD_FLIGHTS)
    pipe = Pipeline(bundle, backend='onnxruntime', score_threshold=MIN_SCORE)
    gts, preds = scene_predictions(
        pipe, flight_scenes(width=FLIGHT_SIZE[0], height=FLIGHT_SIZE[1], **fl)
    )
    thr, stats = pick_score_threshold(
        gts, preds, bundle.labels.index(class_name), min_precision, min_recall
    )
    record = {
        'picked_on': 'SYNTHETIC flight frames (vitedge_ros.training.data.flight_scenes, {}x{}) '
        'through the runtime on onnxruntime'.format(*FLIGHT_SIZE),
        'flights': fl,
        'frames': len(gts),
        'rule': 'best {} F1 among thresholds 0.10-0.70 whose precision >= {} and recall >= {} '
        '(else the best F1)'.format(class_name, min_precision, min_recall),
        'class': class_name,
        'at_threshold': {
            k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in stats.items()
        },
    }
    return float(thr), record


def set_score_threshold(
    bundle_dir: Union[str, Path], threshold: float, record: Optional[Dict[str, Any]] = None
) -> None:
    """
    Write ``decoder.score_threshold`` (0-1) of a bundle, and ``source.score_threshold_pick``.

    The pick that training recorded for the threshold it replaces (``source.metrics``
    ``person_at_threshold`` / ``threshold_picked_on``) moves under
    ``source.score_threshold_pick.replaces`` with that threshold, so the metrics never describe a
    threshold the bundle does not use. bundle.yaml is rewritten atomically and validated first.
    Raises ValueError for a threshold outside [0, 1] or a bundle without a decoder threshold to
    set (not a detector).
    """
    import yaml

    from ..runtime.bundle import write_bundle_yaml
    from ..tasks import get_task

    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError('score threshold {} is not in [0, 1]'.format(threshold))
    path = Path(bundle_dir) / 'bundle.yaml'
    meta = yaml.safe_load(path.read_text())
    if not get_task(str(meta.get('task'))).boxes:
        raise ValueError('{}: a {} bundle has no score threshold'.format(path, meta.get('task')))
    old = (meta.get('decoder') or {}).get('score_threshold')
    meta['decoder'] = dict(meta.get('decoder') or {}, score_threshold=round(float(threshold), 4))
    source = dict(meta.get('source') or {})
    metrics = dict(source.get('metrics') or {})
    replaced = {
        k: metrics.pop(k) for k in ('person_at_threshold', 'threshold_picked_on') if k in metrics
    }
    if 'metrics' in source:
        source['metrics'] = metrics
    pick = dict(record or {'picked_on': 'given (tools/export_onnx.py --score-threshold VALUE)'})
    if replaced:
        pick['replaces'] = dict(replaced, score_threshold=old)
    source['score_threshold_pick'] = pick
    meta['source'] = source
    write_bundle_yaml(bundle_dir, meta)

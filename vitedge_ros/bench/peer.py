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
The peer in the benchmarks (issue 18): a YOLO nano CNN next to the shipped ViT detector.

The CNN is trained from scratch on the same data and budget.

``python -m vitedge_ros.bench.peer`` (``make bench-peer``) does, in one process:

1. **Data.** Follows the shipped bundle's training chain (``bundle.yaml`` ``source.config`` is the
   last stage; each stage's ``model.checkpoint: runs/<name>/final.pt`` names the stage before it,
   ``config/train/<name>.yaml``) and writes every stage's training images, exactly as that stage's
   trainer made them (:func:`vitedge_ros.training.detection_scenes`, letterboxed to the stage's
   network input by the runtime's :class:`~vitedge_ros.runtime.preprocess.Preprocessor`), as an
   ultralytics YOLO dataset (JPEG images, one label txt per image, ``data.yaml``).
2. **Budget.** The image-pass budget is the shipped detector's: the sum over its stages of
   ``train.epochs`` × (``train_size`` + ``flights.count`` × ceil(``flights.frames`` /
   ``flights.every``)), the images one epoch of :func:`vitedge_ros.training.train_detector` draws.
   The peer trains ``round(budget / dataset images)`` epochs over the union of the stages' images
   (ultralytics counts whole epochs); the JSON records both.
3. **Training.** ``YOLO('<arch>.yaml')``: the architecture from ultralytics' model yaml, random
   init, no weights file, ``pretrained=False``; ultralytics' own default recipe (SGD/auto
   optimiser, mosaic, HSV, flips) untuned, CPU, ``amp=False``, ``plots=False``, ``val=False``; the
   last epoch's weights are exported (no pick on validation).
4. **Offline.** :func:`import_ultralytics` sets ``YOLO_OFFLINE=1`` (``ultralytics.utils.is_online``
   returns False without a DNS query: ``ultralytics/utils/__init__.py`` of 8.4.x),
   ``YOLO_AUTOINSTALL=false`` (no pip), a private ``YOLO_CONFIG_DIR`` whose settings turn ``sync``
   (events) and every logger integration off, removes ``ULTRALYTICS_API_KEY`` (the platform
   callback uploads only with a key), and puts matplotlib's DejaVu Sans there as ``Arial.ttf``:
   ``check_det_dataset`` calls ``check_font('Arial.ttf')``, which otherwise sends ``requests.head``
   to the assets URL (``ultralytics/utils/checks.py``). test/test_bench_peer.py runs the quick mode
   with every socket connection and DNS look-up of the process recorded and refused.
5. **Measure.** Both models as onnxruntime CPU graphs (1 thread, batch 1), timed interleaved in
   this process by :func:`vitedge_ros.bench.stats.interleaved` on the same preprocessed frame; the
   host decode (the peer's class-wise NMS, :func:`vitedge_ros.runtime.decoders.filter_detections`)
   timed apart. Both are evaluated by the same code: COCO mAP per class
   (:func:`vitedge_ros.eval.detection.detection_map`) on the last stage's validation scenes in
   frame pixels; person precision/recall on the demo's flight (seed 7) at the threshold picked on
   other flights (the last stage's ``val_flights``, seeds 9000-9007) with the rule the shipped
   detector's threshold was picked with (:func:`vitedge_ros.eval.detection.pick_score_threshold`,
   the stage's ``export.min_precision`` / ``min_recall``); false persons per frame on the held-out
   real photos with nobody in them (:func:`vitedge_ros.data.textures.heldout_negative_frames`, as
   tools/false_positives.py).
6. **Write.** ``bench/peer.json`` and the peer block of docs/BENCHMARKS.md
   (:mod:`vitedge_ros.bench.peer_table`).

ultralytics (AGPL-3.0) is imported only here, inside functions: it is the optional ``peer`` extra,
never a runtime or tools dependency.
"""

import argparse
import json
import math
import os
from pathlib import Path
import shutil
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .run import DEFAULT_STUDENT

ROOT = Path(__file__).resolve().parents[2]
ULTRALYTICS_VERSION = (
    '8.4.190'  # the version the peer section was written for (requirements/constraints.txt)
)
PEER_ARCHS = ('yolov8n', 'yolo11n')
DEFAULT_FAMILY = (DEFAULT_STUDENT,)  # the compressed student (issue 16)
SCENE_SIZE = (640, 480)  # the generator's frames (training configs' width / height)
DEMO_SEED, DEMO_FRAMES = 7, 120  # make demo's flight (vitedge_ros.demo.run_demo)
MAP_MIN_SCORE = 0.001  # detections kept for mAP (ultralytics' val conf), for both models
PEER_NMS_IOU = 0.7  # ultralytics' default NMS IoU (cfg/default.yaml `iou`)
PEER_MAX_DET = 300  # ultralytics' default max_det
JPEG_QUALITY = 95
PathLike = Union[str, Path]


# --- the shipped detector's training chain and its image-pass budget -----------------------------


def training_chain(
    bundle_dir: PathLike, config_dir: PathLike = ROOT / 'config' / 'train'
) -> List[Dict[str, Any]]:
    """
    Return the stages that made the bundle, first to last: ``[{'name', 'source', 'config'}]``.

    The last stage is ``bundle.yaml``'s ``source.config``; a stage whose ``model.checkpoint`` is
    ``runs/<name>/final.pt`` continues ``config_dir/<name>.yaml``. Raises ValueError when the
    bundle records no training config or a stage's config file is missing.
    """
    import yaml

    bundle_dir = Path(bundle_dir)
    meta = yaml.safe_load((bundle_dir / 'bundle.yaml').read_text())
    cfg = ((meta or {}).get('source') or {}).get('config')
    if not isinstance(cfg, dict):
        raise ValueError(
            '{}: bundle.yaml has no source.config (the training config of the bundle)'.format(
                bundle_dir
            )
        )
    chain = [
        {
            'name': 'shipped stage',
            'source': '{}/bundle.yaml source.config'.format(bundle_dir.name),
            'config': _current_data_keys(cfg),
        }
    ]
    seen = set()
    while True:
        ck = (chain[0]['config'].get('model') or {}).get('checkpoint')
        if not ck:
            break
        parts = Path(ck).parts
        if len(parts) < 3 or parts[0] != 'runs' or parts[-1] != 'final.pt':
            raise ValueError(
                'stage {}: model.checkpoint {!r} is not runs/<name>/final.pt'.format(
                    chain[0]['name'], ck
                )
            )
        name = parts[1]
        path = Path(config_dir) / '{}.yaml'.format(name)
        if name in seen or not path.is_file():
            raise ValueError(
                'stage before {}: no training config {}'.format(chain[0]['name'], path)
            )
        seen.add(name)
        chain.insert(
            0,
            {
                'name': name,
                'source': str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                'config': yaml.safe_load(path.read_text()),
            },
        )
    return chain


def _current_data_keys(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """
    Return ``cfg`` with its ``data`` keys in today's vocabulary.

    A bundle records its config as it was trained (``train_scenes`` ... before issue 15's one
    config language; :data:`vitedge_ros.training.config.DATA_RENAMED`).
    """
    from ..training.config import DATA_RENAMED

    data = dict(cfg.get('data') or {})
    for old, new in DATA_RENAMED.items():
        if old in data and new not in data:
            data[new] = data.pop(old)
    return dict(cfg, data=data)


def stage_images(data: Dict[str, Any]) -> int:
    """
    Return the images one training epoch of a synthetic-aerial ``data`` entry draws.

    Those are the scenes plus the kept flight frames.
    """
    n = int(data.get('train_size', 2000))
    fl = data.get('flights')
    if fl:
        n += int(fl['count']) * int(math.ceil(int(fl['frames']) / int(fl.get('every', 1))))
    return n


def image_budget(chain: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Per-stage and total image passes (epochs × images per epoch) of a training chain."""
    rows = []
    for st in chain:
        cfg = st['config']
        n = stage_images(cfg['data'])
        ep = int(cfg['train']['epochs'])
        rows.append(
            {
                'stage': st['name'],
                'config': st['source'],
                'epochs': ep,
                'images': n,
                'image_passes': ep * n,
                'input': [int(cfg['input']['width']), int(cfg['input']['height'])],
            }
        )
    return {
        'stages': rows,
        'images': sum(r['images'] for r in rows),
        'image_passes': sum(r['image_passes'] for r in rows),
    }


def quick_chain(chain: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """
    Return the last stage alone, shrunk to a handful of images and one epoch.

    ``--quick``: proves the harness.
    """
    import copy

    last = copy.deepcopy(chain[-1])
    d = last['config']['data']
    d['train_size'] = 6
    if d.get('flights'):
        d['flights'] = dict(d['flights'], count=1, frames=6, every=3)
    last['config']['train']['epochs'] = 1
    last['name'] = 'quick (last stage shrunk)'
    return [last]


# --- ultralytics, offline ------------------------------------------------------------------------


def import_ultralytics(config_dir: PathLike) -> Any:
    """
    Import ultralytics so that nothing touches the network; returns the module.

    Sets the environment before the first import (``YOLO_OFFLINE``, ``YOLO_AUTOINSTALL``,
    ``YOLO_CONFIG_DIR``), then turns settings ``sync`` and the logger integrations off and places a
    local ``Arial.ttf``. Raises RuntimeError when ultralytics was already imported online
    (``ultralytics.utils.ONLINE`` is read once), ImportError (before anything is written) when it
    is not installed.
    """
    import importlib.util

    if 'ultralytics' not in sys.modules and importlib.util.find_spec('ultralytics') is None:
        raise ImportError(
            'missing package ultralytics: the optional `peer` extra (`make bench-peer` installs '
            'it)'
        )
    config_dir = Path(config_dir)
    config_dir.mkdir(parents=True, exist_ok=True)
    if 'ultralytics' not in sys.modules:
        os.environ['YOLO_OFFLINE'] = '1'
        os.environ['YOLO_AUTOINSTALL'] = 'false'
        os.environ['YOLO_CONFIG_DIR'] = str(config_dir)
    os.environ.pop('ULTRALYTICS_API_KEY', None)
    import ultralytics
    from ultralytics import utils as uu

    if uu.ONLINE:
        raise RuntimeError(
            'ultralytics was imported before with network checks on; run the peer benchmark in a '
            'fresh process (or set YOLO_OFFLINE=1 before importing ultralytics)'
        )
    uu.SETTINGS.update(
        {
            'sync': False,
            'api_key': '',
            'clearml': False,
            'comet': False,
            'dvc': False,
            'mlflow': False,
            'raytune': False,
            'tensorboard': False,
            'wandb': False,
            'datasets_dir': str(config_dir / 'datasets'),
            'weights_dir': str(config_dir / 'weights'),
            'runs_dir': str(config_dir / 'runs'),
        }
    )
    font = Path(uu.USER_CONFIG_DIR) / 'Arial.ttf'
    if not font.is_file():
        import matplotlib

        shutil.copyfile(
            Path(matplotlib.get_data_path()) / 'fonts' / 'ttf' / 'DejaVuSans.ttf', font
        )
    return ultralytics


# --- the dataset ---------------------------------------------------------------------------------


def _spec(cfg: Dict[str, Any]) -> Any:
    from ..runtime.bundle import parse_input_spec

    return parse_input_spec(cfg['input'])


def _scenes(data: Dict[str, Any], split: str) -> Iterable[Any]:
    from ..training.data import detection_scenes

    w, h = data.get('width', SCENE_SIZE[0]), data.get('height', SCENE_SIZE[1])
    if split == 'train':
        return detection_scenes(
            data.get('train_size', 2000),
            data.get('seed', 0),
            w,
            h,
            flights=data.get('flights'),
            real_backgrounds=data.get('real_backgrounds', 0.0),
            real_negatives=data.get('real_negatives', 0.0),
        )
    return detection_scenes(data.get('val_size', 200), data.get('val_seed', 1_000_000), w, h)


def yolo_label_lines(boxes: np.ndarray, labels: np.ndarray, width: int, height: int) -> List[str]:
    """
    Return YOLO label lines ``class cx cy w h`` (normalised 0-1) for xyxy pixel boxes.

    Boxes are clipped to the image; empty boxes are dropped.
    """
    out = []
    b = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    b[:, 0::2] = np.clip(b[:, 0::2], 0, width)
    b[:, 1::2] = np.clip(b[:, 1::2], 0, height)
    for (x1, y1, x2, y2), c in zip(b, np.asarray(labels).reshape(-1)):
        if x2 - x1 < 1.0 or y2 - y1 < 1.0:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        out.append(
            '{:d} {:.6f} {:.6f} {:.6f} {:.6f}'.format(
                int(c), cx, cy, (x2 - x1) / width, (y2 - y1) / height
            )
        )
    return out


def write_yolo_dataset(
    chain: Sequence[Dict[str, Any]],
    out: PathLike,
    labels: Sequence[str],
    val_images: int = 16,
    log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """
    Write the chain's training images as a YOLO dataset.

    Each stage's images are letterboxed to that stage's own network input.

    ``out/images/{train,val}/*.jpg`` (JPEG quality 95), ``out/labels/{train,val}/*.txt``,
    ``out/data.yaml``. ``val`` holds the first ``val_images`` validation scenes of the last stage:
    ultralytics wants a val split; the benchmark's own evaluation does not read it. A finished
    dataset (``out/done.json`` matching) is reused. Returns ``{'data_yaml', 'train_images',
    'val_images', 'per_stage'}``.
    """
    import cv2

    from ..runtime.preprocess import Preprocessor

    out = Path(out)
    key = {
        'stages': [
            {'source': s['source'], 'data': s['config']['data'], 'input': s['config']['input']}
            for s in chain
        ],
        'val_images': val_images,
        'jpeg_quality': JPEG_QUALITY,
        'labels': list(labels),
    }
    done = out / 'done.json'
    if done.is_file():
        old = json.loads(done.read_text())
        if old.get('key') == json.loads(json.dumps(key)):
            log('[peer] reusing the dataset in {}'.format(out))
            return old['result']
    if out.exists():
        shutil.rmtree(out)
    for split in ('train', 'val'):
        (out / 'images' / split).mkdir(parents=True)
        (out / 'labels' / split).mkdir(parents=True)

    def write(
        split: str, name: str, img: np.ndarray, boxes: np.ndarray, lab: np.ndarray, rgb: bool
    ) -> None:
        h, w = img.shape[:2]
        bgr = img[:, :, ::-1] if rgb else img
        ok, buf = cv2.imencode(
            '.jpg', np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        if not ok:
            raise OSError('could not encode {}'.format(name))
        (out / 'images' / split / (name + '.jpg')).write_bytes(buf.tobytes())
        (out / 'labels' / split / (name + '.txt')).write_text(
            ''.join(line + '\n' for line in yolo_label_lines(boxes, lab, w, h))
        )

    def letterboxed(pre: Preprocessor, sc: Any) -> Tuple[np.ndarray, np.ndarray]:
        img, tf = pre.letterbox(sc.image)
        b = np.asarray(sc.boxes, np.float32).reshape(-1, 4).copy()
        b[:, 0::2] = b[:, 0::2] * tf.scale_x + tf.pad_x
        b[:, 1::2] = b[:, 1::2] * tf.scale_y + tf.pad_y
        return img, b

    per_stage, total = [], 0
    t0 = time.perf_counter()
    for k, st in enumerate(chain):
        spec = _spec(st['config'])
        pre = Preprocessor(spec)
        n = 0
        for i, sc in enumerate(_scenes(st['config']['data'], 'train')):
            img, b = letterboxed(pre, sc)
            write('train', 's{}_{:06d}'.format(k, i), img, b, sc.labels, spec.color == 'rgb')
            n += 1
            if n % 1000 == 0:
                dt = time.perf_counter() - t0
                log(
                    '[peer] stage {} ({}): {} images written ({:.0f} s)'.format(
                        k, st['name'], n, dt
                    )
                )
        per_stage.append({'stage': st['name'], 'images': n, 'input': [spec.width, spec.height]})
        total += n
    last = chain[-1]['config']
    spec = _spec(last)
    pre = Preprocessor(spec)
    data = dict(last['data'], val_size=val_images)
    nv = 0
    for i, sc in enumerate(_scenes(data, 'val')):
        img, b = letterboxed(pre, sc)
        write('val', 'v{:06d}'.format(i), img, b, sc.labels, spec.color == 'rgb')
        nv += 1
    yaml_text = 'path: {}\ntrain: images/train\nval: images/val\nnames:\n{}'.format(
        json.dumps(str(out.resolve())),
        ''.join('  {}: {}\n'.format(i, json.dumps(n)) for i, n in enumerate(labels)),
    )
    (out / 'data.yaml').write_text(yaml_text)
    result = {
        'data_yaml': str(out / 'data.yaml'),
        'train_images': total,
        'val_images': nv,
        'per_stage': per_stage,
        'seconds': round(time.perf_counter() - t0, 1),
        'format': 'JPEG quality {}'.format(JPEG_QUALITY),
    }
    done.write_text(json.dumps({'key': key, 'result': result}, indent=1))
    return result


# --- training and export -------------------------------------------------------------------------


def export_size(imgsz: int, scene: Tuple[int, int] = SCENE_SIZE) -> Tuple[int, int]:
    """
    ONNX input (height, width) for a training ``imgsz``: 448 → (352, 448) for 640×480 frames.

    Width ``imgsz``; height the scene's aspect rounded up to the 32-pixel stride of the YOLO heads.
    """
    w = int(imgsz)
    h = int(math.ceil(w * scene[1] / scene[0] / 32.0) * 32)
    return h, w


def _checkpoint_state(last: Path) -> str:
    """
    State of an ultralytics ``last.pt``: ``none``, ``finished`` or ``unfinished``.

    ``finished``: ultralytics strips the optimizer and sets epoch -1 at the end of training;
    ``unfinished``: an epoch and optimizer state to resume from. ``last.pt`` is ultralytics' own
    pickle, written by this benchmark's earlier run in its work folder.
    """
    if not last.is_file():
        return 'none'
    import torch

    ck = torch.load(str(last), map_location='cpu', weights_only=False)
    return (
        'unfinished'
        if int(ck.get('epoch', -1)) >= 0 and ck.get('optimizer') is not None
        else 'finished'
    )


def epoch_seconds_total(
    epoch_seconds: Dict[str, float], results_csv: PathLike, epochs: int
) -> Optional[float]:
    """
    Training seconds of a peer run's ``epochs`` saved epochs, over every process that worked on it.

    ``epoch_seconds`` ({epoch number as a string: seconds}) is what :func:`train_peer`'s callbacks
    recorded, from each epoch's start to its checkpoint's save; an epoch cut short by a stop left
    no entry (its work was lost). Epoch 1 without an entry takes the first row of ultralytics'
    ``results.csv`` (its ``time``: seconds since the first process's training start, ultralytics
    ``BaseTrainer.save_metrics``): unambiguous for that row only. None while any epoch is unknown.
    """
    have = {int(k): float(v) for k, v in epoch_seconds.items()}
    path = Path(results_csv)
    if 1 not in have and path.is_file():
        import csv

        with path.open(newline='') as f:
            first = next(csv.DictReader(f), None)
        if first is not None and int(float(first['epoch'])) == 1:
            have[1] = float(first['time'])
    if any(e not in have for e in range(1, int(epochs) + 1)):
        return None
    return round(sum(have[e] for e in range(1, int(epochs) + 1)), 1)


def train_peer(
    ul: Any,
    arch: str,
    data_yaml: PathLike,
    work: PathLike,
    epochs: int,
    imgsz: int,
    batch: int = 16,
    seed: int = 0,
    workers: int = 2,
    device: str = 'cpu',
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """
    Train ``arch`` (e.g. ``yolov8n``) from its model yaml, random init, on CPU, then export it.

    The export is an FP32 ONNX graph (opset 13).

    The last epoch's weights are exported. Returns ``{'arch', 'onnx', 'params', 'train_seconds',
    'epochs', 'input', 'resumed'}``; ``params`` counts the trained model's parameters
    (``torch.nn.Module.parameters``). A run is hours long: a finished model with the same settings
    and dataset (``work/<arch>.done.json``) is reused, and an interrupted one resumes from its
    ``last.pt`` (ultralytics ``resume=True``); ``train_seconds`` adds up the training time of every
    process that worked on it (:func:`epoch_seconds_total`; None where unknown). ``threads``:
    torch intra-op threads of CPU training (default: every core; ultralytics alone would take one
    core fewer, one thread on a 2-core machine).
    """
    import hashlib

    import torch

    work = Path(work)
    done_json = Path(data_yaml).parent / 'done.json'
    data_key = (
        hashlib.sha256(done_json.read_bytes()).hexdigest()
        if done_json.is_file()
        else str(data_yaml)
    )
    key = {
        'arch': arch,
        'epochs': int(epochs),
        'imgsz': int(imgsz),
        'batch': int(batch),
        'seed': int(seed),
        'data': data_key,
        'ultralytics': ul.__version__,
    }
    marker = work / '{}.done.json'.format(arch)
    if marker.is_file():
        old = json.loads(marker.read_text())
        if old.get('key') == key and Path(old['result']['onnx']).is_file():
            return dict(old['result'], reused=True)
    run_dir = work / 'runs' / arch
    started = run_dir / 'key.json'
    last = run_dir / 'weights' / 'last.pt'
    state = (
        _checkpoint_state(last)
        if started.is_file() and json.loads(started.read_text()) == key
        else 'none'
    )
    resumed = state == 'unfinished'
    n_threads = int(threads or os.cpu_count() or 1)
    timing = run_dir / 'epoch_seconds.json'
    recorded: Dict[str, float] = (
        json.loads(timing.read_text()) if timing.is_file() and state != 'none' else {}
    )
    clock: Dict[str, float] = {}

    def cpu_threads(trainer: Any) -> None:
        torch.set_num_threads(n_threads)  # after ultralytics' select_device set its own count

    def epoch_start(trainer: Any) -> None:
        clock['start'] = time.perf_counter()

    def epoch_saved(trainer: Any) -> None:
        recorded[str(int(trainer.epoch) + 1)] = round(time.perf_counter() - clock['start'], 1)
        timing.write_text(json.dumps(recorded))

    def with_callbacks(model: Any) -> Any:
        for event, fn in (
            ('on_train_start', cpu_threads),
            ('on_train_epoch_start', epoch_start),
            ('on_model_save', epoch_saved),
        ):
            model.add_callback(event, fn)
        return model

    # ultralytics puts a relative ``project`` under its settings' runs_dir, and a resumed run in
    # the save_dir its checkpoint recorded: both given absolute, here, so that the run lives in
    # run_dir wherever the work folder is (or was moved)
    if resumed:
        with_callbacks(ul.YOLO(str(last))).train(resume=True, save_dir=str(run_dir.resolve()))
    elif state != 'finished':
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        started.write_text(json.dumps(key))
        model = with_callbacks(ul.YOLO('{}.yaml'.format(arch)))
        model.train(
            data=str(data_yaml),
            epochs=int(epochs),
            imgsz=int(imgsz),
            batch=int(batch),
            device=device,  # training only; the ONNX export, timing and evaluation stay on CPU
            workers=int(workers),
            project=str((work / 'runs').resolve()),
            name=arch,
            exist_ok=True,
            pretrained=False,
            amp=False,
            plots=False,
            val=False,
            seed=int(seed),
            deterministic=True,
            verbose=False,
            cache=False,
        )
    seconds = epoch_seconds_total(recorded, run_dir / 'results.csv', epochs)
    # the last epoch's weights, never ultralytics' best.pt: that one is picked on its val split,
    # whose scenes are
    # the first of the benchmark's own validation scenes (a file this run just wrote: ultralytics'
    # own format)
    model = ul.YOLO(str(last))
    params = int(sum(p.numel() for p in model.model.parameters()))
    h, w = export_size(imgsz)
    onnx_path = model.export(
        format='onnx',
        imgsz=(h, w),
        opset=13,
        simplify=True,
        dynamic=False,
        batch=1,
        device='cpu',
        nms=False,
    )
    dst = work / '{}.onnx'.format(arch)
    shutil.copyfile(onnx_path, dst)
    result = {
        'arch': arch,
        'onnx': str(dst),
        'params': params,
        'train_seconds': seconds,
        'train_threads': n_threads,
        'epochs': int(epochs),
        'input': [1, 3, h, w],
        'resumed': bool(resumed),
    }
    marker.write_text(json.dumps({'key': key, 'result': result}, indent=1))
    return result


# --- one interface for both detectors ------------------------------------------------------------


class PeerDetector:
    """
    A YOLO ONNX graph run on onnxruntime.

    The graph's output is 1×(4+C)×N: cx, cy, w, h in network pixels, then the C class scores.

    Frames are letterboxed by the runtime's :class:`Preprocessor` (RGB, 0-1, grey 114 padding, as
    ultralytics); the host decode takes each anchor's best class and runs class-wise NMS (IoU 0.7,
    top 300, ultralytics' defaults) with the runtime's
    :func:`~vitedge_ros.runtime.decoders.filter_detections`.
    """

    def __init__(self, onnx_path: PathLike, threads: int = 1) -> None:
        from ..compress.measure import ort_session
        from ..runtime.bundle import InputSpec
        from ..runtime.preprocess import Preprocessor

        self.session = ort_session(onnx_path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        _, _, h, w = inp.shape
        self.spec = InputSpec(int(w), int(h), 'rgb', (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 'letterbox')
        self.preprocess = Preprocessor(self.spec)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Raw output 1×(4+C)×N for a 1×3×H×W float32 input."""
        return self.session.run(None, {self.input_name: x})[0]

    def decode(
        self, raw: np.ndarray, tf: Any, min_score: float
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Return boxes (N×4 xyxy, frame pixels), scores and class ids at ``min_score``.

        After NMS (:func:`decode_yolo`).
        """
        return decode_yolo(raw, tf, min_score)

    def __call__(
        self, image: np.ndarray, min_score: float
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the detections of a BGR uint8 frame, in its pixels."""
        x, tf = self.preprocess(image)
        return self.decode(self.infer(x), tf, min_score)


class BundleDetector:
    """
    A vitedge_ros bundle run through the runtime :class:`~vitedge_ros.runtime.Pipeline`.

    The backend is onnxruntime.
    """

    def __init__(self, bundle_dir: PathLike) -> None:
        from ..runtime import load_bundle, Pipeline

        self.bundle = load_bundle(bundle_dir)
        self.pipe = Pipeline(self.bundle, backend='onnxruntime', score_threshold=MAP_MIN_SCORE)

    def __call__(
        self, image: np.ndarray, min_score: float
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Return the detections of a BGR uint8 frame, in its pixels.

        With the bundle's decoder and its max_detections.
        """
        from ..eval.detection import detection_arrays

        return detection_arrays([d for d in self.pipe(image).detections if d.score >= min_score])


def decode_yolo(
    raw: np.ndarray,
    tf: Any,
    min_score: float,
    nms_iou: float = PEER_NMS_IOU,
    max_det: int = PEER_MAX_DET,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Decode a YOLOv8/YOLO11 detect head output.

    1×(4+C)×N; cx, cy, w, h in network pixels, class scores 0-1.

    Each anchor keeps its best class (ultralytics' ``non_max_suppression`` with
    ``multi_label=False``, ultralytics/utils/nms.py 8.4.x); anchors below ``min_score`` go;
    class-wise NMS at ``nms_iou`` and the top ``max_det`` by the runtime's
    :func:`~vitedge_ros.runtime.decoders.filter_detections`; boxes mapped to frame pixels by ``tf``
    (a :class:`~vitedge_ros.runtime.preprocess.Transform`). Returns (boxes N×4 xyxy, scores N,
    class ids N), best first. Raises ValueError for an output that is not 1×(4+C)×N.
    """
    from ..runtime.decoders import filter_detections, RawDetections

    p = np.asarray(raw, np.float32)
    if p.ndim != 3 or p.shape[0] != 1 or p.shape[1] < 5:
        raise ValueError('YOLO output must be 1×(4+classes)×anchors, got {}'.format(p.shape))
    p = p[0]
    cls = p[4:]
    c = cls.argmax(axis=0)
    s = cls[c, np.arange(cls.shape[1])]
    keep = s >= min_score
    cx, cy, bw, bh = p[0, keep], p[1, keep], p[2, keep], p[3, keep]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(
        np.float32
    )
    r = filter_detections(
        RawDetections(boxes, s[keep].astype(np.float32), c[keep].astype(np.int64)),
        min_score,
        None,
        nms_iou,
        max_det,
    )
    b = tf.boxes_to_image(r.boxes)
    ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return b[ok], r.scores[ok], r.classes[ok]


Detect = Callable[[np.ndarray, float], Tuple[np.ndarray, np.ndarray, np.ndarray]]


# --- evaluation sets and evaluation --------------------------------------------------------------


def evaluation_sets(last: Dict[str, Any], quick: bool = False) -> Dict[str, Any]:
    """
    Frames and ground truth (frame pixels) both models are scored on.

    ``val``: the last stage's validation scenes (``val_size`` from ``val_seed``); ``flights``: its
    ``val_flights`` (threshold pick); ``demo``: make demo's flight (seed 7, 120 frames);
    ``negatives``: the held-out real no-person photos. ``quick`` keeps a few of each.
    """
    from ..data.synthetic import camera_sequence, THRESHOLD_FLIGHTS
    from ..data.textures import heldout_negative_frames, HELDOUT_SIZES
    from ..training.data import flight_scenes

    d = last['data']
    w, h = d.get('width', SCENE_SIZE[0]), d.get('height', SCENE_SIZE[1])
    vf = dict(d.get('val_flights') or THRESHOLD_FLIGHTS)
    n_val, n_demo, sizes = d.get('val_size', 200), DEMO_FRAMES, tuple(HELDOUT_SIZES)
    if quick:
        n_val, n_demo, sizes = 4, 4, ((320, 240),)
        vf.update(count=1, frames=6, every=3)

    def pack(scenes: Iterable[Any]) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [
            (
                sc.image,
                np.asarray(sc.boxes, np.float32).reshape(-1, 4),
                np.asarray(sc.labels, np.int64),
            )
            for sc in scenes
        ]

    return {
        'val': pack(_scenes(dict(d, val_size=n_val), 'val')),
        'flights': pack(flight_scenes(width=w, height=h, **vf)),
        'demo': pack(camera_sequence(n_demo, seed=DEMO_SEED, width=w, height=h)),
        'negatives': heldout_negative_frames(sizes),
        'describe': {
            'val': {'scenes': n_val, 'seed': d.get('val_seed', 1_000_000), 'size': [w, h]},
            'flights': vf,
            'demo': {'seed': DEMO_SEED, 'frames': n_demo, 'size': [w, h]},
            'negatives': {'sizes': ['{}x{}'.format(*s) for s in sizes]},
        },
    }


def evaluate(
    detect: Detect, sets: Dict[str, Any], labels: Sequence[str], rule: Dict[str, Any]
) -> Dict[str, Any]:
    """Return the side-by-side accuracy figures of one detector (see the module docstring)."""
    from ..eval.detection import detection_map, pick_score_threshold, precision_recall

    person = list(labels).index('person')

    def run(frames: Sequence[Tuple[np.ndarray, ...]], min_score: float):
        return [(g[1], g[2]) for g in frames], [detect(g[0], min_score) for g in frames]

    gts, preds = run(sets['val'], MAP_MIN_SCORE)
    m = detection_map(gts, preds, labels)
    gts, preds = run(sets['flights'], 0.05)
    thr, picked = pick_score_threshold(
        gts, preds, person, rule.get('min_precision'), rule.get('min_recall')
    )
    gts, preds = run(sets['demo'], thr)
    demo = precision_recall(gts, preds, person, iou=0.5, min_score=thr)
    counts = []
    for _name, _kind, img in sets['negatives']:
        _, s, c = detect(img, thr)
        counts.append(int(((c == person) & (s >= thr)).sum()))
    return {
        'map50': m['map50'],
        'map50_95': m['map50_95'],
        'per_class': m['per_class'],
        'threshold': thr,
        'threshold_pick': picked,
        'demo_person': {k: demo[k] for k in ('precision', 'recall', 'tp', 'fp', 'fn')},
        'false_persons': {
            'frames': len(counts),
            'total': int(sum(counts)),
            'per_frame': float(sum(counts)) / max(1, len(counts)),
            'frames_with_any': int(sum(1 for c in counts if c)),
        },
    }


def bundle_params(bundle: Any) -> Tuple[int, str]:
    """
    Parameter count of a bundle's model and where it comes from.

    The torch parameters of the checkpoint it was exported from
    (``models/checkpoints/<source.export.checkpoint>`` next to the bundle's folder) where that file
    is there, else the ONNX graph's initializer elements.
    """
    from ..compress.measure import graph_stats

    name = ((bundle.source or {}).get('export') or {}).get('checkpoint')
    path = Path(bundle.path).parent / 'checkpoints' / str(name) if name else None
    if path is not None and path.is_file():
        from ..checkpoint import load_checkpoint, rebuild_model

        ck = load_checkpoint(path)
        model = rebuild_model(ck['structure'], ck['state_dict'])
        return int(sum(p.numel() for p in model.parameters())), 'torch parameters of {}'.format(
            path.name
        )
    return int(graph_stats(bundle.onnx_path)['weight_elements']), 'ONNX initializer elements'


def family_entry(
    bundle_dir: PathLike, labels: Sequence[str], taken: Sequence[str]
) -> Dict[str, Any]:
    """
    One more ViT of the family (a compressed student, its INT8 graph) as a model of the table.

    Its key is the bundle's name (made unique against ``taken``); its label says whether the graph
    is INT8 QDQ. Raises ValueError for a bundle that is not a detector with ``labels``.
    """
    import onnx

    from ..runtime import BundleError
    from ..tasks import get_task

    try:
        det = BundleDetector(bundle_dir)
    except (BundleError, OSError) as exc:
        raise ValueError('--family {}: {}'.format(bundle_dir, exc)) from None
    b = det.bundle
    if not get_task(b.task).boxes or list(b.labels) != list(labels):
        raise ValueError(
            '--family {}: a {} bundle with labels {} (the table needs a detector with {})'.format(
                bundle_dir, b.task, list(b.labels), list(labels)
            )
        )
    ops = {n.op_type for n in onnx.load(str(b.onnx_path), load_external_data=False).graph.node}
    int8 = 'QuantizeLinear' in ops
    key = b.name + ('-int8' if int8 and not b.name.endswith('int8') else '')
    base, n = key, 2
    while key in taken:
        key, n = '{}-{}'.format(base, n), n + 1
    params, source = bundle_params(b)
    return {
        'key': key,
        'family': 'vit',
        'label': '`{}` (ViT, compressed{})'.format(b.name, ', INT8 QDQ graph' if int8 else ''),
        'onnx': str(b.onnx_path),
        'detect': det,
        'params': params,
        'params_source': source,
        'input': [1, 3, b.input.height, b.input.width],
        'training': {
            'image_passes': None,
            'note': 'compressed from the shipped ViT (docs/COMPRESSION.md): its passes plus the '
            "recipe's distillation",
        },
    }


def _vit_calls(det: 'BundleDetector', frame: np.ndarray, thr: float) -> Tuple[Any, Any]:
    """Graph call and host-decode call of a ViT bundle on ``frame`` (the latency table)."""
    from .digits import _ort_call
    from ..runtime.decoders import decode_vit_center, filter_detections

    pipe = det.pipe
    x, tf = pipe.preprocess(frame)
    out = pipe.engine.infer(x)
    spec = det.bundle.input

    def host() -> Any:
        raw = decode_vit_center(out, pipe.decoder, spec.width, spec.height)
        return tf.boxes_to_image(
            filter_detections(raw, thr, None, pipe.nms_iou, pipe.max_detections).boxes
        )

    return _ort_call(det.bundle.onnx_path, x, 1), host


# --- the whole run -------------------------------------------------------------------------------


def _round(v: Any) -> Any:
    from .stats import round_sig

    if isinstance(v, dict):
        return {k: _round(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_round(x) for x in v]
    if isinstance(v, float):
        return round_sig(v)
    return v


def run_peer(
    out_json: PathLike,
    work: PathLike,
    *,
    bundle: PathLike = ROOT / 'models' / 'aerial_vit_tiny',
    family: Sequence[PathLike] = (),
    archs: Sequence[str] = ('yolov8n',),
    quick: bool = False,
    budget: Optional[int] = None,
    imgsz: int = 448,
    batch: int = 16,
    workers: int = 2,
    device: str = 'cpu',
    threads: Optional[int] = None,
    rounds: int = 7,
    block: int = 20,
    warmup: int = 5,
    log: Callable[[str], None] = print,
) -> Dict[str, Any]:
    """
    Train, export, time and evaluate the peer(s) next to ``bundle``.

    Write ``out_json``; returns the dict.

    ``budget`` (image passes) defaults to the bundle's own (:func:`image_budget` of its chain; in
    ``quick`` mode of the shrunk chain). ``family``: more ViT bundles (the compressed student, its
    INT8 QDQ graph) evaluated and timed like ``bundle``, the ViT's accuracy-latency curve beside
    the peer's point. Raises ValueError for an unknown arch or a family member that is not a
    detector bundle with ``bundle``'s labels.
    """
    import platform

    import onnxruntime
    import torch

    from .run import write_json
    from .stats import interleaved, latency_summary, ratio_stat, SIG
    from ..compress.measure import graph_stats

    for a in archs:
        if a not in PEER_ARCHS:
            raise ValueError('unknown peer arch {!r} (known: {})'.format(a, ', '.join(PEER_ARCHS)))
    t_all = time.perf_counter()
    work = Path(work)
    shipped = BundleDetector(bundle)
    labels = list(shipped.bundle.labels)
    members: List[Dict[str, Any]] = []
    for member in family:  # refused before hours of training, not after
        taken = ['aerial_vit_tiny'] + [m['key'] for m in members]
        members.append(family_entry(member, labels, taken))
    ul = import_ultralytics(work / 'ultralytics_config')
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    full_chain = training_chain(bundle)
    shipped_budget = image_budget(full_chain)
    chain = quick_chain(full_chain) if quick else full_chain
    used_budget = image_budget(chain)
    budget = int(budget if budget is not None else used_budget['image_passes'])
    log(
        '[peer] image-pass budget {} ({} stages; the shipped detector: {})'.format(
            budget, len(chain), shipped_budget['image_passes']
        )
    )
    ds = write_yolo_dataset(
        chain, work / 'dataset', labels, val_images=4 if quick else 16, log=log
    )
    epochs = max(1, int(round(budget / max(1, ds['train_images']))))
    log(
        '[peer] dataset: {} training images; {} epochs = {} image passes'.format(
            ds['train_images'], epochs, epochs * ds['train_images']
        )
    )
    last = chain[-1]['config']
    rule = {k: (last.get('export') or {}).get(k) for k in ('min_precision', 'min_recall')}
    sets = evaluation_sets(last, quick=quick)

    peers = []
    for arch in archs:
        log('[peer] training {} ...'.format(arch))
        peers.append(
            train_peer(
                ul,
                arch,
                ds['data_yaml'],
                work,
                epochs,
                imgsz,
                batch=batch,
                workers=0 if quick else workers,
                device=device,
                threads=threads,
            )
        )
        log(
            '[peer] {} {} in {} s'.format(
                arch,
                'reused from an earlier run' if peers[-1].get('reused') else 'trained',
                peers[-1]['train_seconds'],
            )
        )

    torch.set_num_threads(1)
    # accuracy
    vit_params, vit_params_source = bundle_params(shipped.bundle)
    models = [
        {
            'key': 'aerial_vit_tiny',
            'family': 'vit',
            'label': '`{}` (shipped ViT)'.format(shipped.bundle.name),
            'onnx': str(shipped.bundle.onnx_path),
            'detect': shipped,
            'params': vit_params,
            'params_source': vit_params_source,
            'input': [1, 3, shipped.bundle.input.height, shipped.bundle.input.width],
            'training': {
                'image_passes': shipped_budget['image_passes'],
                'stages': len(full_chain),
                'recorded_in_bundle': {
                    k: (shipped.bundle.source.get('metrics') or {}).get(k)
                    for k in ('map50', 'map50_95')
                },
            },
        }
    ]
    models += members
    for p in peers:
        det = PeerDetector(p['onnx'], threads=1)
        models.append(
            {
                'key': p['arch'],
                'family': 'peer',
                'label': '{} (ultralytics {}, from scratch)'.format(
                    p['arch'].replace('yolo', 'YOLO'), ul.__version__
                ),
                'onnx': p['onnx'],
                'detect': det,
                'params': p['params'],
                'params_source': 'torch parameters of the trained model',
                'input': p['input'],
                'training': {
                    'image_passes': epochs * ds['train_images'],
                    'epochs': epochs,
                    'images': ds['train_images'],
                    'imgsz': imgsz,
                    'batch': batch,
                    'seconds': p['train_seconds'],
                    'threads': p['train_threads'],
                    'device': device,
                    'resumed': p['resumed'],
                    'reused_from_an_earlier_run': bool(p.get('reused')),
                },
            }
        )
    for m in models:
        log('[peer] evaluating {} ...'.format(m['key']))
        m['metrics'] = evaluate(m['detect'], sets, labels, rule)
        m['macs'] = int(graph_stats(m['onnx'])['macs'])

    # latency: same process, same frame, 1 thread, batch 1, interleaved
    frame = sets['demo'][0][0]
    fns, host = {}, {}
    from .digits import _ort_call

    vits = [m for m in models if isinstance(m['detect'], BundleDetector)]
    for m in vits:
        fns[m['key']], host[m['key']] = _vit_calls(m['detect'], frame, m['metrics']['threshold'])
    for m in models[len(vits):]:
        det = m['detect']
        x, tf = det.preprocess(frame)
        fns[m['key']] = _ort_call(m['onnx'], x, 1)
        raw = det.infer(x)
        host[m['key']] = lambda d=det, r=raw, t=tf, s=m['metrics']['threshold']: d.decode(r, t, s)
    t0 = time.perf_counter()
    samples = interleaved(fns, rounds=rounds, block=block, warmup=warmup)
    host_samples = interleaved(host, rounds=rounds, block=block, warmup=warmup)
    lat_seconds = time.perf_counter() - t0
    rows = []
    for m in models:
        rows.append(
            _round(
                {
                    'key': m['key'],
                    'family': m['family'],
                    'label': m['label'],
                    'input': m['input'],
                    'params': m['params'],
                    'params_source': m['params_source'],
                    'macs': m['macs'],
                    'latency_ms': latency_summary(samples[m['key']], SIG),
                    'host_decode_ms': latency_summary(host_samples[m['key']], SIG),
                    'latency_ratio_to_vit': ratio_stat(
                        samples[m['key']], samples['aerial_vit_tiny']
                    ),
                    'training': m['training'],
                    **m['metrics'],
                }
            )
        )
    data = {
        'section': 'peer',
        'quick': bool(quick),
        'budget': {
            'image_passes': budget,
            'shipped': shipped_budget,
            'rule': "sum over the shipped detector's training stages of train.epochs x "
            '(train_size + '
            'flights.count x ceil(flights.frames / flights.every))',
            'peer_epochs': epochs,
            'peer_images': ds['train_images'],
            'peer_image_passes': epochs * ds['train_images'],
        },
        'dataset': {k: v for k, v in ds.items() if k != 'data_yaml'},
        'evaluation': dict(
            sets['describe'],
            threshold_rule=rule,
            map_min_score=MAP_MIN_SCORE,
            peer_nms={'iou': PEER_NMS_IOU, 'max_det': PEER_MAX_DET},
        ),
        'measure': {
            'onnxruntime': onnxruntime.__version__,
            'threads': 1,
            'batch': 1,
            'provider': 'CPUExecutionProvider',
            'same_process': True,
            'rounds': rounds,
            'block': block,
            'warmup': warmup,
            'frame': 'first frame of the demo flight (seed {})'.format(DEMO_SEED),
            'seconds': round(lat_seconds, 1),
        },
        'versions': {
            'ultralytics': ul.__version__,
            'torch': torch.__version__,
            'python': platform.python_version(),
        },
        'models': rows,
        'seconds': round(time.perf_counter() - t_all, 1),
    }
    write_json(data, out_json)
    log('[peer] wrote {} in {} s'.format(out_json, data['seconds']))
    return data


#: ``main``'s output paths unless given, by ``--quick``: a quick run never writes the committed
#: figures (bench/peer.json, the pages) nor the full run's folder.
OUTPUT_DEFAULTS = {
    False: {
        'out': 'bench/peer.json',
        'work': 'bench_out/peer',
        'doc': 'docs/BENCHMARKS.md',
        'card': 'models/README.md',
    },
    True: {
        'out': 'bench_out/peer-quick/peer.json',
        'work': 'bench_out/peer-quick',
        'doc': '',
        'card': '',
    },
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    ``python -m vitedge_ros.bench.peer``.

    Run the peer benchmark and render its block of docs/BENCHMARKS.md.
    """
    p = argparse.ArgumentParser(
        description='YOLO nano peer trained like the shipped ViT detector, side by side '
        '(slow: hours on 2 CPU cores; --quick proves the harness in a minute)'
    )
    p.add_argument(
        '--out',
        default=None,
        help='bench JSON to write (default bench/peer.json; with --quick '
        'bench_out/peer-quick/peer.json)',
    )
    p.add_argument(
        '--work',
        default=None,
        help='dataset, runs and ONNX graphs (default bench_out/peer; with --quick its own '
        'bench_out/peer-quick, so a quick run never touches the full run)',
    )
    p.add_argument(
        '--doc',
        default=None,
        help='page whose peer block is rendered ("" for none; default docs/BENCHMARKS.md, '
        'none with --quick)',
    )
    p.add_argument(
        '--card',
        default=None,
        help='model card whose peer-gap block is rendered ("" for none; default models/README.md, '
        'none with --quick)',
    )
    p.add_argument(
        '--bundle', default='models/aerial_vit_tiny', help='the ViT bundle to compare with'
    )
    p.add_argument(
        '--family',
        default=','.join(DEFAULT_FAMILY),
        help='more ViT bundles for the accuracy-latency curve, comma separated; those without a '
        "bundle.yaml are left out with a line (default: %(default)s; add a compress run's INT8 "
        'bundle, e.g. runs/compress_aerial_student/bundle)',
    )
    p.add_argument(
        '--archs',
        default=','.join(PEER_ARCHS),
        help='peer models, comma separated (default: {})'.format(','.join(PEER_ARCHS)),
    )
    p.add_argument(
        '--budget', type=int, default=None, help="image passes (default: the bundle's own)"
    )
    p.add_argument(
        '--imgsz', type=int, default=448, help="training size (default 448: the bundle's width)"
    )
    p.add_argument(
        '--device',
        default='cpu',
        help='where the peer trains: cpu (default) or a CUDA index such as 0 (a GPU machine; '
        'FP32, no AMP: the same recipe); export, timing and evaluation stay on the CPU',
    )
    p.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch threads of CPU training (default: every core)',
    )
    p.add_argument('--quick', action='store_true', help='a few images, 1 epoch, few timing rounds')
    args = p.parse_args(argv)
    from .peer_table import write_card_gap, write_peer_block

    archs = [a.strip() for a in args.archs.split(',') if a.strip()]
    family = []
    for f in (f.strip() for f in args.family.split(',')):
        if f and (Path(f) / 'bundle.yaml').is_file():
            family.append(Path(f))
        elif f:
            print('bench-peer: {} is not a bundle (no bundle.yaml): left out'.format(f))
    for k, v in OUTPUT_DEFAULTS[bool(args.quick)].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    try:
        r, b, w = (2, 3, 1) if args.quick else (7, 20, 5)
        data = run_peer(
            args.out,
            args.work,
            bundle=args.bundle,
            family=family,
            archs=archs,
            quick=args.quick,
            budget=args.budget,
            imgsz=args.imgsz,
            device=args.device,
            threads=args.threads,
            rounds=r,
            block=b,
            warmup=w,
        )
        if args.doc:
            write_peer_block(args.doc, data)
        if args.card:
            write_card_gap(args.card, data)
    except (ValueError, OSError, RuntimeError, ImportError) as exc:
        print(
            'bench-peer: error: {}'.format(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            ),
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())

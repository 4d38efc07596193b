"""Training from a YAML config (tools/train.py): validation, data, checkpoints, resume, bundle export."""
import json
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .eval.detection import precision_recall
from .export import export_bundle
from .models import DetectorExport, ViTCenterDetector, create_model, resize_detector
from .runtime.bundle import InputSpec, atomic_write_bytes, parse_input_spec
from .training import (
    DetectionSet,
    evaluate_classifier,
    evaluate_detector,
    make_detection_set,
    make_flight_detection_set,
    predict_detector,
    train_classifier,
    train_detector,
)

LOG = logging.getLogger(__name__)
DETECTION_LABELS = ['person', 'vehicle', 'obstacle']


class ConfigError(ValueError):
    """An invalid training config (the message gives the path of the bad key)."""


SCHEMA: Dict[str, Any] = {
    'name': str, 'task': ('detect', 'classify', 'segment'),
    'model': {'arch': str, 'backbone': str, 'img_size': (int, list), 'pretrained': bool, 'head_channels': int,
              'stem_channels': int, 'checkpoint': str,
              'max_detections': int, 'upsample': int, 'kwargs': dict, 'num_classes': int, 'detail_channels': int,
              'conv_stem': bool},
    'input': dict,
    'data': {'name': ('synthetic-aerial', 'digits', 'imagefolder', 'masks'), 'train_scenes': int, 'val_scenes': int,
             'scene_width': int, 'scene_height': int, 'seed': int, 'val_seed': int, 'img_size': int,
             'test_fraction': float, 'root': str, 'val_root': str, 'cache_dir': str, 'classes': list,
             'flights': {'count': int, 'frames': int, 'every': int, 'seed': int},
             'val_flights': {'count': int, 'frames': int, 'every': int, 'seed': int}},
    'train': {'epochs': int, 'batch_size': int, 'lr': float, 'weight_decay': float, 'seed': int,
              'dice_weight': float, 'class_weight_power': float},
    'export': {'score_threshold': (float, str), 'max_detections': int, 'top_k': int,
               'upsample': ('linear', 'nearest')},
}
REQUIRED = {'': ('name', 'task', 'model', 'input', 'data', 'train'), 'model': ('arch',), 'data': ('name',),
            'train': ('epochs',), 'data.flights': ('count', 'frames', 'seed'),
            'data.val_flights': ('count', 'frames', 'seed')}


def _check(value: Any, rule: Any, path: str) -> None:
    if isinstance(rule, dict):
        if not isinstance(value, dict):
            raise ConfigError('{}: expected a mapping, got {!r}'.format(path or 'config', value))
        for key in value:
            if key not in rule:
                raise ConfigError('{}: unknown key (known: {})'.format(
                    (path + '.' if path else '') + str(key), ', '.join(rule)))
        for key in REQUIRED.get(path, ()):
            if key not in value:
                raise ConfigError('{}: missing required key'.format((path + '.' if path else '') + key))
        for key, sub in value.items():
            _check(sub, rule[key], (path + '.' if path else '') + key)
        return
    if isinstance(rule, tuple) and all(isinstance(r, str) for r in rule):
        if value not in rule:
            raise ConfigError('{}: expected one of {}, got {!r}'.format(path, ', '.join(rule), value))
        return
    types = rule if isinstance(rule, tuple) else (rule,)
    if float in types:
        types = types + (int,)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError('{}: expected {}, got {!r}'.format(path, '/'.join(t.__name__ for t in types), value))
    if not isinstance(value, types):
        raise ConfigError('{}: expected {}, got {!r}'.format(path, '/'.join(t.__name__ for t in types), value))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigError('{}: must be ≥ 0, got {!r}'.format(path, value))


def validate_config(cfg: Any) -> Dict[str, Any]:
    """Check a training config before any work; raises :class:`ConfigError` naming the bad key."""
    _check(cfg, SCHEMA, '')
    if cfg['train']['epochs'] < 1:
        raise ConfigError('train.epochs: must be ≥ 1')
    try:
        parse_input_spec(cfg['input'], 'input')
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if cfg['task'] == 'detect' and cfg['data']['name'] != 'synthetic-aerial':
        raise ConfigError('data.name: detection training reads synthetic-aerial scenes '
                          '(COCO/VisDrone readers are in vitedge_ros.data for custom loops)')
    if cfg['task'] == 'classify' and cfg['data']['name'] in ('synthetic-aerial', 'masks'):
        raise ConfigError('data.name: classification needs digits or imagefolder')
    if cfg['task'] == 'segment':
        if cfg['data']['name'] not in ('synthetic-aerial', 'masks'):
            raise ConfigError('data.name: segmentation reads synthetic-aerial scenes or a masks folder '
                              '(images/ + masks/ PNG label maps)')
        if cfg['data']['name'] == 'masks':
            for key in ('root', 'val_root', 'classes'):
                if key not in cfg['data']:
                    raise ConfigError('data.{}: missing required key for data.name masks'.format(key))
    elif cfg['data']['name'] == 'masks':
        raise ConfigError('data.name: masks folders are for task segment')
    return cfg


def build_model(cfg: Dict[str, Any], num_classes: int) -> torch.nn.Module:
    """The model described by ``cfg['model']``."""
    m = cfg['model']
    kwargs = dict(m.get('kwargs', {}))
    if cfg['task'] == 'detect':
        for key in ('backbone', 'head_channels', 'max_detections', 'upsample', 'stem_channels'):
            if key in m:
                kwargs[key] = m[key]
    if cfg['task'] == 'segment':
        for key in ('backbone', 'head_channels', 'detail_channels', 'conv_stem'):
            if key in m:
                kwargs[key] = m[key]
    return create_model(m['arch'], task=cfg['task'], num_classes=m.get('num_classes', num_classes),
                        img_size=m.get('img_size'), pretrained=m.get('pretrained', False), **kwargs)


def _detection_data(cfg: Dict[str, Any], spec: InputSpec) -> Tuple[DetectionSet, DetectionSet]:
    d = cfg['data']
    w, h = d.get('scene_width', 640), d.get('scene_height', 480)
    train = make_detection_set(d.get('train_scenes', 2000), d.get('seed', 0), spec, w, h, flights=d.get('flights'))
    val = make_detection_set(d.get('val_scenes', 200), d.get('val_seed', 1_000_000), spec, w, h)
    return train, val


def _flight_val(cfg: Dict[str, Any], spec: InputSpec) -> Optional[DetectionSet]:
    d = cfg['data']
    if not d.get('val_flights'):
        return None
    return make_flight_detection_set(spec=spec, width=d.get('scene_width', 640), height=d.get('scene_height', 480),
                                     **d['val_flights'])


def pick_threshold(model: torch.nn.Module, val: DetectionSet, class_id: int = 0) -> Tuple[float, Dict[str, float]]:
    """Score threshold that maximises F1 of ``class_id`` at IoU 0.5 on the validation set."""
    preds = predict_detector(model, val, min_score=0.05)
    gts = list(zip(val.boxes, val.labels))
    best = (0.3, {'f1': -1.0})
    for t in np.arange(0.1, 0.75, 0.05):
        pr = precision_recall(gts, preds, class_id, iou=0.5, min_score=float(t))
        f1 = 2 * pr['precision'] * pr['recall'] / max(1e-9, pr['precision'] + pr['recall'])
        if f1 > best[1]['f1']:
            best = (round(float(t), 2), dict(pr, f1=f1))
    return best


def _load(path: Any, key: str, allow_pickle: bool) -> Dict[str, Any]:
    """A checkpoint, or ConfigError with one line naming ``key`` and what the file is."""
    try:
        return load_checkpoint(path, allow_pickle=allow_pickle)
    except CheckpointError as exc:
        raise ConfigError('{}: {}'.format(key, exc)) from exc


def _resume_from(last: Path, model: torch.nn.Module) -> Tuple[torch.nn.Module, int, Any, List[Dict[str, float]]]:
    """(model, finished epochs, optimizer state, history) from ``last`` when it exists, else a fresh start."""
    if not last.is_file():
        return model, 0, None, []
    ckpt = _load(last, '--resume', False)
    LOG.info('resuming from %s at epoch %d', last, int(ckpt['epoch']))
    return ckpt['model'], int(ckpt['epoch']), ckpt['extra'].get('optimizer'), list(ckpt['extra'].get('history', []))


def _trial(module: torch.nn.Module, spec: InputSpec, names: List[str], arch: str) -> None:
    """Trial export before the first epoch; ConfigError (one line) when the model cannot be exported."""
    from .trial_export import TrialExportError, trial_export

    try:
        trial_export(module, (1, 3, spec.height, spec.width), names, what=arch)
    except TrialExportError as exc:
        raise ConfigError('model: {}'.format(exc)) from exc


def run_training(cfg: Dict[str, Any], out_dir: Path, resume: bool = False, progress: bool = True,
                 export: bool = True, allow_pickle: bool = False) -> Dict[str, Any]:
    """Train, checkpoint every epoch to ``out_dir/last.pt``, evaluate, export ``out_dir/bundle``.

    Raises :class:`ConfigError` for an invalid config or an unreadable ``model.checkpoint`` / resume
    checkpoint (one line naming the file and what it is); ``allow_pickle`` accepts old pickled checkpoints
    (that runs code from them: trusted files only).
    """
    cfg = validate_config(cfg)
    if cfg['task'] == 'segment':
        return run_segment_training(cfg, Path(out_dir), resume=resume, progress=progress, export=export,
                                    allow_pickle=allow_pickle)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = parse_input_spec(cfg['input'], 'input')
    torch.manual_seed(cfg['train'].get('seed', 0))
    task = cfg['task']
    if task == 'detect':
        labels: List[str] = list(DETECTION_LABELS)
        decoder: Dict[str, Any] = {'type': 'vit_center',
                                   'max_detections': cfg.get('export', {}).get('max_detections', 100)}
    else:
        labels, decoder = [], {'type': 'classifier', 'top_k': cfg.get('export', {}).get('top_k', 5)}
    warm = None
    if cfg['model'].get('checkpoint'):  # read before any work: a bad file fails now
        warm = _load(cfg['model']['checkpoint'], 'model.checkpoint', allow_pickle)
    if task == 'detect':
        LOG.info('generating synthetic scenes')
        train_set, val_set = _detection_data(cfg, spec)
    else:
        (x_tr, y_tr, x_te, y_te), labels = _classification_data(cfg)
    if warm is not None:  # warm start (fine-tune) from an earlier checkpoint of the same task
        model = warm['model'].train()
        want = (spec.height, spec.width)
        if isinstance(model, ViTCenterDetector) and tuple(model.img_size) != want:
            LOG.info('checkpoint input %s -> %s: resampling the position embedding', model.img_size, want)
            model = resize_detector(model, want)
    else:
        model = build_model(cfg, len(labels))
    last = out_dir / 'last.pt'
    model, start_epoch, opt_state, history = _resume_from(last, model) if resume else (model, 0, None, [])
    tc = cfg['train']
    arch = cfg['model']['arch']
    if export and start_epoch < tc['epochs']:
        wrapped = DetectorExport(model) if task == 'detect' else model
        _trial(wrapped, spec, list(wrapped.output_names) if task == 'detect' else ['logits'], arch)

    def on_epoch_end(epoch: int, mdl: torch.nn.Module, opt: torch.optim.Optimizer, stats: Dict[str, float]) -> None:
        history.append(stats)
        save_checkpoint(last, mdl, name=cfg['name'], task=task, labels=labels, input_spec=spec.to_dict(),
                        decoder=decoder, arch=arch, model_config=cfg['model'], epoch=epoch,
                        extra={'optimizer': opt.state_dict(), 'history': history})

    common = dict(epochs=tc['epochs'], batch_size=tc.get('batch_size', 32), lr=tc.get('lr', 1e-3),
                  weight_decay=tc.get('weight_decay', 0.05), seed=tc.get('seed', 0), progress=progress,
                  on_epoch_end=on_epoch_end, start_epoch=start_epoch, optimizer_state=opt_state)
    metrics: Dict[str, Any] = {}
    if task == 'detect':
        if start_epoch < tc['epochs']:
            train_detector(model, train_set, **common)
        metrics = evaluate_detector(model, val_set, labels)
        thr = cfg.get('export', {}).get('score_threshold', 'auto')
        flight_val = _flight_val(cfg, spec)
        if flight_val is not None:  # what the drone's camera sees: pick the threshold there
            metrics['flight_val'] = evaluate_detector(model, flight_val, labels)
        if thr == 'auto':
            thr, pr = pick_threshold(model, flight_val if flight_val is not None else val_set)
            metrics['person_at_threshold'] = pr
            metrics['threshold_picked_on'] = 'val_flights' if flight_val is not None else 'val_scenes'
        decoder['score_threshold'] = float(thr)
    else:
        if start_epoch < tc['epochs']:
            train_classifier(model, x_tr, y_tr, **common)
        metrics = {'top1': evaluate_classifier(model, x_te, y_te)}
    final = save_checkpoint(out_dir / 'final.pt', model, name=cfg['name'], task=task, labels=labels,
                            input_spec=spec.to_dict(), decoder=decoder, arch=arch, model_config=cfg['model'],
                            epoch=tc['epochs'], metrics=metrics)
    result: Dict[str, Any] = {'name': cfg['name'], 'task': task, 'metrics': metrics, 'history': history,
                              'checkpoint': str(final)}
    if export:
        module = DetectorExport(model) if task == 'detect' else model
        names = module.output_names if task == 'detect' else ['logits']
        samples = None
        if task == 'detect':
            from .training import images_to_tensor
            samples = images_to_tensor(val_set.images[:3], spec).numpy()
        _, err = export_bundle(module, out_dir / 'bundle', name=cfg['name'], task=task, labels=labels,
                               input_spec=spec, decoder=decoder, output_names=names, samples=samples,
                               source={'arch': arch, 'config': cfg, 'metrics': metrics,
                                       'trained_epochs': tc['epochs']})
        result['bundle'] = str(out_dir / 'bundle')
        result['parity_max_abs_err'] = err
    atomic_write_bytes(out_dir / 'train_result.json', json.dumps(result, indent=2, default=float).encode())
    return result


def _classification_data(cfg: Dict[str, Any]):
    d = cfg['data']
    if d['name'] == 'digits':
        from .data.digits import load_digits_split

        split = load_digits_split(img_size=d.get('img_size', 32), seed=d.get('seed', 0),
                                  test_fraction=d.get('test_fraction', 0.2))
        return split, [str(i) for i in range(10)]
    return _imagefolder_data(d, parse_input_spec(cfg['input'], 'input'))


def _imagefolder_data(d: Dict[str, Any], spec: InputSpec):
    """Read an ImageFolder into normalised arrays (runtime preprocessing); val from ``val_root`` or a split."""
    from .data.digits import split_indices
    from .data.imagefolder import ImageFolderSet
    from .runtime.preprocess import Preprocessor

    if 'root' not in d:
        raise ConfigError('data.root: imagefolder needs the dataset folder')
    pre = Preprocessor(spec)

    def arrays(ds: ImageFolderSet):
        x = np.concatenate([pre(img)[0] for img, _ in ds]) if len(ds) else np.zeros((0, 3, spec.height, spec.width))
        return x.astype(np.float32), ds.labels

    train = ImageFolderSet(d['root'])
    x, y = arrays(train)
    if d.get('val_root'):
        x_te, y_te = arrays(ImageFolderSet(d['val_root'], classes=train.classes))
        return (x, y, x_te, y_te), list(train.classes)
    tr, te = split_indices(y, seed=d.get('seed', 0), test_fraction=d.get('test_fraction', 0.2))
    return (x[tr], y[tr], x[te], y[te]), list(train.classes)


def load_config(path: Path) -> Dict[str, Any]:
    """Read a YAML config, with a clear error for unreadable or malformed files."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError('{}: config file does not exist'.format(path))
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError('{}: malformed YAML: {}'.format(path, exc)) from exc
    return validate_config(cfg)


def _segment_data(cfg: Dict[str, Any], spec: InputSpec) -> Tuple[Any, Any, List[str]]:
    """Train and validation :class:`SegmentationSet` (validation keeps masks in input-image pixels)."""
    from .training import make_segmentation_set, scenes_to_segmentation_set

    d = cfg['data']
    if d['name'] == 'masks':
        from .data.masks import SegmentationMaskSet

        labels = [str(c) for c in d['classes']]
        train = SegmentationMaskSet(d['root'], len(labels), class_names=labels)
        val = SegmentationMaskSet(d['val_root'], len(labels), class_names=labels)
        return (scenes_to_segmentation_set(train, spec, num_classes=len(labels)),
                scenes_to_segmentation_set(val, spec, keep_frame_masks=True, num_classes=len(labels)), labels)
    from .data.synthetic import SEG_CLASSES

    w, h = d.get('scene_width', 640), d.get('scene_height', 480)
    cache = d.get('cache_dir')
    train = make_segmentation_set(d.get('train_scenes', 2000), d.get('seed', 0), spec, w, h, cache_dir=cache)
    val = make_segmentation_set(d.get('val_scenes', 200), d.get('val_seed', 1_000_000), spec, w, h,
                                keep_frame_masks=True, cache_dir=cache)
    return train, val, list(SEG_CLASSES)


def run_segment_training(cfg: Dict[str, Any], out_dir: Path, resume: bool = False, progress: bool = True,
                         export: bool = True, allow_pickle: bool = False) -> Dict[str, Any]:
    """Task ``segment`` of :func:`run_training`: CE + Dice training, mIoU in input-image pixels, bundle export."""
    from .models import SegmenterExport
    from .training import (
        class_weights_from_masks,
        evaluate_segmenter,
        images_to_tensor,
        segmenter_onnx_agreement,
        train_segmenter,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    spec = parse_input_spec(cfg['input'], 'input')
    torch.manual_seed(cfg['train'].get('seed', 0))
    ex = cfg.get('export', {})
    decoder: Dict[str, Any] = {'type': 'segmenter', 'upsample': ex.get('upsample', 'linear')}
    warm = None
    if cfg['model'].get('checkpoint'):  # read before any work: a bad file fails now
        warm = _load(cfg['model']['checkpoint'], 'model.checkpoint', allow_pickle)
    LOG.info('preparing segmentation data')
    train_set, val_set, labels = _segment_data(cfg, spec)
    if warm is not None:  # warm start (fine-tune) from an earlier checkpoint of the same task
        model = warm['model'].train()
    else:
        model = build_model(cfg, len(labels))
    last = out_dir / 'last.pt'
    model, start_epoch, opt_state, history = _resume_from(last, model) if resume else (model, 0, None, [])
    tc = cfg['train']
    arch = cfg['model']['arch']
    if export and start_epoch < tc['epochs']:
        _trial(SegmenterExport(model), spec, ['logits'], arch)

    def on_epoch_end(epoch: int, mdl: torch.nn.Module, opt: torch.optim.Optimizer, stats: Dict[str, float]) -> None:
        history.append(stats)
        save_checkpoint(last, mdl, name=cfg['name'], task='segment', labels=labels, input_spec=spec.to_dict(),
                        decoder=decoder, arch=arch, model_config=cfg['model'], epoch=epoch,
                        extra={'optimizer': opt.state_dict(), 'history': history})

    power = float(tc.get('class_weight_power', 0.5))
    weights = class_weights_from_masks(train_set.masks, len(labels), power) if power > 0 else None
    if start_epoch < tc['epochs']:
        train_segmenter(model, train_set, epochs=tc['epochs'], batch_size=tc.get('batch_size', 16),
                        lr=tc.get('lr', 1e-3), weight_decay=tc.get('weight_decay', 0.05), seed=tc.get('seed', 0),
                        class_weights=weights, dice_weight=float(tc.get('dice_weight', 0.5)), progress=progress,
                        on_epoch_end=on_epoch_end, start_epoch=start_epoch, optimizer_state=opt_state)
    metrics: Dict[str, Any] = evaluate_segmenter(model, val_set, labels, upsample=decoder['upsample'])
    final = save_checkpoint(out_dir / 'final.pt', model, name=cfg['name'], task='segment', labels=labels,
                            input_spec=spec.to_dict(), decoder=decoder, arch=arch, model_config=cfg['model'],
                            epoch=tc['epochs'], metrics=metrics)
    result: Dict[str, Any] = {'name': cfg['name'], 'task': 'segment', 'metrics': metrics, 'history': history,
                              'checkpoint': str(final)}
    if export:
        samples = images_to_tensor(val_set.images[:3], spec).numpy()
        bundle, err = export_bundle(SegmenterExport(model), out_dir / 'bundle', name=cfg['name'], task='segment',
                                    labels=labels, input_spec=spec, decoder=decoder, output_names=['logits'],
                                    samples=samples, source={'arch': arch, 'config': cfg, 'metrics': metrics,
                                                             'trained_epochs': tc['epochs']})
        agree = segmenter_onnx_agreement(model, bundle.onnx_path, val_set.images[:20], spec)
        result['bundle'] = str(out_dir / 'bundle')
        result['parity_max_abs_err'] = err
        result['parity_argmax_agreement'] = agree
    atomic_write_bytes(out_dir / 'train_result.json', json.dumps(result, indent=2, default=float).encode())
    return result


__all__ = ['ConfigError', 'validate_config', 'load_config', 'run_training', 'build_model', 'pick_threshold',
           'run_segment_training']

"""Training from a YAML config (tools/train.py): validation, data, checkpoints, resume, bundle export."""
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .eval.detection import pick_score_threshold
from .export import export_bundle
from .models import DetectorExport, ViTCenterDetector, create_model, resize_detector
from .runtime.bundle import InputSpec, atomic_write_bytes, parse_input_spec
from .training import (
    DetectionSet,
    detection_data_classes,
    drop_ignored,
    evaluate_classifier,
    evaluate_detector,
    is_real_detection_data,
    make_detection_data,
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


#: Keys of the sources the trainer generates or reads itself (real sources: vitedge_ros.data.sources).
BUILTIN_DATA: Dict[str, Any] = {
    'name': ('synthetic-aerial', 'digits', 'masks'), 'train_scenes': int, 'val_scenes': int,
    'scene_width': int, 'scene_height': int, 'seed': int, 'val_seed': int, 'img_size': int,
    'test_fraction': float, 'root': str, 'val_root': str, 'cache_dir': str, 'classes': list,
    'flights': {'count': int, 'frames': int, 'every': int, 'seed': int, 'real_backgrounds': float},
    'val_flights': {'count': int, 'frames': int, 'every': int, 'seed': int},
    'real_backgrounds': float, 'real_negatives': float}
#: Real photo texture fractions of a synthetic-aerial entry (detection only; vitedge_ros.data.textures).
TEXTURE_FRACTIONS = (('real_backgrounds',), ('real_negatives',), ('flights', 'real_backgrounds'))
#: Which sources each task reads.
TASK_DATA = {'detect': ('synthetic-aerial', 'coco', 'visdrone'), 'classify': ('digits', 'imagefolder'),
             'segment': ('synthetic-aerial', 'masks')}
SCHEMA: Dict[str, Any] = {
    'name': str, 'task': ('detect', 'classify', 'segment'),
    'model': {'arch': str, 'backbone': str, 'img_size': (int, list), 'pretrained': bool, 'pretrained_file': str,
              'head_channels': int, 'stem_channels': int, 'checkpoint': str,
              'max_detections': int, 'upsample': int, 'kwargs': dict, 'num_classes': int, 'detail_channels': int,
              'conv_stem': bool},
    'input': dict,
    'data': dict,  # checked by vitedge_ros.data.sources.check_data (see _check_data)
    'train': {'epochs': int, 'batch_size': int, 'lr': float, 'weight_decay': float, 'seed': int,
              'dice_weight': float, 'class_weight_power': float, 'val_every': int},
    'export': {'score_threshold': (float, str), 'max_detections': int, 'top_k': int,
               'upsample': ('linear', 'nearest'), 'min_precision': float, 'min_recall': float},
}
REQUIRED = {'': ('name', 'task', 'model', 'input', 'data', 'train'), 'model': ('arch',), 'data': ('name',),
            'train': ('epochs',), 'data.flights': ('count', 'frames', 'seed'),
            'data.val_flights': ('count', 'frames', 'seed')}


def _check_data(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The ``data`` entry checked and normalised: real sources and mixes by the shared schema, the rest here."""
    from .data.sources import DataConfigError, check_data, check_task

    def builtin(v: Any, path: str) -> Any:
        _check(v, BUILTIN_DATA, path)
        _check_texture_fractions(v, path, cfg['task'])
        return v

    rules = {name: builtin for name in BUILTIN_DATA['name']}
    try:
        data = check_data(cfg['data'], 'data', rules, {'epoch_size': (_positive_int, None)})
        check_task(data, cfg['task'], TASK_DATA)
    except DataConfigError as exc:
        raise ConfigError(str(exc)) from None
    return data


def _check_texture_fractions(item: Dict[str, Any], path: str, task: str) -> None:
    """Check the real photo texture fractions of a data entry or mix item.

    ``real_backgrounds``, ``real_negatives`` and ``flights.real_backgrounds`` are each in [0, 1] (non-negative
    is checked by the schema) and only for detection on synthetic-aerial scenes; raises :class:`ConfigError`.
    """
    for keys in TEXTURE_FRACTIONS:
        v: Any = item
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if v is None:
            continue
        where = '{}.{}'.format(path, '.'.join(keys))
        if v > 1:
            raise ConfigError('{}: a fraction in [0, 1], got {!r}'.format(where, v))
        if v and (task != 'detect' or item.get('name') != 'synthetic-aerial'):
            raise ConfigError('{}: real photo textures are for detection training on synthetic-aerial scenes '
                              '(task {}, data {})'.format(where, task, item.get('name')))


def _positive_int(v: Any, path: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ConfigError('{}: expected an integer >= 1, got {!r}'.format(path, v))
    return v


def _check(value: Any, rule: Any, path: str) -> None:
    if isinstance(rule, dict):
        if not isinstance(value, dict):
            raise ConfigError('{}: expected a mapping, got {!r}'.format(path or 'config', value))
        for key in value:
            if key not in rule:
                raise ConfigError('{}: unknown key (known: {})'.format(
                    (path + '.' if path else '') + str(key), ', '.join(rule)))
        for key in REQUIRED.get(re.sub(r'^data\.mix\[\d+\]', 'data', path), ()):  # mix items: as data
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
    for key in ('min_precision', 'min_recall'):
        v = cfg.get('export', {}).get(key)
        if v is not None and v > 1:
            raise ConfigError('export.{}: a fraction in [0, 1], got {!r}'.format(key, v))
        if v is not None and cfg['export'].get('score_threshold', 'auto') != 'auto':
            raise ConfigError('export.{}: a target for score_threshold: auto (the threshold is given here)'.format(key))
    cfg = dict(cfg, data=_check_data(cfg))
    if cfg['data'].get('name') == 'masks':
        for key in ('root', 'val_root', 'classes'):
            if key not in cfg['data']:
                raise ConfigError('data.{}: missing required key for data.name masks'.format(key))
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
    from .models.pretrained import PretrainedError

    try:
        return create_model(m['arch'], task=cfg['task'], num_classes=m.get('num_classes', num_classes),
                            img_size=m.get('img_size'), pretrained=m.get('pretrained', False),
                            pretrained_file=m.get('pretrained_file'), **kwargs)
    except PretrainedError as exc:
        raise ConfigError('model.{}: {}'.format(exc.key, exc)) from None


def _synthetic_detection(spec: InputSpec) -> Callable[[Dict[str, Any], str], DetectionSet]:
    """Synthetic-aerial scenes of a ``data`` entry (or mix item): ``make(item, 'train' | 'val')``."""
    def make(d: Dict[str, Any], split: str) -> DetectionSet:
        w, h = d.get('scene_width', 640), d.get('scene_height', 480)
        if split == 'train':
            return make_detection_set(d.get('train_scenes', 2000), d.get('seed', 0), spec, w, h,
                                      flights=d.get('flights'), real_backgrounds=d.get('real_backgrounds', 0.0),
                                      real_negatives=d.get('real_negatives', 0.0))
        return make_detection_set(d.get('val_scenes', 200), d.get('val_seed', 1_000_000), spec, w, h)
    return make


def _detection_data(cfg: Dict[str, Any], spec: InputSpec) -> Tuple[Any, DetectionSet]:
    """Training data (a DetectionSet, or a sampler of crops over real sources / a mix) and the validation set."""
    d = cfg['data']
    make = _synthetic_detection(spec)
    if not is_real_detection_data(d):
        LOG.info('generating synthetic scenes')
        return make(d, 'train'), make(d, 'val')
    from .data.common import DatasetError
    from .data.sources import DataConfigError

    try:
        data = make_detection_data(d, spec, make, epoch_size=d.get('epoch_size'))
    except (DataConfigError, DatasetError) as exc:
        raise ConfigError(str(exc)) from None
    LOG.info('training on %s (%d samples per epoch, crops where the source says so); validating on %d images '
             'of %s, letterboxed whole as the runtime does', ' + '.join(
                 '{} ({} images, weight {:.3g})'.format(s.where, len(s), p)
                 for s, p in zip(data.train.sources, data.train.probabilities)), len(data.train),
             len(data.val.images), data.val_from)
    return data.train, data.val


def data_labels(cfg: Dict[str, Any]) -> List[str]:
    """Label names of a validated config's data, read before any work (no image is decoded)."""
    from .data.common import DatasetError
    from .data.sources import DataConfigError, classification_classes

    d, task = cfg['data'], cfg['task']
    try:
        if task == 'detect':
            return detection_data_classes(d) if is_real_detection_data(d) else list(DETECTION_LABELS)
        if task == 'classify':
            return classification_classes(d)
    except (DataConfigError, DatasetError) as exc:
        raise ConfigError(str(exc)) from None
    if d['name'] == 'masks':
        return [str(c) for c in d['classes']]
    from .data.synthetic import SEG_CLASSES

    return list(SEG_CLASSES)


def check_classes(cfg: Dict[str, Any], labels: List[str], ckpt: Optional[Dict[str, Any]],
                  ckpt_where: str) -> None:
    """Fail before any work when the model's classes (checkpoint labels or model.num_classes) differ from the data's."""
    from .data.sources import DataConfigError, check_model_classes

    try:
        if ckpt is not None:
            check_model_classes(ckpt['labels'], ckpt_where, labels, 'data')
        elif 'num_classes' in cfg['model']:
            check_model_classes(None, 'model.num_classes', labels, 'data', num_classes=cfg['model']['num_classes'])
    except DataConfigError as exc:
        raise ConfigError(str(exc)) from None


def _flight_val(cfg: Dict[str, Any], spec: InputSpec) -> Optional[DetectionSet]:
    d = cfg['data']
    if not d.get('val_flights'):
        return None
    return make_flight_detection_set(spec=spec, width=d.get('scene_width', 640), height=d.get('scene_height', 480),
                                     **d['val_flights'])


def pick_threshold(model: torch.nn.Module, val: DetectionSet, class_id: int = 0,
                   min_precision: Optional[float] = None,
                   min_recall: Optional[float] = None) -> Tuple[float, Dict[str, float]]:
    """Score threshold (0.10-0.70, step 0.05) for ``class_id`` at IoU 0.5 on the validation set (ignored regions out).

    The rule of :func:`vitedge_ros.eval.detection.pick_score_threshold`, on the model's detections (score >= 0.05).
    """
    preds = predict_detector(model, val, min_score=0.05)
    gts = list(zip(val.boxes, val.labels))
    if val.ignored is not None:  # as in evaluate_detector: nothing counts inside ignored regions
        gts, preds = drop_ignored(gts, preds, val.ignored, (val.spec.width, val.spec.height))
    return pick_score_threshold(gts, preds, class_id, min_precision, min_recall)


def _start_model(cfg: Dict[str, Any], labels: List[str], spec: InputSpec, out_dir: Path,
                 resume: bool, allow_pickle: bool = False) -> Tuple[torch.nn.Module, int, Any, List[Dict[str, float]]]:
    """The model to train (resumed, warm-started or new), checked against the data's classes before any work.

    Returns (model, start epoch, optimizer state, history). ``allow_pickle`` lets ``model.checkpoint`` be an
    old pickled checkpoint (unpickling runs code from it: trusted files only).
    """
    from .checkpoint import CheckpointError

    last = out_dir / 'last.pt'
    if resume and last.is_file():
        try:
            ckpt = load_checkpoint(last)
        except CheckpointError as exc:
            raise ConfigError('--resume: {}'.format(exc)) from None
        check_classes(cfg, labels, ckpt, 'resumed checkpoint {}'.format(last))
        LOG.info('resuming from %s at epoch %d', last, int(ckpt['epoch']))
        return (ckpt['model'], int(ckpt['epoch']), ckpt['extra'].get('optimizer'),
                list(ckpt['extra'].get('history', [])))
    if cfg['model'].get('checkpoint'):  # warm start (fine-tune) from an earlier checkpoint of the same task
        try:
            ckpt = load_checkpoint(cfg['model']['checkpoint'], allow_pickle=allow_pickle)
        except CheckpointError as exc:
            raise ConfigError('model.checkpoint: {}'.format(exc)) from None
        check_classes(cfg, labels, ckpt, 'model.checkpoint {}'.format(cfg['model']['checkpoint']))
        model = ckpt['model'].train()
        want = (spec.height, spec.width)
        if isinstance(model, ViTCenterDetector) and tuple(model.img_size) != want:
            LOG.info('checkpoint input %s -> %s: resampling the position embedding', model.img_size, want)
            model = resize_detector(model, want)
        return model, 0, None, []
    check_classes(cfg, labels, None, '')
    return build_model(cfg, len(labels)), 0, None, []


def _trial(cfg: Dict[str, Any], module: torch.nn.Module, spec: InputSpec, names: List[str], start_epoch: int) -> None:
    """Trial export before the first epoch (skipped when nothing is left to train); ConfigError when it fails."""
    from .trial_export import TrialExportError, trial_export

    if start_epoch >= int(cfg['train']['epochs']):
        return
    try:
        trial_export(module, (1, 3, spec.height, spec.width), names, what=cfg['model']['arch'])
    except TrialExportError as exc:
        raise ConfigError('model: {}'.format(exc)) from exc


def run_training(cfg: Dict[str, Any], out_dir: Path, resume: bool = False, progress: bool = True,
                 export: bool = True, allow_pickle: bool = False) -> Dict[str, Any]:
    """Train, checkpoint every epoch to ``out_dir/last.pt``, evaluate, export ``out_dir/bundle``.

    The data's classes are checked against the model's (checkpoint labels, ``model.num_classes``) before any
    work. Detectors and classifiers are validated after every ``train.val_every`` epochs (default 1): mAP@0.5
    and mAP@0.5:0.95 (or top-1) are logged and kept in ``history`` as ``val_map50`` / ``val_map50_95`` /
    ``val_top1``. Raises :class:`ConfigError` (one line, key path first) for bad configs, data or weights, and
    for a model that cannot be exported (a trial export of the untrained model, before any data work, when
    ``export``). ``allow_pickle`` accepts an old pickled ``model.checkpoint`` (runs code from it).
    """
    cfg = validate_config(cfg)
    if cfg['task'] == 'segment':
        return run_segment_training(cfg, Path(out_dir), resume=resume, progress=progress, export=export,
                                    allow_pickle=allow_pickle)
    out_dir = Path(out_dir)
    spec = parse_input_spec(cfg['input'], 'input')
    torch.manual_seed(cfg['train'].get('seed', 0))
    task = cfg['task']
    labels = data_labels(cfg)
    if task == 'detect':
        decoder: Dict[str, Any] = {'type': 'vit_center',
                                   'max_detections': cfg.get('export', {}).get('max_detections', 100)}
    else:
        decoder = {'type': 'classifier', 'top_k': cfg.get('export', {}).get('top_k', 5)}
    model, start_epoch, opt_state, history = _start_model(cfg, labels, spec, out_dir, resume, allow_pickle)
    if export:
        wrapped = DetectorExport(model) if task == 'detect' else model
        _trial(cfg, wrapped, spec, list(wrapped.output_names) if task == 'detect' else ['logits'], start_epoch)
    if task == 'detect':
        train_set, val_set = _detection_data(cfg, spec)
    else:
        (x_tr, y_tr, x_te, y_te), labels = _classification_data(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    tc = cfg['train']
    arch = cfg['model']['arch']
    val_every = int(tc.get('val_every', 1))

    def validate(epoch: int, mdl: torch.nn.Module, stats: Dict[str, float]) -> None:
        if not val_every or epoch % val_every:
            return
        if task == 'detect':
            res = evaluate_detector(mdl, val_set, labels)
            stats['val_map50'], stats['val_map50_95'] = float(res['map50']), float(res['map50_95'])
            LOG.info('epoch %d/%d: loss %.4f, validation mAP@0.5 %.4f, mAP@0.5:0.95 %.4f (%d images)', epoch,
                     tc['epochs'], stats.get('loss', float('nan')), stats['val_map50'], stats['val_map50_95'],
                     len(val_set.images))
        else:
            stats['val_top1'] = evaluate_classifier(mdl, x_te, y_te)
            LOG.info('epoch %d/%d: loss %.4f, validation top-1 %.4f', epoch, tc['epochs'],
                     stats.get('loss', float('nan')), stats['val_top1'])

    def on_epoch_end(epoch: int, mdl: torch.nn.Module, opt: torch.optim.Optimizer, stats: Dict[str, float]) -> None:
        validate(epoch, mdl, stats)
        history.append(stats)
        save_checkpoint(out_dir / 'last.pt', mdl, name=cfg['name'], task=task, labels=labels,
                        input_spec=spec.to_dict(), decoder=decoder, arch=arch, model_config=cfg['model'], epoch=epoch,
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
            ex = cfg.get('export', {})
            thr, pr = pick_threshold(model, flight_val if flight_val is not None else val_set,
                                     class_id=labels.index('person') if 'person' in labels else 0,
                                     min_precision=ex.get('min_precision'), min_recall=ex.get('min_recall'))
            metrics['person_at_threshold'] = pr
            metrics['threshold_picked_on'] = 'val_flights' if flight_val is not None else (
                'val_scenes' if not is_real_detection_data(cfg['data']) else 'validation set')
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
    from .data.common import DatasetError
    from .data.sources import DataConfigError, imagefolder_arrays

    try:
        return imagefolder_arrays(d, parse_input_spec(cfg['input'], 'input'))
    except (DataConfigError, DatasetError) as exc:
        raise ConfigError(str(exc)) from None


def load_config(path: Path) -> Dict[str, Any]:
    """Read a YAML config, with a clear error for unreadable or malformed files."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError('{}: config file does not exist'.format(path))
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        from .runtime.errors import yaml_error_line

        raise ConfigError('{}: malformed YAML: {}'.format(path, yaml_error_line(exc))) from exc
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
    model, start_epoch, opt_state, history = _start_model(cfg, data_labels(cfg), spec, out_dir, resume, allow_pickle)
    if export:
        _trial(cfg, SegmenterExport(model), spec, ['logits'], start_epoch)
    LOG.info('preparing segmentation data')
    train_set, val_set, labels = _segment_data(cfg, spec)
    last = out_dir / 'last.pt'
    tc = cfg['train']
    arch = cfg['model']['arch']

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

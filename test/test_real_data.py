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
Real datasets in training and compression.

COCO / VisDrone / ImageFolder of real photographs, crops, mixes.
"""

import importlib.util
import json
import math
from pathlib import Path

from conftest import TINY_DETECTOR_INPUT
import numpy as np
import pytest
from real_photos import photo, write_coco, write_imagefolder, write_visdrone
import torch
from vitedge_ros.data.sources import (
    check_data,
    crop_sample,
    DataConfigError,
    DetectionSampler,
    open_detection_source,
    PreparedSource,
)
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.runtime.bundle import InputSpec
from vitedge_ros.runtime.preprocess import Preprocessor
from vitedge_ros.training.config import ConfigError, validate_config
from vitedge_ros.training.run import run_training

ROOT = Path(__file__).resolve().parents[1]
SPEC = InputSpec(96, 64, 'rgb', (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 'letterbox')
LABEL_MAP = {
    'pedestrian': 'person',
    'people': 'person',
    'motor': 'vehicle',
}  # no car photo among the samples


#: tools/NAME.py -> the library module whose main() it calls
TOOL_MODULES = {
    'train': 'vitedge_ros.train_cli',
    'compress': 'vitedge_ros.compress.cli',
    'export_onnx': 'vitedge_ros.export.cli',
}


def tool(name):
    """Return the library module whose main() tools/NAME.py calls."""
    return importlib.import_module(TOOL_MODULES[name])


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp('photos')
    images, train_json = write_coco(
        str(root / 'coco'),
        ['astronaut', 'motorcycle', 'camera', 'coffee', 'chelsea'],
        crowd={'camera': (400, 300, 500, 500)},
    )
    _, val_json = write_coco(str(root / 'coco'), ['camera', 'motorcycle', 'astronaut'], 'val.json')
    vd_train = write_visdrone(str(root / 'vd_train'), 4, seed=1)
    vd_val = write_visdrone(str(root / 'vd_val'), 2, seed=2)
    return {
        'root': root,
        'images': images,
        'train_json': train_json,
        'val_json': val_json,
        'vd_train': vd_train,
        'vd_val': vd_val,
    }


def visdrone_item(photos, **kw):
    raw = dict(
        {
            'name': 'visdrone',
            'root': str(photos['root'] / 'vd_train'),
            'val_root': str(photos['root'] / 'vd_val'),
            'label_map': dict(LABEL_MAP),
        },
        **kw,
    )
    return check_data(raw)


def detect_config(data, epochs=1):
    return {
        'name': 'real_det',
        'task': 'detect',
        'model': {
            'arch': 'vit_center',
            'backbone': 'vit_tiny_patch16_224',
            'img_size': [64, 96],
            'head_channels': 8,
            'max_detections': 10,
            'kwargs': {'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'input': dict(TINY_DETECTOR_INPUT),
        'data': data,
        'train': {'epochs': epochs, 'batch_size': 4, 'lr': 0.001},
        'export': {'score_threshold': 0.2},
    }


# --- readers: what is a positive, what is ignored
# -----------------------------------------------------------


def test_visdrone_source_maps_labels_and_honours_ignored_regions_and_others(photos):
    src = open_detection_source(visdrone_item(photos), 'train')
    assert src.classes == ['person', 'vehicle', 'obstacle'] and len(src) == 4
    boxes, labels, ignored = src.targets(0)
    objs = photos['vd_train'][0]
    want = [(c, b) for c, b, s in objs if s == 1 and c in LABEL_MAP]
    assert len(boxes) == len(want) == 5
    for (c, (x, y, w, h)), b, lab in zip(want, boxes, labels):
        assert b.tolist() == [x, y, x + w, y + h] and src.classes[lab] == LABEL_MAP[c]
    ign = {tuple(int(v) for v in b) for b in ignored}
    for c, (
        x,
        y,
        w,
        h,
    ), s in objs:  # category 0, 'others' and the score-0 person: ignored, never positives
        if c in ('ignored', 'others') or s == 0:
            assert (x, y, x + w, y + h) in ign
    assert len(ign) == 3
    # unmapped categories: background by default, ignored on request
    default = open_detection_source(visdrone_item(photos, label_map=None), 'train')
    b2, l2, i2 = default.targets(0)
    assert (
        len(b2) == 4 and len(i2) == 3
    )  # motor is not in the default map (car/van/truck/bus -> vehicle)
    _, _, i3 = open_detection_source(
        visdrone_item(photos, label_map=None, unmapped='ignore'), 'train'
    ).targets(0)
    x, y, w, h = objs[4][1]
    assert objs[4][0] == 'motor' and [x, y, x + w, y + h] in i3.tolist()


def test_coco_source_label_map_crowd_and_holdout(photos):
    item = check_data(
        {
            'name': 'coco',
            'images': photos['images'],
            'annotations': photos['train_json'],
            'label_map': {'person': 'person', 'motorcycle': 'vehicle'},
            'test_fraction': 0.4,
        }
    )
    train, val = open_detection_source(item, 'train'), open_detection_source(item, 'val')
    assert train.classes == ['person', 'vehicle', 'obstacle']
    assert (
        sorted(train.indices + val.indices) == list(range(5)) and len(val) == 2
    )  # seeded holdout
    src = open_detection_source(dict(item, test_fraction=0.2), 'train')
    by_name = {src.ds.file_names[k]: k for k in src.indices}
    boxes, labels, ignored = src._targets(by_name['motorcycle.jpg'])
    assert boxes.tolist() == [[92, 95, 685, 452]] and labels.tolist() == [1]
    boxes, labels, ignored = src._targets(by_name['coffee.jpg'])  # cup: unmapped -> background
    assert len(boxes) == 0 and len(ignored) == 0
    k = next(k for k in range(5) if src.ds.file_names[k] == 'camera.jpg')
    assert src._targets(k)[2].tolist() == [
        [400, 300, 500, 500]
    ]  # the crowd box is an ignored region


@pytest.mark.parametrize(
    'raw, path',
    [
        ({'name': 'visdrone'}, 'data.root: required key is missing'),
        (
            {'name': 'visdrone', 'root': 'x', 'label_map': {'pedestrain': 'person'}},
            'data.label_map.pedestrain: not a',
        ),
        (
            {'name': 'visdrone', 'root': 'x', 'label_map': {'others': 'person'}},
            'data.label_map.others: VisDrone',
        ),
        (
            {'name': 'visdrone', 'root': 'x', 'crop_scale': [2, 1]},
            'data.crop_scale: expected [lo, hi]',
        ),
        (
            {'name': 'visdrone', 'root': 'x', 'unmapped': 'drop'},
            'data.unmapped: expected one of background, ignore',
        ),
        ({'name': 'coco', 'images': 'x'}, 'data.annotations: required key is missing'),
        (
            {'name': 'coco', 'images': 'x', 'annotations': 'y', 'weight': 2},
            'data.weight: unknown key',
        ),
        ({'mix': []}, 'data.mix: expected a non-empty list'),
        (
            {'mix': [{'name': 'visdrone', 'root': 'x', 'weight': -1}]},
            'data.mix[0].weight: expected a number > 0',
        ),
        (
            {
                'mix': [
                    {'name': 'visdrone', 'root': 'x'},
                    {'name': 'coco', 'images': 'x', 'annotations': 'y', 'foo': 1},
                ]
            },
            'data.mix[1].foo: unknown key',
        ),
        (
            {'mix': [{'name': 'imagefolder', 'root': 'x'}]},
            'data.mix[0].name: a mix holds detection sources',
        ),
        (
            {'mix': [{'name': 'visdrone', 'root': 'x'}], 'seed': 1},
            'data.seed: unknown key beside mix',
        ),
    ],
)
def test_data_errors_name_the_key_path(raw, path):
    with pytest.raises(DataConfigError) as err:
        check_data(raw)
    assert str(err.value).startswith(path), str(err.value)


def test_training_config_errors_name_the_key_path(photos, tmp_path):
    cfg = detect_config({'name': 'imagefolder', 'root': 'x'})
    with pytest.raises(
        ConfigError, match=r"^data\.name: 'imagefolder' is not data for task detect"
    ):
        validate_config(cfg)
    cfg = detect_config({'mix': [{'name': 'synthetic-aerial', 'train_size': 'many'}]})
    with pytest.raises(
        ConfigError, match=r"^data\.mix\[0\]\.train_size: expected an integer >= 1, got 'many'$"
    ):
        validate_config(cfg)
    cfg = detect_config({'mix': [{'name': 'synthetic-aerial', 'train_scenes': 4}]})
    with pytest.raises(
        ConfigError, match=r'^data\.mix\[0\]\.train_scenes: renamed data\.mix\[0\]\.train_size$'
    ):
        validate_config(cfg)
    cfg = detect_config(
        {
            'name': 'coco',
            'images': photos['images'],
            'annotations': photos['train_json'],
            'label_map': {'dog': 'person'},
        }
    )
    with pytest.raises(
        ConfigError,
        match=r'^data\.label_map\.dog: no such category in .*person, motorcycle, cat, cup',
    ):
        run_training(cfg, tmp_path / 'run', progress=False)
    cfg = detect_config({'name': 'visdrone', 'root': str(tmp_path / 'nowhere')})
    with pytest.raises(ConfigError, match=r'^data\.root: VisDrone folder not found'):
        run_training(cfg, tmp_path / 'run', progress=False)
    assert not (tmp_path / 'run').exists()


# --- crops and mixes
# --------------------------------------------------------------------------------------------


def test_crop_keeps_native_pixels_clips_boxes_and_turns_remnants_into_ignored_regions():
    pre = Preprocessor(SPEC)
    image = np.zeros((480, 640, 3), np.uint8)
    boxes = np.array(
        [[100, 100, 120, 140], [150, 100, 300, 200]], np.float32
    )  # small inside, large one cut
    rng = np.random.default_rng(0)
    seen_full = 0
    for _ in range(200):
        net, b, lab, ign = crop_sample(
            image, boxes, np.array([0, 1]), np.zeros((0, 4), np.float32), pre, 1.0, rng, focus=True
        )
        assert net.shape == (64, 96, 3)
        assert (b >= 0).all() and (b[:, [0, 2]] <= 96).all() and (b[:, [1, 3]] <= 64).all()
        for box, label in zip(b, lab):
            if label == 0 and box[2] - box[0] == 20 and box[3] - box[1] == 40:
                seen_full += 1  # the small box at native size: 20 x 40 px, not squeezed
            assert box[2] - box[0] > 2 and box[3] - box[1] > 2
        assert all(r[2] > r[0] and r[3] > r[1] for r in ign)
    assert seen_full > 20
    halves = []  # crop_scale 2: a window of 192 x 128 frame pixels shrunk to 96 x 64
    for _ in range(50):
        _, b, lab, _ = crop_sample(
            image,
            boxes[:1],
            np.array([0]),
            np.zeros((0, 4), np.float32),
            pre,
            2.0,
            rng,
            focus=True,
        )
        halves += [
            (r[2] - r[0], r[3] - r[1])
            for r in b
            if 0 < r[0] and r[2] < 96 and 0 < r[1] and r[3] < 64
        ]
    assert halves and all(abs(w - 10) < 0.6 and abs(h - 20) < 0.6 for w, h in halves)
    # a frame the size of the window: a sliver of a box (under 10 % of its area) becomes an ignored
    # region
    frame = np.zeros((64, 96, 3), np.uint8)
    net, b, lab, ign = crop_sample(
        frame,
        np.array([[10, 10, 30, 50], [90, 0, 200, 60]], np.float32),
        np.array([0, 1]),
        np.array([[40, 40, 50, 80]], np.float32),
        pre,
        1.0,
        np.random.default_rng(1),
    )
    assert b.tolist() == [[10, 10, 30, 50]] and lab.tolist() == [0]
    assert sorted(ign.tolist()) == [[40, 40, 50, 64], [90, 0, 96, 60]]


def test_mix_draws_sources_in_proportion_to_their_weights(photos):
    synth = PreparedSource(
        np.zeros((10, 64, 96, 3), np.uint8),
        [np.zeros((0, 4), np.float32)] * 10,
        [np.zeros(0, np.int64)] * 10,
        ['person', 'vehicle', 'obstacle'],
    )
    vd = open_detection_source(visdrone_item(photos), 'train')
    sampler = DetectionSampler(SPEC, [vd, synth], [3, 1], epoch_size=40)
    rng = np.random.default_rng(0)
    draws = [sampler.draw(rng)[0] for _ in range(4000)]
    frac = float(np.mean(np.asarray(draws) == 0))
    assert abs(frac - 0.75) < 0.03, frac
    images, boxes, labels, ignored = sampler.batch(6, rng)
    assert images.shape == (6, 64, 96, 3) and len(boxes) == len(labels) == len(ignored) == 6


def test_ignored_regions_remove_the_negative_loss_and_the_score():
    from vitedge_ros.eval.detection import detection_map
    from vitedge_ros.models.vit_detector import build_targets, focal_loss
    from vitedge_ros.training.evaluate import drop_ignored

    region = torch.tensor([[16.0, 16.0, 48.0, 48.0]])
    t = build_targets(
        [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], 3, (8, 12), 8, ignore=[region]
    )
    assert int(t['ignore'].sum()) == 16 and t['ignore'][0, 0, 2:6, 2:6].all()
    logits = torch.full((1, 3, 8, 12), -4.0)
    logits[0, 0, 3, 3] = 4.0  # a confident detection inside the ignored region
    with_ignore = focal_loss(logits, t['heatmap'], ignore=t['ignore'])
    assert float(with_ignore) < 0.5 * float(focal_loss(logits, t['heatmap']))
    gts = [(np.array([[60, 10, 80, 40]], np.float32), np.array([0]))]
    preds = [
        (
            np.array([[60, 10, 80, 40], [20, 20, 40, 40]], np.float32),
            np.array([0.9, 0.95]),
            np.array([0, 0]),
        )
    ]
    g2, p2 = drop_ignored(gts, preds, [region.numpy()], (96, 64))
    assert len(p2[0][0]) == 1 and len(g2[0][0]) == 1
    assert detection_map(g2, p2, ['person'])['map50'] == pytest.approx(1.0)
    assert detection_map(gts, preds, ['person'])['map50'] < 1.0


# --- tools/train.py on real photographs
# -------------------------------------------------------------------------


def _check_run(out: Path, labels):
    res = json.loads((out / 'train_result.json').read_text())
    h = res['history'][0]
    assert math.isfinite(h['loss']) and h['loss'] > 0
    assert 0.0 <= h['val_map50'] <= 1.0 and 0.0 <= h['val_map50_95'] <= h['val_map50'] + 1e-9
    assert 0.0 <= res['metrics']['map50'] <= 1.0
    bundle = load_bundle(out / 'bundle')
    assert bundle.labels == labels and (bundle.input.width, bundle.input.height) == (96, 64)
    img = photo('astronaut')
    result = Pipeline(bundle, backend='onnxruntime')(img)
    assert result.image_size == (512, 512)
    for d in result.detections:
        assert d.label in labels and 0.0 <= d.score <= 1.0
    return res


def test_train_tool_on_coco_photos_writes_a_bundle(photos, tmp_path):
    import yaml

    data = {
        'name': 'coco',
        'images': photos['images'],
        'annotations': photos['train_json'],
        'val_annotations': photos['val_json'],
        'label_map': {'person': 'person', 'motorcycle': 'vehicle'},
    }
    cfg = tmp_path / 'coco.yaml'
    cfg.write_text(yaml.safe_dump(detect_config(data)))
    assert tool('train').main(['--config', str(cfg), '--out', str(tmp_path / 'run')]) == 0
    _check_run(tmp_path / 'run', ['person', 'vehicle', 'obstacle'])


def test_train_tool_on_visdrone_photos_crops_and_validates_each_epoch(photos, tmp_path, caplog):
    import logging

    import yaml

    data = {
        'name': 'visdrone',
        'root': str(photos['root'] / 'vd_train'),
        'val_root': str(photos['root'] / 'vd_val'),
        'label_map': LABEL_MAP,
        'epoch_size': 8,
    }
    cfg = tmp_path / 'vd.yaml'
    cfg.write_text(yaml.safe_dump(detect_config(data, epochs=2)))
    with caplog.at_level(logging.INFO):
        assert (
            tool('train').main(
                ['--config', str(cfg), '--out', str(tmp_path / 'run'), '--no-export']
            )
            == 0
        )
    res = json.loads((tmp_path / 'run' / 'train_result.json').read_text())
    assert [h['epoch'] for h in res['history']] == [1, 2] and all(
        'val_map50' in h for h in res['history']
    )
    assert sum('validation mAP@0.5' in r.getMessage() for r in caplog.records) == 2
    # fine-tune the result on a mix of the same photos and synthetic scenes, with a bundle this
    # time
    data = {
        'mix': [
            dict(data, weight=3),
            {
                'name': 'synthetic-aerial',
                'train_size': 4,
                'val_size': 2,
                'width': 160,
                'height': 120,
                'weight': 1,
            },
        ],
        'epoch_size': 8,
    }
    data['mix'][0].pop('epoch_size')
    mix = detect_config(data)
    mix['model'] = {'arch': 'vit_center', 'checkpoint': str(tmp_path / 'run' / 'final.pt')}
    res = run_training(mix, tmp_path / 'mix', progress=False)
    _check_run(tmp_path / 'mix', ['person', 'vehicle', 'obstacle'])


# --- class mismatch: before any work, naming both
# ---------------------------------------------------------------


def test_checkpoint_data_class_mismatch_fails_before_any_work(photos, tmp_path, capsys):
    from vitedge_ros.checkpoint import save_checkpoint
    from vitedge_ros.models import ViTCenterDetector
    import yaml

    det = ViTCenterDetector(
        num_classes=3, img_size=(64, 96), head_channels=8, embed_dim=32, depth=1, num_heads=2
    )
    ck = save_checkpoint(
        tmp_path / 'det.pt',
        det,
        name='d',
        task='detect',
        labels=['person', 'vehicle', 'obstacle'],
        input_spec=SPEC.to_dict(),
        decoder={'type': 'vit_center'},
    )
    data = {
        'name': 'coco',
        'images': photos['images'],
        'annotations': photos['train_json'],
    }  # 4 COCO categories
    cfg = detect_config(data)
    cfg['model'] = {'arch': 'vit_center', 'checkpoint': str(ck)}
    path = tmp_path / 'c.yaml'
    path.write_text(yaml.safe_dump(cfg))
    assert tool('train').main(['--config', str(path), '--out', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith('error: data: class mismatch')
    assert (
        "['person', 'vehicle', 'obstacle']" in err
        and "['person', 'motorcycle', 'cat', 'cup']" in err
    )
    assert not (tmp_path / 'run').exists()
    cfg['model'] = dict(detect_config(data)['model'], num_classes=3)
    with pytest.raises(ConfigError, match=r'model\.num_classes is 3 but the data has 4 classes'):
        run_training(cfg, tmp_path / 'run', progress=False)


def _classifier_recipe(root, **model):
    return {
        'name': 'photos',
        'seed': 0,
        'model': dict(
            {
                'arch': 'deit_tiny_patch16_224',
                'img_size': 32,
                'kwargs': {'patch_size': 8, 'embed_dim': 32, 'depth': 2, 'num_heads': 2},
            },
            **model,
        ),
        'data': {
            'name': 'imagefolder',
            'root': str(root / 'train'),
            'val_root': str(root / 'val'),
        },
        'measure': {'latency_runs': 3, 'warmup': 1, 'threads': 1},
        'stages': [
            {'finetune': {'epochs': 2, 'lr': 0.002, 'batch_size': 8}},
            {'prune': {'ratio': 0.5, 'importance': 'taylor', 'calib_batches': 1}},
            {
                'finetune': {
                    'epochs': 1,
                    'batch_size': 8,
                    'distill': {'type': 'logit', 'temperature': 2.0},
                }
            },
            {
                'quantize': {
                    'mode': 'int8',
                    'calib_batches': 2,
                    'calib_batch_size': 4,
                    'sensitivity': False,
                }
            },
        ],
    }


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp('folder')
    classes = ['astronaut', 'camera', 'coffee', 'motorcycle']
    write_imagefolder(str(root / 'train'), classes, 8, size=32, seed=0)
    write_imagefolder(str(root / 'val'), classes, 3, size=32, seed=1)
    return root


def test_recipe_compresses_a_classifier_on_an_imagefolder_of_photos(folder, tmp_path):
    import yaml

    rec = tmp_path / 'r.yaml'
    rec.write_text(yaml.safe_dump(_classifier_recipe(folder)))
    assert (
        tool('compress').main(
            ['--recipe', str(rec), '--out', str(tmp_path / 'out'), '--quiet', '--threads', '1']
        )
        == 0
    )
    report = json.loads((tmp_path / 'out' / 'report.json').read_text())
    assert [s['name'] for s in report['stages']] == ['baseline', 'prune', 'distill', 'int8']
    for s in report['stages']:
        assert 0.0 <= s['metric']['top1'] <= 1.0 and s['params'] > 0
    assert report['stages'][1]['params'] < report['stages'][0]['params']
    bundle = load_bundle(tmp_path / 'out' / 'bundle')
    assert (
        bundle.labels == ['astronaut', 'camera', 'coffee', 'motorcycle']
        and bundle.task == 'classify'
    )
    out = Pipeline(bundle, backend='onnxruntime')(photo('coffee'))
    assert out.classes and out.classes[0].label in bundle.labels


def test_recipe_class_mismatch_names_both_before_any_work(folder, tmp_path, capsys):
    from vitedge_ros.checkpoint import save_checkpoint
    from vitedge_ros.models import create_model
    import yaml

    m = create_model(
        'deit_tiny_patch16_224',
        num_classes=10,
        img_size=32,
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
    )
    ck = save_checkpoint(
        tmp_path / 'digits.pt',
        m,
        name='digits',
        task='classify',
        labels=[str(i) for i in range(10)],
        input_spec=InputSpec(32, 32, 'rgb', (0.5,) * 3, (0.5,) * 3, 'stretch').to_dict(),
        decoder={'type': 'classifier', 'top_k': 3},
    )
    rec = tmp_path / 'r.yaml'
    rec.write_text(yaml.safe_dump(_classifier_recipe(folder, checkpoint=str(ck))))
    assert (
        tool('compress').main(['--recipe', str(rec), '--out', str(tmp_path / 'out'), '--quiet'])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'class mismatch' in err and 'model.checkpoint' in err
    assert "'9']" in err and "['astronaut', 'camera', 'coffee', 'motorcycle']" in err
    assert not (tmp_path / 'out').exists()
    rec.write_text(yaml.safe_dump(_classifier_recipe(folder, num_classes=10)))
    assert tool('compress').main(['--recipe', str(rec), '--out', str(tmp_path / 'out')]) == 2
    assert 'model.num_classes is 10 but the data has 4 classes' in capsys.readouterr().err


def test_recipe_distils_and_calibrates_a_detector_on_visdrone_photos(photos, tmp_path):
    from vitedge_ros.compress.runner import run_recipe

    recipe = {
        'name': 'vd',
        'seed': 0,
        'model': {
            'arch': 'vit_center',
            'task': 'detect',
            'img_size': [64, 96],
            'kwargs': {
                'backbone': 'vit_tiny_patch16_224',
                'embed_dim': 32,
                'depth': 1,
                'num_heads': 2,
                'head_channels': 8,
                'max_detections': 10,
            },
        },
        'data': {
            'name': 'visdrone',
            'root': str(photos['root'] / 'vd_train'),
            'val_root': str(photos['root'] / 'vd_val'),
            'label_map': LABEL_MAP,
            'train_size': 8,
        },
        'measure': {'latency_runs': 3, 'warmup': 1, 'threads': 1},
        'stages': [
            {'finetune': {'epochs': 1, 'batch_size': 4}},
            {
                'finetune': {
                    'epochs': 1,
                    'batch_size': 4,
                    'distill': {'type': 'logit', 'alpha': 0.5},
                }
            },
            {
                'quantize': {
                    'mode': 'int8',
                    'calib_batches': 1,
                    'calib_batch_size': 4,
                    'sensitivity': False,
                }
            },
        ],
    }
    report = run_recipe(recipe, tmp_path / 'out', progress=False, threads=1)
    assert [s['name'] for s in report['stages']] == ['baseline', 'distill', 'int8']
    for s in report['stages']:
        assert 0.0 <= s['metric']['map50'] <= 1.0
    assert report['stages'][1]['details']['history'][0]['loss'] > 0
    assert 'kd' in report['stages'][1]['details']['history'][0]
    assert load_bundle(tmp_path / 'out' / 'bundle').labels == ['person', 'vehicle', 'obstacle']


def test_visdrone_fine_tuning_config_runs_on_the_photo_fixture(photos, tmp_path):
    """
    The shipped VisDrone config, its paths pointed at the fixture and its sizes cut.

    Warm start, mix, crops.
    """
    import yaml

    cfg = yaml.safe_load((ROOT / 'config' / 'train' / 'aerial_vit_tiny_visdrone.yaml').read_text())
    cfg['model']['checkpoint'] = str(ROOT / cfg['model']['checkpoint'])
    vd, synth = cfg['data']['mix']
    vd.update(root=str(photos['root'] / 'vd_train'), val_root=str(photos['root'] / 'vd_val'))
    synth.update(train_size=2, val_size=1)
    cfg['data']['epoch_size'] = 2
    cfg['train'].update(epochs=1, batch_size=2)
    res = run_training(cfg, tmp_path, progress=False, export=False)
    h = res['history'][0]
    assert math.isfinite(h['loss']) and 0.0 <= h['val_map50'] <= 1.0
    assert res['metrics']['threshold_picked_on'] == 'validation set'
    assert 0.0 <= res['metrics']['person_at_threshold']['precision'] <= 1.0


def test_a_corrupt_frame_is_counted_and_skipped(photos, tmp_path):
    import shutil

    from vitedge_ros.data.sources import letterbox_source

    root = tmp_path / 'vd'
    shutil.copytree(str(photos['root'] / 'vd_train'), str(root))
    bad = sorted((root / 'images').iterdir())[1]
    bad.write_bytes(b'\xff\xd8 truncated')
    item = check_data(
        {'name': 'visdrone', 'root': str(root), 'val_root': str(root), 'label_map': LABEL_MAP}
    )
    sampler = DetectionSampler(SPEC, [open_detection_source(item, 'train')], [1])
    images, boxes, _, _ = sampler.batch(12, np.random.default_rng(0))
    assert images.shape == (12, 64, 96, 3) and sampler.skipped == 1 and len(sampler.bad) == 1
    val = letterbox_source(open_detection_source(item, 'val'), SPEC)
    assert len(val[0]) == 3 and len(val[4]) == 3


def test_train_keys_of_one_task_are_refused_for_another():
    from vitedge_ros.tasks import get_task

    cfg = detect_config({'name': 'synthetic-aerial', 'train_size': 4, 'val_size': 2})
    cfg['train']['giou_weight'] = 2.0
    ok = validate_config(cfg)
    opts = get_task('detect').train_options(ok['train'], None)
    assert opts['loss_fn'].keywords == {'giou_weight': 2.0}
    del cfg['train']['giou_weight']
    assert get_task('detect').train_options(validate_config(cfg)['train'], None) == {}
    cfg['train'].update(size_weight=3.0, heatmap_sigma=0.1)
    opts = get_task('detect').train_options(validate_config(cfg)['train'], None)
    assert opts['loss_fn'].keywords == {'size_weight': 3.0} and opts['sigma_factor'] == 0.1
    cfg['train']['heatmap_sigma'] = 0
    with pytest.raises(ConfigError, match=r'^train\.heatmap_sigma: '):
        validate_config(cfg)
    del cfg['train']['heatmap_sigma'], cfg['train']['size_weight']
    cfg['train']['dice_weight'] = 0.5
    with pytest.raises(
        ConfigError,
        match=r'^train\.dice_weight: a segment setting \(this config trains task detect\)$',
    ):
        validate_config(cfg)
    cfg['train'].pop('dice_weight')
    cfg['train']['giou_weight'] = -1
    with pytest.raises(ConfigError, match=r'^train\.giou_weight: '):
        validate_config(cfg)

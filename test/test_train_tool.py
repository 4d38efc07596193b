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

import json
from pathlib import Path
import subprocess
import sys

import pytest
from vitedge_ros.checkpoint import CheckpointError, load_checkpoint
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.training.config import ConfigError, validate_config
from vitedge_ros.training.run import run_training
import yaml

ROOT = Path(__file__).resolve().parents[1]


def tiny_detect_config(**train):
    return {
        'name': 'tiny_det',
        'task': 'detect',
        'model': {
            'arch': 'vit_center',
            'backbone': 'vit_tiny_patch16_224',
            'img_size': [48, 64],
            'head_channels': 8,
            'max_detections': 10,
            'kwargs': {'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'input': {
            'width': 64,
            'height': 48,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.25] * 3,
            'resize': 'letterbox',
        },
        'data': {
            'name': 'synthetic-aerial',
            'train_size': 8,
            'val_size': 4,
            'width': 160,
            'height': 120,
            'seed': 0,
            'val_seed': 99,
        },
        'train': dict({'epochs': 2, 'batch_size': 4, 'lr': 0.001}, **train),
        'export': {'score_threshold': 0.2},
    }


def test_detector_training_checkpoints_resumes_and_exports(tmp_path):
    cfg = tiny_detect_config(epochs=1)
    res = run_training(cfg, tmp_path, progress=False)
    ck = load_checkpoint(tmp_path / 'last.pt')
    assert ck['epoch'] == 1 and ck['task'] == 'detect' and 'optimizer' in ck['extra']
    import torch  # what tools/train.py writes reads without unpickling any class

    for name in ('last.pt', 'final.pt'):
        assert (
            torch.load(str(tmp_path / name), weights_only=True)['structure']['factory']['arch']
            == 'vit_center'
        )
    # resume to 2 epochs: continues from epoch 1 and keeps the history of both
    cfg2 = tiny_detect_config(epochs=2)
    res2 = run_training(cfg2, tmp_path, resume=True, progress=False)
    assert [h['epoch'] for h in res2['history']] == [1, 2]
    assert res['parity_max_abs_err'] < 1e-4
    bundle = load_bundle(tmp_path / 'bundle')
    assert bundle.decoder['score_threshold'] == 0.2 and bundle.labels == [
        'person',
        'vehicle',
        'obstacle',
    ]
    assert bundle.input.width == 64 and bundle.source['arch'] == 'vit_center'
    import numpy as np

    out = Pipeline(bundle, backend='onnxruntime')(np.zeros((120, 160, 3), np.uint8))
    assert out.image_size == (160, 120)


def test_fine_tune_at_a_new_input_size_resamples_the_checkpoint(tmp_path):
    run_training(tiny_detect_config(epochs=1), tmp_path / 'a', progress=False, export=False)
    cfg = tiny_detect_config(epochs=1)
    cfg['model'] = {'arch': 'vit_center', 'checkpoint': str(tmp_path / 'a' / 'final.pt')}
    cfg['input']['width'], cfg['input']['height'] = 96, 64
    res = run_training(cfg, tmp_path / 'b', progress=False)
    model = load_checkpoint(tmp_path / 'b' / 'final.pt')['model']
    assert tuple(model.img_size) == (64, 96) and model.map_size == (8, 12)
    bundle = load_bundle(tmp_path / 'b' / 'bundle')
    assert (bundle.input.width, bundle.input.height) == (96, 64) and res[
        'parity_max_abs_err'
    ] < 1e-4


def test_fine_tune_to_the_ltrb_box_as_a_probe_trains_only_the_new_head(tmp_path):
    import torch

    run_training(tiny_detect_config(epochs=1), tmp_path / 'a', progress=False, export=False)
    before = load_checkpoint(tmp_path / 'a' / 'final.pt')['model'].state_dict()
    cfg = tiny_detect_config(epochs=1, trainable=['box_ltrb'])
    cfg['model'] = {
        'arch': 'vit_center',
        'checkpoint': str(tmp_path / 'a' / 'final.pt'),
        'box': 'ltrb',
    }
    res = run_training(cfg, tmp_path / 'b', progress=False)
    model = load_checkpoint(tmp_path / 'b' / 'final.pt')['model']
    after = model.state_dict()
    assert model.box == 'ltrb' and 'box_ltrb.weight' in after and 'box_size.weight' not in after
    shared = [k for k in after if k in before]
    assert len(shared) == len(after) - 2  # all but the new conv's weight and bias
    assert all(torch.equal(after[k], before[k]) for k in shared)  # frozen: unchanged
    assert res['history'][0]['giou'] > 0 and 'size' not in res['history'][0]
    bundle = load_bundle(tmp_path / 'b' / 'bundle')
    import onnx

    outs = [o.name for o in onnx.load(str(bundle.onnx_path)).graph.output]
    assert outs == ['detections', 'heatmap', 'ltrb'] and res['parity_max_abs_err'] < 1e-4


def test_trainable_names_a_missing_module_before_work(tmp_path):
    cfg = tiny_detect_config(epochs=1, trainable=['box_ltrb'])  # a centre-box model lacks it
    with pytest.raises(ConfigError, match="train.trainable: the model has no module 'box_ltrb'"):
        run_training(cfg, tmp_path, progress=False)
    assert not (tmp_path / 'last.pt').exists()


def test_flight_frames_join_training_and_pick_the_threshold(tmp_path):
    from vitedge_ros.runtime.bundle import parse_input_spec
    from vitedge_ros.training.data import make_flight_detection_set

    spec = parse_input_spec(tiny_detect_config()['input'], 'input')
    fl = make_flight_detection_set(
        count=2, frames=6, every=3, seed=5, spec=spec, width=160, height=120
    )
    assert fl.images.shape == (4, 48, 64, 3) and len(fl.boxes) == len(fl.labels) == 4
    assert all(b.shape[1] == 4 and (b[:, 2] <= 64.01).all() for b in fl.boxes)
    with pytest.raises(ValueError, match='every'):
        make_flight_detection_set(count=1, frames=4, every=0, seed=5, spec=spec)
    cfg = tiny_detect_config(epochs=1)
    cfg['export'] = {'score_threshold': 'auto'}
    cfg['data']['flights'] = {'count': 1, 'frames': 4, 'every': 2, 'seed': 50}
    cfg['data']['val_flights'] = {'count': 1, 'frames': 4, 'every': 2, 'seed': 60}
    res = run_training(cfg, tmp_path, progress=False, export=False)
    m = res['metrics']
    assert m['threshold_picked_on'] == 'val_flights' and 'map50' in m['flight_val']
    assert 0.0 <= m['person_at_threshold']['precision'] <= 1.0


@pytest.mark.parametrize(
    'mutate, path',
    [
        (lambda c: c['train'].update(epochs='ten'), 'train.epochs'),
        (lambda c: c['model'].update(colour=1), 'model.colour'),
        (lambda c: c.update(task='segment-all'), 'task'),
        (lambda c: c['data'].update(name='imagenet'), 'data.name'),
        (lambda c: c['input'].update(width=0), 'input.width'),
        (lambda c: c.pop('train'), 'train'),
        (lambda c: c['data'].update(flights={'count': 2, 'frames': 4}), 'data.flights.seed'),
        (
            lambda c: c['data'].update(
                val_flights={'count': 2, 'frames': 4, 'seed': 1, 'stride': 2}
            ),
            'data.val_flights.stride',
        ),
    ],
)
def test_bad_config_names_the_key(mutate, path):
    cfg = tiny_detect_config()
    mutate(cfg)
    with pytest.raises(ConfigError, match=path.replace('.', r'\.')):
        validate_config(cfg)


def test_cli_rejects_bad_config_before_work(tmp_path):
    cfg = tiny_detect_config()
    cfg['train']['lr'] = 'fast'
    p = tmp_path / 'bad.yaml'
    p.write_text(yaml.safe_dump(cfg))
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'train.py'),
            '--config',
            str(p),
            '--out',
            str(tmp_path / 'run'),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert 'train.lr' in out.stderr
    assert not (tmp_path / 'run' / 'last.pt').exists()


def test_truncated_checkpoint_is_reported(tmp_path):
    p = tmp_path / 'x.pt'
    p.write_bytes(b'PK\x03\x04 not really')
    with pytest.raises(CheckpointError, match='x.pt'):
        load_checkpoint(p)


def test_shipped_config_is_valid():
    for cfg_path in (ROOT / 'config' / 'train').glob('*.yaml'):
        validate_config(yaml.safe_load(cfg_path.read_text()))


def test_train_result_json_written(tmp_path):
    run_training(tiny_detect_config(epochs=1), tmp_path, progress=False, export=False)
    data = json.loads((tmp_path / 'train_result.json').read_text())
    assert data['task'] == 'detect' and 'map50' in data['metrics']


def tiny_classify_config(data):
    return {
        'name': 'tiny_cls',
        'task': 'classify',
        'model': {
            'arch': 'vit_tiny_patch16_224',
            'img_size': 16,
            'kwargs': {'patch_size': 4, 'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'input': {
            'width': 16,
            'height': 16,
            'color': 'rgb',
            'mean': [0.5] * 3,
            'std': [0.5] * 3,
            'resize': 'stretch',
        },
        'data': data,
        'train': {'epochs': 3, 'batch_size': 32, 'lr': 0.003},
        'export': {'top_k': 2},
    }


def test_digits_classifier_learns_and_bundle_agrees(tmp_path):
    import numpy as np
    from vitedge_ros.data.digits import digits_as_bgr_images, load_digits_split

    cfg = tiny_classify_config({'name': 'digits', 'img_size': 16})
    cfg['train']['epochs'] = 10
    res = run_training(cfg, tmp_path, progress=False)
    assert res['metrics']['top1'] > 0.5  # 10 short epochs of a 1-block ViT: far above chance (0.1)
    pipe = Pipeline(tmp_path / 'bundle', backend='onnxruntime')
    imgs, labels = digits_as_bgr_images(img_size=16, split='test')
    preds = np.array([pipe(im).classes[0].class_id for im in imgs])
    _, _, _, y_te = load_digits_split(img_size=16)
    assert np.array_equal(labels, y_te)
    assert abs(float((preds == labels).mean()) - res['metrics']['top1']) < 0.03


def test_imagefolder_classifier(tmp_path):
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for name, colour in (('red', (0, 0, 255)), ('blue', (255, 0, 0))):
        (tmp_path / 'data' / name).mkdir(parents=True)
        for i in range(20):
            img = np.clip(
                np.array(colour, np.float32) + rng.normal(0, 30, (20, 20, 3)), 0, 255
            ).astype(np.uint8)
            cv2.imwrite(str(tmp_path / 'data' / name / '{}.png'.format(i)), img)
    cfg = tiny_classify_config(
        {'name': 'imagefolder', 'root': str(tmp_path / 'data'), 'test_fraction': 0.25}
    )
    cfg['train']['epochs'] = 5
    res = run_training(cfg, tmp_path / 'run', progress=False)
    assert load_bundle(tmp_path / 'run' / 'bundle').labels == ['blue', 'red']
    assert res['metrics']['top1'] >= 0.9

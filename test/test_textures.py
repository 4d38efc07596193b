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
Real photo textures in the synthetic world, the held-out split.

And the false-positive counter.
"""

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
from vitedge_ros.data import synthetic, textures
from vitedge_ros.data.synthetic import camera_sequence, generate_scene, generate_texture_negative
from vitedge_ros.data.textures import (
    check_splits,
    heldout_negative_frames,
    HELDOUT_REGIONS,
    PHOTOS,
    Region,
    sample_texture,
    TRAIN_REGIONS,
    training_sources,
)

#: real photos come from scikit-image / scikit-learn sample data; training and the counter need
#: torch / onnx
pytestmark = pytest.mark.needs('skimage', 'sklearn', 'torch', 'onnx')

ROOT = Path(__file__).resolve().parents[1]
SPEC = {
    'width': 64,
    'height': 48,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.25] * 3,
    'resize': 'letterbox',
}


# ---------------------------------------------------------------- the split


def test_photos_with_persons_are_flagged_and_never_used():
    assert {p for p, ph in PHOTOS.items() if ph.persons} == {
        'skimage/camera',
        'skimage/astronaut',
        'matplotlib/grace_hopper',
    }
    used = {r.source for r in TRAIN_REGIONS + HELDOUT_REGIONS}
    assert not used & {'skimage/camera', 'skimage/astronaut', 'matplotlib/grace_hopper'}
    check_splits()


def test_heldout_photos_never_appear_in_training_sources():
    train = set(training_sources())
    whole = {r.source for r in HELDOUT_REGIONS if r.box == (0.0, 0.0, 1.0, 1.0)}
    assert whole == {'sklearn/flower', 'skimage/rocket'}
    assert not whole & train
    # photos split by region: the training part and the held-out part are disjoint column ranges
    for h in HELDOUT_REGIONS:
        for t in TRAIN_REGIONS:
            if t.source == h.source:
                assert t.box[2] < h.box[0], (t, h)


@pytest.mark.parametrize(
    'train, held, match',
    [
        ((Region('skimage/camera', (0, 0, 1, 1)),), (), 'person'),
        (
            (Region('skimage/gravel', (0, 0, 0.7, 1)),),
            (Region('skimage/gravel', (0.6, 0, 1, 1)),),
            'overlaps',
        ),
        ((Region('skimage/nope', (0, 0, 1, 1)),), (), 'unknown'),
        ((Region('skimage/grass', (0.5, 0, 0.4, 1)),), (), 'inside'),
    ],
)
def test_check_splits_refuses_bad_splits(train, held, match):
    with pytest.raises(ValueError, match=match):
        check_splits(train, held)


def test_photos_load_offline_as_uint8():
    for pid in PHOTOS:
        img = textures.load_photo(pid)
        assert img.dtype == np.uint8 and img.ndim in (2, 3) and min(img.shape[:2]) >= 100, pid
    with pytest.raises(KeyError, match='unknown photo'):
        textures.load_photo('skimage/lena')


def test_training_textures_never_read_a_heldout_pixel(monkeypatch):
    """Photos replaced by markers: 255 in held-out parts, 40..120 elsewhere; recolouring off."""

    def fake_photo(pid):
        img = np.full((200, 300), 80, np.uint8)
        img[::2] = 40
        img[:, ::3] = 120
        for r in HELDOUT_REGIONS:
            if r.source == pid:
                x0, y0, x1, y1 = r.box
                top, bottom = int(round(y0 * 200)), int(round(y1 * 200))
                left, right = int(round(x0 * 300)), int(round(x1 * 300))
                img[top:bottom, left:right] = 255
        return img

    monkeypatch.setattr(textures, 'load_photo', fake_photo)
    monkeypatch.setattr(textures, '_recolour', lambda rng, img: img)
    seen = set()
    for seed in range(300):
        tex = sample_texture(np.random.default_rng(seed), 80, 60)
        seen.add(tex.region.source)
        assert tex.region in TRAIN_REGIONS
        assert tex.image.max() <= 120, (seed, tex.region)
    assert {'skimage/gravel', 'skimage/grass', 'sklearn/china'} <= seen
    assert not seen & {'sklearn/flower', 'skimage/rocket'}


def test_sample_texture_is_deterministic_colour_and_sized():
    a = sample_texture(np.random.default_rng(3), 120, 90)
    b = sample_texture(np.random.default_rng(3), 120, 90)
    c = sample_texture(np.random.default_rng(4), 120, 90)
    assert a.image.shape == (90, 120, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.image, b.image) and a.region == b.region
    assert not np.array_equal(a.image, c.image)
    with pytest.raises(ValueError, match='no regions'):
        sample_texture(np.random.default_rng(0), 10, 10, regions=())


def test_heldout_frames_sizes_kinds_and_names():
    frames = heldout_negative_frames(((64, 48), (128, 72)))
    names = [n for n, _, _ in frames]
    assert len(names) == len(set(names))
    # 2 whole colour photos + china region: 1 colouring; 4 grey regions: grey + 2 tints; 3 views x
    # 2 sizes
    assert len(frames) == (3 + 4 * 3) * 3 * 2
    kinds = {k for _, k, _ in frames}
    assert kinds == {'held-out photo', 'held-out region', 'held-out region, tinted'}
    for name, kind, img in frames:
        w, h = (int(v) for v in name.rsplit('@', 1)[1].split('x'))
        assert img.shape == (h, w, 3) and img.dtype == np.uint8, name
        assert (kind == 'held-out photo') == name.startswith(
            ('sklearn/flower@', 'skimage/rocket@')
        )
    assert np.array_equal(frames[0][2], heldout_negative_frames(((64, 48), (128, 72)))[0][2])


# ---------------------------------------------------------------- the generator


def test_real_background_is_deterministic_and_keeps_the_boxes():
    plain = generate_scene(11, 160, 120)
    a = generate_scene(11, 160, 120, real_background=1.0)
    b = generate_scene(11, 160, 120, real_background=1.0)
    assert a.image.tobytes() == b.image.tobytes()
    for key in ('boxes', 'labels', 'mask', 'instances'):
        assert np.array_equal(getattr(a, key), getattr(plain, key)), key
    bare = plain.mask == synthetic.SEG_BACKGROUND
    bare &= plain.instances == 0
    assert np.abs(a.image.astype(int) - plain.image.astype(int))[bare].mean() > 10
    # off by default and with probability 0: byte-identical to the procedural scene
    assert (
        generate_scene(11, 160, 120, real_background=0.0).image.tobytes() == plain.image.tobytes()
    )
    with pytest.raises(ValueError, match='real_background'):
        generate_scene(11, 160, 120, real_background=1.5)


def test_real_background_fraction_is_per_seed():
    got = []
    for seed in range(16):
        plain = generate_scene(seed, 64, 48)
        half = generate_scene(seed, 64, 48, real_background=0.5)
        assert np.array_equal(half.boxes, plain.boxes)
        got.append(not np.array_equal(half.image, plain.image))
        assert np.array_equal(half.image, generate_scene(seed, 64, 48, real_background=0.5).image)
    assert 3 <= sum(got) <= 13


def test_texture_negatives_have_no_boxes_and_are_deterministic():
    a, b, c = (generate_texture_negative(s, 160, 120) for s in (5, 5, 6))
    assert a.boxes.shape == (0, 4) and a.labels.shape == (0,)
    assert a.image.shape == (120, 160, 3) and not a.instances.any()
    assert a.image.tobytes() == b.image.tobytes() and not np.array_equal(a.image, c.image)
    assert a.image.std() > 5


def test_camera_sequence_real_background_keeps_boxes():
    plain = list(camera_sequence(3, seed=4, width=96, height=72))
    real = list(camera_sequence(3, seed=4, width=96, height=72, real_background=1.0))
    for p, r in zip(plain, real):
        assert np.array_equal(p.boxes, r.boxes) and np.array_equal(p.labels, r.labels)
    assert not np.array_equal(plain[0].image, real[0].image)


def test_detection_set_with_negatives_and_backgrounds():
    from vitedge_ros.runtime.bundle import parse_input_spec
    from vitedge_ros.training.data import make_detection_set

    spec = parse_input_spec(SPEC, 'input')
    plain = make_detection_set(10, 40, spec, 160, 120)
    mixed = make_detection_set(10, 40, spec, 160, 120, real_backgrounds=1.0, real_negatives=0.3)
    for i in range(7):
        assert np.array_equal(plain.boxes[i], mixed.boxes[i]) and np.array_equal(
            plain.labels[i], mixed.labels[i]
        )
        assert not np.array_equal(plain.images[i], mixed.images[i])
    assert all(len(mixed.boxes[i]) == 0 and len(mixed.labels[i]) == 0 for i in (7, 8, 9))
    neg = make_detection_set(1, 49, spec, 160, 120, real_negatives=1.0)
    assert np.array_equal(neg.images[0], mixed.images[9])
    with pytest.raises(ValueError, match='real_negatives'):
        make_detection_set(2, 0, spec, 160, 120, real_negatives=-0.1)


def _tiny_cfg(**data):
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
        'input': dict(SPEC),
        'data': dict(
            {
                'name': 'synthetic-aerial',
                'train_size': 10,
                'val_size': 2,
                'width': 160,
                'height': 120,
                'seed': 40,
                'val_seed': 99,
            },
            **data,
        ),
        'train': {'epochs': 1, 'batch_size': 4, 'lr': 0.001},
        'export': {'score_threshold': 0.2},
    }


def test_trainer_config_takes_real_texture_keys():
    from vitedge_ros.runtime.bundle import parse_input_spec
    from vitedge_ros.training.config import ConfigError, validate_config
    from vitedge_ros.training.data import build_detection

    cfg = validate_config(_tiny_cfg(real_backgrounds=1.0, real_negatives=0.3))
    train, val = build_detection(cfg['data'], parse_input_spec(SPEC, 'input'))[:2]
    assert [len(b) == 0 for b in train.boxes[7:]] == [True] * 3
    assert sum(len(b) for b in val.boxes) == sum(
        len(generate_scene(99 + i, 160, 120).boxes) for i in range(2)
    )
    for bad, match in (
        ({'real_negatives': 1.5}, r'data\.real_negatives'),
        ({'real_backgrounds': 'half'}, r'data\.real_backgrounds'),
        (
            {'flights': {'count': 1, 'frames': 2, 'seed': 0, 'real_backgrounds': 2.0}},
            r'data\.flights\.real_backgrounds',
        ),
    ):
        with pytest.raises(ConfigError, match=match):
            validate_config(_tiny_cfg(**bad))
    seg = _tiny_cfg(real_backgrounds=0.5)
    seg['task'] = 'segment'
    with pytest.raises(
        ConfigError, match=r'data\.real_backgrounds: real photo textures are for detection'
    ):
        validate_config(seg)
    mixed = _tiny_cfg()
    mixed['data'] = {'mix': [dict(mixed['data'], real_negatives=1.2, weight=1)]}
    with pytest.raises(
        ConfigError,
        match=r'data\.mix\[0\]\.real_negatives: expected a number in \[0, 1\], got 1\.2',
    ):
        validate_config(mixed)


# ---------------------------------------------------------------- the counter


def _constant_bundle(path: Path) -> Path:
    """
    Write a 32x32 detector bundle whose output is known.

    Four fixed rows plus a person whose score is the mean input pixel (0 for black, 1 for white
    frames; mean 0, std 1, stretch).
    """
    import onnx
    from onnx import helper, TensorProto
    from vitedge_ros.runtime.bundle import write_bundle_yaml

    rows = np.array(
        [
            [
                [2, 2, 10, 10, 0.9, 0],
                [12, 12, 20, 20, 0.5, 0],
                [4, 4, 8, 8, 0.2, 0],
                [1, 1, 30, 30, 0.95, 1],
            ]
        ],
        np.float32,
    )
    nodes = [
        helper.make_node(
            'Constant',
            [],
            ['rows'],
            value=helper.make_tensor('r', TensorProto.FLOAT, rows.shape, rows.ravel().tolist()),
        ),
        helper.make_node('ReduceMean', ['images'], ['m'], keepdims=0),
        helper.make_node(
            'Constant',
            [],
            ['shape'],
            value=helper.make_tensor('s', TensorProto.INT64, [3], [1, 1, 1]),
        ),
        helper.make_node('Reshape', ['m', 'shape'], ['m3']),
        helper.make_node(
            'Constant',
            [],
            ['box'],
            value=helper.make_tensor('b', TensorProto.FLOAT, [1, 1, 4], [20, 2, 28, 9]),
        ),
        helper.make_node(
            'Constant',
            [],
            ['cls'],
            value=helper.make_tensor('c', TensorProto.FLOAT, [1, 1, 1], [0]),
        ),
        helper.make_node('Concat', ['box', 'm3', 'cls'], ['row'], axis=2),
        helper.make_node('Concat', ['rows', 'row'], ['detections'], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        'constant_detector',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info('detections', TensorProto.FLOAT, [1, 5, 6])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    path.mkdir(parents=True)
    onnx.save(model, str(path / 'model.onnx'))
    write_bundle_yaml(
        path,
        {
            'name': 'constant',
            'task': 'detect',
            'labels': ['person', 'vehicle', 'obstacle'],
            'input': {
                'width': 32,
                'height': 32,
                'color': 'rgb',
                'mean': [0.0] * 3,
                'std': [1.0] * 3,
                'resize': 'stretch',
            },
            'decoder': {'type': 'vit_center', 'score_threshold': 0.4, 'max_detections': 100},
        },
    )
    return path


def test_false_positive_counter_counts_known_outputs(tmp_path):
    import cv2
    from vitedge_ros.eval.negatives import false_positives_per_frame

    bundle = _constant_bundle(tmp_path / 'constant')
    black, white = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    cv2.imwrite(str(tmp_path / 'white.png'), white)
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    frames = [
        ('b1', 'dark', black),
        ('w1', 'bright', white),
        ('b2', 'dark', black),
        str(tmp_path / 'white.png'),
        str(tmp_path / 'broken.png'),
    ]
    r = false_positives_per_frame(bundle, frames)
    # threshold 0.4 from the bundle: black 0.9, 0.5 -> 2 persons; white adds the 1.0 row -> 3
    assert [row['count'] for row in r['images']] == [2, 3, 2, 3]
    assert (
        r['frames'] == 4 and r['false_positives'] == 10 and r['per_frame'] == 2.5 and r['max'] == 3
    )
    assert r['by_group'] == {
        'bright': {
            'frames': 1,
            'false_positives': 3,
            'per_frame': 3.0,
            'max': 3,
            'frames_with_any': 1,
        },
        'dark': {
            'frames': 2,
            'false_positives': 4,
            'per_frame': 2.0,
            'max': 2,
            'frames_with_any': 2,
        },
    }
    assert r['by_size'] == {
        '64x64': {
            'frames': 4,
            'false_positives': 10,
            'per_frame': 2.5,
            'max': 3,
            'frames_with_any': 4,
        }
    }
    assert r['images'][1]['scores'] == [1.0, 0.9, 0.5] and r['score_threshold'] == 0.4
    assert [s['name'] for s in r['skipped']] == [str(tmp_path / 'broken.png')]
    # an explicit threshold and another class
    low = false_positives_per_frame(bundle, [black, white], score_threshold=0.1)
    assert [row['count'] for row in low['images']] == [3, 4]
    veh = false_positives_per_frame(bundle, [black, white], class_name='vehicle')
    assert veh['false_positives'] == 2 and veh['per_frame'] == 1.0
    from vitedge_ros.runtime.errors import BundleError

    with pytest.raises(BundleError, match='dog'):
        false_positives_per_frame(bundle, [black], class_name='dog')


def test_false_positives_tool_writes_reports_and_refuses_bad_input(tmp_path):
    import cv2

    bundle = _constant_bundle(tmp_path / 'constant')
    imgs = tmp_path / 'imgs'
    imgs.mkdir()
    cv2.imwrite(str(imgs / 'a.png'), np.zeros((40, 50, 3), np.uint8))
    cv2.imwrite(str(imgs / 'b.jpg'), np.full((40, 50, 3), 255, np.uint8))
    tool = [sys.executable, str(ROOT / 'tools' / 'false_positives.py')]
    out = subprocess.run(
        tool + ['--bundle', str(bundle), '--out', str(tmp_path / 'o'), '--images', str(imgs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / 'o' / 'false_positives.json').read_text())
    assert data['false_positives'] == 5 and data['per_frame'] == 2.5
    assert (
        '**2.50 false persons per frame**' in (tmp_path / 'o' / 'false_positives.md').read_text()
    )
    # the held-out real photos by default, at one small size
    out = subprocess.run(
        tool + ['--bundle', str(bundle), '--out', str(tmp_path / 'h'), '--sizes', '64x48'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    held = json.loads((tmp_path / 'h' / 'false_positives.json').read_text())
    assert held['frames'] == (3 + 4 * 3) * 3 and held['sizes'] == ['64x48']
    assert set(held['by_group']) == {
        'held-out photo',
        'held-out region',
        'held-out region, tinted',
    }
    corrupt = tmp_path / 'corrupt'
    corrupt.mkdir()
    (corrupt / 'broken.jpg').write_bytes(b'\xff\xd8not a jpeg')
    for args, msg in (
        (['--bundle', str(tmp_path / 'none'), '--out', str(tmp_path / 'x')], 'does not exist'),
        (
            [
                '--bundle',
                str(bundle),
                '--out',
                str(tmp_path / 'x'),
                '--images',
                str(tmp_path / 'no'),
            ],
            'not a folder',
        ),
        (['--bundle', str(bundle), '--out', str(tmp_path / 'x'), '--sizes', '64by48'], 'WxH'),
        (
            ['--bundle', str(bundle), '--out', str(tmp_path / 'x'), '--images', str(corrupt)],
            'no frame could be read (1 skipped',
        ),
    ):
        out = subprocess.run(tool + args, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and msg in out.stderr and 'Traceback' not in out.stderr, (
            out.stderr
        )
    assert not (tmp_path / 'x').exists()  # nothing written for a refused run

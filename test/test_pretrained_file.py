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
Local pretrained weights (model.pretrained_file) and a fast, clear failure of pretrained.

True offline.
"""

from pathlib import Path
import socket
import subprocess
import sys
import time

import pytest
import timm
import torch
from vitedge_ros.models import create_model, ViTCenterDetector, ViTSegmenter
from vitedge_ros.models.pretrained import PretrainedError
import yaml

ROOT = Path(__file__).resolve().parents[1]
ARCH = 'vit_tiny_patch16_224'
TINY = {'embed_dim': 32, 'depth': 1, 'num_heads': 2}
SIZE = (32, 48)


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    """Save a tiny timm ViT (5 classes) as .safetensors and as a .pth state dict."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    src = timm.create_model(ARCH, num_classes=5, img_size=SIZE, **TINY)
    sd = {k: v.detach().clone().contiguous() for k, v in src.state_dict().items()}
    d = tmp_path_factory.mktemp('weights')
    save_file(sd, str(d / 'tiny.safetensors'))
    torch.save(sd, str(d / 'tiny.pth'))
    return sd, {'safetensors': str(d / 'tiny.safetensors'), 'pth': str(d / 'tiny.pth')}


def _same(module_sd, file_sd, skip=('head.',)):
    keys = [k for k in file_sd if not k.startswith(skip)]
    assert keys and all(k in module_sd for k in keys)
    return all(torch.equal(module_sd[k], file_sd[k]) for k in keys)


@pytest.mark.parametrize('fmt', ['safetensors', 'pth'])
def test_pretrained_file_loads_into_classifier_detector_and_segmenter(weights, fmt):
    sd, paths = weights
    path = paths[fmt]
    cls = create_model(ARCH, num_classes=5, img_size=SIZE, pretrained_file=path, **TINY)
    assert _same(cls.state_dict(), sd, skip=())  # same class count: the head is loaded too
    other = create_model(ARCH, num_classes=3, img_size=SIZE, pretrained_file=path, **TINY)
    assert other.head.weight.shape == (3, 32) and _same(
        other.state_dict(), sd
    )  # head dropped (timm's way)
    det = ViTCenterDetector(
        backbone=ARCH, num_classes=3, img_size=SIZE, head_channels=8, pretrained_file=path, **TINY
    )
    assert _same(det.backbone.state_dict(), sd)
    seg = create_model(
        'vit_segmenter',
        task='segment',
        num_classes=4,
        img_size=list(SIZE),
        backbone=ARCH,
        head_channels=8,
        detail_channels=8,
        pretrained_file=path,
        **TINY,
    )
    assert isinstance(seg, ViTSegmenter) and _same(seg.backbone.state_dict(), sd)
    fresh = ViTCenterDetector(backbone=ARCH, num_classes=3, img_size=SIZE, head_channels=8, **TINY)
    assert not _same(fresh.backbone.state_dict(), sd)


def test_pretrained_file_in_a_training_config_and_a_recipe(weights, tmp_path):
    from vitedge_ros.compress.recipe import validate_recipe
    from vitedge_ros.compress.runner import build_model as recipe_model
    from vitedge_ros.training.config import validate_config
    from vitedge_ros.training.run import build_model

    sd, paths = weights
    cfg = validate_config(
        {
            'name': 't',
            'task': 'detect',
            'model': {
                'arch': 'vit_center',
                'backbone': ARCH,
                'img_size': list(SIZE),
                'head_channels': 8,
                'pretrained_file': paths['safetensors'],
                'kwargs': TINY,
            },
            'input': {
                'width': 48,
                'height': 32,
                'color': 'rgb',
                'mean': [0.5] * 3,
                'std': [0.25] * 3,
                'resize': 'letterbox',
            },
            'data': {'name': 'synthetic-aerial'},
            'train': {'epochs': 1},
        }
    )
    assert _same(build_model(cfg, 3).backbone.state_dict(), sd)
    rec = validate_recipe(
        {
            'model': {
                'arch': ARCH,
                'num_classes': 5,
                'img_size': list(SIZE),
                'kwargs': TINY,
                'pretrained_file': paths['pth'],
            },
            'data': {'name': 'digits'},
            'stages': [{'finetune': {}}],
        }
    )
    assert rec['stages'] and _same(recipe_model(rec['model'])[0].state_dict(), sd, skip=())


def test_shape_mismatch_names_the_tensors(weights):
    _, paths = weights
    with pytest.raises(PretrainedError) as err:
        ViTCenterDetector(
            backbone=ARCH,
            num_classes=3,
            img_size=SIZE,
            head_channels=8,
            pretrained_file=paths['safetensors'],
            embed_dim=64,
            depth=1,
            num_heads=2,
        )
    msg = str(err.value)
    assert err.value.key == 'pretrained_file' and '\n' not in msg
    assert (
        'blocks.0.attn.qkv.weight file [96, 32] vs model [192, 64]' in msg
        and 'tiny.safetensors' in msg
    )
    with pytest.raises(
        PretrainedError, match=r'pos_embed file \[1, 7, 32\] vs model \[1, 13, 32\]'
    ):
        create_model(
            ARCH, num_classes=5, img_size=(48, 64), pretrained_file=paths['pth'], **TINY
        )  # 2x3 -> 3x4


def test_unreadable_or_foreign_files_are_one_line_errors(weights, tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_text('not a torch file')
    for path, what in (
        (bad, 'cannot read weights'),
        (tmp_path / 'none.safetensors', 'no such file'),
        (tmp_path / 'w.npz', 'expected a'),
    ):
        if path.suffix == '.npz':
            path.write_bytes(b'x')
        with pytest.raises(PretrainedError, match=what) as err:
            create_model(ARCH, num_classes=5, img_size=SIZE, pretrained_file=str(path), **TINY)
        assert '\n' not in str(err.value)
    foreign = tmp_path / 'foreign.pth'
    torch.save({'conv.weight': torch.zeros(3, 3, 3, 3)}, str(foreign))
    with pytest.raises(PretrainedError, match='none of its 1 tensors is a tensor of'):
        create_model(ARCH, num_classes=5, img_size=SIZE, pretrained_file=str(foreign), **TINY)


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Empty hub caches; every socket connection attempt is recorded and refused."""
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, 'HF_HUB_CACHE', str(tmp_path / 'hf'))
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'torch'))
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError('Network is unreachable')

    monkeypatch.setattr(socket, 'create_connection', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    return calls


def test_offline_pretrained_true_fails_at_once_without_any_network_call(no_network, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    t0 = time.monotonic()
    with pytest.raises(PretrainedError) as err:
        ViTCenterDetector(
            backbone=ARCH, num_classes=3, img_size=SIZE, head_channels=8, pretrained=True, **TINY
        )
    assert time.monotonic() - t0 < 10  # a guard against hangs, not a speed goal
    msg = str(err.value)
    assert err.value.key == 'pretrained' and '\n' not in msg and not no_network
    assert "'vit_tiny_patch16_224'" in msg and 'HF_HUB_OFFLINE is set' in msg
    assert 'model.pretrained_file: PATH' in msg and 'hf-hub:timm/vit_tiny_patch16_224' in msg


def test_unreachable_hub_fails_after_one_probe(no_network, monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.delenv('TRANSFORMERS_OFFLINE', raising=False)
    with pytest.raises(PretrainedError, match=r'huggingface\.co: Network is unreachable') as err:
        create_model(ARCH, num_classes=5, img_size=SIZE, pretrained=True, **TINY)
    assert len(no_network) == 1 and no_network[0][0] == ('huggingface.co', 443)
    assert 'model.pretrained_file' in str(err.value)


def test_a_cached_hub_copy_loads_without_network(no_network, weights, monkeypatch, tmp_path):
    import shutil

    import huggingface_hub.constants as hc

    sd, paths = weights
    repo = Path(hc.HF_HUB_CACHE) / 'models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k'
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text('abc123')
    (repo / 'snapshots' / 'abc123').mkdir(parents=True)
    shutil.copy(paths['safetensors'], str(repo / 'snapshots' / 'abc123' / 'model.safetensors'))
    model = create_model(ARCH, num_classes=5, img_size=SIZE, pretrained=True, **TINY)
    assert _same(model.state_dict(), sd, skip=()) and not no_network


def test_train_tool_prints_one_line_for_offline_pretrained(tmp_path):
    cfg = {
        'name': 'p',
        'task': 'classify',
        'model': {
            'arch': ARCH,
            'img_size': 16,
            'pretrained': True,
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
        'data': {'name': 'digits', 'img_size': 16},
        'train': {'epochs': 1},
    }
    path = tmp_path / 'p.yaml'
    path.write_text(yaml.safe_dump(cfg))
    env = {
        'HF_HUB_OFFLINE': '1',
        'HF_HUB_CACHE': str(tmp_path / 'hf'),
        'TORCH_HOME': str(tmp_path / 'torch'),
        'PATH': '/usr/bin:/bin',
        'PYTHONPATH': str(ROOT),
    }
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'train.py'),
            '--config',
            str(path),
            '--out',
            str(tmp_path / 'run'),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: model.pretrained: no model hub'), (
        out.stderr
    )
    assert 'model.pretrained_file: PATH' in lines[0] and 'Traceback' not in out.stderr


def test_a_square_position_grid_is_resampled_to_the_detector_grid(tmp_path):
    from safetensors.torch import save_file

    src = timm.create_model(
        ARCH, num_classes=0, img_size=(32, 32), **TINY
    )  # 2x2 grid + class token
    sd = {k: v.detach().clone().contiguous() for k, v in src.state_dict().items()}
    save_file(sd, str(tmp_path / 'sq.safetensors'))
    det = ViTCenterDetector(
        backbone=ARCH,
        num_classes=3,
        img_size=(48, 64),
        head_channels=8,
        pretrained_file=str(tmp_path / 'sq.safetensors'),
        **TINY,
    )
    got = det.backbone.state_dict()
    assert got['pos_embed'].shape == (1, 13, 32) and torch.equal(
        got['pos_embed'][:, :1], sd['pos_embed'][:, :1]
    )
    assert _same(got, {k: v for k, v in sd.items() if k != 'pos_embed'})

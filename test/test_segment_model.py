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
ViTSegmenter: shapes, loss, ONNX export, bundle + Pipeline, trainer.

The ONNX export uses standard ops and keeps argmax parity.
"""

import json

import numpy as np
import onnx
import pytest
import torch
from vitedge_ros.data.synthetic import generate_scene, SEG_CLASSES
from vitedge_ros.eval.segmentation import label_agreement
from vitedge_ros.export import export_bundle
from vitedge_ros.models import create_model, segmentation_loss, SegmenterExport, ViTSegmenter
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.runtime.bundle import InputSpec
from vitedge_ros.training.data import images_to_tensor, scenes_to_segmentation_set
from vitedge_ros.training.loop import train_segmenter

SPEC = InputSpec(64, 48, 'rgb', (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), 'letterbox')


def tiny_segmenter(seed: int = 0) -> ViTSegmenter:
    torch.manual_seed(seed)
    return create_model(
        'vit_segmenter',
        task='segment',
        backbone='vit_tiny_patch16_224',
        num_classes=7,
        img_size=(48, 64),
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
        head_channels=16,
        detail_channels=4,
    )


@pytest.fixture(scope='module')
def scenes():
    return scenes_to_segmentation_set(
        [generate_scene(s, 128, 96) for s in range(6)], SPEC, keep_frame_masks=True, num_classes=7
    )


@pytest.fixture(scope='module')
def trained(scenes):
    torch.set_num_threads(1)
    model = tiny_segmenter()
    hist = train_segmenter(model, scenes, epochs=3, batch_size=3, lr=3e-3, progress=False)
    return model, hist


@pytest.fixture(scope='module')
def seg_bundle(tmp_path_factory, trained, scenes):
    model, _ = trained
    out = tmp_path_factory.mktemp('bundles') / 'tiny_segmenter'
    samples = images_to_tensor(scenes.images[:3], SPEC).numpy()
    export_bundle(
        SegmenterExport(model),
        out,
        name='tiny_segmenter',
        task='segment',
        labels=list(SEG_CLASSES),
        input_spec=SPEC,
        decoder={'type': 'segmenter', 'upsample': 'linear'},
        output_names=['logits'],
        samples=samples,
        source={'arch': 'vit_segmenter'},
    )
    return out


def test_forward_shapes_and_config():
    m = tiny_segmenter()
    assert type(m.backbone).__name__ == 'VisionTransformer'
    assert m.stride == 2 and m.map_size == (24, 32)
    out = m(torch.zeros(2, 3, 48, 64))
    assert out.shape == (2, 7, 24, 32)
    again = create_model('vit_segmenter', task='segment', **m.config())
    assert again(torch.zeros(1, 3, 48, 64)).shape == (1, 7, 24, 32)
    with pytest.raises(ValueError, match='multiple of the patch size 6'):
        create_model(
            'vit_segmenter',
            task='segment',
            num_classes=7,
            img_size=(48, 66),
            patch_size=6,
            embed_dim=32,
            depth=1,
            num_heads=2,
        )
    with pytest.raises(ValueError, match='unknown segmenter arch'):
        create_model('vit_center', task='segment')


def test_loss_ignores_padding_and_training_reduces_it(trained):
    logits = torch.zeros(1, 3, 4, 4, requires_grad=True)
    target = torch.full((1, 8, 8), 255, dtype=torch.long)
    target[0, :4] = 1
    parts = segmentation_loss(logits, target, dice_weight=0.0)
    assert float(parts['ce']) == pytest.approx(float(np.log(3.0)), rel=1e-5)
    parts['loss'].backward()
    assert logits.grad is not None
    _, hist = trained
    assert hist[-1]['loss'] < hist[0]['loss']


def test_onnx_standard_ops_and_argmax_parity(seg_bundle, trained, scenes):
    model, _ = trained
    bundle = load_bundle(seg_bundle)
    assert (
        bundle.task == 'segment'
        and bundle.decoder_type == 'segmenter'
        and bundle.labels == list(SEG_CLASSES)
    )
    graph = onnx.load(str(bundle.onnx_path))
    assert {n.domain for n in graph.graph.node} <= {'', 'ai.onnx'}
    assert [o.name for o in graph.graph.output] == ['logits']
    import onnxruntime as ort

    sess = ort.InferenceSession(str(bundle.onnx_path), providers=['CPUExecutionProvider'])
    x = images_to_tensor(scenes.images, SPEC)
    got = np.concatenate(
        [sess.run(None, {'input': x[i:i + 1].numpy()})[0] for i in range(len(x))]
    )
    with torch.no_grad():
        ref = model(x).numpy()
    assert got.shape == ref.shape == (6, 7, 24, 32)
    assert label_agreement(ref, got) >= 0.999


def test_pipeline_gives_label_map_in_input_pixels(seg_bundle):
    pipe = Pipeline(seg_bundle, backend='onnxruntime')
    scene = generate_scene(50, 160, 100)  # letterboxed with padding rows
    res = pipe(scene.image)
    assert res.detections == [] and res.classes == []
    assert res.segmentation.shape == (100, 160) and res.segmentation.dtype == np.uint8
    assert int(res.segmentation.max()) < 7 and res.image_size == (160, 100)
    assert set(res.timings_ms) == {'preprocess', 'inference', 'postprocess', 'total'}
    near = Pipeline(load_bundle(seg_bundle), backend='onnxruntime')
    near.decoder['upsample'] = 'nearest'
    assert (near(scene.image).segmentation == res.segmentation).mean() > 0.8
    pipe.close()
    near.close()


def test_trainer_segment_task(tmp_path):
    from vitedge_ros.training.config import ConfigError, validate_config
    from vitedge_ros.training.run import run_training

    cfg = {
        'name': 'tiny_seg',
        'task': 'segment',
        'model': {
            'arch': 'vit_segmenter',
            'backbone': 'vit_tiny_patch16_224',
            'img_size': [48, 64],
            'head_channels': 16,
            'detail_channels': 4,
            'kwargs': {'patch_size': 8, 'embed_dim': 32, 'depth': 1, 'num_heads': 2},
        },
        'input': SPEC.to_dict(),
        'data': {
            'name': 'synthetic-aerial',
            'train_size': 6,
            'val_size': 3,
            'width': 128,
            'height': 96,
            'cache_dir': str(tmp_path / 'cache'),
        },
        'train': {'epochs': 1, 'batch_size': 3, 'lr': 0.002},
        'export': {'upsample': 'nearest'},
    }
    torch.set_num_threads(1)
    res = run_training(cfg, tmp_path / 'run', progress=False)
    assert res['task'] == 'segment' and 0.0 <= res['metrics']['miou'] <= 1.0
    assert set(res['metrics']['per_class_iou']) == set(SEG_CLASSES)
    assert res['parity_argmax_agreement'] >= 0.999
    bundle = load_bundle(res['bundle'])
    assert bundle.decoder == {'type': 'segmenter', 'upsample': 'nearest'}
    assert (
        json.loads((tmp_path / 'run' / 'train_result.json').read_text())['metrics']['miou']
        == res['metrics']['miou']
    )
    assert len(list((tmp_path / 'cache').glob('*.npz'))) == 2
    for bad, msg in (
        (dict(cfg, data=dict(cfg['data'], name='digits')), 'segmentation reads'),
        (dict(cfg, data={'name': 'masks', 'root': 'x'}), 'data.val_root: required key is missing'),
        (dict(cfg, export={'upsample': 'cubic'}), 'export.upsample'),
    ):
        with pytest.raises(ConfigError, match=msg):
            validate_config(bad)


def test_conv_stem_variant_exports_and_prunes(tmp_path):
    import copy

    from vitedge_ros.compress.prune import prune_vit
    from vitedge_ros.export import check_parity, export_onnx

    torch.manual_seed(0)
    m = create_model(
        'vit_segmenter',
        task='segment',
        num_classes=7,
        img_size=(48, 64),
        patch_size=8,
        embed_dim=32,
        depth=1,
        num_heads=2,
        head_channels=16,
        detail_channels=8,
        conv_stem=True,
    )
    assert type(
        m.backbone.patch_embed
    ).__name__ == 'StemPatchEmbed' and m.backbone.patch_embed.grid_size == (6, 8)
    assert not hasattr(m.head, 'detail') and m(torch.zeros(1, 3, 48, 64)).shape == (1, 7, 24, 32)
    assert m.backbone.patch_embed.last_stem is None  # handed to the decoder, not kept
    path = export_onnx(
        SegmenterExport(m), tmp_path / 'm.onnx', (1, 3, 48, 64), output_names=['logits']
    )
    assert check_parity(SegmenterExport(m), path, (1, 3, 48, 64)) < 1e-4
    s = copy.deepcopy(m)
    prune_vit(s, 0.5, embed=True, embed_ratio=0.25)
    assert s.backbone.patch_embed.proj.out_channels == 24 and s(
        torch.zeros(1, 3, 48, 64)
    ).shape == (1, 7, 24, 32)
    with pytest.raises(ValueError, match='conv_stem needs detail_channels'):
        create_model(
            'vit_segmenter',
            task='segment',
            num_classes=7,
            img_size=(48, 64),
            patch_size=8,
            embed_dim=32,
            depth=1,
            num_heads=2,
            detail_channels=0,
            conv_stem=True,
        )

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
Raw-pixel bundles (issue 16): normalisation and channel order folded into the graph.

Their outputs keep parity with the old host-side path.

Graph surgery on hand-made graphs (patch embedding, padded conv stem, a first op that is not a
Conv, a QDQ graph), the checkpoint and ONNX export paths with --raw-pixels, and the shipped
detector's raw twin.
"""

from pathlib import Path

from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import pytest
from vitedge_ros.checkpoint import save_checkpoint
from vitedge_ros.export.raw_pixels import (
    from_raw_pixels,
    raw_parity,
    RAW_PARITY_RTOL,
    raw_spec,
    sample_frames,
    to_raw_pixels,
    twin_bundle,
)
from vitedge_ros.export.trt_audit import TRT_TARGETS
from vitedge_ros.runtime import InputSpec, load_bundle, Pipeline

ROOT = Path(__file__).resolve().parents[1]
SPEC = InputSpec(
    48, 32, 'rgb', (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 'letterbox'
)  # per-channel values
DET_INPUT = TINY_DETECTOR_INPUT


def _tool():
    from vitedge_ros.export.cli import main  # what tools/export_onnx.py calls

    return main


def _graph(first: str, pads=(0, 0, 0, 0), bias=True) -> onnx.ModelProto:
    """
    Return the graph input 1×3×32×48 -> [first op] -> Conv(8, k4 s4) -> Relu -> output.

    ``first`` is conv, mul or qdq.
    """
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 4, 4)).astype(np.float32), 'w')]
    conv_in = ['x', 'w'] + (['b'] if bias else [])
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), 'b'))
    nodes = []
    if first == 'mul':
        inits.append(
            numpy_helper.from_array(np.array([[[[0.5]], [[1.5]], [[-1.0]]]], np.float32), 'k')
        )
        nodes.append(helper.make_node('Mul', ['input', 'k'], ['x']))
    elif first == 'qdq':
        inits += [
            numpy_helper.from_array(np.array(0.05, np.float32), 's'),
            numpy_helper.from_array(np.array(0, np.int8), 'z'),
        ]
        nodes += [
            helper.make_node('QuantizeLinear', ['input', 's', 'z'], ['q']),
            helper.make_node('DequantizeLinear', ['q', 's', 'z'], ['x']),
        ]
    else:
        conv_in[0] = 'input'
    nodes += [
        helper.make_node(
            'Conv',
            conv_in,
            ['c'],
            name='first_conv',
            kernel_shape=[4, 4],
            strides=[4, 4],
            pads=list(pads),
        ),
        helper.make_node('Relu', ['c'], ['output']),
    ]
    graph = helper.make_graph(
        nodes,
        'g',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, 32, 48])],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 8, 8, 12])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize(
    'first, pads, bias, method',
    [
        ('conv', (0, 0, 0, 0), True, 'conv_fold'),
        ('conv', (0, 0, 0, 0), False, 'conv_fold'),
        ('conv', (1, 1, 1, 1), True, 'sub_conv_fold'),
        ('mul', (0, 0, 0, 0), True, 'affine_conv'),
        ('qdq', (0, 0, 0, 0), True, 'affine_conv'),
    ],
)
@pytest.mark.parametrize('order', ['bgr', 'rgb'])
def test_raw_graph_matches_the_normalised_one(first, pads, bias, method, order):
    model = _graph(first, pads, bias)
    raw_model, info = to_raw_pixels(model, SPEC, order)
    onnx.checker.check_model(raw_model, full_check=True)
    assert info['method'] == method and info['pixel_order'] == order
    extra = {'conv_fold': 0, 'sub_conv_fold': 1, 'affine_conv': 1}[method]
    assert (
        len(raw_model.graph.node) == len(model.graph.node) + extra
    )  # nothing per pixel when folded
    assert raw_model.graph.input[0].name == 'input'
    rspec = raw_spec(SPEC, order)
    par = raw_parity(model, raw_model, SPEC, rspec, sample_frames(SPEC, 2))
    assert par['rel'] <= RAW_PARITY_RTOL, par
    assert len(model.graph.node) == len(
        _graph(first, pads, bias).graph.node
    )  # the source is not modified
    # and back: the normalised twin of the raw graph is the original function again
    back = from_raw_pixels(raw_model, rspec)
    assert raw_parity(model, back, SPEC, SPEC, sample_frames(SPEC, 1))['rel'] <= RAW_PARITY_RTOL


def test_a_wrong_fold_would_be_caught():
    """The parity check is able to fail: the channel swap left out gives a large error."""
    model = _graph('conv')
    raw_model, _ = to_raw_pixels(model, SPEC, 'rgb')  # folded for RGB input ...
    par = raw_parity(
        model, raw_model, SPEC, raw_spec(SPEC, 'bgr'), sample_frames(SPEC, 2)
    )  # ... fed BGR
    assert par['rel'] > 1e-2


def test_bad_graphs_are_refused():
    model = _graph('conv')
    with pytest.raises(ValueError, match='pixel_order'):
        to_raw_pixels(model, SPEC, 'yuv')
    bad = onnx.ModelProto()
    bad.CopyFrom(model)
    bad.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1
    with pytest.raises(ValueError, match='N×3×H×W'):
        to_raw_pixels(bad, SPEC, 'bgr')


@pytest.fixture(scope='module')
def det_ckpt(tmp_path_factory):
    """Save the tiny detector as a checkpoint that keeps every detection (score threshold 0)."""
    meta = {
        'name': 'tiny_det',
        'task': 'detect',
        'labels': DETECTOR_LABELS,
        'input_spec': DET_INPUT,
        'arch': 'vit_center',
        'decoder': {'type': 'vit_center', 'score_threshold': 0.0, 'max_detections': 20},
    }
    return save_checkpoint(
        tmp_path_factory.mktemp('ckpt') / 'det.pt', make_tiny_detector(), **meta
    )


def _same_detections(a, b, frames, **kw):
    for img in frames:
        ra, rb = a(img), b(img, **kw)
        assert len(ra.detections) == len(rb.detections) > 0
        for da, db in zip(ra.detections, rb.detections):
            assert da.class_id == db.class_id
            assert abs(da.score - db.score) <= RAW_PARITY_RTOL * max(1.0, abs(da.score))
            assert np.allclose(da.box, db.box, atol=1e-3)


def test_checkpoint_export_with_raw_pixels(det_ckpt, tmp_path, capsys):
    export = _tool()
    assert export([str(det_ckpt), '--out', str(tmp_path / 'norm')]) == 0
    assert (
        export(
            [
                str(det_ckpt),
                '--out',
                str(tmp_path / 'raw'),
                '--raw-pixels',
                '--interpolation',
                'linear',
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert 'raw pixels (bgr): conv_fold at' in out
    norm, raw = load_bundle(tmp_path / 'norm'), load_bundle(tmp_path / 'raw')
    assert not norm.input.raw and norm.input.interpolation == 'area'
    assert raw.input.raw and raw.input.pixel_order == 'bgr' and raw.input.interpolation == 'linear'
    assert raw.input.model_fields() == norm.input.model_fields() and raw.trt_targets == TRT_TARGETS
    info = raw.source['export']['raw_pixels']
    assert info['method'] == 'conv_fold' and info['parity_rel'] <= RAW_PARITY_RTOL
    noise = np.random.default_rng(2).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    frames = sample_frames(norm.input, 2, seed=50) + [noise]
    same_resize = Pipeline(
        norm._replace(input=norm.input._replace(interpolation='linear')), backend='onnxruntime'
    )
    rp = Pipeline(raw, backend='onnxruntime')
    _same_detections(same_resize, rp, frames)
    # the camera's order: an RGB frame with order='rgb' gives what its BGR twin gives
    f = frames[0]
    rgb = np.ascontiguousarray(f[:, :, ::-1])
    assert [d.box for d in rp(f).detections] == [d.box for d in rp(rgb, order='rgb').detections]
    # --like a raw bundle keeps raw pixels
    assert (
        export([str(det_ckpt), '--out', str(tmp_path / 'again'), '--like', str(tmp_path / 'raw')])
        == 0
    )
    again = load_bundle(tmp_path / 'again')
    assert again.input == raw.input and again.name == raw.name


def test_from_onnx_raw_pixels_and_its_refusals(tiny_detector_bundle, tmp_path, capsys):
    export = _tool()
    src = load_bundle(tiny_detector_bundle)
    out = tmp_path / 'raw'
    assert (
        export(
            [
                '--from-onnx',
                str(src.onnx_path),
                '--like',
                str(src.path),
                '--out',
                str(out),
                '--raw-pixels',
                'rgb',
            ]
        )
        == 0
    )
    raw = load_bundle(out)
    assert raw.input.raw and raw.input.pixel_order == 'rgb' and raw.name == src.name + '-raw'
    assert raw.source['export']['raw_pixels']['parity_rel'] <= RAW_PARITY_RTOL
    _same_detections(
        Pipeline(src, backend='onnxruntime'),
        Pipeline(raw, backend='onnxruntime'),
        sample_frames(src.input, 2, seed=70),
    )
    capsys.readouterr()
    assert (
        export(
            [
                '--from-onnx',
                str(raw.onnx_path),
                '--like',
                str(out),
                '--out',
                str(tmp_path / 'twice'),
                '--raw-pixels',
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert 'already takes raw pixels' in err and len(err.splitlines()) == 1
    assert not (tmp_path / 'twice').exists()
    assert (
        export(
            [
                '--from-onnx',
                str(src.onnx_path),
                '--like',
                str(src.path),
                '--out',
                str(tmp_path / 'lin'),
                '--interpolation',
                'linear',
            ]
        )
        == 0
    )
    lin = load_bundle(tmp_path / 'lin')
    assert (
        lin.input == src.input._replace(interpolation='linear')
        and lin.input.to_dict()['interpolation'] == 'linear'
    )
    with pytest.raises(SystemExit) as exc:
        export(
            [
                '--from-onnx',
                str(src.onnx_path),
                '--like',
                str(src.path),
                '--out',
                str(tmp_path / 'x'),
                '--interpolation',
                'cubic',
            ]
        )
    assert exc.value.code == 2


def test_shipped_detector_raw_twin_parity(shipped_bundle, tmp_path):
    """
    The shipped detector folded for raw BGR pixels detects what the original detects.

    The original is fed host-normalised input.
    """
    from vitedge_ros.data.synthetic import camera_sequence

    src = load_bundle(shipped_bundle)
    if src.input.raw:
        pytest.skip(
            'the shipped detector already takes raw pixels (its export checked this parity)'
        )
    twin = twin_bundle(src, tmp_path / 'raw', raw=True, pixel_order='bgr')
    model = onnx.load(str(twin.onnx_path))
    from vitedge_ros.export.targets import require_target

    assert require_target(model, 'trt8.2') == list(TRT_TARGETS)
    frames = [s.image for s in camera_sequence(3, seed=7)]
    _same_detections(
        Pipeline(src, backend='onnxruntime'), Pipeline(twin, backend='onnxruntime'), frames
    )


@pytest.mark.needs('torch', 'timm')
@pytest.mark.parametrize('name', ['aerial_vit_tiny', 'aerial_vit_tiny_student'])
def test_shipped_raw_detectors_match_their_checkpoints(name):
    """
    Each shipped raw-pixel detector's graph on raw BGR pixels equals its torch checkpoint.

    The checkpoint is fed the same pixels normalised on the host (RGB, mean/std as trained).
    """
    import torch
    from vitedge_ros.checkpoint import load_checkpoint
    from vitedge_ros.compress.measure import ort_session
    from vitedge_ros.data.synthetic import camera_sequence

    bundle = load_bundle(ROOT / 'models' / name)
    assert bundle.input.raw and bundle.input.pixel_order == 'bgr'
    model = load_checkpoint(ROOT / 'models' / 'checkpoints' / (name + '.pt'))['model'].eval()
    sess = ort_session(bundle.onnx_path)
    pipe = Pipeline(bundle, backend='onnxruntime')
    mean = np.asarray(bundle.input.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(bundle.input.std, np.float32).reshape(1, 3, 1, 1)
    names = [o.name for o in sess.get_outputs()]
    for sc in camera_sequence(2, seed=7):
        x, _ = pipe.preprocess(sc.image)  # 1×3×H×W float32, raw 0..255 BGR
        got = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x})))
        norm = (x[:, ::-1] / 255.0 - mean) / std
        with torch.no_grad():
            want = model(torch.from_numpy(np.ascontiguousarray(norm, np.float32)))
        assert set(want) <= set(got)  # every raw map of the head (centre or ltrb box) is an output
        for key in want:
            diff = float(np.abs(got[key] - want[key].numpy()).max())
            assert diff < 1e-3, (name, key, diff)

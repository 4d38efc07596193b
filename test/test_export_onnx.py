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
tools/export_onnx.py: checkpoint → bundle with onnxruntime parity, targets, audits, bad input.

Parity for the detector, two timm classifiers, pruned and low-rank models; --target (trt8.2
default: opset 13, no LayerNormalization; trt8.6/trt10: opset 17), --fp16, --like, --from-onnx
for QDQ INT8 graphs and older bundles, audit refusals, and clear failures for corrupt input.
"""

from pathlib import Path
import shutil
import subprocess
import sys

from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn
from vitedge_ros.checkpoint import load_checkpoint, save_checkpoint
from vitedge_ros.export import detection_rows_error
from vitedge_ros.export.onnx_export import decompose_layernorms
from vitedge_ros.export.trt_audit import TRT_TARGETS
from vitedge_ros.models import create_model, DetectorExport
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.runtime.errors import BundleError

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'export_onnx.py'
DET_INPUT = TINY_DETECTOR_INPUT
CLS_INPUT = {
    'width': 32,
    'height': 32,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.5] * 3,
    'resize': 'stretch',
}


def export(*args):
    """tools/export_onnx.py in-process: the library main it calls (vitedge_ros.export.cli)."""
    from vitedge_ros.export.cli import main

    return main([str(a) for a in args])


def ops_of(path):
    return {(n.domain or '', n.op_type) for n in onnx.load(str(path)).graph.node}


def ort_outputs(path, x):
    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def torch_outputs(module, x):
    with torch.no_grad():
        out = module.eval()(torch.from_numpy(x))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in out]


def max_err(module, onnx_path, shape, n=3, names=None):
    """Independent parity check: torch module vs onnxruntime on random inputs."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(n):
        x = rng.standard_normal(shape).astype(np.float32)
        for i, (r, g) in enumerate(zip(torch_outputs(module, x), ort_outputs(onnx_path, x))):
            assert r.shape == g.shape
            if names and names[i] == 'detections':
                worst = max(worst, detection_rows_error(r, g, min_score=0.0))
            else:
                worst = max(worst, float(np.abs(r - g).max()))
    return worst


def tiny_classifier(arch, seed=0):
    torch.manual_seed(seed)
    return create_model(arch, num_classes=10, img_size=32, depth=2).eval()


def save_cls(path, model, arch='deit_tiny_patch16_224'):
    return save_checkpoint(
        path,
        model,
        name='tiny_' + arch.split('_')[0],
        task='classify',
        labels=[str(i) for i in range(10)],
        input_spec=CLS_INPUT,
        decoder={'type': 'classifier', 'top_k': 3},
        arch=arch,
    )


@pytest.fixture(scope='module')
def det_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'det.pt'
    save_checkpoint(
        path,
        make_tiny_detector(),
        name='tiny_det',
        task='detect',
        labels=DETECTOR_LABELS,
        input_spec=DET_INPUT,
        decoder={'type': 'vit_center', 'score_threshold': 0.3, 'max_detections': 20},
        arch='vit_center',
    )
    return path


@pytest.fixture(scope='module')
def deit_ckpt(tmp_path_factory):
    return save_cls(
        tmp_path_factory.mktemp('ckpt') / 'deit.pt', tiny_classifier('deit_tiny_patch16_224')
    )


# ------------------------------------------------------------------------------------------ parity


def test_detector_cli_export_parity(det_ckpt, tmp_path):
    out = tmp_path / 'det_bundle'
    res = subprocess.run(
        [sys.executable, str(TOOL), str(det_ckpt), '--out', str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(ROOT),
    )
    assert res.returncode == 0, res.stderr
    assert 'parity torch vs onnxruntime: max abs error' in res.stdout
    bundle = load_bundle(out)
    assert (
        bundle.task == 'detect'
        and bundle.labels == DETECTOR_LABELS
        and bundle.decoder['max_detections'] == 20
    )
    assert bundle.source['export']['opset'] == 13 and bundle.source['parity_max_abs_err'] <= 1e-4
    assert bundle.source['export']['target'] == 'trt8.2' and bundle.trt_targets == (
        'trt8.2',
        'trt8.6',
        'trt10',
    )
    model = onnx.load(str(bundle.onnx_path))
    onnx.checker.check_model(model, full_check=True)
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64, 96]
    assert [o.name for o in model.graph.output] == ['detections', 'heatmap', 'size', 'offset']
    wrapper = DetectorExport(load_checkpoint(det_ckpt)['model'])
    assert max_err(wrapper, bundle.onnx_path, (1, 3, 64, 96), names=wrapper.output_names) <= 1e-4


@pytest.mark.parametrize('arch', ['deit_tiny_patch16_224', 'vit_small_patch16_224'])
def test_timm_classifier_export_parity(arch, tmp_path, capsys):
    model = tiny_classifier(arch)
    ckpt = save_cls(tmp_path / 'c.pt', model, arch)
    assert export(ckpt, '--out', tmp_path / 'b') == 0
    assert 'max abs error' in capsys.readouterr().out
    bundle = load_bundle(tmp_path / 'b')
    assert bundle.task == 'classify' and bundle.source['arch'] == arch
    assert onnx.load(str(bundle.onnx_path)).opset_import[0].version == 13
    assert max_err(model, bundle.onnx_path, (1, 3, 32, 32)) <= 1e-4
    res = Pipeline(bundle, backend='onnxruntime')(np.zeros((32, 32, 3), np.uint8))
    assert len(res.classes) == 3


def test_export_is_simplified(deit_ckpt, tmp_path):
    assert export(deit_ckpt, '--out', tmp_path / 'slim') == 0
    assert export(deit_ckpt, '--out', tmp_path / 'raw', '--no-simplify') == 0
    slim = onnx.load(str(tmp_path / 'slim' / 'model.onnx')).graph.node
    raw = onnx.load(str(tmp_path / 'raw' / 'model.onnx')).graph.node
    assert len(slim) < len(raw)
    assert not any(n.op_type in ('Constant', 'Identity', 'Shape') for n in slim)


def _prune_and_factorise(model, keep=0.5, rank=8):
    """
    Apply what compression stages leave behind to ``model``.

    Narrower MLPs (pruned) and Linear → two Linears (low-rank).
    """
    for blk in model.blocks:
        fc1, fc2 = blk.mlp.fc1, blk.mlp.fc2
        n = int(fc1.out_features * keep)
        idx = torch.argsort(fc1.weight.norm(dim=1), descending=True)[:n]
        new1, new2 = nn.Linear(fc1.in_features, n), nn.Linear(n, fc2.out_features)
        with torch.no_grad():
            new1.weight.copy_(fc1.weight[idx])
            new1.bias.copy_(fc1.bias[idx])
            new2.weight.copy_(fc2.weight[:, idx])
            new2.bias.copy_(fc2.bias)
        blk.mlp.fc1, blk.mlp.fc2 = new1, new2
        qkv = blk.attn.qkv
        u, s, vh = torch.linalg.svd(qkv.weight.detach(), full_matrices=False)
        a, b = nn.Linear(qkv.in_features, rank, bias=False), nn.Linear(rank, qkv.out_features)
        with torch.no_grad():
            a.weight.copy_(vh[:rank] * s[:rank, None])
            b.weight.copy_(u[:, :rank])
            b.bias.copy_(qkv.bias)
        blk.attn.qkv = nn.Sequential(a, b)
    return model.eval()


def test_pruned_lowrank_stage_exports(tmp_path):
    model = _prune_and_factorise(tiny_classifier('deit_tiny_patch16_224'))
    ckpt = save_cls(tmp_path / 'stage.pt', model)
    assert export(ckpt, '--out', tmp_path / 'b', '--trt8-compat') == 0
    assert max_err(model, tmp_path / 'b' / 'model.onnx', (1, 3, 32, 32)) <= 1e-4
    inits = {
        tuple(i.dims) for i in onnx.load(str(tmp_path / 'b' / 'model.onnx')).graph.initializer
    }
    assert any(8 in d for d in inits) and any(
        384 in d for d in inits
    )  # rank-8 factors, 384-wide MLP (768 → 384)


# ------------------------------------------------------------------------------------------
# trt8-compat, fp16


def test_targets_layernorm_and_opset(deit_ckpt, det_ckpt, tmp_path, capsys):
    assert export(deit_ckpt, '--out', tmp_path / 'plain', '--target', 'trt8.6') == 0
    m86 = onnx.load(str(tmp_path / 'plain' / 'model.onnx'))
    assert ('', 'LayerNormalization') in ops_of(
        tmp_path / 'plain' / 'model.onnx'
    ) and m86.opset_import[0].version == 17
    reshapes = [n for n in m86.graph.node if n.op_type == 'Reshape']
    assert reshapes and all(any(a.name == 'allowzero' for a in n.attribute) for n in reshapes)
    assert load_bundle(tmp_path / 'plain').trt_targets == ('trt8.6', 'trt10')
    assert (
        export(deit_ckpt, '--out', tmp_path / 'compat86', '--target', 'trt8.6', '--trt8-compat')
        == 0
    )
    assert not any(
        op == 'LayerNormalization' for _d, op in ops_of(tmp_path / 'compat86' / 'model.onnx')
    )
    for name, ckpt, shape in (
        ('cls', deit_ckpt, (1, 3, 32, 32)),
        ('det', det_ckpt, (1, 3, 64, 96)),
    ):
        assert export(ckpt, '--out', tmp_path / name) == 0  # default target trt8.2
        assert '0 LayerNormalization nodes left' in capsys.readouterr().out
        onnx_path = tmp_path / name / 'model.onnx'
        ops = ops_of(onnx_path)
        assert not any(op == 'LayerNormalization' for _d, op in ops)
        assert {('', 'ReduceMean'), ('', 'Sqrt'), ('', 'Pow'), ('', 'Div')} <= ops
        assert all(d == '' for d, _op in ops)  # standard ops only, nothing fused into contrib ops
        model = load_checkpoint(ckpt)['model'].eval()
        module = DetectorExport(model) if name == 'det' else model  # the ORIGINAL LayerNorm model
        names = module.output_names if name == 'det' else None
        assert max_err(module, onnx_path, shape, names=names) <= 1e-4
        bundle = load_bundle(tmp_path / name)
        assert (
            bundle.source['export']['layernorms_decomposed'] >= 1
            and bundle.trt_targets == TRT_TARGETS
        )


def test_decompose_layernorms_leaves_original_untouched():
    model = tiny_classifier('deit_tiny_patch16_224')
    copy_, n = decompose_layernorms(model)
    assert n == 2 * 2 + 1  # norm1, norm2 per block + final norm
    assert sum(isinstance(m, nn.LayerNorm) for m in model.modules()) == 5
    assert not any(isinstance(m, nn.LayerNorm) for m in copy_.modules())
    x = torch.randn(2, 3, 32, 32) * 5
    with torch.no_grad():
        assert torch.allclose(model(x), copy_(x), atol=1e-5)


def test_fp16_export_halves_weights_keeps_fp32_io(deit_ckpt, tmp_path, capsys):
    assert export(deit_ckpt, '--out', tmp_path / 'b32') == 0
    assert export(deit_ckpt, '--out', tmp_path / 'b16', '--fp16') == 0
    assert 'parity fp32 torch vs fp16 onnx' in capsys.readouterr().out
    m = onnx.load(str(tmp_path / 'b16' / 'model.onnx'))
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert (
        m.graph.input[0].type.tensor_type.elem_type == f32
        and m.graph.output[0].type.tensor_type.elem_type == f32
    )
    big = [i for i in m.graph.initializer if int(np.prod(i.dims)) >= 64]
    assert big and all(i.data_type == f16 for i in big)
    size16 = (tmp_path / 'b16' / 'model.onnx').stat().st_size
    assert size16 < 0.6 * (tmp_path / 'b32' / 'model.onnx').stat().st_size
    model = load_checkpoint(deit_ckpt)['model']
    assert max_err(model, tmp_path / 'b16' / 'model.onnx', (1, 3, 32, 32)) <= 1e-2
    assert load_bundle(tmp_path / 'b16').source['export']['fp16_weights'] is True


# ------------------------------------------------------------------------------------------
# failures


def test_parity_failure_exits_4_and_writes_nothing(deit_ckpt, tmp_path, capsys):
    out = tmp_path / 'b'
    assert export(deit_ckpt, '--out', out, '--atol', '1e-12') == 4
    assert 'parity: onnxruntime differs from torch' in capsys.readouterr().err
    assert not (out / 'model.onnx').exists() and not (out / 'bundle.yaml').exists()
    assert list(out.iterdir()) == []


def test_bad_checkpoints_exit_2(tmp_path, capsys):
    assert export(tmp_path / 'missing.pt', '--out', tmp_path / 'b') == 2
    assert 'missing.pt: file does not exist' in capsys.readouterr().err
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(b'some words, not torch')
    assert export(bad, '--out', tmp_path / 'b') == 2
    assert (
        "a text file (starts 'some words, not torch'), not a torch file" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    'args, needle',
    [
        ([], 'give either CHECKPOINT or --from-onnx'),
        (['x.pt', '--opset', '17'], 'opset 17 is outside 13..13 for target trt8.2'),
        (['x.pt', '--opset', '12', '--target', 'trt8.6'], 'opset 12 is outside 13..17'),
        (['x.pt', '--target', 'trt9'], "invalid choice: 'trt9'"),
        (
            ['--from-onnx', 'a.onnx', '--fp16'],
            '--fp16 and --trt8-compat apply to checkpoint export',
        ),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        export(*args, '--out', tmp_path / 'b')
    assert exc.value.code == 2 and needle in capsys.readouterr().err


def test_corrupt_truncated_and_missing_onnx_are_clear(tiny_classifier_bundle, tmp_path, capsys):
    good = tiny_classifier_bundle / 'model.onnx'
    data = good.read_bytes()
    # truncated: passes the cheap size check, fails where it is parsed, naming the file
    trunc = tmp_path / 'trunc'
    shutil.copytree(tiny_classifier_bundle, trunc)
    (trunc / 'model.onnx').write_bytes(data[: len(data) // 2])
    with pytest.raises(
        BundleError,
        match=r'trunc/model.onnx: onnxruntime cannot load the model \(corrupt or trunc',
    ):
        Pipeline(trunc, backend='onnxruntime')
    assert (
        export(
            '--from-onnx',
            trunc / 'model.onnx',
            '--like',
            tiny_classifier_bundle,
            '--out',
            tmp_path / 'o',
        )
        == 2
    )
    assert (
        'model.onnx: not a readable ONNX model (corrupt or truncated?)' in capsys.readouterr().err
    )
    # corrupt bytes
    (trunc / 'model.onnx').write_bytes(b'\xff' * 200)
    assert (
        export(
            '--from-onnx',
            trunc / 'model.onnx',
            '--like',
            tiny_classifier_bundle,
            '--out',
            tmp_path / 'o',
        )
        == 2
    )
    assert 'corrupt' in capsys.readouterr().err
    # truncated to (almost) nothing
    (trunc / 'model.onnx').write_bytes(data[:8])
    with pytest.raises(BundleError, match='empty or truncated'):
        load_bundle(trunc)
    # no ONNX at all
    (trunc / 'model.onnx').unlink()
    with pytest.raises(BundleError, match='missing model.onnx'):
        load_bundle(trunc)
    with pytest.raises(BundleError, match='missing model.onnx'):
        Pipeline(trunc, backend='auto')
    assert export('--from-onnx', good, '--like', trunc, '--out', tmp_path / 'o') == 2
    assert '--like: {}: missing model.onnx'.format(trunc) in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


# ------------------------------------------------------------------------------------------
# --from-onnx (QDQ INT8)


@pytest.fixture(scope='module')
def qdq_onnx(tiny_classifier_bundle, tmp_path_factory):
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        quantize_static,
        QuantType,
    )

    class Reader(CalibrationDataReader):

        def __init__(self):
            rng = np.random.default_rng(0)
            self.items = iter(
                [
                    {
                        'input': (
                            (rng.integers(0, 256, (1, 3, 32, 32)) / 255.0 - 0.5) / 0.5
                        ).astype(np.float32)
                    }
                    for _ in range(16)
                ]
            )

        def get_next(self):
            return next(self.items, None)

    out = tmp_path_factory.mktemp('qdq') / 'model_int8.onnx'
    quantize_static(
        str(tiny_classifier_bundle / 'model.onnx'),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        extra_options={
            'ActivationSymmetric': True,
            'WeightSymmetric': True,  # TensorRT: zero point 0
            'QuantizeBias': False,
        },
    )  # and no INT32 bias DequantizeLinear
    return out


def test_from_onnx_wraps_qdq_int8_with_parity(qdq_onnx, tiny_classifier_bundle, tmp_path, capsys):
    out = tmp_path / 'int8'
    assert (
        export(
            '--from-onnx',
            qdq_onnx,
            '--like',
            tiny_classifier_bundle,
            '--out',
            out,
            '--rtol',
            '0.5',
        )
        == 0
    )
    text = capsys.readouterr().out
    assert 'logits: max abs error' in text and 'top-1 agreement' in text
    bundle = load_bundle(out)
    ref = load_bundle(tiny_classifier_bundle)
    assert (
        bundle.name == ref.name + '-int8'
        and bundle.labels == ref.labels
        and bundle.input == ref.input
    )
    assert (
        bundle.source['quantized'] == 'int8-qdq' and bundle.source['parity_reference'] == ref.name
    )
    wrapped, original = onnx.load(str(out / 'model.onnx')), onnx.load(str(qdq_onnx))
    assert (
        wrapped.graph.node == original.graph.node
    )  # not simplified: the QDQ nodes TensorRT reads are kept
    assert wrapped.graph.initializer == original.graph.initializer
    assert bundle.trt_targets == TRT_TARGETS
    assert {('', 'QuantizeLinear'), ('', 'DequantizeLinear')} <= ops_of(out / 'model.onnx')
    assert len(Pipeline(out, backend='onnxruntime')(np.zeros((32, 32, 3), np.uint8)).classes) == 3


def test_from_onnx_failures(
    qdq_onnx, tiny_classifier_bundle, tiny_detector_bundle, tmp_path, capsys
):
    out = tmp_path / 'o'
    assert (
        export(
            '--from-onnx',
            qdq_onnx,
            '--like',
            tiny_classifier_bundle,
            '--out',
            out,
            '--atol',
            '1e-9',
        )
        == 4
    )
    assert 'parity failed: max abs' in capsys.readouterr().err and not out.exists()
    assert export('--from-onnx', qdq_onnx, '--like', tiny_detector_bundle, '--out', out) == 2
    assert 'must be static (1, 3, 64, 96)' in capsys.readouterr().err
    assert export('--from-onnx', qdq_onnx, '--out', out) == 2
    assert '--from-onnx needs --like' in capsys.readouterr().err
    assert (
        export(
            '--from-onnx',
            qdq_onnx,
            '--like',
            tiny_classifier_bundle,
            '--out',
            tiny_classifier_bundle,
        )
        == 2
    )
    assert '--out must differ from --like' in capsys.readouterr().err
    m = onnx.load(str(qdq_onnx))
    m.graph.node[0].domain = 'com.microsoft'
    m.opset_import.add(domain='com.microsoft', version=1)
    custom = tmp_path / 'custom.onnx'
    onnx.save(m, str(custom))
    assert export('--from-onnx', custom, '--like', tiny_classifier_bundle, '--out', out) == 2
    err = capsys.readouterr().err
    assert 'custom.onnx' in err and ('com.microsoft' in err or 'checker' in err)


def test_from_onnx_refuses_asymmetric_qdq_for_tensorrt(tiny_classifier_bundle, tmp_path, capsys):
    """
    Onnxruntime's default QDQ (asymmetric activations) has non-zero zero points.

    Every TensorRT refuses it.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        quantize_static,
        QuantType,
    )

    class Reader(CalibrationDataReader):

        def __init__(self):
            rng = np.random.default_rng(0)
            self.items = iter(
                [{'input': rng.uniform(0, 2, (1, 3, 32, 32)).astype(np.float32)} for _ in range(4)]
            )

        def get_next(self):
            return next(self.items, None)

    asym = tmp_path / 'asym.onnx'
    quantize_static(
        str(tiny_classifier_bundle / 'model.onnx'),
        str(asym),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    assert (
        export(
            '--from-onnx',
            asym,
            '--like',
            tiny_classifier_bundle,
            '--out',
            tmp_path / 'o',
            '--rtol',
            '1',
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        'refused by the trt8.2 parser' in err
        and 'zero point' in err
        and len(err.strip().splitlines()) == 1
    )
    assert not (tmp_path / 'o').exists()


def _layernorm_checkpoint(path):
    model = tiny_classifier('deit_tiny_patch16_224')
    return save_cls(path, model), model


def test_export_refuses_target_blockers_exit_2(tmp_path, capsys, monkeypatch):
    """
    A graph the target's parser refuses is not written.

    Exit 2 naming the nodes (here LayerNormalization kept
    for trt8.2 by disabling the decomposition, and a Reshape without allowzero at opset 14).
    """
    from vitedge_ros.export import targets

    ckpt, _model = _layernorm_checkpoint(tmp_path / 'c.pt')
    monkeypatch.setattr(
        targets, 'LAYERNORM_FREE_TARGETS', ()
    )  # trt8.2 export keeps nn.LayerNorm ...
    monkeypatch.setattr(
        targets, 'EXPORT_OPSET', dict(targets.EXPORT_OPSET, **{'trt8.2': 17})
    )  # ... at opset 17
    monkeypatch.setattr(targets, 'max_opset', lambda t: 17)
    assert export(ckpt, '--out', tmp_path / 'ln') == 2
    err = capsys.readouterr().err
    assert (
        'refused by the trt8.2 parser' in err and '(LayerNormalization)' in err and 'norm1' in err
    )
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / 'ln' / 'model.onnx').exists()
    monkeypatch.setattr(targets, 'LAYERNORM_FREE_TARGETS', ('trt8.2',))
    monkeypatch.setattr(targets, 'EXPORT_OPSET', dict(targets.EXPORT_OPSET, **{'trt8.2': 14}))
    monkeypatch.setattr(
        targets, 'set_reshape_allowzero', lambda model: 0
    )  # ... and without the allowzero fix
    assert export(ckpt, '--out', tmp_path / 'rs') == 2
    err = capsys.readouterr().err
    assert 'refused by the trt8.2 parser' in err and '(Reshape)' in err and 'allowzero' in err
    assert not (tmp_path / 'rs' / 'model.onnx').exists()


def test_like_keeps_metadata_and_from_onnx_lowers_an_opset17_bundle(deit_ckpt, tmp_path, capsys):
    """
    Re-export a bundle for the Nano.

    --like keeps name and source; --from-onnx lowers an opset-17 graph.
    """
    assert (
        export(deit_ckpt, '--out', tmp_path / 'old', '--target', 'trt8.6', '--name', 'shipped')
        == 0
    )
    old = load_bundle(tmp_path / 'old')
    assert old.trt_targets == ('trt8.6', 'trt10')
    assert export(deit_ckpt, '--out', tmp_path / 'new', '--like', tmp_path / 'old') == 0
    new = load_bundle(tmp_path / 'new')
    assert (
        new.name == 'shipped'
        and new.trt_targets == TRT_TARGETS
        and new.source['arch'] == old.source['arch']
    )
    assert new.source['export']['target'] == 'trt8.2' and new.source['export']['opset'] == 13
    capsys.readouterr()
    assert (
        export(
            '--from-onnx',
            tmp_path / 'old' / 'model.onnx',
            '--like',
            tmp_path / 'old',
            '--out',
            tmp_path / 'low',
            '--atol',
            '1e-4',
            '--name',
            'shipped',
        )
        == 0
    )
    low = load_bundle(tmp_path / 'low')
    m = onnx.load(str(low.onnx_path))
    assert m.opset_import[0].version == 13 and not any(
        n.op_type == 'LayerNormalization' for n in m.graph.node
    )
    assert (
        low.trt_targets == TRT_TARGETS and low.source['export']['layernorm_nodes_decomposed'] == 5
    )
    assert low.source['parity_max_abs_err'] <= 1e-4
    model = load_checkpoint(deit_ckpt)['model']
    assert max_err(model, low.onnx_path, (1, 3, 32, 32)) <= 1e-4

"""TensorRT on a real NVIDIA GPU (``@pytest.mark.gpu``: skipped without tensorrt + pycuda + a CUDA device).

Builds FP16 and INT8 engines for a deit_tiny-sized classifier and for the detector (the shipped bundle when it
exists, else a small one exported here) and compares them with onnxruntime: FP16 top-1 agreement >= 99%,
detector boxes within 1 px at the same scores; INT8 through both paths (entropy calibration and a QDQ graph).
Run with ``-s`` to see build times and latencies (engine vs onnxruntime on the same machine).
"""
import importlib.util
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from vitedge_ros.runtime import Pipeline, load_bundle
from vitedge_ros.runtime.engine_key import detect_gpu
from vitedge_ros.runtime.trt_builder import BuildOptions, build_engine

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[1]
N_SAMPLES = 200


@pytest.fixture(scope='module')
def gpu():
    try:
        return detect_gpu()
    except RuntimeError as exc:
        pytest.skip(str(exc))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, str(ROOT / 'tools' / (name + '.py')))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _samples(spec, n, seed=0):
    """Uniform pixel noise normalised like the bundle (the value range of real frames)."""
    from vitedge_ros.runtime.preprocess import Preprocessor

    pre = Preprocessor(spec)
    rng = np.random.default_rng(seed)
    return [pre(rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8))[0] for _ in range(n)]


def _calib_dir(tmp_path, spec, n=32):
    import cv2

    d = tmp_path / 'calib'
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(123)
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8), (5, 5), 0)
        cv2.imwrite(str(d / 'c{:03d}.png'.format(i)), img)
    return d


def _engines(bundle_dir, precision, **kw):
    from vitedge_ros.runtime.engines.onnxruntime_engine import OnnxRuntimeEngine
    from vitedge_ros.runtime.engines.tensorrt_engine import TensorRTEngine

    t0 = time.perf_counter()
    res = build_engine(bundle_dir, BuildOptions(precision=precision, force=True, **kw))
    print('\n{} {}: built in {:.1f} s ({})'.format(Path(bundle_dir).name, precision, time.perf_counter() - t0,
                                                   res.engine_path.name))
    return TensorRTEngine(res.engine_path), OnnxRuntimeEngine(Path(bundle_dir) / 'model.onnx')


def _latency(engine, x, runs=100):
    for _ in range(10):
        engine.infer(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        engine.infer(x)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def _print_latency(label, trt_eng, ort_eng, x):
    print('{}: engine latency median {:.3f} ms ({}) vs {:.3f} ms ({})'.format(
        label, _latency(trt_eng, x), trt_eng.describe(), _latency(ort_eng, x), ort_eng.describe()))


# ------------------------------------------------------------------------------------------ classifier

@pytest.fixture(scope='module')
def deit_bundle(tmp_path_factory, gpu):
    torch = pytest.importorskip('torch')
    from vitedge_ros.checkpoint import save_checkpoint
    from vitedge_ros.models import create_model

    torch.manual_seed(0)
    model = create_model('deit_tiny_patch16_224', num_classes=10, img_size=224).eval()
    with torch.no_grad():  # a random head gives near-equal logits; spread them as a trained head would
        model.head.weight.mul_(20.0)
    d = tmp_path_factory.mktemp('gpu')
    ckpt = save_checkpoint(d / 'deit.pt', model, name='deit_tiny_gpu', task='classify',
                           labels=[str(i) for i in range(10)],
                           input_spec={'width': 224, 'height': 224, 'mean': [0.485, 0.456, 0.406],
                                       'std': [0.229, 0.224, 0.225], 'resize': 'stretch'},
                           decoder={'type': 'classifier', 'top_k': 5}, arch='deit_tiny_patch16_224')
    # --trt8-compat: parses on every TensorRT, the Nano's 8.2 included
    assert _tool('export_onnx').main([str(ckpt), '--out', str(d / 'bundle'), '--trt8-compat']) == 0
    return d / 'bundle'


def test_classifier_fp16_top1_agreement(deit_bundle):
    trt_eng, ort_eng = _engines(deit_bundle, 'fp16')
    xs = _samples(load_bundle(deit_bundle).input, N_SAMPLES)
    agree = [int(np.argmax(trt_eng.infer(x)['logits'])) == int(np.argmax(ort_eng.infer(x)['logits'])) for x in xs]
    print('fp16 top-1 agreement {:.1%}'.format(np.mean(agree)))
    _print_latency('deit_tiny 224 fp16', trt_eng, ort_eng, xs[0])
    trt_eng.close()
    assert np.mean(agree) >= 0.99


def test_classifier_int8_entropy_calibration(deit_bundle, tmp_path):
    spec = load_bundle(deit_bundle).input
    trt_eng, ort_eng = _engines(deit_bundle, 'int8', calib_images=_calib_dir(tmp_path, spec), calib_max=32)
    xs = _samples(spec, 50, seed=1)
    cos, agree = [], []
    for x in xs:
        a, b = trt_eng.infer(x)['logits'].ravel(), ort_eng.infer(x)['logits'].ravel()
        cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)))
        agree.append(int(np.argmax(a)) == int(np.argmax(b)))
    print('int8 (calibrated) cosine {:.4f}, top-1 agreement {:.1%}'.format(np.mean(cos), np.mean(agree)))
    _print_latency('deit_tiny 224 int8', trt_eng, ort_eng, xs[0])
    trt_eng.close()
    assert list((deit_bundle / 'engines').glob('calib-*.cache'))
    assert np.mean(cos) >= 0.9


def test_classifier_int8_from_qdq_graph(deit_bundle, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    spec = load_bundle(deit_bundle).input
    xs = _samples(spec, 16, seed=2)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{'input': x} for x in xs])

        def get_next(self):
            return next(self.it, None)

    qdq = tmp_path / 'qdq.onnx'
    quantize_static(str(deit_bundle / 'model.onnx'), str(qdq), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    out = tmp_path / 'int8_bundle'
    assert _tool('export_onnx').main(['--from-onnx', str(qdq), '--like', str(deit_bundle), '--out', str(out),
                                      '--rtol', '0.5']) == 0
    res = build_engine(out, BuildOptions(precision='int8', force=True))
    assert res.int8_mode == 'explicit'
    pipe = Pipeline(out, backend='auto')
    assert pipe.backend_name == 'tensorrt', pipe.backend_reason
    assert len(pipe(np.zeros((224, 224, 3), np.uint8)).classes) == 5
    pipe.close()


# ------------------------------------------------------------------------------------------ detector

@pytest.fixture(scope='module')
def detector_bundle(tmp_path_factory, gpu):
    shipped = ROOT / 'models' / 'aerial_vit_tiny'
    d = tmp_path_factory.mktemp('gpu_det')
    if (shipped / 'bundle.yaml').is_file():
        import tensorrt as trt

        onnx_bytes = (shipped / 'model.onnx').read_bytes()
        major_minor = tuple(int(v) for v in trt.__version__.split('.')[:2])
        if b'LayerNormalization' in onnx_bytes and major_minor < (8, 6):
            pytest.skip('shipped bundle has LayerNormalization; TensorRT {} needs a --trt8-compat export'.format(
                trt.__version__))
        shutil.copytree(shipped, d / 'bundle', ignore=shutil.ignore_patterns('engines'))
        return d / 'bundle'
    torch = pytest.importorskip('torch')
    from conftest import make_tiny_detector

    from vitedge_ros.checkpoint import save_checkpoint

    det = make_tiny_detector(img_size=(192, 256))
    with torch.no_grad():  # distinct, confident peaks instead of the random-init prior
        det.heatmap.weight.mul_(30.0)
        det.heatmap.bias.fill_(0.0)
    ckpt = save_checkpoint(d / 'det.pt', det, name='det_gpu', task='detect', labels=['person', 'vehicle', 'obstacle'],
                           input_spec={'width': 256, 'height': 192, 'mean': [0.5] * 3, 'std': [0.25] * 3},
                           decoder={'type': 'vit_center', 'score_threshold': 0.3, 'max_detections': 20})
    assert _tool('export_onnx').main([str(ckpt), '--out', str(d / 'bundle'), '--trt8-compat']) == 0
    return d / 'bundle'


def _unambiguous(rows, min_score, gap=0.01):
    """Detections above ``min_score`` whose score no other row comes within ``gap`` of (no near-ties)."""
    keep = []
    for i, r in enumerate(rows):
        if r[4] < min_score:
            continue
        others = np.delete(rows[:, 4], i)
        if others.size == 0 or np.min(np.abs(others - r[4])) > gap:
            keep.append(r)
    return keep


@pytest.mark.parametrize('precision', ['fp16', 'int8'])
def test_detector_engine_matches_onnxruntime(detector_bundle, precision, tmp_path):
    spec = load_bundle(detector_bundle).input
    kw = {'calib_images': _calib_dir(tmp_path, spec)} if precision == 'int8' else {}
    trt_eng, ort_eng = _engines(detector_bundle, precision, **kw)
    xs = _samples(spec, 20, seed=3)
    compared = 0
    for x in xs:
        ref = ort_eng.infer(x)['detections'][0]
        got = trt_eng.infer(x)['detections'][0]
        if precision != 'fp16':
            continue
        for r in _unambiguous(ref, 0.3):
            same = got[(got[:, 5] == r[5]) & (np.abs(got[:, 4] - r[4]) <= 0.01)]
            assert same.shape[0] > 0, 'no TensorRT detection of class {} at score {:.3f}'.format(r[5], r[4])
            assert float(np.min(np.max(np.abs(same[:, :4] - r[:4]), axis=1))) <= 1.0
            compared += 1
    _print_latency('detector {} {}'.format(spec.width, precision), trt_eng, ort_eng, xs[0])
    trt_eng.close()
    if precision == 'fp16':
        assert compared > 0
    pipe = Pipeline(detector_bundle, backend='auto')
    assert pipe.backend_name == 'tensorrt' and pipe.backend_reason.startswith('tensorrt (')
    pipe.close()

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
TensorRT runtime engine without a GPU, through fake tensorrt/pycuda modules.

Engine keys, refusal of mismatched engines, both TensorRT APIs, and the ``auto`` backend's
choice and explanation.
"""

import importlib.util
import os
import shutil
import sys

from fake_tensorrt import (
    DEFAULT_IO,
    engine_bytes,
    fake_compute,
    forget_engine_module,
    install_fakes,
)
import numpy as np
import pytest
import trt_graphs as graphs
from vitedge_ros.runtime import load_bundle, Pipeline
from vitedge_ros.runtime.engine_key import (
    calib_cache_filename,
    engine_filename,
    has_fast_int8,
    make_key,
    match_engine,
    onnx_sha256,
    parse_key,
    sanitize,
    stale_temp_files,
    temp_filename,
    timing_cache_filename,
)
from vitedge_ros.runtime.engines import create_engine
from vitedge_ros.runtime.errors import EngineError

SHA = 'a1b2c3d4e5f6' + '0' * 52
HAS_TRT = importlib.util.find_spec('tensorrt') is not None


@pytest.fixture
def fakes(monkeypatch):
    """
    Install fake tensorrt/pycuda for one test through the returned function.

    Call it as ``fakes(api=..., ...)``; the fakes are removed after the test.
    """
    yield lambda **kw: install_fakes(monkeypatch, **kw)
    forget_engine_module()


@pytest.fixture
def bundle_copy(tmp_path):
    """
    Return a copy of a 32x32 classifier bundle.

    Pure onnx, opset 13: no torch needed, runs on every onnxruntime.
    """
    return graphs.write_bundle(tmp_path / 'bundle', 'classifier')


def _key_for(bundle_dir, trt_version, gpu, precision='fp16'):
    return engine_filename(onnx_sha256(bundle_dir / 'model.onnx'), trt_version, gpu, precision)


def _write_engine(bundle_dir, name, data=None):
    d = bundle_dir / 'engines'
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(engine_bytes() if data is None else data)
    return d / name


# -------------------------------------------------------------------------------------- key naming


def test_engine_key_format_and_roundtrip():
    name = engine_filename(SHA, '8.2.1.8', 'NVIDIA Tegra X1', 'fp16')
    assert name == 'a1b2c3d4e5f6-trt8.2.1.8-NVIDIA_Tegra_X1-fp16.engine'
    key = parse_key(name)
    assert key == ('a1b2c3d4e5f6', '8.2.1.8', 'NVIDIA_Tegra_X1', 'fp16') and key.filename == name
    odd = engine_filename(SHA, '10.3.0', 'NVIDIA GeForce RTX 4090 (laptop)/x', 'int8')
    assert odd == 'a1b2c3d4e5f6-trt10.3.0-NVIDIA_GeForce_RTX_4090_laptop_x-int8.engine'
    assert (
        parse_key(odd).gpu == 'NVIDIA_GeForce_RTX_4090_laptop_x'
        and parse_key(odd).precision == 'int8'
    )
    assert (
        parse_key('model.engine') is None
        and parse_key('a1b2c3d4e5f6-trt8.2-gpu-fp64.engine') is None
    )
    assert sanitize('  H100 80GB HBM3 ') == 'H100_80GB_HBM3'
    assert (
        timing_cache_filename('8.2.1.8', 'NVIDIA Tegra X1')
        == 'timing-trt8.2.1.8-NVIDIA_Tegra_X1.cache'
    )
    assert calib_cache_filename(SHA) == 'calib-a1b2c3d4e5f6.cache'
    assert temp_filename(name, pid=42) == '.' + name + '.tmp-42'
    with pytest.raises(ValueError, match='precision must be one of fp32, fp16, int8'):
        make_key(SHA, '8.2', 'gpu', 'fp8')
    with pytest.raises(ValueError, match='12 hex'):
        make_key('xyz', '8.2', 'gpu', 'fp16')


def test_onnx_sha256_is_file_sha(tmp_path):
    import hashlib

    p = tmp_path / 'm.onnx'
    p.write_bytes(b'x' * (3 << 20))
    assert onnx_sha256(p) == hashlib.sha256(b'x' * (3 << 20)).hexdigest()


def test_fast_int8_by_compute_capability():
    assert not has_fast_int8((5, 3))  # Jetson Nano
    assert not has_fast_int8((6, 2))  # TX2
    assert (
        has_fast_int8((6, 1))
        and has_fast_int8((7, 2))
        and has_fast_int8((8, 7))
        and has_fast_int8((9, 0))
    )


def test_stale_temp_files_only_dead_pids(tmp_path):
    d = tmp_path / 'engines'
    d.mkdir()
    dead = d / temp_filename('k.engine', pid=2**22 + 12345)
    alive = d / temp_filename('k.engine', pid=1)
    mine = d / temp_filename('k.engine')
    for p in (dead, alive, mine):
        p.write_bytes(b'x')
    assert set(stale_temp_files(d)) == {dead, mine}


# ------------------------------------------------------------------------------------------
# matching


def test_match_engine_none_and_preference(bundle_copy):
    sha = onnx_sha256(bundle_copy / 'model.onnx')
    path, why = match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100')
    assert path is None
    assert 'no TensorRT engine' in why
    assert 'python3 tools/build_engine.py {} --precision fp16'.format(bundle_copy) in why
    fp32 = _write_engine(bundle_copy, engine_filename(sha, '10.3.0', 'NVIDIA H100', 'fp32'))
    int8 = _write_engine(bundle_copy, engine_filename(sha, '10.3.0', 'NVIDIA H100', 'int8'))
    assert match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100')[0] == int8
    assert match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100', precision='fp32')[0] == fp32
    path, why = match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100', precision='fp16')
    assert path is None and 'precision' in why and '--precision fp16' in why
    # hidden temporaries are never candidates
    (
        bundle_copy
        / 'engines'
        / temp_filename(engine_filename(sha, '10.3.0', 'NVIDIA H100', 'fp16'))
    ).write_bytes(b'')
    assert match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100', precision='fp16')[0] is None


def test_match_engine_mismatch_names_what_differs_and_the_rebuild_command(bundle_copy):
    sha = onnx_sha256(bundle_copy / 'model.onnx')
    _write_engine(bundle_copy, engine_filename(sha, '8.2.1.8', 'NVIDIA Tegra X1', 'int8'))
    _write_engine(bundle_copy, engine_filename('f' * 64, '10.3.0', 'NVIDIA H100', 'fp16'))
    _write_engine(bundle_copy, 'random.engine')
    path, why = match_engine(bundle_copy, sha, '10.3.0', 'NVIDIA H100')
    assert path is None
    assert (
        'TensorRT 8.2.1.8 (running 10.3.0)' in why
        and 'GPU NVIDIA_Tegra_X1 (this is NVIDIA_H100)' in why
    )
    assert 'model.onnx ffffffffffff (now {})'.format(sha[:12]) in why
    assert 'random.engine (not named' in why
    assert 'not loading' in why
    assert (
        'Rebuild with: python3 tools/build_engine.py {} --precision int8'.format(bundle_copy)
        in why
    )


# ------------------------------------------------------------------------------ fake TensorRT APIs


@pytest.mark.parametrize('api', ['8', '10'])
def test_engine_runs_through_both_apis_with_reused_pinned_buffers(fakes, bundle_copy, api):
    mod, trt, drv = fakes(api=api)
    path = _write_engine(bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'))
    eng = mod.TensorRTEngine(path)
    assert eng.api == ('tensor' if api == '10' else 'binding')
    assert eng.input_name == 'input' and eng.input_shape == (1, 3, 4, 4)
    assert eng.output_names == ['logits', 'stats']
    assert drv.calls['mem_alloc'] == 3 and drv.calls['pagelocked_empty'] == 3
    ctx = trt.log['engine'].contexts[0]
    addresses = {t.name: int(t.device) for t in eng._tensors}
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
        out = eng.infer(x)
        want = fake_compute({'input': x}, DEFAULT_IO)
        np.testing.assert_allclose(out['logits'], want['logits'], rtol=1e-6)
        np.testing.assert_allclose(out['stats'], want['stats'].astype(np.float32), rtol=1e-6)
        assert out['stats'].dtype == np.float32  # fp16 outputs are handed over as float32
    assert drv.calls['mem_alloc'] == 3  # allocated once, reused for every frame
    if api == '10':
        assert ctx.addresses == addresses and ctx.set_calls == 3  # bound once, by tensor name
        assert ctx.calls == [drv.Stream.handle] * 3
    else:
        order = DEFAULT_IO['order']  # binding index order differs from "input first"
        assert ctx.calls == [([addresses[n] for n in order], drv.Stream.handle)] * 3
    assert drv.calls['push'] == drv.calls['pop']
    assert 'tensorrt {}'.format(trt.__version__) in eng.describe() and 'fp16' in eng.describe()
    eng.close()
    eng.close()
    assert drv.calls['free'] == 3 and not drv.MEM
    with pytest.raises(EngineError, match='closed'):
        eng.infer(np.zeros((1, 3, 4, 4), np.float32))


def test_engine_checks_input_shape(fakes, bundle_copy):
    mod, trt, _drv = fakes(api='10')
    eng = mod.TensorRTEngine(
        _write_engine(bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'))
    )
    with pytest.raises(EngineError, match=r'must have shape \(1, 3, 4, 4\)'):
        eng.infer(np.zeros((1, 3, 8, 8), np.float32))


def test_engine_rejects_dynamic_shapes(fakes, bundle_copy):
    mod, trt, _drv = fakes(api='8')
    io = {
        'order': ['input', 'out'],
        'tensors': {
            'input': {'shape': [-1, 3, 4, 4], 'dtype': 'float32', 'input': True},
            'out': {'shape': [1, 2], 'dtype': 'float32', 'input': False},
        },
    }
    path = _write_engine(
        bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'), engine_bytes(io)
    )
    with pytest.raises(EngineError, match='dynamic shape'):
        mod.TensorRTEngine(path)


@pytest.mark.parametrize('api', ['8', '10'])
def test_mismatched_engine_is_refused_with_rebuild_command(fakes, bundle_copy, api):
    mod, trt, drv = fakes(api=api)
    other = '8.2.1.8' if api == '10' else '10.3.0.26'
    path = _write_engine(bundle_copy, _key_for(bundle_copy, other, 'NVIDIA Tegra X1', 'fp32'))
    with pytest.raises(EngineError) as err:
        mod.TensorRTEngine(path)
    msg = str(err.value)
    assert (
        'TensorRT {} (running {})'.format(other, trt.__version__) in msg and 'not loading' in msg
    )
    assert 'python3 tools/build_engine.py {} --precision fp32'.format(bundle_copy) in msg
    assert 'engine' not in trt.log  # never deserialised
    # other GPU, and a model.onnx that changed since the engine was built
    gpu_path = _write_engine(
        bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Jetson Xavier')
    )
    with pytest.raises(EngineError, match='GPU NVIDIA_Jetson_Xavier'):
        mod.TensorRTEngine(gpu_path)
    good = _write_engine(bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'))
    with open(bundle_copy / 'model.onnx', 'ab') as fh:
        fh.write(b'\0')
    with pytest.raises(EngineError, match='model.onnx'):
        mod.TensorRTEngine(good)
    # unkeyed file names cannot be checked, so they are refused too
    plain = _write_engine(bundle_copy, 'model.engine')
    with pytest.raises(EngineError, match='not named'):
        mod.TensorRTEngine(plain)


def test_corrupt_engine_file_says_rebuild(fakes, bundle_copy):
    mod, trt, _drv = fakes(api='10')
    path = _write_engine(
        bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'), b'\x00garbage'
    )
    with pytest.raises(EngineError, match='cannot deserialise.*tools/build_engine.py'):
        mod.TensorRTEngine(path)


def test_find_engine_uses_running_trt_and_gpu(fakes, bundle_copy):
    mod, trt, _drv = fakes(api='10', gpu_name='NVIDIA H100 80GB HBM3', cc=(9, 0))
    bundle = load_bundle(bundle_copy)
    path, why = mod.find_engine(bundle)
    assert path is None and 'no TensorRT engine' in why
    want = _write_engine(
        bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA H100 80GB HBM3', 'fp16')
    )
    path, why = mod.find_engine(bundle)
    assert path == want and 'matches' in why


# ------------------------------------------------------------------------------------ auto backend


def test_auto_picks_tensorrt_when_engine_matches(fakes, bundle_copy):
    mod, trt, _drv = fakes(api='10')
    path = _write_engine(bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'))
    engine, reason = create_engine(load_bundle(bundle_copy), 'auto')
    assert isinstance(engine, mod.TensorRTEngine) and engine.path == path
    assert reason == 'tensorrt ({})'.format(path.name)
    engine.close()


def test_auto_falls_back_to_onnxruntime_on_stale_engine_and_says_why(fakes, bundle_copy):
    _mod, _trt, _drv = fakes(api='10')
    _write_engine(bundle_copy, _key_for(bundle_copy, '8.2.1.8', 'NVIDIA Tegra X1'))
    engine, reason = create_engine(load_bundle(bundle_copy), 'auto')
    assert engine.name == 'onnxruntime'
    assert (
        'auto:' in reason
        and 'TensorRT 8.2.1.8 (running 10.3.0.26)' in reason
        and 'Rebuild with' in reason
    )
    with pytest.raises(EngineError, match='backend tensorrt: no engine matches'):
        create_engine(load_bundle(bundle_copy), 'tensorrt')


@pytest.mark.skipif(HAS_TRT, reason='TensorRT is installed here')
def test_auto_without_tensorrt_uses_onnxruntime_and_says_so(bundle_copy):
    pipe = Pipeline(bundle_copy, backend='auto')
    assert pipe.backend_name == 'onnxruntime'
    assert 'TensorRT not importable' in pipe.backend_reason and 'tensorrt' in pipe.backend_reason
    assert len(pipe(np.zeros((32, 32, 3), np.uint8)).classes) == 3
    with pytest.raises(EngineError, match='install TensorRT and pycuda'):
        Pipeline(bundle_copy, backend='tensorrt')


def test_engine_module_imports_no_torch():
    src = (
        importlib.util.find_spec('vitedge_ros.runtime.engine_key').origin,
        os.path.join(
            os.path.dirname(importlib.util.find_spec('vitedge_ros.runtime').origin),
            'engines',
            'tensorrt_engine.py',
        ),
        os.path.join(
            os.path.dirname(importlib.util.find_spec('vitedge_ros.runtime').origin),
            'trt_builder.py',
        ),
    )
    for path in src:
        text = open(path, encoding='utf-8').read()
        assert 'import torch' not in text and 'from torch' not in text, path


# ------------------------------------------------------------------ auto: GPU order, load failures


@pytest.mark.parametrize(
    'gpu, cc, want',
    [
        ('NVIDIA Tegra X1', (5, 3), 'fp16'),
        ('NVIDIA Jetson TX2', (6, 2), 'fp16'),
        ('NVIDIA A100', (8, 0), 'int8'),
        ('NVIDIA Tesla P4', (6, 1), 'int8'),
    ],
)
def test_auto_prefers_fp16_over_int8_where_the_gpu_has_no_fast_int8(
    fakes, bundle_copy, gpu, cc, want
):
    mod, trt, _drv = fakes(api='10', gpu_name=gpu, cc=cc)
    paths = {
        p: _write_engine(bundle_copy, _key_for(bundle_copy, trt.__version__, gpu, p))
        for p in ('fp32', 'int8', 'fp16')
    }
    engine, reason = create_engine(load_bundle(bundle_copy), 'auto')
    assert (
        isinstance(engine, mod.TensorRTEngine)
        and engine.path == paths[want]
        and reason.endswith('({})'.format(paths[want].name))
    )
    engine.close()
    assert mod.find_engine(load_bundle(bundle_copy))[0] == paths[want]


FAILURES = {
    'deserialize returns None': ({'fail_deserialize': True}, 'cannot deserialise this engine'),
    'no execution context': ({'fail_context': True}, 'cannot create an execution context'),
    'out of GPU memory': ({'fail_alloc_at': 1}, 'MemoryError: cuMemAlloc failed: out of memory'),
}


@pytest.mark.parametrize('failure', sorted(FAILURES))
def test_auto_falls_back_to_onnxruntime_when_the_engine_fails_to_load(
    fakes, bundle_copy, failure, caplog
):
    from vitedge_ros.runtime.engines import select_engine

    kwargs, needle = FAILURES[failure]
    mod, trt, drv = fakes(api='10', **kwargs)
    path = _write_engine(
        bundle_copy,
        _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'),
        engine_bytes(version=trt.__version__),
    )
    with caplog.at_level('WARNING'):
        choice = select_engine(load_bundle(bundle_copy), 'auto')
    assert choice.engine.name == 'onnxruntime'
    assert '{} failed to load ('.format(path.name) in choice.reason and needle in choice.reason
    assert choice.fallback.startswith(
        'TensorRT engine in {} not used: '.format(bundle_copy / 'engines')
    )
    assert needle in choice.fallback
    assert any(needle in r.getMessage() for r in caplog.records if r.levelname == 'WARNING')
    assert drv.MEM == {} and drv.calls.get('detach', 0) == 1  # nothing leaked on the GPU
    assert len(choice.engine.infer(np.zeros((1, 3, 32, 32), np.float32))['logits'][0]) == 10
    with pytest.raises(EngineError, match='backend tensorrt: .*{}'.format(needle.split(':')[0])):
        select_engine(load_bundle(bundle_copy), 'tensorrt')


def test_engine_from_another_tensorrt_build_falls_back(fakes, bundle_copy):
    from vitedge_ros.runtime.engines import select_engine

    _mod, trt, _drv = fakes(api='8.6')
    _write_engine(
        bundle_copy,
        _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1'),
        engine_bytes(version='8.6.1.6'),
    )  # keyed right, but the plan is from another build
    choice = select_engine(load_bundle(bundle_copy), 'auto')
    assert choice.engine.name == 'onnxruntime' and 'cannot deserialise' in choice.fallback
    assert any('not compatible with this version of TensorRT' in ln for ln in trt.log['stderr'])


def test_auto_tries_the_next_engine_before_onnxruntime(fakes, bundle_copy):
    from vitedge_ros.runtime.engines import select_engine

    mod, trt, _drv = fakes(api='10')
    _write_engine(
        bundle_copy,
        _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1', 'fp16'),
        b'\x00corrupt',
    )
    int8 = _write_engine(
        bundle_copy, _key_for(bundle_copy, trt.__version__, 'NVIDIA Tegra X1', 'int8')
    )
    choice = select_engine(load_bundle(bundle_copy), 'auto')
    assert isinstance(choice.engine, mod.TensorRTEngine) and choice.engine.path == int8
    assert 'fp16.engine failed to load' in choice.reason and choice.fallback == ''
    choice.engine.close()


def test_no_engine_at_all_is_not_a_fallback_warning(fakes, bundle_copy):
    from vitedge_ros.runtime.engines import select_engine

    fakes(api='10')
    choice = select_engine(load_bundle(bundle_copy), 'auto')
    assert (
        choice.engine.name == 'onnxruntime'
        and 'no TensorRT engine' in choice.reason
        and choice.fallback == ''
    )


def test_engines_present_but_tensorrt_missing_is_a_fallback(bundle_copy, monkeypatch):
    from vitedge_ros.runtime.engines import select_engine

    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    forget_engine_module()
    _write_engine(bundle_copy, _key_for(bundle_copy, '8.2.1.8', 'NVIDIA Tegra X1'))
    choice = select_engine(load_bundle(bundle_copy), 'auto')
    forget_engine_module()
    assert choice.engine.name == 'onnxruntime' and 'TensorRT not importable' in choice.fallback


def test_node_diagnostics_report_the_fallback(fakes, shipped_bundle, tmp_path):
    """
    A failed TensorRT load under ``backend: auto`` keeps the node running on onnxruntime.

    The node logs a warning and shows the fallback in /diagnostics (level WARN,
    ``backend_fallback``).
    """
    from types import SimpleNamespace

    from vitedge_ros.ros.core import create_pipeline, DIAG_WARN, PerceptionCore

    b = tmp_path / 'det'
    shutil.copytree(str(shipped_bundle), str(b), ignore=shutil.ignore_patterns('engines'))
    _mod, trt, _drv = fakes(api='8.2', fail_deserialize=True)
    _write_engine(b, _key_for(b, trt.__version__, 'NVIDIA Tegra X1'))
    params, pipe = create_pipeline({'bundle': str(b), 'backend': 'auto'})
    assert pipe.backend_name == 'onnxruntime' and 'cannot deserialise' in pipe.backend_fallback
    logs = []
    core = PerceptionCore(
        pipe,
        params,
        lambda out: None,
        log=lambda level, text: logs.append((level, text)),
        bundle_name='det',
    )
    assert ('warn', 'TensorRT not used, running on onnxruntime: ' + pipe.backend_fallback) in logs
    w, h = 160, 120
    msg = SimpleNamespace(
        header=SimpleNamespace(stamp=SimpleNamespace(sec=1, nanosec=0), frame_id='cam'),
        height=h,
        width=w,
        encoding='bgr8',
        is_bigendian=0,
        step=w * 3,
        data=np.zeros(w * h * 3, np.uint8),
    )
    assert core.on_image(msg)
    assert core.wait_idle(30.0)
    diag = core.diagnostics()
    core.shutdown()
    assert diag['level'] == DIAG_WARN and diag['message'].startswith(
        'TensorRT not used, running on onnxruntime'
    )
    assert (
        diag['values']['backend'] == 'onnxruntime'
        and 'cannot deserialise' in diag['values']['backend_fallback']
    )
    assert diag['values']['frames_processed'] == 1
    with pytest.raises(Exception, match='backend tensorrt: .*cannot deserialise'):
        create_pipeline({'bundle': str(b), 'backend': 'tensorrt'})

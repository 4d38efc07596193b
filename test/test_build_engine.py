"""tools/build_engine.py without a GPU: argument handling and exit codes, TensorRT absent, and the whole build
path (workspace, flags, timing/calibration caches, atomic keyed write, interruption) against fake TensorRT 8.2
and 10.x modules."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_tensorrt_fake import forget_engine_module, install_fakes

from vitedge_ros.runtime.engine_key import (
    calib_cache_filename,
    engine_filename,
    onnx_sha256,
    parse_key,
    temp_filename,
    timing_cache_filename,
)

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'build_engine.py'
HAS_TRT = importlib.util.find_spec('tensorrt') is not None
GPU = 'NVIDIA Tegra X1'


def _load_tool():
    spec = importlib.util.spec_from_file_location('build_engine_tool', str(TOOL))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TOOL_MOD = _load_tool()


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, cwd=str(ROOT), env=env)


@pytest.fixture
def fakes(monkeypatch):
    yield lambda **kw: install_fakes(monkeypatch, **kw)
    forget_engine_module()


@pytest.fixture
def bundle(tiny_classifier_bundle, tmp_path):
    dst = tmp_path / 'bundle'
    shutil.copytree(tiny_classifier_bundle, dst)
    return dst


def _files(d):
    return sorted(p.name for p in (d / 'engines').iterdir()) if (d / 'engines').is_dir() else []


def _key(bundle_dir, trt, precision, gpu=GPU):
    return engine_filename(onnx_sha256(bundle_dir / 'model.onnx'), trt.__version__, gpu, precision)


# ------------------------------------------------------------------------------------------ arguments, no TensorRT

@pytest.mark.skipif(HAS_TRT, reason='TensorRT is installed here')
def test_cli_without_tensorrt_exits_3_with_clear_message(bundle):
    res = run_cli(bundle, '--precision', 'fp16')
    assert res.returncode == 3, res.stderr
    assert 'TensorRT is not installed' in res.stderr and 'python3-libnvinfer' in res.stderr
    assert 'pip install tensorrt' in res.stderr and 'backend onnxruntime' in res.stderr
    assert _files(bundle) == []


def test_tensorrt_absent_in_process_exits_3(bundle, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)  # import tensorrt raises ImportError
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp32']) == 3
    assert 'TensorRT unavailable: TensorRT is not installed' in capsys.readouterr().err


def test_bad_precision_exits_2(bundle):
    res = run_cli(bundle, '--precision', 'fp8')
    assert res.returncode == 2 and "invalid choice: 'fp8'" in res.stderr


@pytest.mark.parametrize('args, needle', [
    (['--workspace-mb', '0'], '--workspace-mb must be > 0'),
    (['--calib-max', '-1'], '--calib-max must be > 0'),
    (['--bogus'], 'unrecognized arguments'),
])
def test_bad_arguments_exit_2(bundle, args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        TOOL_MOD.main([str(bundle), *args])
    assert exc.value.code == 2 and needle in capsys.readouterr().err


def test_bad_bundles_exit_2_before_tensorrt(tmp_path, bundle, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    assert TOOL_MOD.main([str(tmp_path / 'nope')]) == 2
    assert 'bundle directory does not exist' in capsys.readouterr().err
    (bundle / 'model.onnx').unlink()
    assert TOOL_MOD.main([str(bundle)]) == 2
    assert 'missing model.onnx' in capsys.readouterr().err
    (bundle / 'model.onnx').write_bytes(b'\x08')
    assert TOOL_MOD.main([str(bundle)]) == 2
    assert 'empty or truncated' in capsys.readouterr().err
    (bundle / 'model.onnx').write_bytes(b'x' * 64)
    assert TOOL_MOD.main([str(bundle), '--calib-images', str(tmp_path / 'none'), '--precision', 'int8']) == 2
    assert 'not a directory' in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ successful builds

def test_build_trt10_writes_keyed_engine_timing_cache_and_latency(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='10')
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16', '--runs', '3']) == 0
    out = capsys.readouterr().out
    key = _key(bundle, trt, 'fp16')
    assert _files(bundle) == sorted([key, timing_cache_filename(trt.__version__, GPU)])
    assert (bundle / 'engines' / key).read_bytes().startswith(b'FAKEENGINE')
    cfg = trt.log['configs'][0]
    assert cfg.pool_limits == {'WORKSPACE': 512 << 20}  # default workspace, via set_memory_pool_limit
    assert cfg.flags == ['FP16']
    assert trt.log['networks'][0].flags == 0  # no EXPLICIT_BATCH on 10.x
    assert trt.log['onnx_bytes'] == (bundle / 'model.onnx').stat().st_size
    assert 'built {}'.format(bundle / 'engines' / key) in out and ' s (TensorRT 10.3.0.26' in out
    assert 'latency: median' in out and 'over 3 runs' in out and 'tensor API' in out
    timing = bundle / 'engines' / timing_cache_filename(trt.__version__, GPU)
    assert timing.read_bytes() == b'|timed'
    # second run: up to date, nothing rebuilt; --force rebuilds and reuses the timing cache
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16', '--runs', '0']) == 0
    assert 'up to date' in capsys.readouterr().out and trt.log['builds'] == 1
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16', '--runs', '0', '--force']) == 0
    assert trt.log['builds'] == 2 and timing.read_bytes() == b'|timed|timed'


def test_build_trt82_uses_binding_era_api(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='8')
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp32', '--workspace-mb', '256', '--runs', '2']) == 0
    out = capsys.readouterr().out
    cfg = trt.log['configs'][0]
    assert cfg.max_workspace_size == 256 << 20 and cfg.pool_limits == {}
    assert cfg.flags == []
    assert trt.log['networks'][0].flags == 1  # 1 << EXPLICIT_BATCH
    assert parse_key(_key(bundle, trt, 'fp32')).trt_version == '8.2.1.8'
    assert (bundle / 'engines' / _key(bundle, trt, 'fp32')).is_file()
    assert 'binding API' in out


def test_int8_on_nano_warns_and_advises_fp16_explicit_qdq(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='8', fast_int8=False)
    with open(bundle / 'model.onnx', 'ab') as fh:  # mark the graph as QDQ (the builder scans the op types)
        fh.write(b'QuantizeLinear DequantizeLinear')
    assert TOOL_MOD.main([str(bundle), '--precision', 'int8', '--runs', '0']) == 0
    out = capsys.readouterr().out
    assert 'WARNING: NVIDIA Tegra X1 (sm_53) has no fast INT8' in out and '--precision fp16' in out
    assert 'INT8 explicit' in out
    assert trt.log['configs'][0].flags == ['FP16', 'INT8'] and trt.log['configs'][0].int8_calibrator is None


def test_int8_fast_gpu_no_warning(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    with open(bundle / 'model.onnx', 'ab') as fh:
        fh.write(b'QuantizeLinear DequantizeLinear')
    assert TOOL_MOD.main([str(bundle), '--precision', 'int8', '--runs', '0']) == 0
    assert 'WARNING' not in capsys.readouterr().out


def test_int8_implicit_needs_calibration_data(fakes, bundle, capsys):
    fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    assert TOOL_MOD.main([str(bundle), '--precision', 'int8']) == 2
    err = capsys.readouterr().err
    assert '--calib-images DIR' in err and 'QDQ' in err


def test_int8_implicit_calibration_writes_cache_and_reuses_it(fakes, bundle, tmp_path, capsys):
    import cv2

    from vitedge_ros.runtime import load_bundle
    from vitedge_ros.runtime.preprocess import Preprocessor

    _mod, trt, drv = fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    imgs = tmp_path / 'calib'
    (imgs / 'sub').mkdir(parents=True)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(5)]
    for i, f in enumerate(frames):
        cv2.imwrite(str(imgs / ('sub' if i % 2 else '.') / 'f{}.png'.format(i)), f)
    (imgs / 'notes.txt').write_text('not an image')
    assert TOOL_MOD.main([str(bundle), '--precision', 'int8', '--calib-images', str(imgs), '--calib-max', '4',
                          '--runs', '0']) == 0
    assert 'INT8 implicit' in capsys.readouterr().out
    cfg = trt.log['configs'][0]
    assert cfg.flags == ['FP16', 'INT8'] and cfg.int8_calibrator is not None
    batches = trt.log['calib_batches']
    assert len(batches) == 4  # --calib-max
    pre = Preprocessor(load_bundle(bundle).input)
    files = sorted(p for p in imgs.rglob('*.png'))[:4]
    want = pre(cv2.imread(str(files[0])))[0]
    np.testing.assert_array_equal(batches[0].view(np.float32).reshape(want.shape), want)
    cache = bundle / 'engines' / calib_cache_filename(onnx_sha256(bundle / 'model.onnx'))
    assert cache.read_bytes() == b'CALIB4'
    assert drv.calls['push'] == drv.calls['pop'] >= 5  # allocation + 4 copies inside the primary context
    # a later build without images reads the cache instead of calibrating
    assert TOOL_MOD.main([str(bundle), '--precision', 'int8', '--runs', '0', '--force']) == 0
    assert trt.log['calib_cache_read'] == b'CALIB4'
    assert drv.calls['mem_alloc'] >= 1


# ------------------------------------------------------------------------------------------ failures

def test_parse_errors_listed_node_by_node_trt8(fakes, bundle, capsys):
    import onnx

    nodes = onnx.load(str(bundle / 'model.onnx')).graph.node
    fakes(api='8', parse_errors=[
        {'node': 3, 'desc': 'No importer registered for op: Frobnicate'},
        {'node': 5, 'desc': 'Assertion failed: inputs.at(0).is_tensor()', 'code': 'INVALID_NODE'}])
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16']) == 4
    err = capsys.readouterr().err
    assert 'could not parse' in err and '(2 errors)' in err
    assert 'node 3 {} ({}): No importer registered for op: Frobnicate'.format(nodes[3].name, nodes[3].op_type) in err
    assert 'node 5 {} ({}): Assertion failed'.format(nodes[5].name, nodes[5].op_type) in err
    assert '[INVALID_NODE]' in err
    assert _files(bundle) == []


def test_parse_error_layernorm_hint_trt10_names(fakes, bundle, capsys):
    fakes(api='10', parse_errors=[{'node': 7, 'name': '/blocks.0/norm1/LayerNormalization',
                                   'op': 'LayerNormalization', 'desc': 'No importer registered'}])
    assert TOOL_MOD.main([str(bundle)]) == 4
    err = capsys.readouterr().err
    assert 'node 7 /blocks.0/norm1/LayerNormalization (LayerNormalization): No importer registered' in err
    assert '--trt8-compat' in err


def test_builder_failure_exits_4(fakes, bundle, capsys):
    fakes(api='10', build_returns_none=True)
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16']) == 4
    assert 'failed to build the fp16 engine' in capsys.readouterr().err
    assert [f for f in _files(bundle) if f.endswith('.engine') or '.tmp-' in f] == []


def test_interrupted_build_leaves_no_engine(fakes, bundle, capsys):
    def hook(network, config):
        raise KeyboardInterrupt

    _mod, trt, _drv = fakes(api='10', build_hook=hook)
    assert TOOL_MOD.main([str(bundle), '--precision', 'fp16']) == 130
    assert 'interrupted; no engine written' in capsys.readouterr().err
    assert [f for f in _files(bundle) if f.endswith('.engine') or '.tmp-' in f] == []


@pytest.mark.parametrize('exc, code', [(KeyboardInterrupt, 130), (OSError, None)])
def test_interrupted_write_removes_temp_file(fakes, bundle, monkeypatch, exc, code):
    _mod, trt, _drv = fakes(api='10')
    seen = []
    real_fsync = os.fsync

    def fsync(fd):  # the temp file is fully written; interrupt just before the rename
        seen.append(sorted(_files(bundle)))
        raise exc('interrupted during the write')

    monkeypatch.setattr(os, 'fsync', fsync)
    if code is None:
        with pytest.raises(OSError):
            TOOL_MOD.main([str(bundle), '--precision', 'fp16'])
    else:
        assert TOOL_MOD.main([str(bundle), '--precision', 'fp16']) == code
    monkeypatch.setattr(os, 'fsync', real_fsync)
    key = _key(bundle, trt, 'fp16')
    assert seen and temp_filename(key) in seen[0]  # the temp existed under its hidden name...
    assert [f for f in _files(bundle) if f.endswith('.engine') or '.tmp-' in f] == []  # ...and is gone


def test_stale_temp_from_killed_build_is_cleaned(fakes, bundle):
    _mod, trt, _drv = fakes(api='10')
    (bundle / 'engines').mkdir()
    stale = bundle / 'engines' / temp_filename(_key(bundle, trt, 'fp16'), pid=2 ** 22 + 4321)
    stale.write_bytes(b'half an engine')
    assert TOOL_MOD.main([str(bundle), '--runs', '0']) == 0
    assert not stale.exists() and (bundle / 'engines' / _key(bundle, trt, 'fp16')).is_file()

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
tools/build_engine.py without a GPU, against the fake TensorRT modules.

Argument handling and exit codes, TensorRT absent, the parser audit before TensorRT, FP32
pinning under FP16/INT8, TensorRT 11's strong typing, INT8 calibrator failures (both callback
generations), and the whole build path (workspace, flags, timing/calibration caches, atomic
keyed write, interruption) against the fake TensorRT 8.2 / 8.6 / 10.x / 11.x modules of
test/fake_tensorrt.py.

No test here may show a user a Python traceback: every CLI run asserts ``'Traceback' not in
stderr``.
"""

import importlib.util
import os
from pathlib import Path
import shutil
import subprocess
import sys

from fake_tensorrt import fake_env, forget_engine_module, install_fakes
import numpy as np
import pytest
import trt_graphs as graphs
from vitedge_ros.runtime import build_engine_cli
from vitedge_ros.runtime.engine_key import (
    calib_cache_filename,
    engine_filename,
    GpuInfo,
    onnx_sha256,
    parse_key,
    temp_filename,
    timing_cache_filename,
)

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'build_engine.py'
HAS_TRT = importlib.util.find_spec('tensorrt') is not None
GPU = 'NVIDIA Tegra X1'
WEAK = ['8.2', '8.6', '10']


TOOL_MOD = build_engine_cli  # what tools/build_engine.py calls


def run_cli(*args, env=None):
    res = subprocess.run(
        [sys.executable, str(TOOL)] + [str(a) for a in args],
        stdout=subprocess.PIPE,  # noqa: UP022
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
        cwd=str(ROOT),  # noqa: UP021
        env=env,
    )
    assert 'Traceback' not in res.stderr, res.stderr
    return res


def main(argv, capsys):
    """
    Run the tool in-process.

    Returns (exit code, stdout, stderr) and checks no traceback reached the user.
    """
    code = TOOL_MOD.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert 'Traceback' not in out.err and 'Traceback' not in out.out, out.err
    return code, out.out, out.err


@pytest.fixture
def fakes(monkeypatch):
    yield lambda **kw: install_fakes(monkeypatch, **kw)
    forget_engine_module()


@pytest.fixture
def bundle(tmp_path):
    """Return the opset-13 classifier every TensorRT from 8.2 on parses."""
    return graphs.write_bundle(tmp_path / 'bundle', 'classifier')


def _files(d):
    return sorted(p.name for p in (d / 'engines').iterdir()) if (d / 'engines').is_dir() else []


def _engines(d):
    return [f for f in _files(d) if f.endswith('.engine') or '.tmp-' in f]


def _key(bundle_dir, trt, precision, gpu=GPU):
    return engine_filename(onnx_sha256(bundle_dir / 'model.onnx'), trt.__version__, gpu, precision)


def _calib_dir(tmp_path, n=5):
    import cv2

    imgs = tmp_path / 'calib'
    (imgs / 'sub').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        cv2.imwrite(
            str(imgs / ('sub' if i % 2 else '.') / 'f{}.png'.format(i)),
            rng.integers(0, 256, (40, 50, 3), dtype=np.uint8),
        )
    (imgs / 'notes.txt').write_text('not an image')
    return imgs


# ------------------------------------------------------------------------------------------
# arguments, no TensorRT


@pytest.mark.skipif(HAS_TRT, reason='TensorRT is installed here')
def test_cli_without_tensorrt_exits_3_with_clear_message(bundle):
    res = run_cli(bundle, '--precision', 'fp16')
    assert res.returncode == 3, res.stderr
    assert 'TensorRT is not installed' in res.stderr and 'python3-libnvinfer' in res.stderr
    assert 'pip install tensorrt' in res.stderr and 'backend onnxruntime' in res.stderr
    assert _files(bundle) == []


def test_tensorrt_absent_in_process_exits_3(bundle, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)  # import tensorrt raises ImportError
    code, _out, err = main([bundle, '--precision', 'fp32'], capsys)
    assert code == 3 and 'TensorRT unavailable: TensorRT is not installed' in err


def test_bad_precision_exits_2(bundle):
    res = run_cli(bundle, '--precision', 'fp8')
    assert res.returncode == 2 and "invalid choice: 'fp8'" in res.stderr


@pytest.mark.parametrize(
    'args, needle',
    [
        (['--workspace-mb', '0'], '--workspace-mb must be > 0'),
        (['--calib-max', '-1'], '--calib-max must be > 0'),
        (['--bogus'], 'unrecognized arguments'),
    ],
)
def test_bad_arguments_exit_2(bundle, args, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        TOOL_MOD.main([str(bundle)] + args)
    assert exc.value.code == 2 and needle in capsys.readouterr().err


def test_bad_bundles_exit_2_before_tensorrt(tmp_path, bundle, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    assert main([tmp_path / 'nope'], capsys)[0] == 2
    (bundle / 'model.onnx').unlink()
    code, _o, err = main([bundle], capsys)
    assert code == 2 and 'missing model.onnx' in err
    (bundle / 'model.onnx').write_bytes(b'\x08')
    code, _o, err = main([bundle], capsys)
    assert code == 2 and 'empty or truncated' in err
    (bundle / 'model.onnx').write_bytes(b'x' * 64)
    code, _o, err = main([bundle], capsys)
    assert code == 2 and 'corrupt or truncated?' in err
    code, _o, err = main(
        [bundle, '--calib-images', tmp_path / 'none', '--precision', 'int8'], capsys
    )
    assert code == 2 and 'not a directory' in err


# ------------------------------------------------------------------------------------------
# successful builds


def test_build_trt10_writes_keyed_engine_timing_cache_and_latency(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='10')
    code, out, _err = main([bundle, '--precision', 'fp16', '--runs', '3'], capsys)
    assert code == 0
    key = _key(bundle, trt, 'fp16')
    assert _files(bundle) == sorted([key, timing_cache_filename(trt.__version__, GPU)])
    assert (bundle / 'engines' / key).read_bytes().startswith(b'FAKEENGINE')
    cfg = trt.log['configs'][0]
    assert cfg.pool_limits == {
        'WORKSPACE': 512 << 20
    }  # default workspace, via set_memory_pool_limit
    assert cfg.flags == ['FP16']  # nothing to pin in this graph, so no precision-constraint flag
    assert trt.log['networks'][0].flags == 0  # no EXPLICIT_BATCH on 10.x
    assert trt.log['onnx_bytes'] == (bundle / 'model.onnx').stat().st_size
    assert 'built {}'.format(bundle / 'engines' / key) in out and ' s (TensorRT 10.3.0.26' in out
    assert 'parser audit: no blocker for trt10' in out
    assert 'latency: median' in out and 'over 3 runs' in out and 'tensor API' in out
    timing = bundle / 'engines' / timing_cache_filename(trt.__version__, GPU)
    assert timing.read_bytes() == b'|timed'
    # second run: up to date, nothing rebuilt; --force rebuilds and reuses the timing cache
    code, out, _err = main([bundle, '--precision', 'fp16', '--runs', '0'], capsys)
    assert code == 0 and 'up to date' in out and trt.log['builds'] == 1
    assert main([bundle, '--precision', 'fp16', '--runs', '0', '--force'], capsys)[0] == 0
    assert trt.log['builds'] == 2 and timing.read_bytes() == b'|timed|timed'


def test_build_trt82_uses_binding_era_api(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='8.2')
    code, out, _err = main(
        [bundle, '--precision', 'fp32', '--workspace-mb', '256', '--runs', '2'], capsys
    )
    assert code == 0
    cfg = trt.log['configs'][0]
    assert cfg.max_workspace_size == 256 << 20 and cfg.pool_limits == {}
    assert cfg.flags == []
    assert (
        trt.log['networks'][0].flags == 1
    )  # 1 << EXPLICIT_BATCH: the 8.x ONNX parser refuses implicit batch
    assert parse_key(_key(bundle, trt, 'fp32')).trt_version == '8.2.1.8'
    assert (bundle / 'engines' / _key(bundle, trt, 'fp32')).is_file()
    assert 'binding API' in out and 'parser audit: no blocker for trt8.2' in out


def test_trt86_uses_memory_pools_and_tensor_api(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='8.6')
    code, out, _err = main([bundle, '--precision', 'fp16', '--runs', '1'], capsys)
    assert code == 0
    cfg = trt.log['configs'][0]
    assert cfg.pool_limits == {'WORKSPACE': 512 << 20} and cfg.max_workspace_size == 0
    assert trt.log['networks'][0].flags == 1 and 'tensor API' in out


def test_int8_on_nano_warns_and_advises_fp16_explicit_qdq(fakes, tmp_path, capsys):
    qdq = graphs.write_bundle(tmp_path / 'qdq', 'qdq')
    _mod, trt, _drv = fakes(api='8.2', fast_int8=False)
    code, out, _err = main([qdq, '--precision', 'int8', '--runs', '0'], capsys)
    assert code == 0
    assert 'WARNING: NVIDIA Tegra X1 (sm_53) has no fast INT8' in out and '--precision fp16' in out
    assert 'INT8 explicit' in out
    assert (
        trt.log['configs'][0].flags == ['FP16', 'INT8']
        and trt.log['configs'][0].int8_calibrator is None
    )


def test_int8_fast_gpu_no_warning(fakes, tmp_path, capsys):
    qdq = graphs.write_bundle(tmp_path / 'qdq', 'qdq')
    fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    code, out, _err = main([qdq, '--precision', 'int8', '--runs', '0'], capsys)
    assert code == 0 and 'WARNING' not in out


def test_int8_implicit_needs_calibration_data(fakes, bundle, capsys):
    fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    code, _out, err = main([bundle, '--precision', 'int8'], capsys)
    assert code == 2 and '--calib-images DIR' in err and 'QDQ' in err


def test_zero_readable_calibration_images_is_an_error_before_the_build(
    fakes, bundle, tmp_path, capsys
):
    _mod, trt, _drv = fakes(api='10', gpu_name='NVIDIA A100', cc=(8, 0))
    imgs = tmp_path / 'broken'
    imgs.mkdir()
    (imgs / 'a.png').write_bytes(b'not a png at all')
    (imgs / 'b.jpg').write_bytes(b'')
    code, out, err = main([bundle, '--precision', 'int8', '--calib-images', imgs], capsys)
    assert code == 2 and 'none of the images can be read (zero calibration batches)' in err
    assert 'cannot read' in out and trt.log['builds'] == 0 and trt.log['networks'] == []
    assert _engines(bundle) == []


@pytest.mark.parametrize('api', WEAK)
def test_int8_implicit_calibration_writes_cache_and_reuses_it(
    fakes, bundle, tmp_path, capsys, api
):
    import cv2
    from vitedge_ros.runtime import load_bundle
    from vitedge_ros.runtime.preprocess import Preprocessor

    _mod, trt, drv = fakes(api=api, gpu_name='NVIDIA A100', cc=(8, 0))
    imgs = _calib_dir(tmp_path)
    code, out, _err = main(
        [bundle, '--precision', 'int8', '--calib-images', imgs, '--calib-max', '4', '--runs', '0'],
        capsys,
    )
    assert code == 0 and 'INT8 implicit (4 calibration images)' in out
    cfg = trt.log['configs'][0]
    assert cfg.flags == ['FP16', 'INT8'] and cfg.int8_calibrator is not None
    batches = trt.log['calib_batches']
    assert len(batches) == 4  # --calib-max
    pre = Preprocessor(load_bundle(bundle).input)
    files = sorted(p for p in imgs.rglob('*.png'))[:4]
    want = pre(cv2.imread(str(files[0])))[0]
    np.testing.assert_array_equal(
        batches[0][: want.nbytes].view(np.float32).reshape(want.shape), want
    )
    cache = bundle / 'engines' / calib_cache_filename(onnx_sha256(bundle / 'model.onnx'))
    assert cache.read_bytes() == b'CALIB4'
    assert (
        drv.calls['push'] == drv.calls['pop'] >= 5
    )  # allocation + 4 copies inside the primary context
    assert drv.calls['free'] == 1 and drv.MEM == {}  # the calibration buffer was freed, once
    # a later build without images reads the cache instead of calibrating
    assert main([bundle, '--precision', 'int8', '--runs', '0', '--force'], capsys)[0] == 0
    assert trt.log['calib_cache_read'] == b'CALIB4'


# ------------------------------------------------------------------------ INT8 calibrator failures


@pytest.mark.parametrize('api', WEAK)
def test_calibrator_exception_is_raised_after_the_build_with_exit_3(
    fakes, bundle, tmp_path, capsys, api
):
    """
    A CUDA error in the middle of calibration ends in exit 3 after the build.

    TensorRT 8.2 would abort the process if it crossed the callback, 8.4+ would take it as
    end-of-data and build from partial data. Both must end in exit 3, the error named, and nothing
    written.
    """
    _mod, trt, drv = fakes(api=api, gpu_name='NVIDIA A100', cc=(8, 0), fail_memcpy_at=3)
    code, _out, err = main(
        [bundle, '--precision', 'int8', '--calib-images', _calib_dir(tmp_path), '--runs', '0'],
        capsys,
    )
    assert code == 3, err
    assert (
        'calibration failed: INT8 calibration failed in get_batch: LogicError: cuMemcpyHtoD '
        'failed: an illegal '
        'memory access was encountered; no engine and no calibration cache written'
    ) in err
    assert 'Exception caught in get_batch' not in err  # nothing crossed into TensorRT
    assert len(trt.log['calib_batches']) == 2 and trt.log['builds'] == 1
    assert _engines(bundle) == [] and not any(f.startswith('calib-') for f in _files(bundle))
    assert drv.calls['free'] == 1


@pytest.mark.parametrize('api', ['8.2', '10'])
def test_calibrator_exception_cli_subprocess_exit_3_no_abort(bundle, tmp_path, api):
    """
    The same through the real command in a child process.

    On 8.2 an escaped exception would kill it with
    SIGABRT (returncode -6); the builder keeps it and exits 3.
    """
    env = fake_env(tmp_path, ROOT, api=api, gpu_name='NVIDIA A100', cc=[8, 0], fail_memcpy_at=2)
    res = run_cli(
        bundle,
        '--precision',
        'int8',
        '--calib-images',
        _calib_dir(tmp_path),
        '--runs',
        '0',
        env=env,
    )
    assert res.returncode == 3, (res.returncode, res.stderr)
    assert 'INT8 calibration failed in get_batch: LogicError' in res.stderr
    assert 'terminate called' not in res.stderr and 'Exception caught' not in res.stderr
    assert _engines(bundle) == []


def test_calibration_cache_write_failure_exit_3(fakes, bundle, tmp_path, capsys, monkeypatch):
    from vitedge_ros.runtime import trt_builder

    _mod, trt, _drv = fakes(api='8.2', gpu_name='NVIDIA A100', cc=(8, 0))
    real = trt_builder.atomic_write_file

    def write(path, data):
        if path.name.startswith('calib-'):
            raise OSError(28, 'No space left on device')
        real(path, data)

    monkeypatch.setattr(trt_builder, 'atomic_write_file', write)
    code, _out, err = main(
        [bundle, '--precision', 'int8', '--calib-images', _calib_dir(tmp_path)], capsys
    )
    assert (
        code == 3
        and 'failed in write_calibration_cache: OSError' in err
        and 'No space left' in err
    )
    assert _engines(bundle) == []


def test_ctrl_c_during_calibration_exits_130_without_engine(
    fakes, bundle, tmp_path, capsys, monkeypatch
):
    from vitedge_ros.runtime import trt_builder

    _mod, trt, _drv = fakes(api='8.2', gpu_name='NVIDIA A100', cc=(8, 0))
    real = trt_builder.calibration_batches

    def batches(bundle_, files):
        it = real(bundle_, files)
        yield next(it)
        raise KeyboardInterrupt

    monkeypatch.setattr(trt_builder, 'calibration_batches', batches)
    code, _out, err = main(
        [bundle, '--precision', 'int8', '--calib-images', _calib_dir(tmp_path)], capsys
    )
    assert code == 130 and 'interrupted; no engine written' in err
    assert _engines(bundle) == []


def test_pycuda_missing_for_calibration_is_exit_3_before_tensorrt_builds(
    fakes, bundle, tmp_path, monkeypatch
):
    from vitedge_ros.runtime.trt_builder import build_engine, BuildOptions, TensorRTMissing

    _mod, trt, _drv = fakes(api='8.2')
    monkeypatch.setitem(sys.modules, 'pycuda', None)
    monkeypatch.setitem(sys.modules, 'pycuda.driver', None)
    with pytest.raises(TensorRTMissing, match='INT8 calibration needs pycuda') as err:
        build_engine(
            bundle,
            BuildOptions(precision='int8', calib_images=_calib_dir(tmp_path)),
            trt=trt,
            gpu=GpuInfo(GPU, (5, 3)),
            log=lambda s: None,
        )
    assert err.value.exit_code == 3
    assert (
        trt.log['networks'] == [] and trt.log['builds'] == 0
    )  # decided before TensorRT was called


# --------------------------------------------------------------------------- audit before TensorRT


@pytest.mark.parametrize(
    'kind, nodes',
    [('layernorm', graphs.LAYERNORM_GRAPH_NODES), ('reshape', graphs.RESHAPE_GRAPH_NODES)],
)
def test_audit_refuses_before_tensorrt_on_82_naming_the_nodes(
    fakes, tmp_path, capsys, kind, nodes
):
    from vitedge_ros.export.trt_audit import audit_model

    b = graphs.write_bundle(tmp_path / kind, kind)
    findings = audit_model(str(b / 'model.onnx'), 'trt8.2')
    _mod, trt, _drv = fakes(api='8.2')
    code, _out, err = main([b, '--precision', 'fp16'], capsys)
    assert code == 4
    first = err.splitlines()[0]
    assert (
        first.startswith('build_engine: refused: TensorRT 8.2.1.8')
        and 'audit target trt8.2' in first
    )
    for node in nodes:
        assert node in first
        assert any(
            line.startswith('  {} ('.format(node)) and '; fix: ' in line
            for line in err.splitlines()
        )
    assert 'would refuse {} nodes'.format(len(findings)) in first
    assert trt.log['networks'] == [] and trt.log['parsed'] == 0  # TensorRT was never asked
    assert _engines(b) == []


def test_audit_refusal_cli_subprocess(tmp_path):
    b = graphs.write_bundle(tmp_path / 'ln', 'layernorm')
    res = run_cli(b, '--precision', 'fp16', env=fake_env(tmp_path, ROOT, api='8.2'))
    assert res.returncode == 4
    assert 'audit target trt8.2' in res.stderr and graphs.LAYERNORM_GRAPH_NODES[0] in res.stderr


def test_reshape_with_allowzero_parses_on_82_and_without_it_on_86(fakes, tmp_path, capsys):
    ok = graphs.write_bundle(tmp_path / 'az', model=graphs.reshape_graph(allowzero=True))
    fakes(api='8.2')
    code, _out, err = main([ok, '--precision', 'fp32', '--runs', '0'], capsys)
    # the audit still refuses opset 14 on 8.2 (policy: above the parser's documented opset 13), not
    # the Reshapes
    assert code == 4 and '(graph)' in err.splitlines()[0] and 'Reshape' not in err.splitlines()[0]
    assert (
        main([ok, '--precision', 'fp32', '--runs', '0', '--skip-audit'], capsys)[0] == 0
    )  # the parser takes it
    forget_engine_module()
    plain = graphs.write_bundle(tmp_path / 'plain', 'reshape')
    fakes(api='8.6')  # the importer reads allowzero with a default from 8.4 on
    assert main([plain, '--precision', 'fp32', '--runs', '0'], capsys)[0] == 0


@pytest.mark.parametrize(
    'kind, text, code_name, index',
    [
        (
            'layernorm',
            'Plugin not found, are the plugin name, version, and namespace correct?',
            'UNSUPPORTED_NODE',
            1,
        ),
        ('reshape', 'Attribute not found: allowzero', 'INVALID_NODE', 0),
    ],
)
def test_skip_audit_leaves_it_to_the_82_parser_with_its_own_texts(
    fakes, tmp_path, capsys, kind, text, code_name, index
):
    b = graphs.write_bundle(tmp_path / kind, kind)
    _mod, trt, _drv = fakes(api='8.2')
    code, _out, err = main([b, '--precision', 'fp16', '--skip-audit'], capsys)
    assert (
        code == 4 and 'could not parse' in err and '(1 error)' in err
    )  # 8.x stops at the first node
    assert text in err and '[{}]'.format(code_name) in err
    assert 'node {} '.format(index) in err and 'export_onnx.py' in err
    assert trt.log['parsed'] == 1 and trt.log['builds'] == 0


# ---------------------------------------------------------------------------- FP32 pins under FP16


@pytest.mark.parametrize('api', WEAK)
@pytest.mark.parametrize('precision', ['fp16', 'int8'])
def test_layernorm_softmax_and_peak_tail_pinned_to_fp32(fakes, tmp_path, capsys, api, precision):
    b = graphs.write_bundle(tmp_path / 'p', 'precision')
    _mod, trt, _drv = fakes(api=api, gpu_name='NVIDIA A100', cc=(8, 0))
    extra = ['--calib-images', _calib_dir(tmp_path)] if precision == 'int8' else []
    code, out, _err = main([b, '--precision', precision, '--runs', '0'] + extra, capsys)
    assert code == 0
    pinned = trt.log['pinned']
    for name in graphs.LAYERNORM_NODES + graphs.SOFTMAX_NODES + graphs.PEAK_NODES:
        assert pinned.get(name, (None,))[0] == 'FLOAT', name  # layer precision FP32...
    assert pinned['/decode/sigmoid'][1] == ['FLOAT'] and pinned['/ln/div'][1] == [
        'FLOAT'
    ]  # ...and output type
    assert pinned['/decode/equal'][1] == []  # a BOOL output keeps its type
    assert pinned['/decode/topk'][1] == ['FLOAT']  # values FP32, indices untouched
    assert pinned['/attn/scale'] == (None, ['FLOAT'])  # the Softmax input: output type only
    for name in graphs.FREE_NODES:
        assert name not in pinned, name
    flags = trt.log['configs'][0].flags
    assert 'OBEY_PRECISION_CONSTRAINTS' in flags and 'FP16' in flags
    assert (
        'FP32 layers: 16 (layernorm 7, peak-extraction 7, softmax 1, softmax-input 1) under '
        'BuilderFlag.'
        'OBEY_PRECISION_CONSTRAINTS' in out
    )


def test_fp32_build_pins_nothing(fakes, tmp_path, capsys):
    b = graphs.write_bundle(tmp_path / 'p', 'precision')
    _mod, trt, _drv = fakes(api='8.2')
    assert main([b, '--precision', 'fp32', '--runs', '0'], capsys)[0] == 0
    assert trt.log['pinned'] == {} and trt.log['configs'][0].flags == []


def test_pins_without_the_onnx_package_fall_back_to_layer_types(fakes, tmp_path, monkeypatch):
    from vitedge_ros.runtime import trt_builder

    b = graphs.write_bundle(tmp_path / 'p', 'precision')
    _mod, trt, _drv = fakes(api='10')
    monkeypatch.setattr(trt_builder, 'load_onnx_model', lambda data, path: None)
    logs = []
    res = trt_builder.build_engine(
        b,
        trt_builder.BuildOptions(precision='fp16', audit=False),
        trt=trt,
        gpu=GpuInfo(GPU, (5, 3)),
        log=logs.append,
    )
    assert (
        res.pinned == {'/attn/softmax': 'softmax'}
        and res.precision_flag == 'OBEY_PRECISION_CONSTRAINTS'
    )
    assert any('onnx package is missing' in ln for ln in logs)


# ------------------------------------------------------------------------------------------
# TensorRT 11


def test_trt11_fp32_graph_builds_strongly_typed_fp32(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='11')
    assert not hasattr(trt.BuilderFlag, 'FP16') and not hasattr(trt.BuilderFlag, 'INT8')
    code, out, _err = main([bundle, '--precision', 'fp32', '--runs', '1'], capsys)
    assert code == 0 and 'strongly typed' in out and 'tensor API' in out
    assert trt.log['configs'][0].flags == [] and trt.log['pinned'] == {}
    assert (bundle / 'engines' / _key(bundle, trt, 'fp32')).is_file()


@pytest.mark.parametrize(
    'kind, precision, needle',
    [
        ('classifier', 'fp16', 'tools/export_onnx.py --fp16'),
        ('classifier', 'int8', 'QDQ INT8 bundle'),
        ('fp16', 'fp32', 'build --precision fp16'),
    ],
)
def test_trt11_refuses_what_the_graph_types_cannot_give(
    fakes, tmp_path, capsys, kind, precision, needle
):
    b = graphs.write_bundle(tmp_path / kind, kind)
    _mod, trt, _drv = fakes(api='11')
    extra = ['--calib-images', _calib_dir(tmp_path)] if precision == 'int8' else []
    code, _out, err = main([b, '--precision', precision] + extra, capsys)
    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line
    assert lines[0].startswith(
        'build_engine: unsupported: TensorRT 11.1.0.106 builds strongly typed networks only'
    )
    assert needle in lines[0] and 'TensorRT 8.2 to 10.x build fp32, fp16 and int8' in lines[0]
    assert trt.log['networks'] == [] and _engines(b) == []


@pytest.mark.parametrize('kind, precision', [('fp16', 'fp16'), ('qdq', 'int8')])
def test_trt11_builds_fp16_export_and_qdq_graph(fakes, tmp_path, capsys, kind, precision):
    b = graphs.write_bundle(tmp_path / kind, kind)
    _mod, trt, _drv = fakes(api='11')
    code, out, _err = main([b, '--precision', precision, '--runs', '0'], capsys)
    assert code == 0 and 'strongly typed' in out
    assert trt.log['configs'][0].flags == [] and not hasattr(
        trt.log['configs'][0], 'int8_calibrator'
    )
    assert (b / 'engines' / _key(b, trt, precision)).is_file()


def test_trt11_cli_subprocess_one_line(bundle, tmp_path):
    res = run_cli(bundle, '--precision', 'fp16', env=fake_env(tmp_path, ROOT, api='11'))
    assert res.returncode == 3 and len(res.stderr.strip().splitlines()) == 1
    assert 'strongly typed' in res.stderr and 'TensorRT 8.2 to 10.x' in res.stderr


# ------------------------------------------------------------------------------------------
# failures


def test_parse_errors_listed_node_by_node_trt8(fakes, bundle, capsys):
    import onnx

    nodes = onnx.load(str(bundle / 'model.onnx')).graph.node
    fakes(
        api='8.2',
        parse_errors=[
            {'node': 3, 'desc': 'No importer registered for op: Frobnicate'},
            {
                'node': 4,
                'desc': 'Assertion failed: inputs.at(0).is_tensor()',
                'code': 'INVALID_NODE',
            },
        ],
    )
    code, _out, err = main([bundle, '--precision', 'fp16'], capsys)
    assert code == 4
    assert 'could not parse' in err and '(2 errors)' in err
    assert (
        'node 3 {} ({}): No importer registered for op: Frobnicate'.format(
            nodes[3].name, nodes[3].op_type
        )
        in err
    )
    assert 'node 4 {} ({}): Assertion failed'.format(nodes[4].name, nodes[4].op_type) in err
    assert '[INVALID_NODE]' in err
    assert _files(bundle) == []


def test_parse_error_layernorm_hint_trt10_names(fakes, bundle, capsys):
    fakes(
        api='10',
        parse_errors=[
            {
                'node': 7,
                'name': '/blocks.0/norm1/LayerNormalization',
                'op': 'LayerNormalization',
                'desc': 'No importer registered',
            }
        ],
    )
    code, _out, err = main([bundle], capsys)
    assert code == 4
    assert (
        'node 7 /blocks.0/norm1/LayerNormalization (LayerNormalization): No importer registered'
        in err
    )
    assert 're-export the bundle with tools/export_onnx.py' in err


def test_builder_failure_exits_4(fakes, bundle, capsys):
    fakes(api='10', build_returns_none=True)
    code, _out, err = main([bundle, '--precision', 'fp16'], capsys)
    assert code == 4 and 'failed to build the fp16 engine' in err
    assert _engines(bundle) == []


def test_interrupted_build_leaves_no_engine(fakes, bundle, capsys):
    def hook(network, config):
        raise KeyboardInterrupt

    fakes(api='10', build_hook=hook)
    code, _out, err = main([bundle, '--precision', 'fp16'], capsys)
    assert code == 130 and 'interrupted; no engine written' in err
    assert _engines(bundle) == []


@pytest.mark.parametrize('exc, code', [(KeyboardInterrupt, 130), (OSError, 4)])
def test_interrupted_write_removes_temp_file(fakes, bundle, monkeypatch, capsys, exc, code):
    _mod, trt, _drv = fakes(api='10')
    seen = []
    real_fsync = os.fsync

    def fsync(fd):  # the temp file is fully written; interrupt just before the rename
        seen.append(sorted(_files(bundle)))
        raise exc('interrupted during the write')

    monkeypatch.setattr(os, 'fsync', fsync)
    got, _out, err = main([bundle, '--precision', 'fp16'], capsys)
    monkeypatch.setattr(os, 'fsync', real_fsync)
    assert got == code
    if exc is OSError:
        assert 'build failed: OSError: interrupted during the write (no engine written' in err
    key = _key(bundle, trt, 'fp16')
    assert seen and temp_filename(key) in seen[0]  # the temp existed under its hidden name...
    assert _engines(bundle) == []  # ...and is gone


def test_stale_temp_from_killed_build_is_cleaned(fakes, bundle, capsys):
    _mod, trt, _drv = fakes(api='10')
    (bundle / 'engines').mkdir()
    stale = bundle / 'engines' / temp_filename(_key(bundle, trt, 'fp16'), pid=2**22 + 4321)
    stale.write_bytes(b'half an engine')
    assert main([bundle, '--runs', '0'], capsys)[0] == 0
    assert not stale.exists() and (bundle / 'engines' / _key(bundle, trt, 'fp16')).is_file()


def test_tiny_vit_bundle_builds_on_every_api_its_graph_is_audited_for(
    fakes, request, tmp_path, capsys
):
    """
    A real exported ViT bundle (whatever opset the exporter writes).

    Where the audit passes, the fake
    parser accepts it and the build runs; where it does not, the refusal names the target.
    """
    pytest.importorskip('torch')  # the bundle is exported here (not in the Python 3.6 lane)
    from vitedge_ros.export.trt_audit import audit_model, target_for_trt_version

    tiny_classifier_bundle = request.getfixturevalue('tiny_classifier_bundle')

    for api in ('8.2', '8.6', '10'):
        b = tmp_path / api
        shutil.copytree(str(tiny_classifier_bundle), str(b))
        _mod, trt, _drv = fakes(api=api)
        findings = audit_model(str(b / 'model.onnx'), target_for_trt_version(trt.__version__))
        code, _out, err = main([b, '--precision', 'fp16', '--runs', '0'], capsys)
        assert code == (4 if findings else 0), err
        if findings:
            assert 'audit target {}'.format(target_for_trt_version(trt.__version__)) in err
        forget_engine_module()

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
``tools/benchmark.py --gpu``.

Real GPU figures for the graphs of the last CPU run, into bench/gpu.json.

Run it on a GPU machine after a CPU run in the same checkout (it reads the ONNX graphs and
checkpoints in the work directory). Per model, in one process and interleaved: torch CUDA eager
FP32 (and FP16) where a torch module exists, onnxruntime with the CUDAExecutionProvider (FP32
graph; INT8 QDQ graph where it runs), and TensorRT engines built with
``vitedge_ros.runtime.trt_builder`` (FP16 from the FP32 graph, INT8 from the QDQ graph). A backend
that is missing or fails is recorded with its error and left out of the figures. The schema is
described in ``vitedge_ros.bench.roofline``.
"""

import datetime
import json
from pathlib import Path
import shutil
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from .stats import interleaved, latency_summary, ratio_stat, SIG


def _gpu_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001
        pass
    try:
        import subprocess

        out = subprocess.run(
            ['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return 'unknown GPU'


def _torch_cuda(module: Any, shape: List[int], half: bool) -> Callable[[], Any]:
    import torch

    m = module.cuda().eval()
    x = torch.randn(*shape, device='cuda')
    if half:
        m, x = m.half(), x.half()

    def run() -> Any:
        with torch.inference_mode():
            y = m(x)
        torch.cuda.synchronize()
        return y

    return run


def _ort_cuda(path: Path, shape: List[int]) -> Callable[[], Any]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=['CUDAExecutionProvider'])
    if 'CUDAExecutionProvider' not in sess.get_providers():
        raise RuntimeError('CUDAExecutionProvider not available (onnxruntime-gpu not installed?)')
    name = sess.get_inputs()[0].name
    feed = {name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    return lambda: sess.run(None, feed)


def _trt(path: Path, precision: str, scratch: Path) -> Callable[[], Any]:
    from ..runtime.bundle import write_bundle_yaml
    from ..runtime.engines.tensorrt_engine import TensorRTEngine
    from ..runtime.trt_builder import build_engine, BuildOptions

    bdir = scratch / '{}-{}'.format(path.stem, precision)
    if bdir.exists():
        shutil.rmtree(bdir)
    bdir.mkdir(parents=True)
    shutil.copyfile(path, bdir / 'model.onnx')
    import onnx

    dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    write_bundle_yaml(
        bdir,
        {
            'name': path.stem,
            'task': 'classify',
            'labels': ['x'] * 2,
            'input': {
                'width': dims[3],
                'height': dims[2],
                'color': 'rgb',
                'mean': [0.5] * 3,
                'std': [0.5] * 3,
                'resize': 'stretch',
            },
            'decoder': {'type': 'classifier', 'top_k': 1},
            'source': {'note': 'gpu benchmark'},
        },
    )
    res = build_engine(bdir, BuildOptions(precision=precision), log=lambda s: None)
    eng = TensorRTEngine(Path(res.engine_path))
    x = np.zeros(eng.input_shape, np.float32)
    return lambda: eng.infer(x)


def run_gpu(
    work: Union[str, Path],
    bundle: Union[str, Path],
    bench_dir: Union[str, Path],
    rounds: int = 7,
    block: int = 20,
    warmup: int = 10,
) -> Dict[str, Any]:
    """
    Measure every available GPU backend for the last CPU run's graphs.

    Returns gpu.json's dict.
    """
    import torch

    from .render import load_results
    from ..checkpoint import load_checkpoint
    from ..models import create_model

    work, bundle = Path(work), Path(bundle)
    res = load_results(bench_dir)
    models: List[Dict[str, Any]] = []
    dig = res.get('digits')
    if dig and dig.get('status') != 'pending':
        pts = {p['name']: p for p in dig['points']}
        final = dig['pareto']['final']
        fp32 = [c['name'] for c in dig['pareto']['compressed'] if c['name'] != final][0]
        stages = sorted((work / 'digits' / 'compress' / 'stages').glob('*.pt'))

        def module_of(stage: str) -> Optional[Any]:
            for s in stages:
                if s.stem.split('-', 1)[1] == stage:
                    return load_checkpoint(s)['model']
            return None

        models += [
            {
                'key': 'digits/baseline',
                'onnx': work / pts['baseline']['onnx'],
                'module': module_of('baseline'),
                'fp32': True,
            },
            {
                'key': 'digits/compressed_fp32',
                'onnx': work / pts[fp32]['onnx'],
                'module': module_of(fp32),
                'fp32': True,
            },
            {
                'key': 'digits/compressed_int8',
                'onnx': work / pts[final]['onnx'],
                'module': None,
                'fp32': False,
            },
        ]
    lat = res.get('latency')
    if lat and lat.get('status') != 'pending':
        for m in lat['models']:
            torch.manual_seed(0)
            mod = create_model(
                m['arch'], num_classes=1000, img_size=m['input'][2], pretrained=False
            ).eval()
            models += [
                {
                    'key': m['key'] + '/baseline',
                    'onnx': work / m['onnx']['baseline'],
                    'module': mod,
                    'fp32': True,
                },
                {
                    'key': m['key'] + '/compressed_fp32',
                    'onnx': work / m['onnx']['compressed_fp32'],
                    'module': None,
                    'fp32': True,
                },
                {
                    'key': m['key'] + '/compressed_int8',
                    'onnx': work / m['onnx']['compressed_int8'],
                    'module': None,
                    'fp32': False,
                },
            ]
    if (bundle / 'model.onnx').is_file():
        models.append(
            {'key': 'aerial_vit_tiny', 'onnx': bundle / 'model.onnx', 'module': None, 'fp32': True}
        )
    figures: List[Dict[str, Any]] = []
    errors: List[Dict[str, str]] = []
    scratch = work / 'gpu'
    for m in models:
        import onnx

        dims = [
            d.dim_value
            for d in onnx.load(str(m['onnx'])).graph.input[0].type.tensor_type.shape.dim
        ]
        fns: Dict[tuple, Callable[[], Any]] = {}
        cands = []
        prec = 'fp32' if m['fp32'] else 'int8'
        if m['module'] is not None:
            cands += [
                (('torch-cuda', 'fp32'), lambda m=m, d=dims: _torch_cuda(m['module'], d, False)),
                (('torch-cuda', 'fp16'), lambda m=m, d=dims: _torch_cuda(m['module'], d, True)),
            ]
        cands.append((('onnxruntime-cuda', prec), lambda m=m, d=dims: _ort_cuda(m['onnx'], d)))
        cands.append(
            (
                ('tensorrt', 'fp16' if m['fp32'] else 'int8'),
                lambda m=m: _trt(m['onnx'], 'fp16' if m['fp32'] else 'int8', scratch),
            )
        )
        for key, make in cands:
            try:
                fns[key] = make()
            except Exception as exc:  # noqa: BLE001 - a missing backend is recorded, not fatal
                errors.append(
                    {
                        'model': m['key'],
                        'backend': key[0],
                        'precision': key[1],
                        'error': str(exc).splitlines()[0][:300]
                        if str(exc)
                        else type(exc).__name__,
                    }
                )
        if not fns:
            continue
        samples = interleaved(
            {'{}|{}'.format(*k): f for k, f in fns.items()},
            rounds=rounds,
            block=block,
            warmup=warmup,
        )
        ref = samples.get('torch-cuda|fp32')
        for k in fns:
            s = samples['{}|{}'.format(*k)]
            figures.append(
                {
                    'model': m['key'],
                    'backend': k[0],
                    'precision': k[1],
                    'latency_ms': latency_summary(s, SIG),
                    'speedup_vs_torch_cuda_fp32': ratio_stat(ref, s) if ref else None,
                }
            )
    versions: Dict[str, Any] = {'torch': torch.__version__}
    for name in ('onnxruntime', 'tensorrt'):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001
            versions[name] = None
    return {
        'section': 'gpu',
        'device': _gpu_name(),
        'source': 'tools/benchmark.py --gpu',
        'date_utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'versions': versions,
        'measure': {
            'rounds': rounds,
            'block': block,
            'warmup': warmup,
            'batch': 1,
            'same_process': True,
            'timing': 'host wall clock incl. sync',
        },
        'figures': figures,
        'errors': errors,
    }


def dumps(data: Dict[str, Any]) -> str:
    """JSON text of a gpu result (for tools that add one)."""
    return json.dumps(data, indent=1) + '\n'

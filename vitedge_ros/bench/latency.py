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
One model four ways: timm eager FP32, onnxruntime FP32, compressed FP32 and INT8 QDQ.

The last two are the compressed recipe's FP32 and INT8 QDQ ONNX graphs.

Here for DeiT-Tiny at 224×224 with random weights (the digits-trained models are measured the same
way in the digits section).

DeiT-Tiny has no trained weights here (no model hub), so its "compressed recipe" is the digits
recipe's structural part applied to random weights: the same prune stage with magnitude importance
(Taylor needs gradients of a task loss), the same low-rank stage, and the same INT8 QDQ settings
calibrated on random normal inputs. Its accuracy means nothing; its latency, MACs and size do.
"""

import copy
from pathlib import Path
import time
from typing import Any, Callable, Dict, Union

import numpy as np
import torch

from .digits import _ort_call, _torch_call, load_bench_recipe, quiet_logs
from .stats import interleaved, latency_summary, ratio_stat, SIG
from ..compress.measure import count_params, graph_stats, onnx_bytes


def compress_structural(model: torch.nn.Module, recipe: Dict[str, Any]) -> Dict[str, Any]:
    """
    Apply the recipe's prune (magnitude importance) and low-rank stages in place.

    Returns what was done.
    """
    from ..compress.lowrank import factorize
    from ..compress.prune import prune_vit

    done: Dict[str, Any] = {}
    for st in recipe['stages']:
        if st['type'] == 'prune':
            info = prune_vit(
                model,
                st['ratio'],
                importance='magnitude',
                heads=st['heads'],
                head_dims=st['head_dims'],
                mlp=st['mlp'],
                embed=st['embed'],
                global_ranking=st['global'],
                embed_ratio=st['embed_ratio'],
                heads_ratio=st['heads_ratio'],
                mlp_ratio=st['mlp_ratio'],
                round_to=st['round_to'],
            )
            done['prune'] = {
                'ratio': st['ratio'],
                'importance': 'magnitude',
                'after': info['after'],
            }
        elif st['type'] == 'lowrank':
            info = factorize(
                model,
                energy=st['energy'],
                params=st['params'],
                include=st['include'],
                exclude=st['exclude'],
                only_if_saves=st['only_if_saves'],
                min_rank=st['min_rank'],
                max_macs_ratio=st['max_macs_ratio'],
            )
            done['lowrank'] = {
                'factorized_layers': len(info['layers']),
                'dense_layers': len(info['skipped']),
            }
    return done


def run_latency(
    recipe_path: Union[str, Path],
    root: Union[str, Path],
    work: Union[str, Path],
    *,
    arch: str = 'deit_tiny_patch16_224',
    img_size: int = 224,
    rounds: int = 5,
    block: int = 5,
    warmup: int = 3,
    calib_samples: int = 16,
    seed: int = 0,
) -> Dict[str, Any]:
    """
    Build, compress, export and quantize ``arch`` (random init) and time it four ways.

    Returns the dict.
    """
    from ..compress.quantize import quantize_int8
    from ..export import export_onnx
    from ..models import create_model

    t_start = time.perf_counter()
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    rec = load_bench_recipe(recipe_path, root)
    torch.manual_seed(seed)
    model = create_model(arch, num_classes=1000, img_size=img_size, pretrained=False).eval()
    shape = (1, 3, img_size, img_size)
    paths = {
        'baseline': work / 'baseline.onnx',
        'compressed_fp32': work / 'compressed_fp32.onnx',
        'compressed_int8': work / 'compressed_int8.onnx',
    }
    export_onnx(model, paths['baseline'], shape, output_names=['logits'])
    small = copy.deepcopy(model)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    done = compress_structural(small, rec)
    small.eval()
    export_onnx(small, paths['compressed_fp32'], shape, output_names=['logits'])
    q = [s for s in rec['stages'] if s['type'] == 'quantize'][-1]
    calib = (
        np.random.default_rng(seed)
        .standard_normal((calib_samples,) + shape[1:])
        .astype(np.float32)
    )
    with quiet_logs():
        quantize_int8(
            paths['compressed_fp32'],
            paths['compressed_int8'],
            calib,
            method=q['calibration'],
            percentile=q['percentile'],
            keep_fp32=q['keep_fp32'],
            exclude=q['exclude'],
            per_channel=q['per_channel'],
        )
    done['quantize'] = {
        'mode': 'int8 QDQ',
        'calibration': q['calibration'],
        'percentile': q['percentile'],
        'keep_fp32': list(q['keep_fp32']),
        'calib_samples': calib_samples,
        'calib_data': 'random normal',
    }

    torch.set_num_threads(1)
    x = np.random.default_rng(seed + 1).standard_normal(shape).astype(np.float32)
    fns: Dict[str, Callable[[], Any]] = {'timm_eager': _torch_call(model, x)}
    for k, p in paths.items():
        fns[k] = _ort_call(p, x, 1)
    t0 = time.perf_counter()
    samples = interleaved(fns, rounds=rounds, block=block, warmup=warmup)
    seconds = time.perf_counter() - t0
    stats_g = {k: graph_stats(p) for k, p in paths.items()}
    labels = {
        'timm_eager': 'timm, torch eager FP32',
        'baseline': 'same model, onnxruntime FP32',
        'compressed_fp32': 'compressed recipe, FP32 ONNX',
        'compressed_int8': 'compressed recipe, INT8 QDQ ONNX',
    }
    rows = []
    for key in ('timm_eager', 'baseline', 'compressed_fp32', 'compressed_int8'):
        g = stats_g['baseline' if key == 'timm_eager' else key]
        rows.append(
            {
                'key': key,
                'label': labels[key],
                'latency_ms': latency_summary(samples[key], SIG),
                'speedup_vs_timm_eager': ratio_stat(samples['timm_eager'], samples[key]),
                'macs': int(g['macs']),
                'params': count_params(small if 'compressed' in key else model),
                'onnx_bytes': onnx_bytes(paths['baseline' if key == 'timm_eager' else key]),
            }
        )
    return {
        'section': 'latency',
        'models': [
            {
                'model': '{} ({}x{}, random init)'.format(arch, img_size, img_size),
                'key': 'deit_tiny_224',
                'arch': arch,
                'input': list(shape),
                'weights': 'random init (seed {})'.format(seed),
                'compression': done,
                'rows': rows,
                'onnx': {k: str(p.relative_to(work.parent)) for k, p in paths.items()},
            }
        ],
        'measure': {
            'onnxruntime_threads': 1,
            'torch_threads': 1,
            'rounds': rounds,
            'block': block,
            'warmup': warmup,
            'batch': 1,
            'provider': 'CPUExecutionProvider',
            'same_process': True,
            'seconds': round(seconds, 1),
        },
        'seconds': round(time.perf_counter() - t_start, 1),
    }

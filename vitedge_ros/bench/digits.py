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
Digits: the compression recipe stage by stage against Torch-Pruning and onnxruntime quantizers.

Each baseline is one of those tools alone, with its defaults.

The recipe's stages and the three baselines below are compared by top-1 on the digits test set and
onnxruntime CPU latency, all measured in this process, interleaved, with repeats; then the Pareto
front.

The baselines start from the recipe's own baseline checkpoint:

* **Torch-Pruning alone** (``tp_alone``): ``torch_pruning.pruner.MetaPruner`` with group magnitude
  (L2) importance, one uniform channel ratio over embedding, head dimensions and MLP (heads kept,
  the classifier head ignored), the ratio bisected so that the ONNX graph has the compressed FP32
  model's MACs; then the recipe's fine-tuning schedule (epochs, lr, batch) with plain cross-entropy
  — no distillation.
* **quantize_static alone** (``ort_static_default``):
  ``onnxruntime.quantization.quantize_static(baseline.onnx, out, reader)`` with nothing else (that
  version's defaults: QDQ, uint8 activations, int8 per-tensor weights, min-max), calibrated on the
  same training images as the recipe's INT8 stage.
* **dynamic INT8 alone** (``ort_dynamic_default``): ``quantize_dynamic(baseline.onnx, out)`` with
  its defaults.
"""

import copy
import logging
from pathlib import Path
import shutil
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from .pareto import dominated_by, pareto_front
from .stats import interleaved, latency_summary, ratio_stat, round_sig, SIG
from ..compress.measure import count_params, graph_stats, onnx_bytes, ort_session

LOG = logging.getLogger(__name__)

BASELINE_NAMES = ('baseline', 'tp_alone', 'ort_static_default', 'ort_dynamic_default')


def raw_bench_recipe(path: Union[str, Path], root: Union[str, Path]) -> Dict[str, Any]:
    """
    Return the recipe YAML as a dict.

    Its checkpoint path is resolved against the repository root.
    """
    import yaml

    raw = yaml.safe_load(Path(path).read_text())
    ck = (raw.get('model') or {}).get('checkpoint')
    if ck and not Path(ck).is_absolute():
        raw['model']['checkpoint'] = str(Path(root) / ck)
    raw.setdefault('name', Path(path).stem)
    return raw


def load_bench_recipe(path: Union[str, Path], root: Union[str, Path]) -> Dict[str, Any]:
    """
    Return the validated recipe at ``path``, defaults filled in.

    Its checkpoint path is resolved against the repository root ``root``.
    """
    from ..compress.recipe import validate_recipe

    rec = validate_recipe(raw_bench_recipe(path, root), str(path))
    rec['name'] = rec['name'] or Path(path).stem
    return rec


def train_baseline(
    source_recipe: Union[str, Path],
    out_ckpt: Union[str, Path],
    work: Union[str, Path],
    threads: int = 2,
    progress: bool = True,
) -> Dict[str, Any]:
    """
    Train the baseline of ``source_recipe`` and save it.

    The baseline is the recipe's first stage: fine-tuning from scratch.

    The checkpoint is the runner's stage-0 checkpoint: the model, its bundle metadata, the test
    top-1 and the training history (epochs, seconds) in ``extra.entry``.
    """
    from ..compress.runner import run_recipe

    raw = raw_bench_recipe(source_recipe, Path.cwd())
    raw['stages'] = raw['stages'][:1]
    work = Path(work)
    report = run_recipe(raw, work, threads=threads, progress=progress)
    stage = sorted((work / 'stages').glob('00-*.pt'))[0]
    Path(out_ckpt).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stage, out_ckpt)
    return report


# --- Torch-Pruning alone -------------------------------------------------------------------------


def tp_prune(model: nn.Module, ratio: float, example: torch.Tensor) -> nn.Module:
    """
    Return a copy of a timm ViT pruned by Torch-Pruning's MetaPruner.

    The pruner uses magnitude importance and one uniform ratio.
    """
    from timm.models.vision_transformer import Attention
    import torch_pruning as tp

    model = copy.deepcopy(model).eval()
    num_heads = {m.qkv: m.num_heads for m in model.modules() if isinstance(m, Attention)}
    ignored = [model.head] if isinstance(getattr(model, 'head', None), nn.Linear) else []
    # the embedding-coupled tokens: prune their last (channel) dimension, as MetaPruner would guess
    unwrapped = [
        (t, -1)
        for t in (
            getattr(model, n, None) for n in ('cls_token', 'dist_token', 'reg_token', 'pos_embed')
        )
        if isinstance(t, nn.Parameter)
    ]
    pruner = tp.pruner.MetaPruner(
        model,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=float(ratio),
        ignored_layers=ignored,
        num_heads=num_heads,
        unwrapped_parameters=unwrapped,
        prune_head_dims=True,
        prune_num_heads=False,
        global_pruning=False,
    )
    pruner.step()
    for m in model.modules():
        if isinstance(m, Attention):
            m.num_heads = pruner.num_heads[m.qkv]
            m.head_dim = m.qkv.out_features // (3 * m.num_heads)
            if hasattr(m, 'attn_dim'):
                m.attn_dim = m.num_heads * m.head_dim
            m.scale = m.head_dim**-0.5
    return model.eval()


def _onnx_macs(
    model: nn.Module, shape: Tuple[int, ...], path: Path, simplify: bool = False
) -> int:
    """
    Count the MACs of the model's ONNX graph.

    ``simplify`` is off by default: simplification does not change MatMul/Gemm MACs.
    """
    from ..export import export_onnx

    export_onnx(model, path, shape, output_names=['logits'], do_simplify=simplify)
    return int(graph_stats(path)['macs'])


def tp_match_macs(
    model: nn.Module, target_macs: int, shape: Tuple[int, ...], tmp: Path, iters: int = 9
) -> Tuple[nn.Module, Dict[str, Any]]:
    """
    Bisect MetaPruner's ratio so that the pruned ONNX graph's MACs come closest to ``target_macs``.

    Returns the pruned model and the search record (ratio, MACs, target, relative error, trials).
    """
    example = torch.zeros(*shape)
    lo, hi = 0.0, 0.95
    best: Optional[Tuple[float, float, int, nn.Module]] = None
    trials = []
    for _ in range(iters):
        mid = (lo + hi) / 2.0
        cand = tp_prune(model, mid, example)
        macs = _onnx_macs(cand, shape, tmp / 'tp_trial.onnx')
        trials.append({'ratio': round(mid, 5), 'macs': macs})
        err = abs(macs - target_macs) / float(target_macs)
        if best is None or err < best[0]:
            best = (err, mid, macs, cand)
        if macs > target_macs:
            lo = mid
        else:
            hi = mid
    err, ratio, macs, pruned = best
    return pruned, {
        'ratio': round(ratio, 5),
        'macs': macs,
        'target_macs': int(target_macs),
        'macs_rel_error': round_sig(err, 3),
        'trials': trials,
    }


# --- evaluation ----------------------------------------------------------------------------------


def onnx_top1(path: Union[str, Path], x: np.ndarray, y: np.ndarray, threads: int = 1) -> float:
    """Top-1 of a batch-1 classifier graph over the test set (onnxruntime CPU)."""
    from ..compress.quantize import run_onnx

    logits = run_onnx(path, x, threads)[0]
    return float((logits.argmax(1) == y).mean())


def _ort_call(path: Union[str, Path], x: np.ndarray, threads: int) -> Callable[[], Any]:
    sess = ort_session(path, threads)
    name = sess.get_inputs()[0].name
    feed = {name: np.ascontiguousarray(x, dtype=np.float32)}
    return lambda: sess.run(None, feed)


def _torch_call(model: nn.Module, x: np.ndarray) -> Callable[[], Any]:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    model = model.eval()

    def run() -> Any:
        with torch.inference_mode():
            return model(t)

    return run


class quiet_logs:
    """
    Raise the root logger to ERROR inside the block.

    onnxruntime's quantizer warns on the root logger.
    """

    def __enter__(self) -> None:
        self.level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)

    def __exit__(self, *exc: Any) -> None:
        logging.getLogger().setLevel(self.level)


# --- the section ---------------------------------------------------------------------------------


def run_digits(
    recipe_path: Union[str, Path],
    root: Union[str, Path],
    work: Union[str, Path],
    *,
    threads: int = 2,
    rounds: int = 7,
    block: int = 20,
    warmup: int = 10,
    progress: bool = True,
) -> Dict[str, Any]:
    """Run the recipe and the three baselines, all measured in this process; return digits.json."""
    from onnxruntime.quantization import quantize_dynamic, quantize_static

    from ..checkpoint import load_checkpoint
    from ..compress.quantize import ArrayReader
    from ..compress.runner import run_recipe
    from ..data.digits import load_digits_split
    from ..export import export_onnx
    from ..training.evaluate import evaluate_classifier
    from ..training.loop import train_classifier

    t_start = time.perf_counter()
    root, work = Path(root), Path(work)
    rec = load_bench_recipe(recipe_path, root)
    cdir = work / 'compress'
    if cdir.exists():
        shutil.rmtree(cdir)
    t0 = time.perf_counter()
    report = run_recipe(
        raw_bench_recipe(recipe_path, root), cdir, threads=threads, progress=progress
    )
    recipe_seconds = time.perf_counter() - t0
    entries = {e['name']: e for e in report['stages']}
    order = [e['name'] for e in report['stages']]
    fp32_final = [e for e in report['stages'] if not e.get('branch') and e['type'] != 'quantize'][
        -1
    ]
    q_final = report['stages'][-1]
    if q_final['type'] != 'quantize':
        raise RuntimeError('the bench recipe must end with a quantize stage')

    d = rec['data']
    size = int(d['img_size'] if isinstance(d['img_size'], int) else d['img_size'][0])
    xtr, ytr, xte, yte = load_digits_split(
        img_size=size, seed=d['seed'], test_fraction=d['test_fraction']
    )
    shape = (1, 3, size, size)
    ck = load_checkpoint(rec['model']['checkpoint'])
    base_model = ck['model'].float().eval()
    base_onnx = cdir / entries['baseline']['onnx']
    quant_st = [s for s in rec['stages'] if s['type'] == 'quantize'][-1]
    ft_st = [s for s in rec['stages'] if s['type'] == 'finetune'][-1]
    calib = np.ascontiguousarray(xtr[: quant_st['calib_batches'] * quant_st['calib_batch_size']])

    # (a) Torch-Pruning alone at the compressed model's MACs, fine-tuned without distillation
    bdir = work / 'baselines'
    bdir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    tp_model, tp_info = tp_match_macs(base_model, int(fp32_final['macs']), shape, bdir)
    tp_info['top1_before_finetune'] = round_sig(evaluate_classifier(tp_model, xte, yte), 6)
    idx = [i for i, s in enumerate(rec['stages']) if s is ft_st][0]
    hist = train_classifier(
        tp_model,
        xtr,
        ytr,
        epochs=ft_st['epochs'],
        batch_size=ft_st['batch_size'],
        lr=ft_st['lr'],
        weight_decay=ft_st['weight_decay'],
        seed=rec['seed'] + idx,
        augment=ft_st['augment'],
        label_smoothing=ft_st['label_smoothing'],
        progress=progress,
    )
    tp_model.eval()
    tp_onnx = bdir / 'tp_alone.onnx'
    export_onnx(tp_model, tp_onnx, shape, output_names=['logits'])
    tp_info['finetune'] = {
        'epochs': ft_st['epochs'],
        'lr': ft_st['lr'],
        'batch_size': ft_st['batch_size'],
        'distill': None,
        'seconds': round(sum(h['seconds'] for h in hist), 1),
    }
    tp_info['seconds'] = round(time.perf_counter() - t0, 1)

    # (b) quantize_static with its defaults, (c) quantize_dynamic with its defaults
    static_onnx, dynamic_onnx = bdir / 'ort_static_default.onnx', bdir / 'ort_dynamic_default.onnx'
    input_name = ort_session(base_onnx).get_inputs()[0].name
    with quiet_logs():
        quantize_static(str(base_onnx), str(static_onnx), ArrayReader(input_name, calib))
        quantize_dynamic(str(base_onnx), str(dynamic_onnx))

    # every graph: top-1 on the test set and its size
    graphs: Dict[str, Path] = {}
    meta: Dict[str, Dict[str, Any]] = {}
    for name in order:
        e = entries[name]
        graphs[name] = cdir / e['onnx']
        meta[name] = {
            'kind': 'recipe',
            'stage_type': e['type'],
            'params': e['params'],
            'precision': e.get('precision', 'fp32'),
            'branch': bool(e.get('branch')),
            'runner_metric': {
                k: v for k, v in (e.get('metric') or {}).items() if isinstance(v, (int, float))
            },
        }
        for vname, v in ((e.get('details') or {}).get('variants') or {}).items():
            if 'error' in v:
                continue
            key = '{}/{}'.format(name, vname)
            graphs[key] = cdir / v['onnx']
            meta[key] = {
                'kind': 'recipe',
                'stage_type': 'quantize',
                'params': e['params'],
                'precision': vname,
                'branch': True,
                'runner_metric': {},
            }
    base_params = count_params(base_model)
    graphs['tp_alone'] = tp_onnx
    meta['tp_alone'] = {
        'kind': 'baseline',
        'stage_type': 'torch-pruning',
        'params': count_params(tp_model),
        'precision': 'fp32',
        'branch': False,
    }
    graphs['ort_static_default'] = static_onnx
    meta['ort_static_default'] = {
        'kind': 'baseline',
        'stage_type': 'quantize_static',
        'params': base_params,
        'precision': 'int8',
        'branch': False,
    }
    graphs['ort_dynamic_default'] = dynamic_onnx
    meta['ort_dynamic_default'] = {
        'kind': 'baseline',
        'stage_type': 'quantize_dynamic',
        'params': base_params,
        'precision': 'int8-dynamic',
        'branch': False,
    }
    meta['baseline']['kind'] = 'baseline'
    for name, path in graphs.items():
        meta[name]['top1'] = round_sig(onnx_top1(path, xte, yte), 6)
        meta[name]['macs'] = int(graph_stats(path)['macs'])
        meta[name]['onnx_bytes'] = onnx_bytes(path)
        meta[name]['onnx'] = str(
            path.relative_to(work.parent)
        )  # relative to the benchmark's work dir

    # latency: every graph (onnxruntime, 1 thread) and timm eager (torch, 1 thread), interleaved
    torch.set_num_threads(1)
    x1 = xte[:1]
    fns: Dict[str, Callable[[], Any]] = {'timm_eager': _torch_call(base_model, x1)}
    for name, path in graphs.items():
        fns[name] = _ort_call(path, x1, 1)
    t0 = time.perf_counter()
    samples = interleaved(fns, rounds=rounds, block=block, warmup=warmup)
    latency_seconds = time.perf_counter() - t0

    points: List[Dict[str, Any]] = []
    for name in graphs:
        m = meta[name]
        lat = latency_summary(samples[name], SIG)
        points.append(
            {
                'name': name,
                'label': LABELS.get(name, _stage_label(name, m)),
                **m,
                'latency_ms': lat,
                'speedup_vs_baseline': ratio_stat(samples['baseline'], samples[name]),
            }
        )
    pts = [
        {'name': p['name'], 'latency_ms': p['latency_ms']['median_ms'], 'top1': p['top1']}
        for p in points
    ]
    front = pareto_front(pts)
    for p in points:
        p['on_front'] = p['name'] in front
    compressed = []
    for name in (q_final['name'], fp32_final['name']):
        doms = dominated_by(pts, name)
        compressed.append(
            {
                'name': name,
                'role': 'final (the bundle)'
                if name == q_final['name']
                else 'compressed FP32 (source of the INT8 stage)',
                'on_front': name in front,
                'dominated_by': doms,
                'dominated_by_baselines': [n for n in doms if n in BASELINE_NAMES],
            }
        )
    final = compressed[0]
    best_compressed_ok = any(not c['dominated_by_baselines'] for c in compressed)

    four = []
    ways = [
        ('timm_eager', 'timm, torch eager FP32'),
        ('baseline', 'same model, onnxruntime FP32'),
        (fp32_final['name'], 'compressed recipe, FP32 ONNX'),
        (q_final['name'], 'compressed recipe, INT8 QDQ ONNX'),
    ]
    for key, label in ways:
        row = {
            'key': key,
            'label': label,
            'latency_ms': latency_summary(samples[key], SIG),
            'speedup_vs_timm_eager': ratio_stat(samples['timm_eager'], samples[key]),
        }
        if key != 'timm_eager':
            row.update(
                {
                    'top1': meta[key]['top1'],
                    'macs': meta[key]['macs'],
                    'params': meta[key]['params'],
                }
            )
        else:
            row.update(
                {
                    'top1': round_sig(evaluate_classifier(base_model, xte, yte), 6),
                    'macs': meta['baseline']['macs'],
                    'params': base_params,
                }
            )
        four.append(row)

    return {
        'section': 'digits',
        'recipe': {
            'path': str(Path(recipe_path).relative_to(root))
            if Path(recipe_path).is_absolute()
            else str(recipe_path),
            'name': rec['name'],
            'stages': [
                {k: v for k, v in s.items() if v not in (None, [], {})} for s in rec['stages']
            ],
        },
        'baseline_checkpoint': {
            'path': str(Path(rec['model']['checkpoint']).relative_to(root)),
            'name': ck.get('name'),
            'epochs': _epochs(ck),
            'train_seconds': _train_seconds(ck),
            'arch': ck.get('arch'),
            'model_config': ck.get('model_config'),
            'params': base_params,
        },
        'data': {
            'name': 'digits',
            'img_size': size,
            'train': int(len(ytr)),
            'test': int(len(yte)),
            'seed': d['seed'],
            'test_fraction': d['test_fraction'],
        },
        'stage_seconds': {e['name']: e.get('seconds') for e in report['stages']},
        'recipe_seconds': round(recipe_seconds, 1),
        'torch_pruning': tp_info,
        'quantize_static_call': 'quantize_static(baseline.onnx, out, reader)  # {} calibration '
        'images'.format(len(calib)),
        'quantize_dynamic_call': 'quantize_dynamic(baseline.onnx, out)',
        'measure': {
            'onnxruntime_threads': 1,
            'torch_threads': 1,
            'rounds': rounds,
            'block': block,
            'warmup': warmup,
            'batch': 1,
            'provider': 'CPUExecutionProvider',
            'same_process': True,
            'seconds': round(latency_seconds, 1),
        },
        'points': points,
        'order': order + [k for k in graphs if k not in order],
        'pareto': {
            'x': 'latency_ms.median_ms',
            'y': 'top1',
            'front': front,
            'compressed': compressed,
            'final': final['name'],
            'final_on_front': final['on_front'],
            'final_dominated_by_baselines': final['dominated_by_baselines'],
            'some_compressed_model_undominated_by_baselines': best_compressed_ok,
        },
        'four_ways': {
            'model': 'digits ViT ({}x{}, {})'.format(size, size, _arch_desc(ck)),
            'input': list(shape),
            'weights': 'trained on digits',
            'rows': four,
        },
        'seconds': round(time.perf_counter() - t_start, 1),
    }


LABELS = {
    'baseline': 'baseline (FP32, uncompressed)',
    'tp_alone': '(a) Torch-Pruning alone, same MACs, fine-tuned without distillation',
    'ort_static_default': '(b) onnxruntime quantize_static alone, defaults',
    'ort_dynamic_default': '(c) onnxruntime quantize_dynamic alone, defaults',
}


def _stage_label(name: str, m: Dict[str, Any]) -> str:
    if '/' in name:
        return 'recipe: {} variant of the INT8 stage'.format(name.split('/', 1)[1])
    return 'recipe stage: {} ({})'.format(name, m['stage_type'])


def _epochs(ck: Dict[str, Any]) -> Optional[int]:
    entry = (ck.get('extra') or {}).get('entry') or {}
    ep = (entry.get('details') or {}).get('epochs')
    return int(ep) if ep is not None else None


def _train_seconds(ck: Dict[str, Any]) -> Optional[float]:
    entry = (ck.get('extra') or {}).get('entry') or {}
    hist = (entry.get('details') or {}).get('history') or []
    secs = [h.get('seconds') for h in hist if isinstance(h, dict) and h.get('seconds') is not None]
    return round(float(sum(secs)), 1) if secs else None


def _arch_desc(ck: Dict[str, Any]) -> str:
    mc = ck.get('model_config') or {}
    parts = [str(mc.get('arch') or ck.get('arch') or 'vit')]
    for k in ('patch_size', 'depth', 'embed_dim'):
        if k in mc:
            parts.append('{} {}'.format(k, mc[k]))
    return ', '.join(parts)

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
The replay measured for docs/BENCHMARKS.md.

``tools/eval_bag.py`` in a fresh process on a synthetic flight.
"""

from collections import OrderedDict
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
from typing import Any, Dict, Optional, Sequence, Union

from .errors import BagReplayError

__all__ = ['benchmark_replay', 'replay_subprocess']


def replay_subprocess(args: Sequence[str], timeout: Optional[float] = None) -> Dict[str, Any]:
    """
    Run ``tools/eval_bag.py``'s command line in a fresh Python process and return its metrics.json.

    ``args`` are the command-line arguments (``BAG --bundle DIR --image-topic T --out DIR ...``). A
    fresh process makes ``peak_rss_mb`` and ``torch_imported`` describe the replay alone
    (benchmarks use this).

    Raises
    ------
        BagReplayError: the run failed (its stderr tail is in the message).

    """
    args = [str(a) for a in args]
    if '--out' not in args:
        raise BagReplayError('replay_subprocess: --out DIR is required')
    out_dir = Path(args[args.index('--out') + 1])
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env['PYTHONPATH'] = root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    proc = subprocess.run(
        [sys.executable, '-m', 'vitedge_ros.replay.cli'] + args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise BagReplayError(
            'eval_bag failed (exit {}): {}'.format(
                proc.returncode, proc.stderr.decode('utf-8', 'replace')[-2000:]
            )
        )
    return json.loads((out_dir / 'metrics.json').read_text(encoding='utf-8'))


def benchmark_replay(
    bundle: Union[str, Path],
    work_dir: Union[str, Path],
    frames: int = 60,
    seed: int = 11,
    backend: str = 'onnxruntime',
    realtime: bool = False,
    width: int = 640,
    height: int = 480,
    timeout: Optional[float] = 900.0,
) -> Dict[str, Any]:
    """
    Measure an eval_bag run for docs/BENCHMARKS.md.

    The run replays a synthetic flight bag in a fresh process.

    Writes the bag (``make_bag``) and the replay outputs under ``work_dir`` and returns a flat dict
    for the benchmark JSON: frames, fps, latency p50/p95 (inference, end-to-end), peak RSS (MB,
    VmHWM of the replay process alone), whether torch was imported, mAP@0.5 overall and for
    persons.
    """
    from .synthetic import IMAGE_TOPIC, write_synthetic_bag

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    bag = work / 'bench_flight_{}_{}x{}_s{}'.format(frames, width, height, seed)
    gt_path = Path(str(bag) + '_gt.json')
    if not (bag / 'metadata.yaml').is_file() or not gt_path.is_file():
        shutil.rmtree(str(bag), ignore_errors=True)
        write_synthetic_bag(bag, frames, seed=seed, width=width, height=height, storage='mcap')
    out = work / ('eval_realtime' if realtime else 'eval_throughput')
    args = [
        bag,
        '--bundle',
        bundle,
        '--image-topic',
        IMAGE_TOPIC,
        '--out',
        out,
        '--gt',
        gt_path,
        '--backend',
        backend,
        '--overwrite',
        '-q',
    ] + (['--realtime'] if realtime else [])
    m = replay_subprocess(args, timeout=timeout)
    acc = m.get('accuracy') or {}
    lat = m['latency_ms']
    return OrderedDict(
        [
            ('bundle', m['bundle']['name']),
            ('backend', m['backend']),
            ('mode', m['mode']),
            ('frames_in', m['frames_in']),
            ('frames_processed', m['frames_processed']),
            ('frames_dropped', m['frames_dropped']),
            ('frame_size', [width, height]),
            ('fps', m['fps']),
            ('inference_ms_p50', lat['inference']['median_ms']),
            ('pipeline_ms_p50', lat['pipeline']['median_ms']),
            ('end_to_end_ms_p50', lat['end_to_end']['median_ms']),
            ('end_to_end_ms_p95', lat['end_to_end']['p95_ms']),
            ('peak_rss_mb', m['peak_rss_mb']),
            ('torch_imported', m['torch_imported']),
            ('map50', acc.get('map50')),
            ('map50_person', (acc.get('per_class') or {}).get('person', {}).get('ap50')),
        ]
    )

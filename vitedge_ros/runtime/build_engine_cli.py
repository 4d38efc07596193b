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
Build a TensorRT engine for a model bundle, on the machine that will run it.

This is the ``build_engine`` command.

    python3 tools/build_engine.py BUNDLE_DIR --precision fp16    # or vitedge_build_engine
    python3 tools/build_engine.py BUNDLE_DIR --precision int8 --calib-images DIR   # implicit INT8
    python3 tools/build_engine.py QDQ_BUNDLE_DIR --precision int8  # explicit INT8 (QDQ)

(vitedge_build_engine is the same command installed by pip or colcon.)

The engine is written to BUNDLE_DIR/engines/<onnx sha[:12]>-trt<version>-<gpu>-<precision>.engine
(atomically), beside a timing cache (and a calibration cache for implicit INT8). An engine with the
same key is kept unless --force is given. See docs/TENSORRT.md.

Before TensorRT is called, the graph is audited for the running TensorRT version's ONNX parser
(vitedge_ros.export.trt_audit); nodes it would refuse are named and nothing is built. Under
fp16/int8 the LayerNorm, Softmax and peak-extraction layers are pinned to FP32 (TensorRT 8.2-10.x).
TensorRT 11 builds only at the precision the ONNX graph itself has.

Exit codes: 0 built or up to date; 2 bad arguments or bundle; 3 TensorRT/GPU/pycuda missing, this
TensorRT cannot build that precision from this graph (TensorRT 11), or INT8 calibration failed; 4
the graph would not parse on this TensorRT (audit refusal or parser error) or the build failed; 130
interrupted.
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional

from .engine_key import PRECISIONS
from .trt_builder import (
    AuditRefused,
    build_engine,
    BuildError,
    BuildInputError,
    BuildOptions,
    CalibrationError,
    DEFAULT_WORKSPACE_MB,
    EXIT_BUILD_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    measure_latency,
    TensorRTMissing,
    TensorRTUnsupported,
)

KINDS = (
    (AuditRefused, 'refused'),
    (BuildInputError, 'bad input'),
    (TensorRTUnsupported, 'unsupported'),
    (TensorRTMissing, 'TensorRT unavailable'),
    (CalibrationError, 'calibration failed'),
    (BuildError, 'build failed'),
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line arguments of build_engine (argparse exits 2 with one line on a bad one)."""
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Exit codes: 0 ok, 2 bad arguments/bundle, 3 TensorRT/pycuda missing, '
        'precision unsupported by this TensorRT, or INT8 calibration failed, '
        '4 audit refusal, parse or build failure, 130 interrupted.',
    )
    p.add_argument('bundle', type=Path, help='bundle directory (model.onnx + bundle.yaml)')
    p.add_argument(
        '--precision',
        choices=PRECISIONS,
        default='fp16',
        help='engine precision (default fp16; the Jetson Nano has no fast INT8)',
    )
    p.add_argument(
        '--workspace-mb',
        type=int,
        default=DEFAULT_WORKSPACE_MB,
        help='builder workspace cap in MiB (default %(default)s, fit for a 4 GB Jetson Nano)',
    )
    p.add_argument(
        '--calib-images',
        type=Path,
        default=None,
        help='folder of images for INT8 entropy calibration (non-QDQ graphs)',
    )
    p.add_argument(
        '--calib-max', type=int, default=256, help='at most this many calibration images'
    )
    p.add_argument(
        '--force', action='store_true', help='rebuild even if an engine with this key exists'
    )
    p.add_argument(
        '--no-timing-cache', action='store_true', help='neither read nor write the timing cache'
    )
    p.add_argument(
        '--runs',
        type=int,
        default=50,
        help='inference runs for the latency line after building (0: skip)',
    )
    p.add_argument(
        '--skip-audit',
        action='store_true',
        help='do not run the parser audit before TensorRT (the parser itself then decides)',
    )
    p.add_argument(
        '--verbose', action='store_true', help='TensorRT verbose log (and Python tracebacks)'
    )
    args = p.parse_args(argv)
    if args.workspace_mb <= 0:
        p.error('--workspace-mb must be > 0')
    if args.calib_max <= 0:
        p.error('--calib-max must be > 0')
    if args.runs < 0:
        p.error('--runs must be >= 0')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run build_engine; returns the exit status (see the module docstring)."""
    args = parse_args(argv)
    opts = BuildOptions(
        precision=args.precision,
        workspace_mb=args.workspace_mb,
        calib_images=args.calib_images,
        calib_max=args.calib_max,
        force=args.force,
        timing_cache=not args.no_timing_cache,
        verbose=args.verbose,
        audit=not args.skip_audit,
    )
    try:
        res = build_engine(args.bundle, opts)
    except (BuildInputError, TensorRTMissing, BuildError, CalibrationError) as exc:
        kind = next(label for cls, label in KINDS if isinstance(exc, cls))
        print('build_engine: {}: {}'.format(kind, exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print('\nbuild_engine: interrupted; no engine written', file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an unforeseen failure still gets one line, not a traceback
        if args.verbose:
            raise
        print(
            'build_engine: build failed: {}: {} '
            '(no engine written; --verbose shows the traceback)'.format(type(exc).__name__, exc),
            file=sys.stderr,
        )
        return EXIT_BUILD_FAILED
    if res.skipped:
        print(
            'up to date: {} (TensorRT {}, {}); --force rebuilds it'.format(
                res.engine_path, res.trt_version, res.gpu.name
            )
        )
    else:
        extra = ', INT8 {}'.format(res.int8_mode) if res.int8_mode else ''
        if res.calibration_batches:
            extra += ' ({} calibration images)'.format(res.calibration_batches)
        if res.typing == 'strong':
            extra += ', strongly typed'
        print(
            'built {} in {:.1f} s (TensorRT {}, {} {}, workspace {} MiB{})'.format(
                res.engine_path,
                res.seconds,
                res.trt_version,
                res.gpu.name,
                res.gpu.sm,
                args.workspace_mb,
                extra,
            )
        )
        if res.audit_target:
            print('parser audit: no blocker for {}'.format(res.audit_target))
        if res.pinned:
            kinds = {}
            for kind in res.pinned.values():
                kinds[kind] = kinds.get(kind, 0) + 1
            print(
                'FP32 layers: {} ({}) under BuilderFlag.{}'.format(
                    len(res.pinned),
                    ', '.join('{} {}'.format(k, v) for k, v in sorted(kinds.items())),
                    res.precision_flag,
                )
            )
    if args.runs > 0:
        try:
            med, p95, desc = measure_latency(res.engine_path, runs=args.runs)
        except TensorRTMissing as exc:
            print('latency: skipped ({})'.format(exc))
        except Exception as exc:  # the engine was built; a failed measurement must not hide that
            print('latency: failed ({}: {})'.format(type(exc).__name__, exc), file=sys.stderr)
            return EXIT_BUILD_FAILED
        else:
            print(
                'latency: median {:.3f} ms, p95 {:.3f} ms over {} runs ({})'.format(
                    med, p95, args.runs, desc
                )
            )
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())

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
``tools/trt_compat.py``: the TensorRT parser audit from the command line.

It needs Python 3.6, onnx, numpy and PyYAML only.

    python3 tools/trt_compat.py models/aerial_vit_tiny     # a bundle: its bundle.yaml trt_targets
    python3 tools/trt_compat.py model.onnx --target trt8.2                  # one target
    python3 tools/trt_compat.py model.onnx --target trt8.2 --target trt10   # several
    (default: all three targets)

Prints one report per target (a header, then one line per node the parser refuses, with the rule
and the fix). Exit codes: 0 no blockers for any audited target, 1 blockers found, 2 bad input
(missing/unreadable file, unknown target; one line on stderr).
"""

import argparse
from pathlib import Path
import sys
from typing import List, Optional, Sequence

EXIT_OK, EXIT_BLOCKERS, EXIT_BAD_INPUT = 0, 1, 2
PROG = 'trt_compat'
TRT_TARGETS = (
    'trt8.2',
    'trt8.6',
    'trt10',
)  # help text before onnx is imported; trt_audit.TRT_TARGETS rules


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write('{}: error: {}\n'.format(PROG, message))
        sys.exit(EXIT_BAD_INPUT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments (``path``, ``target`` list or None, ``notes``)."""
    p = _Parser(
        prog=PROG,
        description="List the ONNX nodes a TensorRT version's ONNX parser refuses.",
        epilog='Exit codes: 0 none, 1 blockers found, 2 bad input.',
    )
    p.add_argument(
        'path', type=Path, help='a .onnx file or a bundle directory (model.onnx + bundle.yaml)'
    )
    p.add_argument(
        '--target',
        action='append',
        default=None,
        metavar='TARGET',
        help="parser target: {} (repeatable; default: the bundle's trt_targets, else all three; "
        'the '
        'finer targets trt8.0, trt8.4, trt8.5 are accepted too)'.format(' | '.join(TRT_TARGETS)),
    )
    p.add_argument('--no-notes', action='store_true', help='print blockers only')
    return p.parse_args(list(argv) if argv is not None else None)


def _resolve(path: Path, targets: Optional[List[str]]):
    """(onnx path, targets to audit); ValueError (one line) on bad input."""
    from .trt_audit import ALL_TARGETS

    for t in targets or []:
        if t not in ALL_TARGETS:
            raise ValueError(
                'unknown target {!r} (choose from {})'.format(t, ', '.join(TRT_TARGETS))
            )
    if path.is_dir():
        from ..runtime.bundle import load_bundle
        from ..runtime.errors import BundleError

        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            raise ValueError(str(exc)) from None
        chosen = targets or list(bundle.trt_targets) or list(TRT_TARGETS)
        return bundle.onnx_path, chosen
    if not path.exists():
        raise ValueError('{}: no such file or bundle directory'.format(path))
    return path, targets or list(TRT_TARGETS)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the audit; returns the exit code (0 clean, 1 blockers, 2 bad input)."""
    args = parse_args(argv)
    try:
        from .trt_audit import audit, format_report, load_model
    except ImportError as exc:  # the drone's runtime extra may lack onnx
        print(
            '{}: error: the audit needs the onnx package ({}): pip install onnx'.format(PROG, exc),
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        onnx_path, targets = _resolve(args.path, args.target)
        model = load_model(onnx_path)
        results = [(t, audit(model, t)) for t in targets]
    except ValueError as exc:
        print(
            '{}: error: {}'.format(PROG, str(exc).splitlines()[0] if str(exc) else exc),
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    print('{}: {}'.format(PROG, onnx_path))
    blocked = []
    for t, (blockers, notes) in results:
        print(format_report(blockers, t, None if args.no_notes else notes))
        if blockers:
            blocked.append(t)
    if blocked:
        print('{}: blockers for {}'.format(PROG, ', '.join(blocked)))
        return EXIT_BLOCKERS
    print('{}: no blockers for {}'.format(PROG, ', '.join(targets)))
    return EXIT_OK

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
Which onnxruntime an ONNX graph needs, and why onnxruntime could not load one.

Gives one-line explanations of onnxruntime's load errors (Python 3.6).

The table is ONNX Runtime's compatibility matrix,
https://onnxruntime.ai/docs/reference/compatibility.html (source: microsoft/onnxruntime, branch
gh-pages, ``docs/reference/compatibility.md``): for each onnxruntime release the highest ai.onnx
opset and ONNX IR version it implements. onnxruntime refuses a graph stamped with a newer opset
("Opset 17 is under development and support for this is limited ... Current official support for
domain ai.onnx is till opset 15", ``onnxruntime/core/graph/model.cc``) or IR version ("Unsupported
model IR version: 9, max supported IR version: 8"). onnxruntime 1.10 is the last release for Python
3.6 (JetPack 4.6 on the Jetson Nano): opset <= 15, IR <= 8. Bundles exported for the default target
``trt8.2`` are opset 13, IR 7.
"""

import re
from typing import Optional, Tuple

# (onnxruntime major, minor): (max ai.onnx opset, max ONNX IR version); from compatibility.md.
ORT_SUPPORT = {
    (1, 20): (21, 10),
    (1, 19): (21, 10),
    (1, 18): (21, 10),
    (1, 17): (20, 9),
    (1, 16): (19, 9),
    (1, 15): (19, 8),
    (1, 14): (18, 8),
    (1, 13): (17, 8),
    (1, 12): (17, 8),
    (1, 11): (16, 8),
    (1, 10): (15, 8),
    (1, 9): (15, 8),
    (1, 8): (14, 7),
    (1, 7): (13, 7),
    (1, 6): (13, 7),
    (1, 5): (12, 7),
    (1, 4): (12, 7),
    (1, 3): (12, 7),
    (1, 2): (11, 6),
    (1, 1): (11, 6),
    (1, 0): (11, 6),
}

_OPSET_RE = re.compile(r'Opset (\d+) is under development', re.S)
_OPSET_MAX_RE = re.compile(r'is till opset (\d+)', re.S)
_IR_RE = re.compile(r'Unsupported model IR version: (\d+), max supported IR version: (\d+)')
_KERNEL_RE = re.compile(
    r"Could not find an implementation for (\w+)\((\d+)\) node with name '([^']*)'"
)
_PROTOBUF_RE = re.compile(
    r'INVALID_PROTOBUF|Protobuf parsing failed|Failed to load model|No graph was found', re.I
)


def _version_key(version: str) -> Tuple[int, int]:
    m = re.match(r'\s*(\d+)\.(\d+)', str(version))
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def min_onnxruntime_for(
    opset: Optional[int] = None, ir_version: Optional[int] = None
) -> Optional[str]:
    """
    Oldest onnxruntime release (``'1.12'``) implementing ``opset`` and reading ``ir_version``.

    None if no release in the table does (the graph is newer than the table).
    """
    for key in sorted(ORT_SUPPORT):
        max_opset, max_ir = ORT_SUPPORT[key]
        if (opset is None or opset <= max_opset) and (ir_version is None or ir_version <= max_ir):
            return '{}.{}'.format(*key)
    return None


def onnxruntime_limits(version: str) -> Optional[Tuple[int, int]]:
    """
    Return ``(max opset, max IR version)`` of an onnxruntime version string.

    The string is like ``'1.10.0'``; None if the version is unknown.
    """
    key = _version_key(version)
    if key in ORT_SUPPORT:
        return ORT_SUPPORT[key]
    return (
        ORT_SUPPORT[max(ORT_SUPPORT)] if key > max(ORT_SUPPORT) else None
    )  # newer: at least the newest row


def _needs(opset: Optional[int], ir: Optional[int]) -> str:
    need = min_onnxruntime_for(opset=opset, ir_version=ir)
    return (
        'onnxruntime >= {}'.format(need)
        if need
        else 'an onnxruntime newer than {}.{}'.format(*max(ORT_SUPPORT))
    )


def explain_load_error(path: str, error: str, ort_version: str) -> str:
    """
    Return one line saying why onnxruntime ``ort_version`` could not load the model at ``path``.

    ``error`` is onnxruntime's message.

    An opset or IR version newer than the installed onnxruntime implements is reported as exactly
    that, with the onnxruntime release it needs (never as a corrupt file); a missing kernel names
    the op and node; protobuf parse failures are reported as a corrupt or truncated file.
    """
    text = str(error).strip()
    first = text.splitlines()[0] if text else 'unknown error'
    fix = (
        'export the bundle for the Jetson Nano (tools/export_onnx.py --target trt8.2: opset 13) '
        'or upgrade onnxruntime'
    )
    m = _OPSET_RE.search(text)
    if m:
        opset = int(m.group(1))
        top = _OPSET_MAX_RE.search(text)
        has = ' supports ai.onnx up to opset {}'.format(top.group(1)) if top else ''
        return (
            '{}: the graph uses ONNX opset {}, which needs {}; '
            'the installed onnxruntime {}{}: {}'
        ).format(path, opset, _needs(opset, None), ort_version, has, fix)
    m = _IR_RE.search(text)
    if m:
        ir = int(m.group(1))
        return (
            '{}: the graph is ONNX IR version {}, which needs {}; the installed onnxruntime {} '
            'reads IR <= {}: '
            '{}'.format(path, ir, _needs(None, ir), ort_version, m.group(2), fix)
        )
    m = _KERNEL_RE.search(text)
    if m:
        op, since, node = m.group(1), int(m.group(2)), m.group(3)
        return (
            '{}: the installed onnxruntime {} has no kernel for {} (opset-{} version, node {!r}); '
            'it needs {} or '
            'a graph without it: {}'.format(
                path, ort_version, op, since, node, _needs(since, None), fix
            )
        )
    if _PROTOBUF_RE.search(text):
        return '{}: onnxruntime cannot load the model (corrupt or truncated ONNX?): {}'.format(
            path, first
        )
    return '{}: onnxruntime {} cannot load the model: {}'.format(path, ort_version, first)

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
False detections on real frames with nobody in them: every ``person`` box there is a false person.

:func:`false_positives_per_frame` runs a bundle (through the runtime
:class:`~vitedge_ros.runtime.Pipeline`, at the bundle's own score threshold unless told otherwise)
over frames known to hold no object of a class and counts the boxes of that class.
:func:`heldout_false_positives` does it on the real no-person photos that training never reads
(:func:`vitedge_ros.data.textures.heldout_negative_frames`), grouped by held-out kind and frame
size. :func:`write_false_positive_report` writes ``false_positives.json`` and
``false_positives.md``.
"""

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..runtime.bundle import atomic_write_bytes, load_bundle
from ..runtime.errors import BundleError, FrameError

ImageItem = Union[np.ndarray, str, 'os.PathLike[str]', Tuple[Any, ...]]


def _items(images: Iterable[ImageItem]):
    """
    Yield (name, group, image-or-path) from the items given.

    Items are arrays, paths, (name, image) or (name, group, image).
    """
    for i, item in enumerate(images):
        if isinstance(item, tuple):
            if len(item) == 2:
                yield str(item[0]), None, item[1]
            elif len(item) == 3:
                yield str(item[0]), (None if item[1] is None else str(item[1])), item[2]
            else:
                raise ValueError(
                    'false_positives_per_frame: item {} is a tuple of {} (expected (name, image) '
                    'or '
                    '(name, group, image))'.format(i, len(item))
                )
        elif isinstance(item, np.ndarray):
            yield 'frame{:05d}'.format(i), None, item
        else:
            yield os.fspath(item), None, item


def _summary(counts: List[int]) -> Dict[str, Any]:
    n = len(counts)
    return {
        'frames': n,
        'false_positives': int(sum(counts)),
        'per_frame': float(sum(counts)) / n if n else 0.0,
        'max': int(max(counts)) if n else 0,
        'frames_with_any': int(sum(1 for c in counts if c > 0)),
    }


def false_positives_per_frame(
    bundle_dir: Union[str, 'os.PathLike[str]'],
    images: Iterable[ImageItem],
    class_name: str = 'person',
    score_threshold: Optional[float] = None,
    backend: str = 'onnxruntime',
) -> Dict[str, Any]:
    """
    Count ``class_name`` detections per frame on frames that hold no such object (all are false).

    ``images``: BGR uint8 arrays (HxWx3; grey accepted), image file paths, ``(name, image)`` or
    ``(name, group, image)`` tuples (``group`` adds a per-group summary, e.g. the kind of held-out
    photo). The bundle's ``decoder.score_threshold`` applies unless ``score_threshold`` is given;
    detections are counted after the runtime's thresholding, class filter and ``max_detections``
    cap, exactly as the node would publish them. A file that cannot be read or a frame the runtime
    refuses is listed in ``skipped`` and not counted.

    Returns ``{'bundle', 'class', 'score_threshold', 'backend', 'frames', 'false_positives',
    'per_frame' (mean count per frame), 'max', 'frames_with_any', 'by_size': {'WxH': summary},
    'by_group': {group: summary}, 'images': [{'name', 'group', 'size', 'count', 'scores'}],
    'skipped': [{'name', 'error'}]}``. Raises ``BundleError`` for a bad bundle or a class the
    bundle does not have, ValueError when no frame could be read (a report of 0 frames would read
    as 0 false positives).
    """
    from ..data.common import read_image
    from ..runtime import Pipeline

    bundle = load_bundle(bundle_dir)
    if class_name not in bundle.labels:
        raise BundleError(
            '{}: class {!r} is not among the bundle labels ({})'.format(
                bundle.path, class_name, ', '.join(bundle.labels)
            )
        )
    pipe = Pipeline(bundle, backend=backend, score_threshold=score_threshold, classes=[class_name])
    rows: List[Dict[str, Any]] = []
    skipped: List[Dict[str, str]] = []
    try:
        for name, group, item in _items(images):
            try:
                img = item if isinstance(item, np.ndarray) else read_image(item)
                res = pipe(img)
            except (OSError, ValueError, FrameError) as exc:
                skipped.append(
                    {
                        'name': name,
                        'error': str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    }
                )
                continue
            scores = sorted(
                (round(d.score, 4) for d in res.detections if d.label == class_name), reverse=True
            )
            rows.append(
                {
                    'name': name,
                    'group': group,
                    'size': '{}x{}'.format(*res.image_size),
                    'count': len(scores),
                    'scores': scores,
                }
            )
    finally:
        pipe.close()
    if not rows:
        raise ValueError(
            'no frame could be read ({} skipped{})'.format(
                len(skipped),
                ', first: {}: {}'.format(skipped[0]['name'], skipped[0]['error'])
                if skipped
                else '',
            )
        )
    out: Dict[str, Any] = {
        'bundle': str(bundle.path),
        'class': class_name,
        'score_threshold': pipe.score_threshold,
        'backend': pipe.backend_name,
    }
    out.update(_summary([r['count'] for r in rows]))
    by_size: Dict[str, List[int]] = {}
    by_group: Dict[str, List[int]] = {}
    for r in rows:
        by_size.setdefault(r['size'], []).append(r['count'])
        if r['group'] is not None:
            by_group.setdefault(r['group'], []).append(r['count'])
    out['by_size'] = {k: _summary(v) for k, v in sorted(by_size.items())}
    out['by_group'] = {k: _summary(v) for k, v in sorted(by_group.items())}
    out['images'] = rows
    out['skipped'] = skipped
    return out


def heldout_false_positives(
    bundle_dir: Union[str, 'os.PathLike[str]'],
    class_name: str = 'person',
    sizes: Optional[Sequence[Tuple[int, int]]] = None,
    score_threshold: Optional[float] = None,
    backend: str = 'onnxruntime',
) -> Dict[str, Any]:
    """
    Run :func:`false_positives_per_frame` on the held-out real no-person photos.

    Those photos are never used in training.

    Frames come from :func:`vitedge_ros.data.textures.heldout_negative_frames` (two views of each
    held-out photo or region at each size, default 640x480 and 1280x720), grouped by ``held-out
    photo`` / ``held-out region``. The result adds ``'source': 'held-out real photos (...)'`` and
    ``'sizes'``.
    """
    from ..data.textures import heldout_negative_frames, HELDOUT_SIZES

    sizes = tuple(HELDOUT_SIZES if sizes is None else sizes)
    frames = heldout_negative_frames(sizes)
    out = false_positives_per_frame(
        bundle_dir, frames, class_name, score_threshold=score_threshold, backend=backend
    )
    out['source'] = (
        'held-out real photos with no person (vitedge_ros.data.textures.HELDOUT_REGIONS: '
        'whole photos and held-out regions never read by training)'
    )
    out['sizes'] = ['{}x{}'.format(w, h) for w, h in sizes]
    return out


def format_false_positive_report(result: Dict[str, Any]) -> str:
    """
    Markdown summary of a :func:`false_positives_per_frame` result.

    Tables by size, group and image.
    """
    cls = result['class']
    lines = [
        '# False {}s per frame on real frames with no {}'.format(cls, cls),
        '',
        '- bundle: `{}`'.format(result['bundle']),
        '- score threshold: {} (backend {})'.format(result['score_threshold'], result['backend']),
    ]
    if result.get('source'):
        lines.append('- frames: {}'.format(result['source']))
    lines += [
        '- **{:.2f} false {}s per frame** ({} in {} frames; max {} in one frame; {} frames with '
        'any)'.format(
            result['per_frame'],
            cls,
            result['false_positives'],
            result['frames'],
            result['max'],
            result['frames_with_any'],
        ),
        '',
    ]

    def table(title: str, groups: Dict[str, Dict[str, Any]]) -> None:
        if not groups:
            return
        lines.extend(
            [
                '| {} | frames | false {}s | per frame | max |'.format(title, cls),
                '| --- | --- | --- | --- | --- |',
            ]
        )
        for k, s in groups.items():
            lines.append(
                '| {} | {} | {} | {:.2f} | {} |'.format(
                    k, s['frames'], s['false_positives'], s['per_frame'], s['max']
                )
            )
        lines.append('')

    table('frame size', result.get('by_size', {}))
    table('group', result.get('by_group', {}))
    lines.extend(
        [
            '| image | group | size | false {}s | top scores |'.format(cls),
            '| --- | --- | --- | --- | --- |',
        ]
    )
    for r in result['images']:
        top = ', '.join('{:.2f}'.format(s) for s in r['scores'][:5])
        lines.append(
            '| {} | {} | {} | {} | {} |'.format(
                r['name'], r['group'] or '', r['size'], r['count'], top
            )
        )
    if result.get('skipped'):
        lines.extend(['', 'Skipped (unreadable or refused):', ''])
        lines.extend('- {}: {}'.format(s['name'], s['error']) for s in result['skipped'])
    return '\n'.join(lines) + '\n'


def write_false_positive_report(
    result: Dict[str, Any], out_dir: Union[str, 'os.PathLike[str]']
) -> Dict[str, str]:
    """Write ``out_dir/false_positives.json`` and ``.md`` atomically; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {'json': str(out / 'false_positives.json'), 'md': str(out / 'false_positives.md')}
    atomic_write_bytes(paths['json'], json.dumps(result, indent=2).encode())
    atomic_write_bytes(paths['md'], format_false_positive_report(result).encode())
    return paths

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
A small evaluation set of real photographs, 256 pixels on the long side.

For tools/evaluate.py and predict.

Built from ``real_photos`` (scikit-image's offline sample photos and their hand-drawn boxes,
``BOXES``): ``write_real_photo_set(root, layout)`` writes astronaut, camera, chelsea, coffee and
rocket as JPEGs into ``root/images`` with their ground truth as ``root/annotations.json`` (COCO:
persons, and the cup and the cat with COCO's ids) or ``root/annotations/<stem>.txt`` (VisDrone-DET:
persons as ``pedestrian``; on ``camera`` also the tripod as ``others`` (11) and the buildings on
the horizon as an ignored region (0), boxes drawn by hand on the 512x512 original).
"""

import json
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
from real_photos import BOXES, COCO_IDS, photo

SIZE = 256
NAMES = ('astronaut', 'camera', 'chelsea', 'coffee', 'rocket')
#: VisDrone-only extras (category id, (left, top, width, height) on the original photo).
VISDRONE_IGNORED = {
    'camera': [(11, (230.0, 190.0, 180.0, 322.0)), (0, (320.0, 100.0, 192.0, 130.0))]
}


def small_photo(name: str) -> Tuple[np.ndarray, float]:
    """BGR photo ``name`` resized to SIZE on its long side, and the scale applied."""
    img = photo(name)
    scale = SIZE / float(max(img.shape[:2]))
    size = (int(round(img.shape[1] * scale)), int(round(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), scale


def _xywh(box, scale):
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    return [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)]


def write_real_photo_set(root: Path, layout: str = 'coco') -> Dict[str, object]:
    """
    Write the set under ``root`` and describe it.

    Returns ``{'images': dir, 'gt': path, 'sizes': {file: (w, h)}, 'persons': {file: [xywh]}}``.
    """
    root = Path(root)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    if layout == 'visdrone':
        (root / 'annotations').mkdir(exist_ok=True)
    sizes, persons, images, anns = {}, {}, [], []
    for k, name in enumerate(NAMES):
        img, scale = small_photo(name)
        file_name = name + '.jpg'
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        (root / 'images' / file_name).write_bytes(buf.tobytes())
        sizes[file_name] = (img.shape[1], img.shape[0])
        boxed = [(cat, _xywh(b, scale)) for cat, b in BOXES[name]]
        persons[file_name] = [b for cat, b in boxed if cat == 'person']
        if layout == 'coco':
            images.append(
                {
                    'id': k + 1,
                    'file_name': file_name,
                    'width': img.shape[1],
                    'height': img.shape[0],
                }
            )
            for cat, b in boxed:
                if cat in COCO_IDS and cat != 'motorcycle':
                    anns.append(
                        {
                            'id': len(anns) + 1,
                            'image_id': k + 1,
                            'category_id': COCO_IDS[cat],
                            'bbox': b,
                            'area': b[2] * b[3],
                            'iscrowd': 0,
                        }
                    )
        else:
            lines = ['{:.0f},{:.0f},{:.0f},{:.0f},1,1,0,0'.format(*b) for b in persons[file_name]]
            for cat, box in VISDRONE_IGNORED.get(name, []):
                x, y, w, h = (v * scale for v in box)
                lines.append(
                    '{:.0f},{:.0f},{:.0f},{:.0f},{},{},0,0'.format(
                        x, y, w, h, 0 if cat == 0 else 1, cat
                    )
                )
            (root / 'annotations' / (name + '.txt')).write_text(
                '\n'.join(lines) + ('\n' if lines else '')
            )
    if layout == 'coco':
        gt = root / 'annotations.json'
        cats = [{'id': i, 'name': n} for n, i in sorted(COCO_IDS.items(), key=lambda kv: kv[1])]
        gt.write_text(json.dumps({'images': images, 'annotations': anns, 'categories': cats}))
    else:
        gt = root / 'annotations'
    return {'images': root / 'images', 'gt': gt, 'sizes': sizes, 'persons': persons}

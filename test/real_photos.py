"""A small fixture of real photographs (scikit-image's offline sample images) with hand-written boxes.

``write_real_photo_set(root, layout)`` writes five photos, 256 pixels on the long side, as JPEGs into
``root/images`` and their ground truth as ``root/annotations.json`` (COCO, ``layout='coco'``) or
``root/annotations/<stem>.txt`` (VisDrone-DET, ``layout='visdrone'``). The boxes were drawn by hand on the
512x512 originals (scaled here):

* astronaut: one person (the astronaut, helmet on the table not included);
* camera: one person (the cameraman); in VisDrone layout also the tripod as ``others`` (category 11) and
  the buildings on the horizon as an ignored region (category 0);
* coffee, chelsea, rocket: no person (COCO layout: a cup and a cat, categories the detector does not have).
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import numpy as np

SIZE = 256
#: name -> (boxes xywh in original pixels, category names); VisDrone extras are separate.
PERSONS: Dict[str, List[Tuple[float, float, float, float]]] = {
    'astronaut': [(20.0, 14.0, 345.0, 497.0)],
    'camera': [(0.0, 64.0, 300.0, 447.0)],
    'coffee': [], 'chelsea': [], 'rocket': [],
}
COCO_OTHERS = {'coffee': [('cup', (140.0, 20.0, 360.0, 300.0))], 'chelsea': [('cat', (60.0, 20.0, 300.0, 280.0))]}
VISDRONE_IGNORED = {'camera': [(11, (230.0, 190.0, 180.0, 322.0)), (0, (320.0, 100.0, 192.0, 130.0))]}


def photo(name: str) -> Tuple[np.ndarray, float]:
    """BGR photo ``name`` resized to SIZE on its long side, and the scale applied."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = np.ascontiguousarray(img[:, :, :3][:, :, ::-1])
    scale = SIZE / float(max(img.shape[:2]))
    size = (int(round(img.shape[1] * scale)), int(round(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), scale


def _scaled(box, scale):
    return [round(float(v) * scale, 2) for v in box]


def write_real_photo_set(root: Path, layout: str = 'coco') -> Dict[str, object]:
    """Write the fixture; return ``{'images': dir, 'gt': path, 'sizes': {file: (w, h)}, 'persons': {...}}``."""
    root = Path(root)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    sizes, persons = {}, {}
    images, anns = [], []
    cats = {'person': 1, 'cat': 17, 'cup': 47}
    if layout == 'visdrone':
        (root / 'annotations').mkdir(exist_ok=True)
    for k, name in enumerate(sorted(PERSONS)):
        img, scale = photo(name)
        file_name = name + '.jpg'
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        (root / 'images' / file_name).write_bytes(buf.tobytes())
        sizes[file_name] = (img.shape[1], img.shape[0])
        persons[file_name] = [_scaled(b, scale) for b in PERSONS[name]]
        if layout == 'coco':
            images.append({'id': k + 1, 'file_name': file_name, 'width': img.shape[1], 'height': img.shape[0]})
            for box in persons[file_name]:
                anns.append({'id': len(anns) + 1, 'image_id': k + 1, 'category_id': 1, 'bbox': box,
                             'area': box[2] * box[3], 'iscrowd': 0})
            for cat, box in COCO_OTHERS.get(name, []):
                b = _scaled(box, scale)
                anns.append({'id': len(anns) + 1, 'image_id': k + 1, 'category_id': cats[cat], 'bbox': b,
                             'area': b[2] * b[3], 'iscrowd': 0})
        else:
            lines = ['{:.0f},{:.0f},{:.0f},{:.0f},1,1,0,0'.format(*b) for b in persons[file_name]]
            for cat, box in VISDRONE_IGNORED.get(name, []):
                score = 0 if cat == 0 else 1
                lines.append('{:.0f},{:.0f},{:.0f},{:.0f},{},{},0,0'.format(*_scaled(box, scale), score, cat))
            (root / 'annotations' / (name + '.txt')).write_text('\n'.join(lines) + ('\n' if lines else ''))
    if layout == 'coco':
        gt = root / 'annotations.json'
        gt.write_text(json.dumps({'images': images, 'annotations': anns,
                                  'categories': [{'id': v, 'name': k} for k, v in cats.items()]}))
    else:
        gt = root / 'annotations'
    return {'images': root / 'images', 'gt': gt, 'sizes': sizes, 'persons': persons}

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
Small datasets of REAL photographs for tests.

Made at test time from scikit-image's bundled sample images.

Nothing is downloaded: ``skimage.data`` ships these photos inside the package. The boxes below were
drawn by hand on each photo (pixel coordinates xyxy of the original image, checked on a 50 px grid
overlay):

- ``astronaut`` (512×512): Eileen Collins, a person from the hair to the bottom edge.
- ``camera`` (512×512, grey): the cameraman, a person.
- ``motorcycle`` (741×500, the left view of ``stereo_motorcycle``): the motorbike; a bicycle cut by
  the left edge is left unlabelled.
- ``coffee`` (600×400): the cup (with its handle), without the saucer.
- ``chelsea`` (451×300): the cat's face fills the frame.
- ``rocket`` (640×427): the launch vehicle on its pad.

Writers:

- :func:`write_coco`: the photos as they are + an instances JSON with the real COCO category ids.
- :func:`write_visdrone`: VisDrone-DET layout (``images/`` + ``annotations/*.txt``) of large frames
  composed of real photos: a real texture (grass, gravel, brick) as ground, person photos pasted
  small (10-50 px, as VisDrone's), a motorbike, plus an ignored region (category 0), an "others"
  object (11) and a score-0 line.
- :func:`write_imagefolder`: ``root/<class>/<n>.png`` random crops of the photos (a classifier's
  data).

Use from tests: ``from real_photos import write_coco`` (test/ is on ``sys.path`` under pytest).
"""

import json
import os
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

#: name -> [(category, (x1, y1, x2, y2))], hand-drawn on the original photo.
BOXES: Dict[str, List[Tuple[str, Tuple[int, int, int, int]]]] = {
    'astronaut': [('person', (20, 15, 365, 512))],
    'camera': [('person', (0, 65, 335, 512))],
    'motorcycle': [('motorcycle', (92, 95, 685, 452))],
    'coffee': [('cup', (172, 15, 412, 300))],
    'chelsea': [('cat', (0, 0, 451, 300))],
    'rocket': [('rocket', (303, 125, 340, 407))],
}
#: COCO 2017 category ids of the categories above that COCO has (rocket is not a COCO category).
COCO_IDS = {'person': 1, 'motorcycle': 4, 'cat': 17, 'cup': 47}
TEXTURES = ('grass', 'gravel', 'brick')


def photo(name: str) -> np.ndarray:
    """Return a sample photo as H×W×3 uint8 BGR."""
    from skimage import data

    img = data.stereo_motorcycle()[0] if name == 'motorcycle' else getattr(data, name)()
    img = np.asarray(img)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    return np.ascontiguousarray(img[:, :, 2::-1])


def crop(name: str, index: int = 0) -> np.ndarray:
    """Return the hand-boxed object ``index`` of a photo, cut out (BGR)."""
    x1, y1, x2, y2 = BOXES[name][index][1]
    return photo(name)[y1:y2, x1:x2].copy()


def _write(path: str, img: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError('cannot write ' + path)


def write_coco(
    root: str,
    names: Sequence[str],
    json_name: str = 'instances.json',
    crowd: Dict[str, Tuple[int, int, int, int]] = None,
) -> Tuple[str, str]:
    """
    Write ``names`` as ``root/images/<name>.jpg`` and a COCO instances JSON.

    Returns (images dir, json path).

    Categories are those of :data:`COCO_IDS` with their real ids (all four, whether used or not),
    so a reader sees COCO's non-contiguous ids. ``crowd`` adds an ``iscrowd: 1`` box to a photo.
    """
    images_dir = os.path.join(root, 'images')
    images, anns = [], []
    for k, name in enumerate(names, 1):
        img = photo(name)
        _write(os.path.join(images_dir, name + '.jpg'), img)
        images.append(
            {'id': k, 'file_name': name + '.jpg', 'width': img.shape[1], 'height': img.shape[0]}
        )
        boxes = [(c, b, 0) for c, b in BOXES[name] if c in COCO_IDS]
        if crowd and name in crowd:
            boxes.append(('person', crowd[name], 1))
        for cat, (x1, y1, x2, y2), is_crowd in boxes:
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': k,
                    'category_id': COCO_IDS[cat],
                    'bbox': [x1, y1, x2 - x1, y2 - y1],
                    'area': (x2 - x1) * (y2 - y1),
                    'iscrowd': is_crowd,
                }
            )
    cats = [{'id': i, 'name': n} for n, i in sorted(COCO_IDS.items(), key=lambda kv: kv[1])]
    path = os.path.join(root, json_name)
    with open(path, 'w') as f:
        json.dump({'images': images, 'annotations': anns, 'categories': cats}, f)
    return images_dir, path


def _ground(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """
    Return a real texture photo tiled (with random flips) over the frame, slightly tinted.

    The ground seen from above.
    """
    tex = photo(name)
    th, tw = tex.shape[:2]
    canvas = np.zeros((height, width, 3), np.uint8)
    for y in range(0, height, th):
        for x in range(0, width, tw):
            t = tex[:, ::-1] if rng.random() < 0.5 else tex
            t = t[::-1] if rng.random() < 0.5 else t
            canvas[y:y + th, x:x + tw] = t[: height - y, : width - x]
    tint = np.array([0.8, 1.05, 0.9]) if name == 'grass' else np.array([0.9, 0.95, 1.0])
    return np.clip(canvas * tint, 0, 255).astype(np.uint8)


def _paste(
    frame: np.ndarray,
    obj: np.ndarray,
    height: int,
    occupied: List[Tuple[int, int, int, int]],
    rng: np.random.Generator,
) -> Tuple[int, int, int, int]:
    """
    Paste ``obj`` resized to ``height`` px at a free random place.

    Returns its box (left, top, w, h).
    """
    h = int(height)
    w = max(2, int(round(obj.shape[1] * h / obj.shape[0])))
    small = cv2.resize(obj, (w, h), interpolation=cv2.INTER_AREA)
    fh, fw = frame.shape[:2]
    for _ in range(200):
        x, y = int(rng.integers(0, fw - w)), int(rng.integers(0, fh - h))
        if all(
            x + w + 4 < a or a + c + 4 < x or y + h + 4 < b or b + d + 4 < y
            for a, b, c, d in occupied
        ):
            break
    frame[y:y + h, x:x + w] = small
    occupied.append((x, y, w, h))
    return x, y, w, h


#: VisDrone-DET category ids used by :func:`write_visdrone`.
VISDRONE_IDS = {'ignored': 0, 'pedestrian': 1, 'people': 2, 'motor': 10, 'others': 11}


def write_visdrone(
    root: str, frames: int, seed: int = 0, size: Tuple[int, int] = (640, 480), persons: int = 4
) -> List[List[Tuple[str, Tuple[int, int, int, int], int]]]:
    """
    Write a VisDrone-DET split folder of ``frames`` composed frames of real photos.

    Returns the objects.

    Each frame (``size`` = w, h): a real texture as ground; ``persons`` person photos (astronaut,
    cameraman) 10-50 px tall as ``pedestrian`` / ``people``; one motorbike (``motor``, 40-60 px); a
    cup labelled ``others``; a cat photo covered by an ignored region (category 0); a person with
    score 0. Returned per frame: (category name, (left, top, width, height), score) as written.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    out = []
    for k in range(frames):
        frame = _ground(TEXTURES[k % len(TEXTURES)], w, h, rng)
        occupied: List[Tuple[int, int, int, int]] = []
        objs = []
        for j in range(persons):
            src = ('astronaut', 'camera')[j % 2]
            box = _paste(frame, crop(src), int(rng.integers(10, 51)), occupied, rng)
            objs.append(('pedestrian' if j % 2 == 0 else 'people', box, 1))
        objs.append(
            (
                'motor',
                _paste(frame, crop('motorcycle'), int(rng.integers(28, 41)), occupied, rng),
                1,
            )
        )
        objs.append(('others', _paste(frame, crop('coffee'), 24, occupied, rng), 1))
        cat_box = _paste(frame, crop('chelsea'), 40, occupied, rng)
        objs.append(
            ('ignored', (cat_box[0] - 4, cat_box[1] - 4, cat_box[2] + 8, cat_box[3] + 8), 0)
        )
        objs.append(('pedestrian', _paste(frame, crop('camera'), 30, occupied, rng), 0))
        name = '{:07d}_{:05d}_d_{:07d}'.format(seed, k, k)  # VisDrone-like file stem
        _write(os.path.join(root, 'images', name + '.jpg'), frame)
        lines = [
            '{},{},{},{},{},{},0,0'.format(x, y, bw, bh, score, VISDRONE_IDS[c])
            for c, (x, y, bw, bh), score in objs
        ]
        os.makedirs(os.path.join(root, 'annotations'), exist_ok=True)
        with open(os.path.join(root, 'annotations', name + '.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        out.append(objs)
    return out


def write_imagefolder(
    root: str, classes: Sequence[str], per_class: int, size: int = 32, seed: int = 0
) -> str:
    """
    Write ``per_class`` random crops of each class's photo as ``root/<class>/<n>.png``.

    Each crop keeps 60-100 % of each side.
    """
    rng = np.random.default_rng(seed)
    for name in classes:
        img = photo(name)
        ih, iw = img.shape[:2]
        for n in range(per_class):
            ch, cw = int(ih * rng.uniform(0.6, 1.0)), int(iw * rng.uniform(0.6, 1.0))
            y, x = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
            patch = cv2.resize(
                img[y:y + ch, x:x + cw], (size, size), interpolation=cv2.INTER_AREA
            )
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            _write(os.path.join(root, name, '{:03d}.png'.format(n)), np.ascontiguousarray(patch))
    return root

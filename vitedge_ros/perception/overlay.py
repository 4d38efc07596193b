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
The one overlay renderer of vitedge_ros.

Boxes, ground truth, segmentation with a legend, status lines.

The node (``vitedge_ros.ros.core``), the bag replay (``tools/eval_bag.py --overlay``), the demo,
``tools/predict.py`` and ``tools/evaluate.py`` all draw through :func:`render_frame` (or the pieces
it is made of), so a class has one colour everywhere: colours are chosen by **class name**
(:data:`NAMED_COLOURS`; other names get a fixed colour derived from the name), the same for a
detection box and a segmentation region. Ground truth is drawn in :data:`GT_COLOUR` with thin lines
and its caption below the box.

Text is sized from the image (:func:`text_style`): caption height about 2.8 % of the shorter image
side, never below 10 pixels, so labels stay readable from 96x64 to 4K (at 1280x720 a caption is
about 20 px high).

numpy and OpenCV only, Python 3.6 compatible (runs on the drone). All functions return a new image
and never modify their input. Images are BGR uint8 H x W x 3; boxes are ``(x1, y1, x2, y2)``
pixels.
"""

from typing import Any, List, Mapping, NamedTuple, Optional, Sequence, Tuple
import zlib

import cv2
import numpy as np

__all__ = [
    'GT_COLOUR',
    'NAMED_COLOURS',
    'TextStyle',
    'blend_segmentation',
    'colorize',
    'draw_boxes',
    'draw_detections',
    'draw_ground_truth',
    'draw_legend',
    'draw_status',
    'label_colour',
    'palette',
    'render_frame',
    'text_style',
]

Colour = Tuple[int, int, int]

#: BGR colour of each known class name (the synthetic aerial classes and the detector's labels).
NAMED_COLOURS = {
    'background': (0, 0, 0),
    'person': (0, 0, 255),
    'vehicle': (255, 0, 255),
    'building': (0, 140, 255),
    'water': (255, 120, 0),
    'road': (160, 160, 160),
    'vegetation': (0, 200, 0),
    'obstacle': (0, 215, 255),
}
#: Colour of ground-truth boxes (drawn thin, caption below the box).
GT_COLOUR: Colour = (0, 255, 0)
#: Colours for labels that are not in NAMED_COLOURS (picked by a CRC32 of the name, stable across
#: runs).
_EXTRA = (
    (255, 255, 0),
    (128, 0, 255),
    (0, 128, 128),
    (255, 128, 128),
    (128, 255, 0),
    (0, 96, 255),
    (200, 200, 0),
    (255, 0, 128),
    (96, 160, 255),
    (180, 105, 255),
    (60, 180, 75),
    (212, 190, 250),
)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Height in pixels of FONT_HERSHEY_SIMPLEX capitals plus descenders at font scale 1.
_FONT_PX = 22.0


class TextStyle(NamedTuple):
    """Text and line sizes for one image size."""

    scale: float  # cv2 font scale
    thickness: int  # text stroke (pixels)
    line: int  # box line width (pixels)
    height: int  # caption height including the baseline (pixels)
    pad: int  # padding around captions (pixels)


def text_style(width: int, height: int) -> TextStyle:
    """
    Font scale, strokes and caption height for a ``width`` x ``height`` image.

    The caption height is 2.8 % of the shorter side, at least 10 px; the font scale follows from
    the Hershey simplex font's 22 px height at scale 1; strokes grow with the scale.
    """
    side = float(max(1, min(int(width), int(height))))
    target = max(10.0, 0.028 * side)
    scale = target / _FONT_PX
    thickness = max(1, int(round(scale * 2.0)))
    (_, th), base = cv2.getTextSize('Ag', _FONT, scale, thickness)
    return TextStyle(
        scale,
        thickness,
        max(1, int(round(side / 300.0))),
        int(th + base),
        max(1, int(round(target * 0.2))),
    )


def label_colour(name: str) -> Colour:
    """
    Return the BGR colour of a class name.

    From :data:`NAMED_COLOURS`, else a fixed colour picked from the name.
    """
    key = str(name).strip().lower()
    if key in NAMED_COLOURS:
        return NAMED_COLOURS[key]
    return _EXTRA[zlib.crc32(key.encode('utf-8')) % len(_EXTRA)]


def palette(labels: Sequence[str]) -> np.ndarray:
    """C x 3 uint8 BGR colours of ``labels`` (class id order), from :func:`label_colour`."""
    out = np.zeros((max(1, len(labels)), 3), dtype=np.uint8)
    for i, name in enumerate(labels):
        out[i] = label_colour(name)
    return out


def _names(labels: Optional[Sequence[str]], count: int) -> List[str]:
    names = [str(n) for n in (labels or [])]
    return names + [str(i) for i in range(len(names), count)]


def colorize(label_map: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """H x W x 3 uint8 BGR picture of a label map (class ids without a label are drawn black)."""
    lab = np.asarray(label_map)
    pal = palette(labels)
    table = np.zeros((256, 3), dtype=np.uint8)
    table[: min(256, len(pal))] = pal[:256]
    return table[np.clip(lab, 0, 255).astype(np.uint8)]


def blend_segmentation(
    bgr: np.ndarray,
    label_map: np.ndarray,
    labels: Sequence[str],
    alpha: float = 0.45,
    skip: Sequence[int] = (0,),
) -> np.ndarray:
    """
    Blend class colours into a BGR frame.

    Class ids in ``skip`` (background by default) stay untinted.
    """
    img = np.ascontiguousarray(bgr)
    lab = np.asarray(label_map)
    names = _names(labels, int(lab.max()) + 1 if lab.size else 0)
    colours = colorize(lab, names)
    out = img.copy()
    mask = np.ones(lab.shape, dtype=bool)
    if skip:
        mask &= ~np.isin(lab, np.asarray(list(skip)))
    if mask.any():
        blended = cv2.addWeighted(img, 1.0 - alpha, colours, alpha, 0.0)
        out[mask] = blended[mask]
    return out


def _caption(
    img: np.ndarray,
    text: str,
    x: int,
    y: int,
    colour: Colour,
    style: TextStyle,
    below: bool = False,
) -> None:
    """
    Return a filled caption box with dark or light text (whichever reads on ``colour``).

    Clipped to the image.
    """
    h, w = img.shape[:2]
    (tw, th), base = cv2.getTextSize(text, _FONT, style.scale, style.thickness)
    box_h = th + base + 2 * style.pad
    box_w = tw + 2 * style.pad
    x0 = int(min(max(0, x), max(0, w - box_w)))
    y0 = int(y if below else y - box_h)
    y0 = int(min(max(0, y0), max(0, h - box_h)))
    cv2.rectangle(img, (x0, y0), (x0 + box_w, y0 + box_h), colour, -1)
    luma = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if luma > 110 else (255, 255, 255)
    cv2.putText(
        img,
        text,
        (x0 + style.pad, y0 + style.pad + th),
        _FONT,
        style.scale,
        ink,
        style.thickness,
        cv2.LINE_AA,
    )


def draw_boxes(
    bgr: np.ndarray,
    boxes: Sequence[Sequence[float]],
    captions: Sequence[str],
    colours: Sequence[Colour],
    line: Optional[int] = None,
    below: bool = False,
) -> np.ndarray:
    """Boxes (xyxy pixels) with captions; each box its colour. Returns a new image."""
    img = np.ascontiguousarray(bgr).copy()
    style = text_style(img.shape[1], img.shape[0])
    width = style.line if line is None else int(line)
    for box, text, colour in zip(boxes, captions, colours):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(img, (x1, y1), (x2, y2), tuple(int(c) for c in colour), width)
        if text:
            _caption(
                img,
                text,
                x1,
                y2 + 1 if below else y1,
                tuple(int(c) for c in colour),
                style,
                below=below,
            )
    return img


def draw_detections(
    bgr: np.ndarray,
    detections: Sequence[Any],
    show_score: bool = True,
    notes: Optional[Mapping[int, str]] = None,
) -> np.ndarray:
    """
    Detect (``label``, ``score``, ``box``) in their class colours with ``label score`` captions.

    ``notes`` maps a detection's index to extra caption text (e.g. a person's ground position).
    """
    captions = []
    for i, det in enumerate(detections):
        text = '{} {:.2f}'.format(det.label, float(det.score)) if show_score else str(det.label)
        if notes and i in notes:
            text += ' ' + str(notes[i])
        captions.append(text)
    return draw_boxes(
        bgr, [d.box for d in detections], captions, [label_colour(d.label) for d in detections]
    )


def draw_ground_truth(
    bgr: np.ndarray, boxes: Sequence[Sequence[float]], names: Sequence[str]
) -> np.ndarray:
    """
    Ground-truth boxes (xyxy pixels) in :data:`GT_COLOUR`, thin.

    Captioned ``gt <name>`` below the box.
    """
    img = np.ascontiguousarray(bgr)
    style = text_style(img.shape[1], img.shape[0])
    return draw_boxes(
        img,
        boxes,
        ['gt ' + str(n) for n in names],
        [GT_COLOUR] * len(boxes),
        line=max(1, style.line - 1) if style.line > 1 else 1,
        below=True,
    )


def draw_status(bgr: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Status lines (fps, clear path, landing zone, ...) top left, white on a dark outline."""
    img = np.ascontiguousarray(bgr).copy()
    style = text_style(img.shape[1], img.shape[0])
    y = style.pad
    for text in (t for t in lines if t):
        (_, th), base = cv2.getTextSize(text, _FONT, style.scale, style.thickness)
        y += th
        org = (style.pad * 2, y)
        cv2.putText(
            img, text, org, _FONT, style.scale, (0, 0, 0), style.thickness + 2, cv2.LINE_AA
        )
        cv2.putText(
            img, text, org, _FONT, style.scale, (255, 255, 255), style.thickness, cv2.LINE_AA
        )
        y += base + style.pad
    return img


def draw_legend(
    bgr: np.ndarray, labels: Sequence[str], present: Optional[Sequence[int]] = None
) -> np.ndarray:
    """
    Return a legend (colour swatch + name per class) in the bottom-left corner.

    Only ``present`` class ids if given.
    """
    img = np.ascontiguousarray(bgr).copy()
    h, w = img.shape[:2]
    style = text_style(w, h)
    ids = (
        list(range(len(labels)))
        if present is None
        else [int(i) for i in present if 0 <= int(i) < len(labels)]
    )
    if not ids:
        return img
    row = style.height + style.pad
    swatch = style.height
    widths = [
        cv2.getTextSize(str(labels[i]), _FONT, style.scale, style.thickness)[0][0] for i in ids
    ]
    box_w = min(w, swatch + 3 * style.pad + max(widths) + style.pad)
    box_h = min(h, len(ids) * row + style.pad)
    y0 = h - box_h
    panel = img[y0:h, 0:box_w]
    img[y0:h, 0:box_w] = (panel.astype(np.float32) * 0.35).astype(np.uint8)
    for k, i in enumerate(ids):
        top = y0 + style.pad + k * row
        cv2.rectangle(
            img, (style.pad, top), (style.pad + swatch, top + swatch), label_colour(labels[i]), -1
        )
        cv2.rectangle(
            img, (style.pad, top), (style.pad + swatch, top + swatch), (255, 255, 255), 1
        )
        (_, th), base = cv2.getTextSize(str(labels[i]), _FONT, style.scale, style.thickness)
        cv2.putText(
            img,
            str(labels[i]),
            (2 * style.pad + swatch + style.pad, top + th + (swatch - th - base) // 2),
            _FONT,
            style.scale,
            (255, 255, 255),
            style.thickness,
            cv2.LINE_AA,
        )
    return img


def render_frame(
    bgr: np.ndarray,
    detections: Sequence[Any] = (),
    labels: Sequence[str] = (),
    segmentation: Optional[np.ndarray] = None,
    fps: Optional[float] = None,
    clear: Optional[bool] = None,
    region: Optional[Sequence[float]] = None,
    zone: Any = None,
    notes: Optional[Mapping[int, str]] = None,
    legend: bool = True,
    status: Sequence[str] = (),
    ground_truth: Optional[Tuple[Sequence[Sequence[float]], Sequence[str]]] = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """
    Everything a frame's overlay shows, in one call (node, replay, demo, predict, evaluate).

    Args
    ----
        bgr: the input frame (H x W x 3 uint8 BGR); not modified.
        detections: runtime ``Detection`` objects (``label``, ``score``, ``box`` xyxy pixels).
        labels: the bundle's class names (segmentation colours and legend).
        segmentation: H x W class-id map in frame pixels (segment bundles): blended, with a legend
            of the classes present when ``legend``.
        fps: frames per second for the status line.
        clear: clear-path verdict, said in a status line.
        region: the region the clear-path check looked at (xyxy pixels), outlined green (clear) or
            red (blocked) when ``clear`` is known.
        zone: landing zone (``region`` x0, y0, x1, y1 with x1/y1 exclusive, ``safe``,
            ``safe_fraction``): outlined green (safe) or red, and a status line.
        notes: detection index -> extra caption text (e.g. person ground positions).
        legend: draw the segmentation legend.
        status: more status lines (e.g. a classifier's ``cat 0.93``).
        ground_truth: ``(boxes xyxy, names)`` drawn in :data:`GT_COLOUR`.
        alpha: segmentation blending weight.

    Returns
    -------
        A new BGR image of the same size.

    """
    img = np.ascontiguousarray(bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    style = text_style(img.shape[1], img.shape[0])
    lines: List[str] = []
    if segmentation is not None:
        img = blend_segmentation(img, segmentation, labels, alpha=alpha)
    else:
        img = img.copy()
    if region is not None and clear is not None:
        x1, y1, x2, y2 = (int(round(float(v))) for v in region)
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 255, 0) if clear else (0, 0, 255), style.line)
    if zone is not None:
        x0, y0, x1, y1 = (int(v) for v in zone.region)
        cv2.rectangle(
            img,
            (x0, y0),
            (x1 - 1, y1 - 1),
            (0, 255, 0) if zone.safe else (0, 0, 255),
            max(1, style.line),
        )
    if ground_truth is not None:
        img = draw_ground_truth(img, ground_truth[0], ground_truth[1])
    if len(detections):
        img = draw_detections(img, detections, notes=notes)
    if fps is not None:
        lines.append('{:.1f} fps'.format(float(fps)))
    if clear is not None:
        lines.append('path {}'.format('clear' if clear else 'BLOCKED'))
    if zone is not None:
        lines.append(
            'landing {} ({:.0f}% safe)'.format(
                'ok' if zone.safe else 'NO', 100.0 * float(zone.safe_fraction)
            )
        )
    lines.extend(str(s) for s in status)
    if lines:
        img = draw_status(img, lines)
    if segmentation is not None and legend:
        seg = np.asarray(segmentation)
        names = _names(labels, int(seg.max()) + 1 if seg.size else 0)
        img = draw_legend(img, names, [int(i) for i in np.unique(seg) if int(i) < len(names)])
    return img

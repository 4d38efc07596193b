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
ViTCenterDetector: a timm ViT/DeiT backbone with a light CenterNet-style head on the patch grid.

The head predicts, at stride ``patch / upsample``, a centre heatmap per class and the box: either
(``box='centre'``, CenterNet's) the box size (log of size/stride) and the sub-cell centre offset at
the centre cell, or (``box='ltrb'``, TTFNet's) the log distances from the cell centre to the box's
four sides, trained at every cell of a Gaussian area around the centre so that a peak one cell off
still gives the whole box. :meth:`ViTCenterDetector.decode` turns the maps into a fixed ``B×K×6``
tensor (x1, y1, x2, y2, score, class) with a 3×3 max-pool peak test and TopK, all
standard ONNX ops that onnxruntime and TensorRT run, so no post-processing beyond a score threshold
is left to the host.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
import torch.nn.functional as F

from .pretrained import create_timm

HEAT_PRIOR = 0.05
#: Box parametrisations of the head: CenterNet's size + offset at the centre cell, TTFNet's
#: distances to the four sides at every cell of the centre area.
BOX_KINDS = ('centre', 'ltrb')
#: The raw maps of each box kind, after ``heatmap``.
BOX_MAPS = {'centre': ('heatmap', 'size', 'offset'), 'ltrb': ('heatmap', 'ltrb')}
#: The box convolutions of each kind, by attribute name (the heads besides ``heatmap``).
BOX_MODULES = {'centre': ('box_size', 'offset'), 'ltrb': ('box_ltrb',)}
#: Upper clamp of log sizes / log distances (map cells) before ``exp``: e^8 cells, FP16-safe.
LOG_CLAMP = 8.0


def _pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


class ViTCenterDetector(nn.Module):
    """Single-scale ViT detector; ``forward`` returns the raw maps, ``decode`` the detections."""

    #: The box kind (:data:`BOX_KINDS`); the class default serves checkpoints pickled before it
    #: existed.
    box = 'centre'

    def __init__(
        self,
        backbone: str = 'vit_tiny_patch16_224',
        num_classes: int = 3,
        img_size: Union[int, Sequence[int]] = (192, 256),
        pretrained: bool = False,
        head_channels: int = 64,
        upsample: int = 2,
        max_detections: int = 100,
        stem_channels: int = 0,
        pretrained_file: Optional[str] = None,
        box: str = 'centre',
        **backbone_kwargs,
    ) -> None:
        super().__init__()
        if box not in BOX_KINDS:
            raise ValueError('box: {!r} is not one of {}'.format(box, ', '.join(BOX_KINDS)))
        self.box = box
        self.img_size = _pair(img_size)  # (H, W)
        self.num_classes = int(num_classes)
        self.stem_channels = int(stem_channels)
        backbone_img = self.img_size
        if self.stem_channels:
            # Early convolutions (Xiao et al., 2021): a stride-8 conv stem feeds the ViT (patch 2
            # on its
            # map, so tokens are still 16×16 image pixels) and its features are fused back into the
            # head
            # at stride 8, which ViTs trained from scratch on small data localise small objects
            # with.
            c = self.stem_channels
            self.stem = nn.Sequential(
                nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(),
                nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(),
                nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(),
            )
            backbone_img = (self.img_size[0] // 8, self.img_size[1] // 8)
            backbone_kwargs.setdefault('patch_size', 2)
            backbone_kwargs['in_chans'] = c
        else:
            self.stem = None
        self.backbone = create_timm(
            backbone,
            pretrained=pretrained,
            pretrained_file=pretrained_file,
            num_classes=0,
            img_size=backbone_img,
            **backbone_kwargs,
        )
        self.backbone_name = backbone
        self.backbone_kwargs = {k: v for k, v in backbone_kwargs.items() if k != 'in_chans'}
        embed = int(self.backbone.embed_dim)
        gh, gw = self.backbone.patch_embed.grid_size
        patch = self.img_size[0] // gh
        self.grid = (int(gh), int(gw))
        self.upsample = int(upsample)
        self.stride = patch // self.upsample
        self.max_detections = int(max_detections)
        self.head_channels = int(head_channels)
        hc = self.head_channels
        layers: List[nn.Module] = [nn.Conv2d(embed, hc, 1), nn.GELU()]
        if self.upsample > 1:
            layers += [nn.ConvTranspose2d(hc, hc, self.upsample, stride=self.upsample), nn.GELU()]
        layers += [nn.Conv2d(hc, hc, 3, padding=1), nn.GELU()]
        self.neck = nn.Sequential(*layers)
        self.fuse = None
        if self.stem is not None:
            if self.stride != 8:
                raise ValueError(
                    'stem_channels needs a head at stride 8 (patch 16, upsample 2), '
                    'got stride {}'.format(self.stride)
                )
            self.fuse = nn.Sequential(
                nn.Conv2d(hc + self.stem_channels, hc, 3, padding=1), nn.GELU()
            )
        self.heatmap = nn.Conv2d(hc, self.num_classes, 1)
        if self.box == 'ltrb':
            self.box_ltrb = nn.Conv2d(hc, 4, 1)
        else:
            self.box_size = nn.Conv2d(hc, 2, 1)
            self.offset = nn.Conv2d(hc, 2, 1)
        nn.init.constant_(
            self.heatmap.bias, float(torch.log(torch.tensor(HEAT_PRIOR / (1 - HEAT_PRIOR))))
        )
        hh, hw = self.grid[0] * self.upsample, self.grid[1] * self.upsample
        ys, xs = torch.meshgrid(
            torch.arange(hh, dtype=torch.float32),
            torch.arange(hw, dtype=torch.float32),
            indexing='ij',
        )
        self.register_buffer('grid_x', xs.reshape(1, -1), persistent=False)
        self.register_buffer('grid_y', ys.reshape(1, -1), persistent=False)

    @property
    def map_size(self) -> Tuple[int, int]:
        """(h, w) of the output maps."""
        return (self.grid[0] * self.upsample, self.grid[1] * self.upsample)

    def tokens_to_grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """Drop prefix tokens (cls/dist) and fold patch tokens to B×C×gh×gw."""
        n_prefix = int(getattr(self.backbone, 'num_prefix_tokens', 1))
        patches = tokens[:, n_prefix:, :]
        b, _, c = patches.shape
        return patches.transpose(1, 2).reshape(b, c, self.grid[0], self.grid[1])

    @property
    def map_names(self) -> Tuple[str, ...]:
        """
        Names of the raw maps :meth:`forward` returns.

        And the export outputs after ``detections``.
        """
        return BOX_MAPS[self.box]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """
        Raw maps: ``heatmap`` logits B×C×h×w and the box maps.

        ``box='centre'``: ``size`` B×2×h×w (log w/stride, log h/stride) and ``offset`` B×2×h×w
        (logits of the sub-cell centre); ``box='ltrb'``: ``ltrb`` B×4×h×w (log distances in cells
        from the cell centre to the left, top, right and bottom sides).
        """
        if (
            getattr(self, 'stem', None) is not None
        ):  # checkpoints pickled before the stem existed lack it
            s8 = self.stem(x)
            y = self.neck(self.tokens_to_grid(self.backbone.forward_features(s8)))
            y = self.fuse(torch.cat([y, s8], dim=1))
        else:
            y = self.neck(self.tokens_to_grid(self.backbone.forward_features(x)))
        if self.box == 'ltrb':
            return {'heatmap': self.heatmap(y), 'ltrb': self.box_ltrb(y)}
        return {'heatmap': self.heatmap(y), 'size': self.box_size(y), 'offset': self.offset(y)}

    def decode(self, maps: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Peak extraction to B×K×6 rows (x1, y1, x2, y2, score, class) in network pixels."""
        heat = torch.sigmoid(maps['heatmap'])
        peaks = F.max_pool2d(heat, 3, stride=1, padding=1)
        heat = heat * (peaks == heat).to(heat.dtype)
        score, cls = heat.max(dim=1)
        b = score.shape[0]
        score = score.reshape(b, -1)
        cls = cls.reshape(b, -1).to(heat.dtype)
        k = min(self.max_detections, score.shape[1])
        top_s, top_i = score.topk(k, dim=1)
        top_c = torch.gather(cls, 1, top_i)
        gx = torch.gather(self.grid_x.expand(b, -1), 1, top_i)
        gy = torch.gather(self.grid_y.expand(b, -1), 1, top_i)
        if 'ltrb' in maps:
            idx4 = top_i.unsqueeze(1).expand(b, 4, k)
            d = (
                torch.exp(
                    torch.gather(maps['ltrb'].reshape(b, 4, -1), 2, idx4).clamp(max=LOG_CLAMP)
                )
                * self.stride
            )
            px, py = (gx + 0.5) * self.stride, (gy + 0.5) * self.stride
            return torch.stack(
                [px - d[:, 0], py - d[:, 1], px + d[:, 2], py + d[:, 3], top_s, top_c], dim=2
            )
        idx2 = top_i.unsqueeze(1).expand(b, 2, k)
        off = torch.sigmoid(torch.gather(maps['offset'].reshape(b, 2, -1), 2, idx2))
        size = (
            torch.exp(torch.gather(maps['size'].reshape(b, 2, -1), 2, idx2).clamp(max=LOG_CLAMP))
            * self.stride
        )
        cx = (gx + off[:, 0]) * self.stride
        cy = (gy + off[:, 1]) * self.stride
        w, h = size[:, 0], size[:, 1]
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, top_s, top_c], dim=2)

    def config(self) -> Dict[str, object]:
        """Return the constructor arguments, to rebuild the model from a checkpoint."""
        return {
            'backbone': self.backbone_name,
            'num_classes': self.num_classes,
            'img_size': list(self.img_size),
            'head_channels': self.head_channels,
            'upsample': self.upsample,
            'max_detections': self.max_detections,
            'stem_channels': self.stem_channels,
            'box': self.box,
            **self.backbone_kwargs,
        }


def resize_detector(
    model: ViTCenterDetector, img_size: Union[int, Sequence[int]]
) -> ViTCenterDetector:
    """
    Return a copy of ``model`` for a new input size (H, W).

    Same weights, position embedding resampled.

    The way ViTs are fine-tuned at a higher resolution (Touvron et al., 2019; timm's
    ``resample_abs_pos_embed``): the conv stem, blocks and head are size-agnostic, only the learned
    position grid is interpolated (bicubic) to the new token grid.
    """
    from timm.layers import resample_abs_pos_embed

    size = _pair(img_size)
    cfg = model.config()
    cfg['img_size'] = size
    new = ViTCenterDetector(**cfg)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    bb_old, bb_new = model.backbone, new.backbone
    if getattr(bb_old, 'pos_embed', None) is not None:
        n_prefix = (
            0
            if getattr(bb_old, 'no_embed_class', False)
            else int(getattr(bb_old, 'num_prefix_tokens', 1))
        )
        state['backbone.pos_embed'] = resample_abs_pos_embed(
            state['backbone.pos_embed'],
            list(bb_new.patch_embed.grid_size),
            old_size=list(bb_old.patch_embed.grid_size),
            num_prefix_tokens=n_prefix,
        )
    new.load_state_dict(state)
    return new.train(model.training)


def with_box(model: ViTCenterDetector, box: str) -> ViTCenterDetector:
    """
    Return ``model`` with a ``box`` head of another kind (:data:`BOX_KINDS`).

    Backbone, neck and heatmap keep their weights; the new box convolution starts as PyTorch
    initialises it (a fine-tune then learns it). ``model`` itself when it already has that box.
    Raises ValueError for an unknown kind or a model whose layers were resized (pruned,
    factorised): rebuild those from their recipe instead.
    """
    if model.box == box:
        return model
    cfg = model.config()
    cfg['box'] = box
    new = ViTCenterDetector(**cfg)
    heads = tuple(n + '.' for kind in BOX_KINDS for n in BOX_MODULES[kind])
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(heads)}
    try:
        missing, _ = new.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ValueError(
            'box: cannot change the box head of a resized detector ({})'.format(
                str(exc).splitlines()[0]
            )
        ) from None
    if [k for k in missing if not k.startswith(heads)]:
        raise ValueError('box: the detector lacks layers {}'.format(', '.join(missing)))
    return new.train(model.training)


class DetectorExport(nn.Module):
    """
    Wraps a detector for ONNX.

    Outputs ``detections`` (B×K×6) and, with ``with_maps``, the raw maps.

    The raw maps cost nothing extra to output and make parity checks exact: peak extraction is a
    discontinuous function of the heatmap, so two backends that agree on the maps to 1e-6 may still
    pick a different one of two near-equal neighbouring cells.
    """

    def __init__(self, detector: ViTCenterDetector, with_maps: bool = True) -> None:
        super().__init__()
        self.detector = detector
        self.with_maps = with_maps

    @property
    def output_names(self) -> Tuple[str, ...]:
        """ONNX output names, in order: ``detections``, then the raw maps (``map_names``)."""
        return ('detections',) + (self.detector.map_names if self.with_maps else ())

    def forward(self, x: torch.Tensor):
        """B×K×6 detections (then the raw maps, heatmap logits first, when ``with_maps``)."""
        maps = self.detector(x)
        det = self.detector.decode(maps)
        if not self.with_maps:
            return det
        return (det,) + tuple(maps[k] for k in self.detector.map_names)


SIGMA_FACTOR = 0.15  # the shipped detector's: sigma = 0.15 * sqrt(w * h) cells
#: TTFNet's beta (Liu et al., AAAI 2020, "Training-Time-Friendly Network for Real-Time Object
#: Detection", sec. 3.3): the ltrb box is trained on the cells of the central beta·w × beta·h
#: rectangle, weighted by a Gaussian of sigma = beta·w/6, beta·h/6 there.
LTRB_BETA = 0.54


def gaussian_radius(w: float, h: float, factor: float = SIGMA_FACTOR) -> float:
    """
    Return the standard deviation (map cells) of the centre Gaussian for a box of w×h cells.

    ``factor`` × sqrt(w·h), at least half a cell; a smaller factor gives a sharper peak.
    """
    return max(0.5, factor * (w * h) ** 0.5)


def build_targets(
    boxes: Sequence[torch.Tensor],
    labels: Sequence[torch.Tensor],
    num_classes: int,
    map_size: Tuple[int, int],
    stride: int,
    ignore: Optional[Sequence[torch.Tensor]] = None,
    sigma_factor: float = SIGMA_FACTOR,
    box: str = 'centre',
) -> Dict[str, torch.Tensor]:
    """
    Build the detector's targets for a batch (``sigma_factor``: :func:`gaussian_radius`).

    Heatmap, CenterNet's size, offset and centre-cell ``mask`` (boxes in network pixels); for
    ``box='ltrb'`` (the model's :attr:`ViTCenterDetector.box`) also TTFNet's ``ltrb`` and
    ``box_weight`` (:func:`ltrb_targets`), which a centre-box model's training never reads.

    ``ignore`` (per image K×4 xyxy network pixels, optional): regions that are neither objects nor
    background (VisDrone's ignored regions, COCO crowds, crop remnants). Map cells whose centre
    lies inside one get ``ignore`` = 1 and no negative heatmap loss (:func:`focal_loss`).
    """
    hh, ww = map_size
    b = len(boxes)
    heat = torch.zeros(b, num_classes, hh, ww)
    size = torch.zeros(b, 2, hh, ww)
    offset = torch.zeros(b, 2, hh, ww)
    mask = torch.zeros(b, 1, hh, ww)
    ys = torch.arange(hh, dtype=torch.float32).view(-1, 1)
    xs = torch.arange(ww, dtype=torch.float32).view(1, -1)
    for i, (bx, lb) in enumerate(zip(boxes, labels)):
        for xyxy, cls in zip(bx.tolist(), lb.tolist()):
            x1, y1, x2, y2 = xyxy
            bw, bh = (x2 - x1) / stride, (y2 - y1) / stride
            if bw <= 0 or bh <= 0:
                continue
            cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
            ix, iy = min(ww - 1, max(0, int(cx))), min(hh - 1, max(0, int(cy)))
            sigma = gaussian_radius(bw, bh, sigma_factor)
            g = torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma**2))
            heat[i, int(cls)] = torch.maximum(heat[i, int(cls)], g)
            size[i, 0, iy, ix] = float(torch.log(torch.tensor(max(bw, 1e-3))))
            size[i, 1, iy, ix] = float(torch.log(torch.tensor(max(bh, 1e-3))))
            offset[i, 0, iy, ix] = min(max(cx - ix, 1e-3), 1 - 1e-3)
            offset[i, 1, iy, ix] = min(max(cy - iy, 1e-3), 1 - 1e-3)
            mask[i, 0, iy, ix] = 1.0
    out = {'heatmap': heat, 'size': size, 'offset': offset, 'mask': mask}
    if box == 'ltrb':
        out['ltrb'], out['box_weight'] = ltrb_targets(boxes, map_size, stride)
    if ignore is not None:
        ign = torch.zeros(b, 1, hh, ww)
        cy, cx = (ys + 0.5) * stride, (xs + 0.5) * stride  # cell centres in network pixels
        for i, regions in enumerate(ignore):
            for x1, y1, x2, y2 in (
                torch.as_tensor(regions, dtype=torch.float32).reshape(-1, 4).tolist()
            ):
                inside = (cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2)
                ign[i, 0][inside] = 1.0
        out['ignore'] = ign
    return out


def ltrb_targets(
    boxes: Sequence[torch.Tensor], map_size: Tuple[int, int], stride: int, beta: float = LTRB_BETA
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Return TTFNet's box targets: B×4×h×w log distances (map cells) and B×1×h×w weights.

    Per object (boxes K×4 xyxy network pixels), the cells whose centre lies in the central
    ``beta``·w × ``beta``·h rectangle of the box (at least the cell holding the box centre) are
    trained to the log distances from the cell centre to the box's left, top, right and bottom
    sides; their weights are a Gaussian (sigma = ``beta``·w/6, ``beta``·h/6) normalised to sum to
    log(box area in pixels) per object, so larger boxes weigh a little more (Liu et al., AAAI 2020,
    sec. 3.3). Where areas overlap the smaller box wins (objects are written largest first).
    """
    hh, ww = map_size
    b = len(boxes)
    ltrb = torch.zeros(b, 4, hh, ww)
    weight = torch.zeros(b, 1, hh, ww)
    cy = (torch.arange(hh, dtype=torch.float32).view(-1, 1) + 0.5) * stride  # cell centres, px
    cx = (torch.arange(ww, dtype=torch.float32).view(1, -1) + 0.5) * stride
    for i, bx in enumerate(boxes):
        rows = [r for r in bx.tolist() if r[2] > r[0] and r[3] > r[1]]
        for x1, y1, x2, y2 in sorted(rows, key=lambda r: -(r[2] - r[0]) * (r[3] - r[1])):
            w, h = x2 - x1, y2 - y1
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            area = (cx - mx).abs().le(beta * w / 2) & (cy - my).abs().le(beta * h / 2)
            ix, iy = min(ww - 1, max(0, int(mx / stride))), min(hh - 1, max(0, int(my / stride)))
            area = area & (cx > x1) & (cx < x2) & (cy > y1) & (cy < y2)
            area[iy, ix] = True  # the centre cell always, even for a box smaller than a cell
            sx, sy = max(beta * w / 6, stride / 2), max(beta * h / 6, stride / 2)
            g = torch.exp(-((cx - mx) ** 2) / (2 * sx**2) - ((cy - my) ** 2) / (2 * sy**2)) * area
            g = g / g.sum().clamp(min=1e-12) * float(torch.log(torch.tensor(max(w * h, 2.0))))
            dist = torch.stack([t.expand(hh, ww) for t in (cx - x1, cy - y1, x2 - cx, y2 - cy)])
            dist = torch.log(dist.clamp(min=1e-2) / stride)
            ltrb[i] = torch.where(area, dist, ltrb[i])
            weight[i, 0] = torch.where(area, g, weight[i, 0])
    return ltrb, weight


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 4.0,
    ignore: Optional[torch.Tensor] = None,
    class_weights: Optional[Sequence[float]] = None,
) -> torch.Tensor:
    """
    Penalty-reduced focal loss of CenterNet on heatmap logits, normalised by the number of objects.

    ``logits`` and ``target`` B×C×h×w. ``ignore`` (B×1×h×w, 1 = ignored) removes the negative term
    there; positives always count. ``class_weights`` (C floats, chosen by the user) scale each
    class channel's terms, positive and negative alike, as per-class weights of class-balanced
    losses do (Cui et al., CVPR 2019); the normaliser stays the number of objects.
    """
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0).float()
    neg = 1.0 - pos
    if ignore is not None:
        neg = neg * (1.0 - ignore)
    pos_loss = torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = torch.log(1 - p) * p**alpha * (1 - target) ** beta * neg
    n = pos.sum().clamp(min=1.0)
    if class_weights is not None:
        w = logits.new_tensor(list(class_weights)).view(1, -1, 1, 1)
        pos_loss, neg_loss = pos_loss * w, neg_loss * w
    return -(pos_loss.sum() + neg_loss.sum()) / n


def centre_cell_boxes(
    maps: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Predicted and target boxes at the objects' centre cells (``targets['mask']`` = 1).

    Both N×4 xyxy in map cells relative to the cell's corner, decoded as :meth:`ViTCenterDetector.
    decode` does (centre = sigmoid(offset), size = exp(log size), clamped at 8 as there).
    """
    m = targets['mask'][:, 0] > 0  # B×h×w

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 3, 1)[m]  # N×2

    off_p, off_t = torch.sigmoid(pick(maps['offset'])), pick(targets['offset'])
    wh_p = torch.exp(pick(maps['size']).clamp(max=8.0))
    wh_t = torch.exp(pick(targets['size']))
    return (
        torch.cat([off_p - wh_p / 2, off_p + wh_p / 2], dim=1),
        torch.cat([off_t - wh_t / 2, off_t + wh_t / 2], dim=1),
    )


#: TTFNet's weight of the GIoU box loss against the heatmap loss (Liu et al., AAAI 2020, sec. 4:
#: w_loc = 5), used for the ltrb box when ``giou_weight`` is not given.
LTRB_GIOU_WEIGHT = 5.0


def ltrb_boxes(
    maps: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Predicted and target boxes at the cells with a ``box_weight``, and those weights.

    Boxes N×4 xyxy in map cells relative to the cell centre, decoded as
    :meth:`ViTCenterDetector.decode` does (distances exp(log distance), clamped at LOG_CLAMP).
    """
    m = targets['box_weight'][:, 0] > 0  # B×h×w

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t.permute(0, 2, 3, 1)[m]  # N×4

    d_p = torch.exp(pick(maps['ltrb']).clamp(max=LOG_CLAMP))
    d_t = torch.exp(pick(targets['ltrb']))
    sign = torch.tensor([-1.0, -1.0, 1.0, 1.0], dtype=d_p.dtype)
    return d_p * sign, d_t * sign, targets['box_weight'][:, 0][m]


def detection_loss(
    maps: Dict[str, torch.Tensor],
    targets: Dict[str, torch.Tensor],
    size_weight: float = 1.0,
    offset_weight: float = 1.0,
    giou_weight: float = 0.0,
    heatmap_weights: Optional[Sequence[float]] = None,
) -> Dict[str, torch.Tensor]:
    """
    Total loss and its parts for a batch; the box loss follows the box maps the model returned.

    ``heatmap_weights`` (one float per class, default all 1) weight the classes' heatmap terms
    (:func:`focal_loss`).

    Centre box (``size``, ``offset``): CenterNet's (Zhou et al., 2019): focal heatmap loss + L1 on
    log size and offset at the centre cells. ``giou_weight`` > 0 adds the GIoU loss (Rezatofighi et
    al., CVPR 2019; torchvision's ``generalized_box_iou_loss``) of the decoded centre-cell boxes,
    averaged over objects: a loss on the box as the runtime decodes it, scale-invariant, as TTFNet
    and YOLO heads use. The graph and its decoding do not change.

    ltrb box: TTFNet's (Liu et al., AAAI 2020): focal heatmap loss + ``giou_weight`` (default
    :data:`LTRB_GIOU_WEIGHT`) × the GIoU loss of the decoded boxes at every trained cell, weighted
    by ``box_weight`` (:func:`ltrb_targets`) and normalised by the weights' sum.
    """
    hm = focal_loss(
        maps['heatmap'],
        targets['heatmap'],
        ignore=targets.get('ignore'),
        class_weights=heatmap_weights,
    )
    if 'ltrb' in maps:
        from torchvision.ops import generalized_box_iou_loss

        pred, tgt, w = ltrb_boxes(maps, targets)
        giou = (generalized_box_iou_loss(pred, tgt, reduction='none') * w).sum() / w.sum().clamp(
            min=1e-6
        )
        weight = giou_weight if giou_weight > 0 else LTRB_GIOU_WEIGHT
        return {'loss': hm + weight * giou, 'heatmap': hm.detach(), 'giou': giou.detach()}
    m = targets['mask']
    n = m.sum().clamp(min=1.0)
    sz = (F.l1_loss(maps['size'], targets['size'], reduction='none') * m).sum() / n
    off = (
        F.l1_loss(torch.sigmoid(maps['offset']), targets['offset'], reduction='none') * m
    ).sum() / n
    total = hm + size_weight * sz + offset_weight * off
    parts = {'heatmap': hm.detach(), 'size': sz.detach(), 'offset': off.detach()}
    if giou_weight > 0:
        from torchvision.ops import generalized_box_iou_loss

        pred, tgt = centre_cell_boxes(maps, targets)
        giou = generalized_box_iou_loss(pred, tgt, reduction='sum') / n
        total = total + giou_weight * giou
        parts['giou'] = giou.detach()
    return dict({'loss': total}, **parts)

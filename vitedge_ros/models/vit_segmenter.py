"""ViTSegmenter: a timm ViT/DeiT backbone with a light segmentation head (simple feature pyramid + decoder).

The backbone's single-scale patch tokens (stride ``patch``) are folded to a grid and projected by
``neck`` (1×1 conv, the only consumer of the embedding width, so the pruner's embedding surgery handles it
like the detector's neck). A simple feature pyramid in the spirit of ViTDet builds the stride ``patch/2``
level with a ConvTranspose; the decoder fuses it with the upsampled stride-``patch`` level (FPN-style
top-down sum), refines with depthwise-separable convs, goes up once more with a ConvTranspose to stride
``patch/4`` and fuses a small detail stem (a strided conv and a depthwise-separable conv on the image:
colour, texture and sharp boundaries) at both decoder levels. With ``conv_stem`` that stem also feeds the
ViT: the patch embedding patchifies the stem's stride-4 output (early convolutions), computed once.
The output is class **logits** at stride ``patch/4`` (``1×C×H/4×W/4`` for patch 16): upsampling to
input-image pixels and the argmax happen on the host in :mod:`vitedge_ros.runtime.segmentation`, which
folds the inverse letterbox into the same resampling (see docs/SEGMENTATION.md for why). Every op is a
standard ONNX op (Conv, ConvTranspose, Resize, Add, Gelu/Erf): no custom ops.
"""
import re
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import timm
import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed
from torch import nn

from .vit_detector import _pair


def _dwsep(cin: int, cout: int) -> nn.Sequential:
    """Depthwise 3×3 + pointwise 1×1 + GELU (about 9/cout of a dense 3×3 conv's MACs)."""
    return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.Conv2d(cin, cout, 1), nn.GELU())


def _patch_size(backbone: str, kwargs: Dict[str, Any]) -> int:
    """Patch size of a timm ViT from its kwargs or its name (``..._patch16_...``), default 16."""
    if 'patch_size' in kwargs:
        p = kwargs['patch_size']
        return int(p if isinstance(p, int) else p[0])
    m = re.search(r'patch(\d+)', backbone)
    return int(m.group(1)) if m else 16


def detail_stem(channels: int, stride: int = 4) -> nn.Sequential:
    """Strided conv on the image + GELU + depthwise-separable conv: colour and texture at ``stride``."""
    return nn.Sequential(nn.Conv2d(3, channels, stride, stride=stride), nn.GELU(), *_dwsep(channels, channels))


class StemPatchEmbed(PatchEmbed):
    """Patch embedding behind a small conv stem (stride 4): ``proj`` patchifies the stem's output.

    Early convolutions give the tokens local texture (what tells calm water and fields from bare ground)
    and make small ViTs train faster. ``proj`` stays a plain Conv2d producing the embedding, so the pruner's
    embedding surgery applies unchanged. The stem's output is kept in ``last_stem`` for the decoder.
    """

    def __init__(self, img_size: Any = 224, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768,
                 stem_channels: int = 24, stem_stride: int = 4, **kwargs: Any) -> None:
        h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
        ps = patch_size if isinstance(patch_size, int) else patch_size[0]
        if ps % stem_stride or h % stem_stride or w % stem_stride:
            raise ValueError('StemPatchEmbed: patch size {} and image size {} must be multiples of the stem '
                             'stride {}'.format(patch_size, img_size, stem_stride))
        super().__init__(img_size=(h // stem_stride, w // stem_stride), patch_size=ps // stem_stride,
                         in_chans=stem_channels, embed_dim=embed_dim, **kwargs)
        self.stem = detail_stem(stem_channels, stem_stride)
        self.stem_stride = int(stem_stride)
        self.last_stem: Optional[torch.Tensor] = None

    def feat_ratio(self, as_scalar: bool = True) -> Any:
        """Stride of the tokens relative to the image."""
        r = super().feat_ratio(as_scalar)
        return r * self.stem_stride if as_scalar else tuple(v * self.stem_stride for v in r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image → stem (kept in ``last_stem``) → patch tokens."""
        s = self.stem(x)
        self.last_stem = s
        return super().forward(s)


class SegHead(nn.Module):
    """Pyramid and decoder: stride-s features (``hc`` channels) → logits at stride s/4.

    The detail stem (a strided conv on the image, then a depthwise-separable conv) gives local colour and
    texture at stride s/4; it is fused at s/4 and, average-pooled, at s/2 (texture is what tells water and
    fields from bare ground, and patch tokens carry it poorly).
    """

    def __init__(self, hc: int, num_classes: int, detail_channels: int = 16, detail_stride: int = 4,
                 own_detail: bool = True) -> None:
        super().__init__()
        lo = max(8, hc // 2)
        dc = self.detail_channels = int(detail_channels)
        self.up8 = nn.Sequential(nn.ConvTranspose2d(hc, hc, 2, stride=2), nn.GELU())
        self.fuse8 = _dwsep(hc + dc, hc)
        self.up4 = nn.Sequential(nn.ConvTranspose2d(hc, lo, 2, stride=2), nn.GELU())
        if dc > 0:
            if own_detail:
                self.detail = detail_stem(dc, detail_stride)
            self.pool = nn.AvgPool2d(2)
        self.fuse4 = _dwsep(lo + dc, lo)
        self.classifier = nn.Conv2d(lo, num_classes, 1)

    def forward(self, f16: torch.Tensor, image: torch.Tensor, detail: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits at stride s/4 from stride-s features and the image (or the backbone stem's ``detail``)."""
        f8 = self.up8(f16) + F.interpolate(f16, scale_factor=2.0, mode='bilinear', align_corners=False)
        if detail is None and self.detail_channels > 0:
            detail = self.detail(image)
        if detail is not None:
            f8 = torch.cat([f8, self.pool(detail)], dim=1)
        f4 = self.up4(self.fuse8(f8))
        if detail is not None:
            f4 = torch.cat([f4, detail], dim=1)
        return self.classifier(self.fuse4(f4))


class ViTSegmenter(nn.Module):
    """Semantic segmenter; ``forward`` returns logits ``B×C×(H/stride)×(W/stride)`` (stride = patch/4)."""

    def __init__(self, backbone: str = 'vit_tiny_patch16_224', num_classes: int = 7,
                 img_size: Union[int, Sequence[int]] = (240, 320), pretrained: bool = False,
                 head_channels: int = 64, detail_channels: int = 16, conv_stem: bool = False,
                 **backbone_kwargs) -> None:
        super().__init__()
        self.img_size = _pair(img_size)  # (H, W)
        self.num_classes = int(num_classes)
        self.conv_stem = bool(conv_stem)
        extra: Dict[str, Any] = {}
        if self.conv_stem:
            if detail_channels <= 0:
                raise ValueError('ViTSegmenter: conv_stem needs detail_channels > 0 (the stem width)')
            # the stem works at the decoder's finest stride, patch / 4
            extra['embed_layer'] = partial(StemPatchEmbed, stem_channels=int(detail_channels),
                                           stem_stride=max(1, _patch_size(backbone, backbone_kwargs) // 4))
        self.backbone = timm.create_model(backbone, pretrained=pretrained, num_classes=0,
                                          img_size=self.img_size, **backbone_kwargs, **extra)
        self.backbone_name = backbone
        self.backbone_kwargs = dict(backbone_kwargs)
        embed = int(self.backbone.embed_dim)
        gh, gw = self.backbone.patch_embed.grid_size
        patch = self.img_size[0] // gh
        if patch % 4 or self.img_size[0] != gh * patch or self.img_size[1] != gw * patch:
            raise ValueError('ViTSegmenter: img_size {} must be a multiple of the patch size {} (itself a '
                             'multiple of 4)'.format(self.img_size, patch))
        self.grid = (int(gh), int(gw))
        self.patch = int(patch)
        self.stride = self.patch // 4
        self.head_channels = int(head_channels)
        self.detail_channels = int(detail_channels)
        self.neck = nn.Sequential(nn.Conv2d(embed, self.head_channels, 1), nn.GELU())
        self.head = SegHead(self.head_channels, self.num_classes, self.detail_channels, self.stride,
                            own_detail=not self.conv_stem)

    @property
    def map_size(self) -> Tuple[int, int]:
        """(h, w) of the output logits."""
        return (self.grid[0] * 4, self.grid[1] * 4)

    def tokens_to_grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """Drop prefix tokens (cls/dist) and fold patch tokens to B×C×gh×gw."""
        n_prefix = int(getattr(self.backbone, 'num_prefix_tokens', 1))
        patches = tokens[:, n_prefix:, :]
        b, _, c = patches.shape
        return patches.transpose(1, 2).reshape(b, c, self.grid[0], self.grid[1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Stride-``patch`` features after the neck (B×head_channels×gh×gw)."""
        return self.neck(self.tokens_to_grid(self.backbone.forward_features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits B×C×h×w at stride ``self.stride`` of the network input."""
        f16 = self.features(x)
        detail = None
        if self.conv_stem:
            pe = self.backbone.patch_embed
            detail, pe.last_stem = pe.last_stem, None
        return self.head(f16, x, detail)

    def config(self) -> Dict[str, object]:
        """Constructor arguments, to rebuild the model from a checkpoint."""
        return {'backbone': self.backbone_name, 'num_classes': self.num_classes, 'img_size': list(self.img_size),
                'head_channels': self.head_channels, 'detail_channels': self.detail_channels,
                'conv_stem': self.conv_stem, **self.backbone_kwargs}


class SegmenterExport(nn.Module):
    """Wraps a segmenter for ONNX: one output ``logits`` (B×C×h×w at the network's map resolution)."""

    output_names: Tuple[str, ...] = ('logits',)

    def __init__(self, segmenter: nn.Module) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the wrapped segmenter."""
        return self.segmenter(x)


# --- losses ---------------------------------------------------------------------------------------------------

def upsample_logits(logits: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of B×C×h×w logits to ``size`` (H, W), as the runtime decoder does."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode='bilinear', align_corners=False)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Soft multi-class Dice loss (1 − mean Dice over the classes present in prediction or target)."""
    c = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1).to(logits.dtype)
    prob = torch.softmax(logits, dim=1) * valid
    onehot = F.one_hot(target.clamp(max=c - 1).long(), c).permute(0, 3, 1, 2).to(logits.dtype) * valid
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    dice = (2 * inter + 1.0) / (denom + 1.0)
    if not bool(present.any()):
        return logits.sum() * 0.0
    return 1.0 - dice[present].mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, class_weights: Union[torch.Tensor, None] = None,
                      dice_weight: float = 0.5, ignore_index: int = 255) -> Dict[str, torch.Tensor]:
    """Cross-entropy (optionally class-weighted) + Dice on logits upsampled to the mask size (B×H×W ids)."""
    up = upsample_logits(logits, tuple(target.shape[-2:]))
    ce = F.cross_entropy(up, target.long(), weight=class_weights, ignore_index=ignore_index)
    parts: List[torch.Tensor] = [ce]
    dl = dice_loss(up, target, ignore_index) if dice_weight > 0 else ce.new_zeros(())
    parts.append(dice_weight * dl)
    return {'loss': sum(parts), 'ce': ce.detach(), 'dice': dl.detach()}

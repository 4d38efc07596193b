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
ViTSegmenter: a timm ViT/DeiT backbone with a light segmentation head.

Simple feature pyramid + decoder.

The backbone's single-scale patch tokens (stride ``patch``) are folded to a grid and projected by
``neck`` (1×1 conv, the only consumer of the embedding width, so the pruner's embedding surgery
handles it like the detector's neck). A simple feature pyramid in the spirit of ViTDet builds the
stride ``patch/2`` level with a ConvTranspose; the decoder fuses it with the upsampled
stride-``patch`` level (FPN-style top-down sum), refines with depthwise-separable convs (BatchNorm
throughout the head), goes up once more with a ConvTranspose to stride ``patch/4`` and fuses a
small detail stem (a strided conv and a depthwise-separable conv on the image: colour, texture,
sharp boundaries) at both decoder levels. With ``conv_stem`` the ViT is a hybrid: a MobileNet-style
conv stem (strides patch/4 and patch/2) feeds the patch embedding and both decoder levels.

The output is class **logits** at stride ``patch/4`` (``1×C×H/4×W/4`` for patch 16): upsampling to
input-image pixels and the argmax happen on the host in :mod:`vitedge_ros.runtime.segmentation`,
which folds the inverse letterbox into the same resampling (see docs/SEGMENTATION.md for why).
Every op is a standard ONNX op (Conv, ConvTranspose, BatchNormalization, Resize, Concat,
AveragePool, Erf): no custom ops.
"""

from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from timm.layers import PatchEmbed
import torch
from torch import nn
import torch.nn.functional as F

from .pretrained import create_timm
from .vit_detector import _pair


def _dwsep(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """
    Depthwise 3×3 (stride) + BN + GELU + pointwise 1×1 + BN + GELU (a MobileNet block).

    BatchNorm folds into the convs at export. Normalisation in the decoder matters: without it the
    head learns several times slower (measured: mIoU 0.50 vs 0.75 after the same 240 steps on 32
    scenes).
    """
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.GELU(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.GELU(),
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    """Transposed conv 2×2/2 + BN + GELU."""
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 2, stride=2, bias=False), nn.BatchNorm2d(cout), nn.GELU()
    )


def detail_stem(channels: int, stride: int = 4) -> nn.Sequential:
    """
    Strided conv on the image + BN + GELU + depthwise-separable conv.

    Colour and texture at ``stride``.
    """
    return nn.Sequential(
        nn.Conv2d(3, channels, stride, stride=stride, bias=False),
        nn.BatchNorm2d(channels),
        nn.GELU(),
        *_dwsep(channels, channels),
    )


class StemPatchEmbed(PatchEmbed):
    """
    Patch embedding behind a small convolutional stem (a hybrid ViT).

    ``proj`` patchifies its output.

    The stem (3×3 conv, then MobileNet-style depthwise-separable blocks with BatchNorm) reaches
    stride ``patch/4`` with ``c`` channels and stride ``patch/2`` with ``2c``; ``proj`` (2×2/2)
    turns the latter into tokens. Convolutions learn local texture and shape far faster than patch
    tokens do (a plain patch-16 ViT trained from scratch on a CPU budget plateaus well below the
    target; see docs/SEGMENTATION.md), and the decoder reuses both stem levels (kept in
    ``last_stem``). ``proj`` stays a plain Conv2d producing the embedding, so the pruner's
    embedding surgery applies unchanged.
    """

    def __init__(
        self,
        img_size: Any = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        stem_channels: int = 32,
        **kwargs: Any,
    ) -> None:
        h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
        ps = patch_size if isinstance(patch_size, int) else patch_size[0]
        if ps % 8 or h % ps or w % ps:
            raise ValueError(
                'StemPatchEmbed: the patch size ({}) must be a multiple of 8 that divides the '
                'image '
                'size {}'.format(patch_size, img_size)
            )
        c = int(stem_channels)
        super().__init__(
            img_size=(h * 2 // ps, w * 2 // ps),
            patch_size=2,
            in_chans=2 * c,
            embed_dim=embed_dim,
            **kwargs,
        )
        s1 = ps // 8
        half = max(8, c // 2)
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, stride=s1, padding=1, bias=False),
            nn.BatchNorm2d(half),
            nn.GELU(),
            _dwsep(half, c, 2),
            _dwsep(c, c),
        )
        self.stem8 = nn.Sequential(_dwsep(c, 2 * c, 2), _dwsep(2 * c, 2 * c))
        self.stem_stride = ps // 2
        self.stem_channels = c
        self.last_stem: Optional[Tuple[torch.Tensor, torch.Tensor]] = None

    def feat_ratio(self, as_scalar: bool = True) -> Any:
        """Stride of the tokens relative to the image."""
        r = super().feat_ratio(as_scalar)
        return r * self.stem_stride if as_scalar else tuple(v * self.stem_stride for v in r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image → stem (both levels kept in ``last_stem``) → patch tokens."""
        s4 = self.stem(x)
        s8 = self.stem8(s4)
        self.last_stem = (s4, s8)
        return super().forward(s8)


class SegHead(nn.Module):
    """
    Pyramid and decoder: stride-s features (``hc`` channels) → logits at stride s/4.

    Fine features at s/4 (``fine`` channels) and s/2 (``mid`` channels) come from the backbone's
    conv stem, or, without one, from an own detail stem (a strided conv on the image + a
    depthwise-separable conv) whose output is average-pooled for s/2. Texture and edges are what
    tell water and fields from bare ground.
    """

    def __init__(
        self,
        hc: int,
        num_classes: int,
        detail_channels: int = 16,
        detail_stride: int = 4,
        own_detail: bool = True,
        mid_channels: Optional[int] = None,
    ) -> None:
        super().__init__()
        lo = max(8, hc // 2)
        dc = self.detail_channels = int(detail_channels)
        mc = dc if mid_channels is None else int(mid_channels)
        self.up8 = _up(hc, hc)
        self.fuse8 = _dwsep(hc + mc, hc)
        self.up4 = _up(hc, lo)
        if dc > 0:
            if own_detail:
                self.detail = detail_stem(dc, detail_stride)
            self.pool = nn.AvgPool2d(2)
        self.fuse4 = _dwsep(lo + dc, lo)
        self.classifier = nn.Conv2d(lo, num_classes, 1)

    def forward(self, f16: torch.Tensor, image: torch.Tensor, detail: Any = None) -> torch.Tensor:
        """
        Logits at stride s/4 from stride-s features and the image.

        Or the stem's ``(fine, mid)`` maps.
        """
        f8 = self.up8(f16) + F.interpolate(
            f16, scale_factor=2.0, mode='bilinear', align_corners=False
        )
        fine = mid = None
        if isinstance(detail, (tuple, list)):
            fine, mid = detail
        elif self.detail_channels > 0:
            fine = detail if detail is not None else self.detail(image)
            mid = self.pool(fine)
        if mid is not None:
            f8 = torch.cat([f8, mid], dim=1)
        f4 = self.up4(self.fuse8(f8))
        if fine is not None:
            f4 = torch.cat([f4, fine], dim=1)
        return self.classifier(self.fuse4(f4))


class ViTSegmenter(nn.Module):
    """
    Semantic segmenter on a timm ViT backbone.

    ``forward`` returns logits ``B×C×(H/stride)×(W/stride)`` (stride = patch/4).
    """

    def __init__(
        self,
        backbone: str = 'vit_tiny_patch16_224',
        num_classes: int = 7,
        img_size: Union[int, Sequence[int]] = (240, 320),
        pretrained: bool = False,
        head_channels: int = 64,
        detail_channels: int = 16,
        conv_stem: bool = False,
        pretrained_file: Optional[str] = None,
        **backbone_kwargs,
    ) -> None:
        super().__init__()
        self.img_size = _pair(img_size)  # (H, W)
        self.num_classes = int(num_classes)
        self.conv_stem = bool(conv_stem)
        extra: Dict[str, Any] = {}
        if self.conv_stem:
            if detail_channels <= 0:
                raise ValueError(
                    'ViTSegmenter: conv_stem needs detail_channels > 0 (the stem width)'
                )
            extra['embed_layer'] = partial(StemPatchEmbed, stem_channels=int(detail_channels))
        self.backbone = create_timm(
            backbone,
            pretrained=pretrained,
            pretrained_file=pretrained_file,
            num_classes=0,
            img_size=self.img_size,
            **backbone_kwargs,
            **extra,
        )
        self.backbone_name = backbone
        self.backbone_kwargs = dict(backbone_kwargs)
        embed = int(self.backbone.embed_dim)
        gh, gw = self.backbone.patch_embed.grid_size
        patch = self.img_size[0] // gh
        if patch % 4 or self.img_size[0] != gh * patch or self.img_size[1] != gw * patch:
            raise ValueError(
                'ViTSegmenter: img_size {} must be a multiple of the patch size {} (itself a '
                'multiple of 4)'.format(self.img_size, patch)
            )
        self.grid = (int(gh), int(gw))
        self.patch = int(patch)
        self.stride = self.patch // 4
        self.head_channels = int(head_channels)
        self.detail_channels = int(detail_channels)
        self.neck = nn.Sequential(
            nn.Conv2d(embed, self.head_channels, 1, bias=False),
            nn.BatchNorm2d(self.head_channels),
            nn.GELU(),
        )
        self.head = SegHead(
            self.head_channels,
            self.num_classes,
            self.detail_channels,
            self.stride,
            own_detail=not self.conv_stem,
            mid_channels=2 * self.detail_channels if self.conv_stem else None,
        )

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
        if getattr(
            self, 'conv_stem', False
        ):  # absent on modules pickled before the option existed
            pe = self.backbone.patch_embed
            detail, pe.last_stem = pe.last_stem, None
        return self.head(f16, x, detail)

    def config(self) -> Dict[str, object]:
        """Return the constructor arguments, to rebuild the model from a checkpoint."""
        return {
            'backbone': self.backbone_name,
            'num_classes': self.num_classes,
            'img_size': list(self.img_size),
            'head_channels': self.head_channels,
            'detail_channels': self.detail_channels,
            'conv_stem': bool(getattr(self, 'conv_stem', False)),
            **self.backbone_kwargs,
        }


class SegmenterExport(nn.Module):
    """
    Wraps a segmenter for ONNX.

    One output ``logits`` (B×C×h×w at the network's map resolution).
    """

    output_names: Tuple[str, ...] = ('logits',)

    def __init__(self, segmenter: nn.Module) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the wrapped segmenter."""
        return self.segmenter(x)


# --- losses
# -------------------------------------------------------------------------------------------------


def upsample_logits(logits: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of B×C×h×w logits to ``size`` (H, W), as the runtime decoder does."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode='bilinear', align_corners=False)


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """
    Soft multi-class Dice loss.

    1 − mean Dice over the classes present in prediction or target.
    """
    c = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1).to(logits.dtype)
    prob = torch.softmax(logits, dim=1) * valid
    onehot = (
        F.one_hot(target.clamp(max=c - 1).long(), c).permute(0, 3, 1, 2).to(logits.dtype) * valid
    )
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    dice = (2 * inter + 1.0) / (denom + 1.0)
    if not bool(present.any()):
        return logits.sum() * 0.0
    return 1.0 - dice[present].mean()


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    class_weights: Union[torch.Tensor, None] = None,
    dice_weight: float = 0.5,
    ignore_index: int = 255,
) -> Dict[str, torch.Tensor]:
    """
    Return the cross-entropy (optionally class-weighted) + Dice loss of segmentation logits.

    The logits are upsampled to the mask size first (masks: B×H×W class ids).
    """
    up = upsample_logits(logits, tuple(target.shape[-2:]))
    ce = F.cross_entropy(up, target.long(), weight=class_weights, ignore_index=ignore_index)
    parts: List[torch.Tensor] = [ce]
    dl = dice_loss(up, target, ignore_index) if dice_weight > 0 else ce.new_zeros(())
    parts.append(dice_weight * dl)
    return {'loss': sum(parts), 'ce': ce.detach(), 'dice': dl.detach()}

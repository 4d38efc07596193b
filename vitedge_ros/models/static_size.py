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
Fix a ``dynamic_img_size`` timm ViT to one input size for export.

With the resampled position grid baked in.

A timm ``VisionTransformer(dynamic_img_size=True)`` resamples its learned position embedding to the
token grid of every input in ``forward`` (``timm.layers.resample_abs_pos_embed``: bicubic with
antialiasing, in ``VisionTransformer._pos_embed``, timm 1.0). The ONNX exporter has no antialiased
bicubic resize (``aten::_upsample_bicubic2d_aa``), so such a model cannot be exported at a size
other than its own, and a bundle's input is static anyway. :func:`static_size_copy` runs the
resampling once, in torch, for the bundle's size and returns a copy whose ViTs use that grid as a
fixed position embedding (``dynamic_img_size`` off): its outputs at that size equal the original's
exactly, and it exports.
"""

import copy
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn


def _dynamic_vits(module: nn.Module) -> List[nn.Module]:
    from timm.models.vision_transformer import VisionTransformer

    return [
        m
        for m in module.modules()
        if isinstance(m, VisionTransformer)
        and getattr(m, 'dynamic_img_size', False)
        and getattr(m, 'pos_embed', None) is not None
    ]


def static_size_copy(module: nn.Module, input_shape: Sequence[int]) -> nn.Module:
    """
    Return ``module`` fixed to ``input_shape`` (a copy, or itself when nothing needs fixing).

    ``module`` itself is returned when it has no ``dynamic_img_size`` ViT.

    ``input_shape`` is the exported input (N×3×H×W); the token grid each ViT sees at that size is
    measured with one forward pass (a ViT behind a conv stem sees a smaller map). Each such ViT
    gets its position embedding resampled to that grid with timm's own function and arguments, the
    patch embedding set to that size with flattened output, and ``dynamic_img_size`` off.
    """
    vits = _dynamic_vits(module)
    if not vits:
        return module
    from timm.layers import Format, resample_abs_pos_embed

    grids: Dict[int, Tuple[int, int]] = {}
    hooks = []
    for i, vit in enumerate(vits):

        def hook(_m, _args, out, i=i):
            grids[i] = (
                int(out.shape[1]),
                int(out.shape[2]),
            )  # NHWC tokens (dynamic_img_size output format)

        hooks.append(vit.patch_embed.register_forward_hook(hook))
    was_training = module.training
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(*input_shape))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    out = copy.deepcopy(module).eval()
    for i, vit in enumerate(_dynamic_vits(out)):
        if i not in grids:
            continue
        pe = vit.patch_embed
        n_prefix = 0 if getattr(vit, 'no_embed_class', False) else int(vit.num_prefix_tokens)
        with torch.no_grad():
            pos = resample_abs_pos_embed(
                vit.pos_embed, new_size=grids[i], old_size=pe.grid_size, num_prefix_tokens=n_prefix
            )
        vit.pos_embed = nn.Parameter(pos.detach().clone(), requires_grad=False)
        vit.dynamic_img_size = False
        pe.img_size = (grids[i][0] * pe.patch_size[0], grids[i][1] * pe.patch_size[1])
        pe.grid_size = grids[i]
        pe.num_patches = grids[i][0] * grids[i][1]
        pe.flatten = True
        pe.output_fmt = Format.NCHW
    return out

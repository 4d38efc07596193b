"""``create_model``: one factory for timm classifiers and the project's detector."""
from typing import Any, Optional, Sequence, Union

import timm
from torch import nn

from .vit_detector import ViTCenterDetector

DETECTORS = {'vit_center': ViTCenterDetector}


def create_model(arch: str, task: str = 'classify', num_classes: int = 1000,
                 img_size: Optional[Union[int, Sequence[int]]] = None, pretrained: bool = False,
                 **kwargs: Any) -> nn.Module:
    """Create a classifier (any timm model name) or a detector (``vit_center`` with a timm ``backbone``).

    ``pretrained: true`` downloads weights through timm for users who have a model hub; the tests and
    the demo here train from scratch.
    """
    if task == 'detect' or arch in DETECTORS:
        if arch not in DETECTORS:
            raise ValueError('unknown detector arch {!r} (known: {})'.format(arch, ', '.join(DETECTORS)))
        extra = {} if img_size is None else {'img_size': img_size}
        return DETECTORS[arch](num_classes=num_classes, pretrained=pretrained, **extra, **kwargs)
    if task != 'classify':
        raise ValueError("task must be 'classify' or 'detect', got {!r}".format(task))
    if not timm.is_model(arch):
        raise ValueError('unknown timm model {!r}'.format(arch))
    extra = {} if img_size is None else {'img_size': img_size}
    return timm.create_model(arch, pretrained=pretrained, num_classes=num_classes, **extra, **kwargs)

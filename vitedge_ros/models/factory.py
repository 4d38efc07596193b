"""``create_model``: one factory for timm classifiers, the project's detector and its segmenter."""
from typing import Any, Optional, Sequence, Union

import timm
from torch import nn

from ..structure import record_factory
from .pretrained import create_timm
from .vit_detector import ViTCenterDetector
from .vit_segmenter import ViTSegmenter

DETECTORS = {'vit_center': ViTCenterDetector}
SEGMENTERS = {'vit_segmenter': ViTSegmenter}


def create_model(arch: str, task: str = 'classify', num_classes: int = 1000,
                 img_size: Optional[Union[int, Sequence[int]]] = None, pretrained: bool = False,
                 pretrained_file: Optional[str] = None, **kwargs: Any) -> nn.Module:
    """Create a classifier (any timm model name) or a detector (``vit_center`` with a timm ``backbone``).

    ``pretrained_file`` (a .safetensors / .pth state dict of the timm model) loads local weights into the
    classifier, or into the detector's / segmenter's timm backbone; ``pretrained: true`` downloads timm's
    weights where a model hub is reachable and fails within seconds otherwise (see
    :mod:`vitedge_ros.models.pretrained`, which raises ``PretrainedError``). ``task='segment'`` (or arch
    ``vit_segmenter``) builds a :class:`ViTSegmenter` on a timm ``backbone``. The architecture arguments
    (not the weight sources) are recorded on the module (:func:`vitedge_ros.structure.record_factory`) so that
    a checkpoint can describe how to rebuild it.
    """
    model = _create(arch, task, num_classes, img_size, pretrained, pretrained_file, **kwargs)
    if task not in ('segment', 'detect') and arch in SEGMENTERS:
        task = 'segment'
    elif task not in ('segment', 'detect') and arch in DETECTORS:
        task = 'detect'
    return record_factory(model, arch, task, num_classes, img_size, kwargs)


def _create(arch: str, task: str, num_classes: int, img_size: Optional[Union[int, Sequence[int]]],
            pretrained: bool, pretrained_file: Optional[str], **kwargs: Any) -> nn.Module:
    if pretrained_file is not None:
        kwargs['pretrained_file'] = pretrained_file
    if task == 'segment' or arch in SEGMENTERS:
        if arch not in SEGMENTERS:
            raise ValueError('unknown segmenter arch {!r} (known: {})'.format(arch, ', '.join(SEGMENTERS)))
        extra = {} if img_size is None else {'img_size': img_size}
        return SEGMENTERS[arch](num_classes=num_classes, pretrained=pretrained, **extra, **kwargs)
    if task == 'detect' or arch in DETECTORS:
        if arch not in DETECTORS:
            raise ValueError('unknown detector arch {!r} (known: {})'.format(arch, ', '.join(DETECTORS)))
        extra = {} if img_size is None else {'img_size': img_size}
        return DETECTORS[arch](num_classes=num_classes, pretrained=pretrained, **extra, **kwargs)
    if task != 'classify':
        raise ValueError("task must be 'classify', 'detect' or 'segment', got {!r}".format(task))
    if not timm.is_model(arch):
        raise ValueError('unknown timm model {!r}'.format(arch))
    extra = {} if img_size is None else {'img_size': img_size}
    return create_timm(arch, pretrained=pretrained, num_classes=num_classes, **extra, **kwargs)

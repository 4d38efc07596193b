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

"""``create_model``: one factory for timm classifiers, the project's detector and its segmenter."""

from typing import Any, Optional, Sequence, Union

from torch import nn

from ..structure import record_factory
from ..tasks import get_task, task_of_arch


def create_model(
    arch: str,
    task: str = 'classify',
    num_classes: int = 1000,
    img_size: Optional[Union[int, Sequence[int]]] = None,
    pretrained: bool = False,
    pretrained_file: Optional[str] = None,
    **kwargs: Any,
) -> nn.Module:
    """
    Create a classifier (any timm model name) or a detector.

    ``vit_center`` with a timm ``backbone``.

    ``pretrained_file`` (a .safetensors / .pth state dict of the timm model) loads local weights
    into the classifier, or into the detector's / segmenter's timm backbone; ``pretrained: true``
    downloads timm's weights where a model hub is reachable and fails within seconds otherwise (see
    :mod:`vitedge_ros.models.pretrained`, which raises ``PretrainedError``). ``task='segment'`` (or
    arch ``vit_segmenter``) builds a :class:`ViTSegmenter` on a timm ``backbone``. The task object
    (:func:`vitedge_ros.tasks.get_task`) builds the model; a project architecture (``vit_center``,
    ``vit_segmenter``) asked for under the default ``classify`` builds its own task's model. The
    architecture arguments (not the weight sources) are recorded on the module
    (:func:`vitedge_ros.structure.record_factory`) so that a checkpoint can describe how to rebuild
    it. Raises ValueError for an unknown task (one line naming the known ones) or an architecture
    the task lacks.
    """
    t = get_task(task)
    owner = task_of_arch(arch)
    if (
        owner is not None and not t.model_archs
    ):  # a project arch under a task that takes any timm name
        t = owner
    build = (
        dict(kwargs, pretrained_file=pretrained_file) if pretrained_file is not None else kwargs
    )
    model = t.create_model(arch, num_classes, img_size, pretrained, **build)
    return record_factory(model, arch, t.name, num_classes, img_size, kwargs)

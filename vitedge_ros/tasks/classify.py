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
The ``classify`` task: one label per image (decoder ``classifier``); any timm model name.

Runtime half: class scores, not flown by vitedge_node, reads digits or an ImageFolder. Workstation
half: timm classifiers (:func:`vitedge_ros.models.pretrained.create_timm`), exported as they are
(one ``logits`` output), top-1 accuracy (:func:`vitedge_ros.training.evaluate_classifier`),
calibration from the training arrays and the training loop
(:func:`vitedge_ros.training.train_classifier`).
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .base import load_ref, Task
from .registry import register_task


@register_task
class ClassifyTask(Task):
    """Image classification: top-k labels of the whole frame."""

    name = 'classify'
    title = 'classification'
    model_word = 'classifier'
    token_merging = True
    data_hint = 'classification reads digits or an ImageFolder (root/<class>/<image>)'
    training_sources = recipe_sources = ('digits', 'imagefolder')

    argmax_answer = True
    hooks = {
        'recipe_data': 'vitedge_ros.training.data:classification_recipe_data',
        'calibration_losses': 'vitedge_ros.compress.stages.prune:classifier_losses',
        'finetune': 'vitedge_ros.compress.stages.finetune:finetune_classifier',
        'training_data': 'vitedge_ros.training.data:classification_training_data',
        'validate_epoch': 'vitedge_ros.training.run:validate_classifier',
    }

    def data_labels(self, data: Dict[str, Any]) -> List[str]:
        """
        Return the digits' classes or an ImageFolder's class folders.

        :func:`..data.sources.classification_classes`.
        """
        from ..data.sources import classification_classes

        return classification_classes(data)

    def agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Optional[bool]:
        """Return whether both runs give the same top-1 class in the first output (logits 1×C)."""
        return int(np.argmax(reference[0])) == int(np.argmax(outputs[0]))

    def create_model(
        self,
        arch: str,
        num_classes: int,
        img_size: Any = None,
        pretrained: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Return a timm classifier; ValueError ``unknown timm model`` for a name timm lacks."""
        import timm

        if not timm.is_model(arch):
            raise ValueError('unknown timm model {!r}'.format(arch))
        extra = {} if img_size is None else {'img_size': img_size}
        extra.update(kwargs)
        return load_ref('vitedge_ros.models.pretrained:create_timm')(
            arch, pretrained=pretrained, num_classes=num_classes, **extra
        )

    def evaluate(self, model: Any, data: Any) -> Dict[str, Any]:
        """``{'top1': accuracy}`` on ``data.x_test`` / ``data.y_test``."""
        return {
            'top1': load_ref('vitedge_ros.training:evaluate_classifier')(
                model, data.x_test, data.y_test
            )
        }

    def calibration_inputs(self, data: Any, n: int) -> np.ndarray:
        """Return the first ``n`` training arrays (already normalised N×3×H×W float32)."""
        return np.ascontiguousarray(data.x_train[:n])

    def eval_inputs(self, data: Any, n: Optional[int] = None) -> np.ndarray:
        """Return the test arrays, all or the first ``n``."""
        return data.x_test if n is None else data.x_test[:n]

    def train(self, model: Any, data: Any, **common: Any) -> Any:
        """:func:`vitedge_ros.training.train_classifier` on ``data.x_train`` / ``data.y_train``."""
        return load_ref('vitedge_ros.training:train_classifier')(
            model, data.x_train, data.y_train, **common
        )

    # ---- recipes and compression
    def recipe_spec(self, recipe: Dict[str, Any]) -> Any:
        """
        Return the input of a recipe model without a checkpoint.

        imagefolder: 224 stretched with timm's ImageNet normalisation; digits: 32 (``img_size``
        overrides).
        """
        return load_ref('vitedge_ros.training.data:classification_recipe_spec')(recipe)

    def recipe_decoder(self, model: Any) -> Dict[str, Any]:
        """``classifier`` with the top 3 classes."""
        return self.decoder(top_k=3)

    def evaluate_outputs(self, outs: Sequence[np.ndarray], data: Any) -> Dict[str, Any]:
        """``{'top1': accuracy}`` of the logits ``outs[0]`` (N×C) against ``data.y_test``."""
        return {'top1': float((outs[0].argmax(1) == data.y_test).mean())}

    def source_agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Dict[str, Any]:
        """
        ``agreement_with_source``.

        Fraction of the same top-1 class (``vitedge_ros.eval.classification``).
        """
        agreement = load_ref('vitedge_ros.eval.classification:agreement')
        return {'agreement_with_source': agreement(reference[0], outputs[0])}

    # ---- training configs
    def training_decoder(self, export: Dict[str, Any]) -> Dict[str, Any]:
        """``classifier`` with ``export.top_k`` classes (5)."""
        return self.decoder(top_k=export.get('top_k', 5))

    def export_samples(self, data: Any) -> Any:
        """None: the exporter draws its own inputs."""
        return None

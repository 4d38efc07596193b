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
The ``segment`` task: a per-pixel label map for landing-zone checks (decoder ``segmenter``).

Runtime half: a label map in input-image pixels (no boxes: no obstacles, no person targets), flown
by vitedge_node, reads synthetic-aerial scenes or a masks folder. Workstation half: the
``vit_segmenter`` (:class:`vitedge_ros.models.vit_segmenter.ViTSegmenter`) exported through
:class:`~vitedge_ros.models.vit_segmenter.SegmenterExport` (one ``logits`` output), mean IoU on the
validation masks (:func:`vitedge_ros.training.evaluate_segmenter`) and its training loop
(:func:`vitedge_ros.training.train_segmenter`).
"""

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .base import load_ref, Task
from .registry import register_task


@register_task
class SegmentTask(Task):
    """Semantic segmentation: one class id per input-image pixel."""

    name = 'segment'
    title = 'segmentation'
    model_word = 'segmenter'
    segmentation = True
    train_keys = ('dice_weight', 'class_weight_power')
    on_node = True
    data_hint = (
        'segmentation reads synthetic-aerial scenes or a masks folder '
        '(images/ + masks/ PNG label maps)'
    )
    training_sources = ('synthetic-aerial', 'masks')
    recipe_sources = ('synthetic-aerial',)
    decoder_defaults = {'upsample': 'linear'}
    model_archs = {'vit_segmenter': 'vitedge_ros.models.vit_segmenter:ViTSegmenter'}

    argmax_answer = True
    model_keys = ('backbone', 'head_channels', 'detail_channels', 'conv_stem')
    train_batch_size = 16
    recipe_input_size = [240, 320]
    hooks = {
        'recipe_data': 'vitedge_ros.training.data:segmentation_recipe_data',
        'onnx_agreement': 'vitedge_ros.training.evaluate:segmenter_onnx_agreement',
        'calibration_losses': 'vitedge_ros.compress.stages.prune:segmenter_losses',
        'finetune': 'vitedge_ros.compress.stages.finetune:finetune_segmenter',
        'training_data': 'vitedge_ros.training.data:segmentation_training_data',
        'train_options': 'vitedge_ros.training.run:segmenter_options',
    }

    def data_labels(self, data: Dict[str, Any]) -> List[str]:
        """
        Return a masks folder.

        Its ``classes``; synthetic scenes: :data:`vitedge_ros.data.synthetic.SEG_CLASSES`.
        """
        if data.get('name') == 'masks':
            return [str(c) for c in data['classes']]
        from ..data.synthetic import SEG_CLASSES

        return list(SEG_CLASSES)

    def export_module(self, model: Any) -> Tuple[Any, List[str]]:
        """:class:`SegmenterExport` around the segmenter and its one output ``logits``."""
        module = load_ref('vitedge_ros.models.vit_segmenter:SegmenterExport')(model)
        return module, list(module.output_names)

    def evaluate(self, model: Any, data: Any) -> Dict[str, Any]:
        """
        Mean IoU, per-class IoU.

        Pixel and mean accuracy on ``data.val`` (masks in input-image pixels).
        """
        return load_ref('vitedge_ros.training:evaluate_segmenter')(model, data.val, data.labels)

    def train(self, model: Any, data: Any, **common: Any) -> Any:
        """:func:`vitedge_ros.training.train_segmenter` on ``data.train``; returns its history."""
        return load_ref('vitedge_ros.training:train_segmenter')(model, data.train, **common)

    # ---- recipes and compression
    def evaluate_metric(self, model: Any, data: Any) -> Dict[str, Any]:
        """
        miou, per_class_iou, pixel_acc, mean_acc.

        :func:`vitedge_ros.compress.evaluation.segmentation_metric`.
        """
        return load_ref('vitedge_ros.compress.evaluation:segmentation_metric')(
            self.evaluate(model, data)
        )

    def evaluate_outputs(self, outs: Sequence[np.ndarray], data: Any) -> Dict[str, Any]:
        """
        Return the same metric from the logits ``outs[0]`` through the runtime decoder.

        The metric is computed in input-image pixels.
        """
        return load_ref('vitedge_ros.compress.evaluation:segment_metric_from_logits')(
            outs[0], data
        )

    def source_agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Dict[str, Any]:
        """Pixel label agreement and the logits' SQNR (dB) against the source graph's."""
        label_agreement = load_ref('vitedge_ros.eval.segmentation:label_agreement')
        sqnr = load_ref('vitedge_ros.compress.quantize:sqnr_db')
        return {
            'agreement_with_source': round(label_agreement(reference[0], outputs[0]), 6),
            'logits_sqnr_db_vs_source': round(float(sqnr(reference[0], outputs[0])), 3),
        }

    # ---- training configs
    def training_decoder(self, export: Dict[str, Any]) -> Dict[str, Any]:
        """``segmenter`` with ``export.upsample`` (linear)."""
        return self.decoder(upsample=export.get('upsample', 'linear'))

    def final_metrics(
        self, model: Any, data: Any, cfg: Dict[str, Any], decoder: Dict[str, Any]
    ) -> Dict[str, Any]:
        """Mean IoU etc. with the bundle's ``decoder.upsample``."""
        return load_ref('vitedge_ros.training:evaluate_segmenter')(
            model, data.val, data.labels, upsample=decoder['upsample']
        )

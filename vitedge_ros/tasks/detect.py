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
The ``detect`` task: persons, vehicles and obstacles as boxes (decoders ``vit_center``, ``detr``).

Runtime half: boxes (score threshold, NMS, evaluate.py mAP, obstacles and person targets), flown by
vitedge_node, reads synthetic-aerial scenes, COCO JSON, VisDrone-DET folders or a mix of them.
Workstation half: the ``vit_center`` detector
(:class:`vitedge_ros.models.vit_detector.ViTCenterDetector`), exported through
:class:`~vitedge_ros.models.vit_detector.DetectorExport` (decoded rows ``detections`` first, then
the maps), COCO mAP on the validation scenes (:func:`vitedge_ros.training.evaluate_detector`) and
its training loop (:func:`vitedge_ros.training.train_detector`).
"""

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .base import load_ref, Task
from .registry import register_task


@register_task
class DetectTask(Task):
    """Object detection: boxes in input-image pixels."""

    name = 'detect'
    title = 'detection'
    model_word = 'detector'
    boxes = True
    train_keys = ('giou_weight', 'size_weight', 'heatmap_sigma', 'heatmap_class_weights')
    on_node = True
    reads_mixes = True
    scene_extras = True
    data_hint = 'detection reads synthetic-aerial scenes, COCO JSON, VisDrone-DET folders or a mix'
    training_sources = recipe_sources = ('synthetic-aerial', 'coco', 'visdrone')
    model_archs = {'vit_center': 'vitedge_ros.models.vit_detector:ViTCenterDetector'}

    watched_output = ('heatmap', 1)
    model_keys = (
        'backbone',
        'head_channels',
        'max_detections',
        'upsample',
        'stem_channels',
        'box',
    )
    recipe_input_size = [192, 256]
    hooks = {
        'recipe_data': 'vitedge_ros.training.data:detection_recipe_data',
        'evaluate_outputs': 'vitedge_ros.compress.evaluation:detection_metric_from_rows',
        'calibration_losses': 'vitedge_ros.compress.stages.prune:detector_losses',
        'finetune': 'vitedge_ros.compress.stages.finetune:finetune_detector',
        'training_data': 'vitedge_ros.training.data:detection_training_data',
        'validate_epoch': 'vitedge_ros.training.run:validate_detector',
        'final_metrics': 'vitedge_ros.training.run:detector_metrics',
        'train_options': 'vitedge_ros.training.run:detector_options',
        'check_train': 'vitedge_ros.training.run:check_detector_train',
    }

    def data_labels(self, data: Dict[str, Any]) -> List[str]:
        """
        Return a COCO / VisDrone source or a mix.

        Its classes (every item agreeing); synthetic scenes: theirs.
        """
        if load_ref('vitedge_ros.training:is_real_detection_data')(data):
            return list(load_ref('vitedge_ros.training:detection_data_classes')(data))
        from ..data.synthetic import DETECTION_CLASSES

        return list(DETECTION_CLASSES)

    def export_module(self, model: Any) -> Tuple[Any, List[str]]:
        """
        Return :class:`DetectorExport` around the detector and its output names.

        ``model`` is kept as it is when it already is a :class:`DetectorExport`.
        """
        wrapper_cls = load_ref('vitedge_ros.models.vit_detector:DetectorExport')
        module = model if isinstance(model, wrapper_cls) else wrapper_cls(model)
        return module, list(module.output_names)

    def evaluate(self, model: Any, data: Any) -> Dict[str, Any]:
        """
        Return COCO mAP@0.5 / mAP@0.5:0.95 on ``data.val`` with ``data.labels``.

        Both overall and ``per_class``.
        """
        return load_ref('vitedge_ros.training:evaluate_detector')(model, data.val, data.labels)

    def train(self, model: Any, data: Any, **common: Any) -> Any:
        """:func:`vitedge_ros.training.train_detector` on ``data.train``; returns its history."""
        return load_ref('vitedge_ros.training:train_detector')(model, data.train, **common)

    # ---- recipes and compression
    def recipe_decoder(self, model: Any) -> Dict[str, Any]:
        """``vit_center`` at score 0.3 with the model's ``max_detections`` (100)."""
        return self.decoder(
            score_threshold=0.3, max_detections=int(getattr(model, 'max_detections', 100))
        )

    def evaluate_metric(self, model: Any, data: Any) -> Dict[str, Any]:
        """
        mAP, the person's AP and per-class AP.

        :func:`vitedge_ros.compress.evaluation.detection_metric`.
        """
        return load_ref('vitedge_ros.compress.evaluation:detection_metric')(
            self.evaluate(model, data), data.labels
        )

    def source_agreement(
        self, reference: Sequence[np.ndarray], outputs: Sequence[np.ndarray]
    ) -> Dict[str, Any]:
        """
        ``heatmap_sqnr_db_vs_source``.

        :func:`vitedge_ros.compress.quantize.sqnr_db` of the heatmaps.
        """
        sqnr = load_ref('vitedge_ros.compress.quantize:sqnr_db')
        return {'heatmap_sqnr_db_vs_source': round(float(sqnr(reference[1], outputs[1])), 3)}

    # ---- training configs
    def training_decoder(self, export: Dict[str, Any]) -> Dict[str, Any]:
        """
        Return the ``vit_center`` decoder with ``export.max_detections`` (100).

        The score threshold comes with the metrics.
        """
        return self.decoder(max_detections=export.get('max_detections', 100))

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
Training: one package for tools/train.py and the compression recipes' fine-tuning stages.

Modules, one job each:

- :mod:`.config`: the training-config schema (the one config language, :mod:`vitedge_ros.schema`),
  ``validate_config``, ``load_config``, ``ConfigError`` (no torch);
- :mod:`.data`: the one data builder (``build_detection``, ``build_segmentation``,
  ``build_classification``, ``data_labels``, ``recipe_data``) and the sets it makes
  (``DetectionSet``, ``SegmentationSet``);
- :mod:`.loop`: epochs and steps (``train_detector``, ``train_classifier``, ``train_segmenter``);
- :mod:`.evaluate`: prediction and scores (mAP, top-1, mIoU, ONNX agreement);
- :mod:`.threshold`: the score-threshold pick of a detector bundle;
- :mod:`.run`: the orchestration behind tools/train.py (``run_training``).

The public names of these modules are also importable from the package itself (``from
vitedge_ros.training import train_detector``), loaded on first use so that
``vitedge_ros.training.config`` stays free of torch.
"""

import importlib
from typing import Any

_MODULES = ('config', 'data', 'loop', 'evaluate', 'threshold', 'run')
_EXPORTS = {
    'config': ('ConfigError', 'validate_config', 'load_config', 'DATA_RENAMED'),
    'data': (
        'DetectionSet',
        'DetectionData',
        'SegmentationSet',
        'TaskData',
        'scenes_to_detection_set',
        'make_detection_set',
        'make_flight_detection_set',
        'concat_detection_sets',
        'is_real_detection_data',
        'detection_data_classes',
        'make_detection_data',
        'sample_detection_set',
        'images_to_tensor',
        'letterbox_mask',
        'scenes_to_segmentation_set',
        'make_segmentation_set',
        'synthetic_detection',
        'build_detection',
        'build_segmentation',
        'build_classification',
        'flight_validation',
        'data_labels',
        'recipe_spec',
        'recipe_data',
    ),
    'loop': (
        'make_optimizer',
        'cosine_lr',
        'default_detection_loss',
        'train_detector',
        'train_classifier',
        'class_weights_from_masks',
        'train_segmenter',
    ),
    'evaluate': (
        'predict_detector',
        'evaluate_detector',
        'drop_ignored',
        'predict_classifier',
        'evaluate_classifier',
        'predict_segmenter_logits',
        'evaluate_segmenter',
        'segmenter_onnx_agreement',
    ),
    'threshold': ('pick_threshold',),
    'run': ('build_model', 'run_training', 'run_segment_training'),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Return a public name of one of the modules (imported on first use, PEP 562)."""
    if name in _WHERE:
        return getattr(importlib.import_module('.' + _WHERE[name], __name__), name)
    if name in _MODULES:
        return importlib.import_module('.' + name, __name__)
    raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))

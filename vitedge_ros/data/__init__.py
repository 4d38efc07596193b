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
Datasets: synthetic aerial scenes and readers for COCO, VisDrone, ImageFolder, masks, digits.

``sources`` turns the ``data:`` key of training configs and recipes into these readers, with label
maps, ignored regions, random crops of large frames and weighted mixes (docs/DATA.md).

Everything here is numpy + OpenCV (scikit-learn only inside the digits loader); nothing imports
torch: the dataset classes are plain map-style datasets that a torch ``DataLoader`` accepts as they
are.
"""

from .coco import CocoDetectionSet, load_coco_detection
from .common import DatasetError, DetectionSample, read_image
from .digits import (
    digits_as_bgr_images,
    DIGITS_CLASSES,
    DIGITS_MEAN,
    DIGITS_STD,
    load_digits_split,
)
from .imagefolder import ImageFolderSet
from .masks import read_label_map, SegmentationMaskSet
from .synthetic import (
    camera_sequence,
    DETECTION_CLASSES,
    DETECTION_SEG_CLASSES,
    generate_scene,
    save_coco_dataset,
    Scene,
    SEG_CLASSES,
    SyntheticDetectionDataset,
    to_coco,
)
from .visdrone import (
    parse_visdrone_annotation,
    VISDRONE_CLASSES,
    VISDRONE_TO_PROJECT,
    VisDroneDetectionSet,
)

__all__ = [
    'DETECTION_CLASSES',
    'DETECTION_SEG_CLASSES',
    'SEG_CLASSES',
    'Scene',
    'SyntheticDetectionDataset',
    'camera_sequence',
    'generate_scene',
    'save_coco_dataset',
    'to_coco',
    'CocoDetectionSet',
    'load_coco_detection',
    'DatasetError',
    'DetectionSample',
    'read_image',
    'DIGITS_CLASSES',
    'DIGITS_MEAN',
    'DIGITS_STD',
    'digits_as_bgr_images',
    'load_digits_split',
    'ImageFolderSet',
    'SegmentationMaskSet',
    'read_label_map',
    'VISDRONE_CLASSES',
    'VISDRONE_TO_PROJECT',
    'VisDroneDetectionSet',
    'parse_visdrone_annotation',
]

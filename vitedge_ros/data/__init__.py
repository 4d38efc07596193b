"""Datasets: synthetic aerial scenes and readers for COCO, VisDrone, ImageFolder, mask folders, digits.

``sources`` turns the ``data:`` key of training configs and recipes into these readers, with label maps,
ignored regions, random crops of large frames and weighted mixes (docs/DATA.md).

Everything here is numpy + OpenCV (scikit-learn only inside the digits loader); nothing imports torch:
the dataset classes are plain map-style datasets that a torch ``DataLoader`` accepts as they are.
"""
from .coco import CocoDetectionSet, load_coco_detection
from .common import DatasetError, DetectionSample, read_image
from .digits import DIGITS_CLASSES, DIGITS_MEAN, DIGITS_STD, digits_as_bgr_images, load_digits_split
from .imagefolder import ImageFolderSet
from .masks import SegmentationMaskSet, read_label_map
from .synthetic import (
    DETECTION_CLASSES,
    DETECTION_SEG_CLASSES,
    SEG_CLASSES,
    Scene,
    SyntheticDetectionDataset,
    camera_sequence,
    generate_scene,
    save_coco_dataset,
    to_coco,
)
from .visdrone import (
    VISDRONE_CLASSES,
    VISDRONE_TO_PROJECT,
    VisDroneDetectionSet,
    parse_visdrone_annotation,
)

__all__ = [
    'DETECTION_CLASSES', 'DETECTION_SEG_CLASSES', 'SEG_CLASSES', 'Scene', 'SyntheticDetectionDataset',
    'camera_sequence', 'generate_scene', 'save_coco_dataset', 'to_coco',
    'CocoDetectionSet', 'load_coco_detection',
    'DatasetError', 'DetectionSample', 'read_image',
    'DIGITS_CLASSES', 'DIGITS_MEAN', 'DIGITS_STD', 'digits_as_bgr_images', 'load_digits_split',
    'ImageFolderSet', 'SegmentationMaskSet', 'read_label_map',
    'VISDRONE_CLASSES', 'VISDRONE_TO_PROJECT', 'VisDroneDetectionSet', 'parse_visdrone_annotation',
]

"""Datasets: synthetic aerial scenes and readers for COCO, VisDrone, ImageFolder, mask folders, digits.

Everything here is numpy + OpenCV; nothing imports torch (the classes are plain map-style datasets that
a torch ``DataLoader`` accepts as they are).
"""
from .synthetic import (
    DETECTION_CLASSES,
    SEG_CLASSES,
    Scene,
    SyntheticDetectionDataset,
    camera_sequence,
    generate_scene,
    to_coco,
)

__all__ = [
    'DETECTION_CLASSES', 'SEG_CLASSES', 'Scene', 'SyntheticDetectionDataset', 'camera_sequence',
    'generate_scene', 'to_coco',
]

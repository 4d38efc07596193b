"""Torch model definitions: the ViT detector and segmenter and a ``create_model`` factory over timm."""
from .factory import create_model
from .vit_detector import DetectorExport, ViTCenterDetector, build_targets, detection_loss, resize_detector
from .vit_segmenter import SegmenterExport, ViTSegmenter, segmentation_loss

__all__ = ['create_model', 'ViTCenterDetector', 'DetectorExport', 'build_targets', 'detection_loss',
           'resize_detector',
           'ViTSegmenter', 'SegmenterExport', 'segmentation_loss']

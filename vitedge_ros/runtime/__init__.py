"""Torch-free perception runtime: bundles, preprocessing, engines, decoders and the pipeline.

Nothing here imports torch, timm or rclpy at import time.
"""
from .bundle import Bundle, InputSpec, load_bundle, write_bundle_yaml
from .detection import Classification, Detection, FrameResult
from .errors import BundleError, EngineError, FrameError
from .pipeline import Pipeline

__all__ = ['Bundle', 'InputSpec', 'load_bundle', 'write_bundle_yaml', 'Classification', 'Detection',
           'FrameResult', 'BundleError', 'EngineError', 'FrameError', 'Pipeline']

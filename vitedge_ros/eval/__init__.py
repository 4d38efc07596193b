"""Metrics: detection mAP (COCO evaluator), precision/recall, classification accuracy, latency statistics."""

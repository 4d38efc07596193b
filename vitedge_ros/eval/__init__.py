"""Metrics: detection mAP (COCO evaluator), precision/recall, classification accuracy, localisation.

Latency summaries come from ``vitedge_ros.runtime.latency_stats`` (one summary, one key vocabulary).
"""

import numpy as np

from vitedge_ros.runtime import Pipeline, load_bundle


def test_tiny_detector_bundle_runs(tiny_detector_bundle):
    bundle = load_bundle(tiny_detector_bundle)
    assert bundle.task == 'detect' and bundle.labels == ['person', 'vehicle', 'obstacle']
    res = Pipeline(bundle, backend='onnxruntime')(np.zeros((48, 80, 3), np.uint8))
    assert len(res.detections) == 20
    for d in res.detections:
        assert 0 <= d.box[0] <= d.box[2] <= 80 and 0 <= d.box[1] <= d.box[3] <= 48


def test_tiny_classifier_bundle_runs(tiny_classifier_bundle):
    res = Pipeline(tiny_classifier_bundle, backend='onnxruntime')(np.zeros((32, 32, 3), np.uint8))
    assert len(res.classes) == 3
    assert abs(sum(c.score for c in res.classes)) <= 1.0 + 1e-6

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

import shutil

import pytest
from vitedge_ros.runtime import BundleError, load_bundle, Pipeline
import yaml


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit_yaml(bundle_dir, fn):
    path = bundle_dir / 'bundle.yaml'
    meta = yaml.safe_load(path.read_text())
    fn(meta)
    path.write_text(yaml.safe_dump(meta))


def test_loads_valid_bundle(tiny_detector_bundle):
    b = load_bundle(tiny_detector_bundle)
    assert b.trt_targets == (
        'trt8.2',
        'trt8.6',
        'trt10',
    )  # exported for the default target, audited for all
    assert (b.input.width, b.input.height) == (96, 64)
    assert b.input.mean == (0.5, 0.5, 0.5)
    assert b.decoder_type == 'vit_center'
    assert b.onnx_path.name == 'model.onnx'


def test_missing_directory(tmp_path):
    with pytest.raises(BundleError, match='does not exist'):
        load_bundle(tmp_path / 'nope')


def test_missing_yaml(tmp_path):
    (tmp_path / 'model.onnx').write_bytes(b'x' * 100)
    with pytest.raises(BundleError, match='missing bundle.yaml'):
        load_bundle(tmp_path)


def test_missing_onnx(tiny_detector_bundle, tmp_path):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    (d / 'model.onnx').unlink()
    with pytest.raises(BundleError, match='missing model.onnx'):
        load_bundle(d)


def test_malformed_yaml(tiny_detector_bundle, tmp_path):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    (d / 'bundle.yaml').write_text('name: [unclosed\n')
    with pytest.raises(BundleError, match='malformed YAML'):
        load_bundle(d)


@pytest.mark.parametrize(
    'mutate, field',
    [
        (lambda m: m.pop('labels'), "missing required field 'labels'"),
        (lambda m: m.update(task='segmentation-ish'), 'task'),
        (lambda m: m['input'].update(width=-3), 'input.width'),
        (lambda m: m['input'].update(std=[1, 0, 1]), 'input.std'),
        (lambda m: m['input'].update(mean=[0.5, 0.5]), 'input.mean'),
        (lambda m: m['input'].update(color='yuv'), 'input.color'),
        (lambda m: m['input'].update(resize='crop'), 'input.resize'),
        (lambda m: m['decoder'].update(type='yolo'), 'decoder.type'),
        (lambda m: m.update(labels=['a', 'a', 'b']), 'labels'),
        (lambda m: m.update(schema_version=99), 'schema_version'),
        (lambda m: m['decoder'].update(score_threshold=3), 'decoder.score_threshold'),
        (lambda m: m.update(trt_targets='trt8.2'), 'trt_targets'),
        (lambda m: m.update(trt_targets=['tensorrt8']), 'trt_targets'),
    ],
)
def test_invalid_fields_are_named(tiny_detector_bundle, tmp_path, mutate, field):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    _edit_yaml(d, mutate)
    with pytest.raises(BundleError, match=field.replace('.', r'\.')):
        Pipeline(d, backend='onnxruntime')


def test_truncated_onnx_fails_at_load(tiny_detector_bundle, tmp_path):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    data = (d / 'model.onnx').read_bytes()
    (d / 'model.onnx').write_bytes(data[: len(data) // 3])
    with pytest.raises(BundleError, match='model.onnx'):
        Pipeline(d, backend='onnxruntime')


def test_input_size_mismatch_is_reported(tiny_detector_bundle, tmp_path):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    _edit_yaml(d, lambda m: m['input'].update(width=128))
    with pytest.raises(BundleError, match='model input is'):
        Pipeline(d, backend='onnxruntime')


def test_unknown_class_filter(tiny_detector_bundle):
    with pytest.raises(BundleError, match="'dog' is not a label"):
        Pipeline(tiny_detector_bundle, backend='onnxruntime', classes=['dog'])


def test_tensorrt_backend_without_tensorrt_says_why(tiny_detector_bundle):
    from vitedge_ros.runtime import EngineError

    pytest.importorskip('onnxruntime')
    try:
        import tensorrt  # noqa: F401

        pytest.skip('TensorRT present')
    except ImportError:
        pass
    with pytest.raises(EngineError, match='tensorrt'):
        Pipeline(tiny_detector_bundle, backend='tensorrt')


def test_bundle_without_trt_targets_still_loads(tiny_detector_bundle, tmp_path):
    d = _copy(tiny_detector_bundle, tmp_path / 'b')
    _edit_yaml(d, lambda m: m.pop('trt_targets'))
    assert load_bundle(d).trt_targets == ()

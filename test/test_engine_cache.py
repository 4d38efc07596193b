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
A writable engine location for bundles in read-only folders.

See vitedge_ros.runtime.engine_cache.
"""

import os
from pathlib import Path
import stat

import pytest
from vitedge_ros.runtime.engine_cache import engine_view
from vitedge_ros.runtime.engine_key import engine_files, onnx_sha256
from vitedge_ros.runtime.errors import BundleError

ROOT = Path(__file__).resolve().parents[1]


def _bundle(tmp_path, onnx=b'\x08\x07' * 64):
    src = tmp_path / 'share' / 'models' / 'my_bundle'
    (src / 'engines').mkdir(parents=True)
    (src / 'bundle.yaml').write_text('name: my_bundle\n', encoding='utf-8')
    (src / 'model.onnx').write_bytes(onnx)
    return src


def _read_only(path):
    for p in [path] + list(path.rglob('*')):
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(path):
    for p in [path] + list(path.rglob('*')):
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_view_of_a_read_only_bundle(tmp_path):
    src = _bundle(tmp_path)
    built = src / 'engines' / ('a' * 12 + '-trt8.2.1-NVIDIA_Tegra_X1-fp16.engine')
    built.write_bytes(b'engine')
    (src / 'engines' / '.partial.engine.tmp').write_bytes(b'x')
    _read_only(src)
    try:
        view = engine_view(src, tmp_path / 'cache')
        sha = onnx_sha256(src / 'model.onnx')[:12]
        assert view == tmp_path / 'cache' / 'my_bundle-{}'.format(sha)
        assert os.readlink(str(view / 'model.onnx')) == str(src / 'model.onnx')
        assert (view / 'bundle.yaml').read_text(encoding='utf-8') == 'name: my_bundle\n'
        assert [p.name for p in engine_files(view / 'engines')] == [
            built.name
        ]  # engines built before
        new = view / 'engines' / ('b' * 12 + '-trt8.2.1-NVIDIA_Tegra_X1-fp32.engine')
        new.write_bytes(b'written by build_engine')  # the view is writable
        assert engine_view(src, tmp_path / 'cache') == view  # idempotent
        assert new.read_bytes() == b'written by build_engine'
    finally:
        _writable(src)
    built.unlink()  # a dangling link is dropped on the next start
    engine_view(src, tmp_path / 'cache')
    assert [p.name for p in engine_files(view / 'engines')] == [new.name]


def test_view_changes_with_the_model(tmp_path):
    src = _bundle(tmp_path)
    first = engine_view(src, tmp_path / 'cache')
    (src / 'model.onnx').write_bytes(b'\x08\x08' * 64)
    assert engine_view(src, tmp_path / 'cache') != first
    (src / 'model.onnx').unlink()
    with pytest.raises(BundleError, match='model.onnx'):
        engine_view(src, tmp_path / 'cache')


def test_node_pipeline_loads_the_bundle_through_the_view(tmp_path, tiny_detector_bundle):
    from vitedge_ros.ros.core import create_pipeline

    params, pipe = create_pipeline(
        {
            'bundle': str(tiny_detector_bundle),
            'backend': 'onnxruntime',
            'engine_cache_dir': str(tmp_path / 'engines'),
        }
    )
    try:
        assert pipe.bundle.path.parent == tmp_path / 'engines'
        assert pipe.bundle.engines_dir.is_dir() and os.access(
            str(pipe.bundle.engines_dir), os.W_OK
        )
        assert pipe.bundle.name == 'tiny_detector' and params.bundle == str(tiny_detector_bundle)
    finally:
        pipe.close()
    params, pipe = create_pipeline(
        {'bundle': str(tiny_detector_bundle), 'backend': 'onnxruntime', 'engine_cache_dir': 'none'}
    )
    try:
        assert Path(pipe.bundle.path) == Path(tiny_detector_bundle)
    finally:
        pipe.close()
    params, pipe = create_pipeline({'bundle': str(tiny_detector_bundle), 'backend': 'onnxruntime'})
    # the default: $XDG_CACHE_HOME/vitedge_ros/engines (conftest points it at a temporary folder)
    try:
        assert (
            pipe.bundle.path.parent
            == Path(os.environ['XDG_CACHE_HOME']) / 'vitedge_ros' / 'engines'
        )
    finally:
        pipe.close()

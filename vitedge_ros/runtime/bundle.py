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
Model bundle: a directory with ``model.onnx`` and ``bundle.yaml`` (see ARCHITECTURE.md).

Loading validates every field before anything runs and fails with one :class:`BundleError` whose
message names the file and the field.
"""

import os
from pathlib import Path
import re
import tempfile
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import yaml

from .errors import BundleError, yaml_error_line

SCHEMA_VERSION = 1
TASKS = ('detect', 'classify', 'segment')
DECODERS = {
    'detect': ('vit_center', 'detr'),
    'classify': ('classifier',),
    'segment': ('segmenter',),
}
ONNX_MAGIC_MIN_BYTES = 16
TRT_TARGET_RE = re.compile(
    r'^trt\d+(\.\d+)?$'
)  # the names of vitedge_ros.export.trt_audit targets


PIXELS = ('normalized', 'raw')
INTERPOLATIONS = ('area', 'linear')
CHANNEL_ORDERS = ('rgb', 'bgr')


class InputSpec(NamedTuple):
    """
    How frames are turned into the network input.

    ``color``, ``mean`` and ``std`` describe the model as trained: ``x_net[c] = (x[c] / 255 -
    mean[c]) / std[c]`` with the channels in ``color`` order. ``pixels`` says who applies it:
    ``normalized`` (the default, every bundle before schema keys ``pixels``/``pixel_order``
    existed) means the host feeds that normalised tensor; ``raw`` means the graph takes the pixels
    as decoded (float32 0..255, channels in ``pixel_order``) and applies the channel order, mean
    and std itself (folded into its first layer, :mod:`vitedge_ros.export.raw_pixels`).
    ``interpolation`` is the resize: ``area`` (cv2.INTER_AREA when shrinking, INTER_LINEAR when
    enlarging: the default, what every older bundle was trained and run with) or ``linear``
    (cv2.INTER_LINEAR, INTER_AREA only below half size:
    :meth:`vitedge_ros.runtime.preprocess.Preprocessor.interpolation`).
    """

    width: int
    height: int
    color: str  # 'rgb' | 'bgr': the model's channel order (training)
    mean: Tuple[float, float, float]  # in [0, 1] units, in the model's colour order
    std: Tuple[float, float, float]
    resize: str  # 'letterbox' | 'stretch'
    pixels: str = 'normalized'  # 'normalized' | 'raw' (0..255, normalisation inside the graph)
    pixel_order: str = ''  # raw only: 'bgr' | 'rgb', the channel order of the graph input
    interpolation: str = 'area'  # 'area' | 'linear'

    @property
    def raw(self) -> bool:
        """Return True when the graph takes raw 0..255 pixels (``pixels: raw``)."""
        return self.pixels == 'raw'

    @property
    def input_order(self) -> str:
        """
        Channel order of the tensor the host feeds.

        ``pixel_order`` for raw bundles, else ``color``.
        """
        return self.pixel_order if self.raw else self.color

    def model_fields(self) -> Dict[str, Any]:
        """
        Return the fields that describe the trained model.

        What a checkpoint and its bundles must agree on.
        """
        return {
            'width': self.width,
            'height': self.height,
            'color': self.color,
            'mean': [float(v) for v in self.mean],
            'std': [float(v) for v in self.std],
            'resize': self.resize,
        }

    def to_dict(self) -> Dict[str, Any]:
        """Plain-dict form for bundle.yaml (the keys left at their defaults are not written)."""
        out = self.model_fields()
        if self.raw:
            out['pixels'] = self.pixels
            out['pixel_order'] = self.pixel_order
        if self.interpolation != 'area':
            out['interpolation'] = self.interpolation
        return out


class Bundle(NamedTuple):
    """A validated model bundle."""

    path: Path
    schema_version: int
    name: str
    task: str
    input: InputSpec  # noqa: A003 - the bundle.yaml key; part of the public API
    labels: List[str]
    decoder: Dict[str, Any]
    source: Dict[str, Any]
    trt_targets: Tuple[
        str, ...
    ] = ()  # TensorRT parser targets the graph was audited clean for (export/trt_audit)

    @property
    def onnx_path(self) -> Path:
        """Return the path of the bundle's ONNX graph."""
        return self.path / 'model.onnx'

    @property
    def engines_dir(self) -> Path:
        """Where TensorRT engines built on the target live."""
        return self.path / 'engines'

    @property
    def decoder_type(self) -> str:
        """Return the decoder name (``vit_center``, ``detr``, ``classifier``, ``segmenter``)."""
        return str(self.decoder['type'])


def _err(where: str, msg: str) -> BundleError:
    return BundleError('{}: {}'.format(where, msg))


def _require(meta: Dict[str, Any], key: str, where: str) -> Any:
    if key not in meta:
        raise _err(where, "missing required field '{}'".format(key))
    return meta[key]


def _number_triplet(value: Any, where: str, positive: bool = False) -> Tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise _err(where, 'expected a list of 3 numbers, got {!r}'.format(value))
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _err(where, 'expected numbers, got {!r}'.format(v))
        if positive and not v > 0:
            raise _err(where, 'values must be > 0, got {!r}'.format(v))
        out.append(float(v))
    return (out[0], out[1], out[2])


def parse_input_spec(raw: Any, where: str = 'bundle.yaml: input') -> InputSpec:
    """Validate the ``input`` mapping of a bundle."""
    if not isinstance(raw, dict):
        raise _err(where, 'expected a mapping, got {!r}'.format(type(raw).__name__))
    dims = []
    for key in ('width', 'height'):
        v = _require(raw, key, where)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0 or v > 8192:
            raise _err(
                '{}.{}'.format(where, key), 'expected a positive integer, got {!r}'.format(v)
            )
        dims.append(v)
    color = raw.get('color', 'rgb')
    if color not in ('rgb', 'bgr'):
        raise _err(where + '.color', "expected 'rgb' or 'bgr', got {!r}".format(color))
    resize = raw.get('resize', 'letterbox')
    if resize not in ('letterbox', 'stretch'):
        raise _err(where + '.resize', "expected 'letterbox' or 'stretch', got {!r}".format(resize))
    mean = _number_triplet(raw.get('mean', [0.0, 0.0, 0.0]), where + '.mean')
    std = _number_triplet(raw.get('std', [1.0, 1.0, 1.0]), where + '.std', positive=True)
    pixels = raw.get('pixels', 'normalized')
    if pixels not in PIXELS:
        raise _err(where + '.pixels', "expected 'normalized' or 'raw', got {!r}".format(pixels))
    order = raw.get('pixel_order', '')
    if pixels == 'raw' and order not in CHANNEL_ORDERS:
        raise _err(
            where + '.pixel_order',
            "pixels: raw needs pixel_order 'bgr' or 'rgb' (the channel order of "
            'the graph input), got {!r}'.format(order),
        )
    if pixels != 'raw' and order not in ('', None):
        raise _err(
            where + '.pixel_order',
            'only bundles with pixels: raw take a pixel_order, got {!r}'.format(order),
        )
    interp = raw.get('interpolation', 'area')
    if interp not in INTERPOLATIONS:
        raise _err(
            where + '.interpolation', "expected 'area' or 'linear', got {!r}".format(interp)
        )
    return InputSpec(dims[0], dims[1], color, mean, std, resize, pixels, order or '', interp)


def validate_meta(meta: Any, bundle_dir: Path) -> Bundle:
    """Validate a parsed bundle.yaml mapping and return a :class:`Bundle`."""
    where = str(bundle_dir / 'bundle.yaml')
    if not isinstance(meta, dict):
        raise _err(
            where, 'expected a YAML mapping at top level, got {}'.format(type(meta).__name__)
        )
    version = _require(meta, 'schema_version', where)
    if version != SCHEMA_VERSION:
        raise _err(
            where + ': schema_version',
            'unsupported version {!r} (this runtime reads {})'.format(version, SCHEMA_VERSION),
        )
    name = _require(meta, 'name', where)
    if not isinstance(name, str) or not name:
        raise _err(where + ': name', 'expected a non-empty string')
    task = _require(meta, 'task', where)
    if task not in TASKS:
        raise _err(where + ': task', 'expected one of {}, got {!r}'.format(', '.join(TASKS), task))
    spec = parse_input_spec(_require(meta, 'input', where), where + ': input')
    labels = _require(meta, 'labels', where)
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
    ):
        raise _err(where + ': labels', 'expected a non-empty list of class names')
    if len(set(labels)) != len(labels):
        raise _err(where + ': labels', 'class names must be unique')
    decoder = _require(meta, 'decoder', where)
    if not isinstance(decoder, dict) or 'type' not in decoder:
        raise _err(where + ': decoder', "expected a mapping with a 'type'")
    if decoder['type'] not in DECODERS[task]:
        raise _err(
            where + ': decoder.type',
            'task {!r} takes decoder {}, got {!r}'.format(
                task, ' or '.join(DECODERS[task]), decoder['type']
            ),
        )
    source = meta.get('source', {}) or {}
    if not isinstance(source, dict):
        raise _err(where + ': source', 'expected a mapping')
    targets = meta.get('trt_targets', []) or []
    if not isinstance(targets, (list, tuple)) or not all(
        isinstance(t, str) and TRT_TARGET_RE.match(t) for t in targets
    ):
        raise _err(
            where + ': trt_targets',
            "expected a list of TensorRT parser targets like 'trt8.2', got {!r}".format(targets),
        )
    return Bundle(
        bundle_dir,
        version,
        name,
        task,
        spec,
        list(labels),
        dict(decoder),
        dict(source),
        tuple(targets),
    )


def load_bundle(path: Union[str, Path], require_onnx: bool = True) -> Bundle:
    """Load and validate the bundle in directory ``path``."""
    bundle_dir = Path(path)
    if not bundle_dir.exists():
        raise BundleError('{}: bundle directory does not exist'.format(bundle_dir))
    if not bundle_dir.is_dir():
        raise BundleError(
            '{}: a bundle is a directory (model.onnx + bundle.yaml), got a file'.format(bundle_dir)
        )
    yaml_path = bundle_dir / 'bundle.yaml'
    if not yaml_path.is_file():
        raise BundleError('{}: missing bundle.yaml'.format(bundle_dir))
    try:
        meta = yaml.safe_load(yaml_path.read_text(encoding='utf-8'))
    except UnicodeDecodeError as exc:
        raise BundleError('{}: malformed YAML: {}'.format(yaml_path, exc)) from exc
    except yaml.YAMLError as exc:
        raise BundleError(
            '{}: malformed YAML: {}'.format(yaml_path, yaml_error_line(exc))
        ) from exc
    bundle = validate_meta(meta, bundle_dir)
    if require_onnx:
        check_onnx_file(bundle.onnx_path)
    return bundle


def check_onnx_file(onnx_path: Path) -> None:
    """Cheap sanity check of an ONNX file (exists, not empty or truncated to nothing)."""
    if not onnx_path.is_file():
        raise BundleError('{}: missing model.onnx'.format(onnx_path.parent))
    if onnx_path.stat().st_size < ONNX_MAGIC_MIN_BYTES:
        raise BundleError(
            '{}: file is empty or truncated ({} bytes)'.format(onnx_path, onnx_path.stat().st_size)
        )


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + path.name + '.', suffix='.tmp', dir=str(path.parent))
    try:
        with os.fdopen(fd, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(
            tmp, 0o666 & ~umask
        )  # mkstemp makes 0600 files; bundles are shared read-only data
        os.replace(tmp, str(path))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bundle_yaml(bundle_dir: Union[str, Path], meta: Dict[str, Any]) -> Path:
    """Validate ``meta`` and write it as ``bundle_dir/bundle.yaml`` atomically."""
    bundle_dir = Path(bundle_dir)
    meta = dict(meta)
    meta.setdefault('schema_version', SCHEMA_VERSION)
    if isinstance(meta.get('input'), InputSpec):
        meta['input'] = meta['input'].to_dict()
    validate_meta(meta, bundle_dir)
    text = yaml.safe_dump(_plain(meta), sort_keys=False)
    out = bundle_dir / 'bundle.yaml'
    atomic_write_bytes(out, text.encode('utf-8'))
    return out


def _plain(obj: Any) -> Any:
    """Convert numpy scalars, tuples and Paths to YAML-safe builtins."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, 'item') and callable(obj.item):
        return obj.item()
    return obj


def bundle_label_ids(bundle: Bundle, classes: Optional[List[Any]]) -> Optional[List[int]]:
    """Map a class filter (names or ids) to class ids, failing on unknown names."""
    if classes is None or len(classes) == 0:
        return None
    ids = []
    for c in classes:
        if isinstance(c, str):
            if c not in bundle.labels:
                raise BundleError(
                    'classes: {!r} is not a label of bundle {!r} (labels: {})'.format(
                        c, bundle.name, ', '.join(bundle.labels)
                    )
                )
            ids.append(bundle.labels.index(c))
        elif isinstance(c, int) and 0 <= c < len(bundle.labels):
            ids.append(c)
        else:
            raise BundleError(
                'classes: {!r} is not a label name or id of bundle {!r}'.format(c, bundle.name)
            )
    return ids

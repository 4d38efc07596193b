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
ROS 2 Humble message classes for tests where ``rosbags`` is missing.

The Python 3.6 / JetPack 4.6 lane.

``message_types()`` returns ``(typestore, types)`` like
``vitedge_ros.ros.rosbags_types.rosbags_types()``: the rosbags Humble typestore where rosbags is
installed, else plain stand-ins. rosbags needs Python >= 3.8, so the drone-side tests of the 3.6
lane use the stand-ins; the main lane keeps the real CDR round trips.

The stand-ins follow the Humble ``.msg`` definitions (std, sensor, geometry and diagnostic messages
typed here from ros2/common_interfaces humble, vision_msgs 4.1.1 read from the package's own
``msg/vision_msgs/*.msg``): a constructor takes every field by keyword and refuses a missing or
unknown one (as rosbags does); ``serialize_cdr`` checks each value against its declared type
(nested message type, number, string, fixed array length) and ``deserialize_cdr`` returns a copy
whose numeric arrays are numpy arrays of the declared dtype, as rosbags returns them.
"""

import copy
import re
from types import SimpleNamespace
from typing import Any, List, Tuple

import numpy as np
from vitedge_ros.ros.rosbags_types import rosbags_types, VISION_MSGS, vision_msgs_definitions

__all__ = ['COMMON_MSGS', 'PlainTypestore', 'message_types', 'plain_types', 'uses_rosbags']

#: Humble definitions (ros2/common_interfaces, branch humble) of the non-vision messages the
#: package uses.
COMMON_MSGS = {
    'builtin_interfaces/msg/Time': 'int32 sec\nuint32 nanosec',
    'std_msgs/msg/Header': 'builtin_interfaces/Time stamp\nstring frame_id',
    'std_msgs/msg/Bool': 'bool data',
    'sensor_msgs/msg/Image': 'std_msgs/Header header\nuint32 height\nuint32 width\nstring '
    'encoding\n'
    'uint8 is_bigendian\nuint32 step\nuint8[] data',
    'sensor_msgs/msg/CompressedImage': 'std_msgs/Header header\nstring format\nuint8[] data',
    'sensor_msgs/msg/RegionOfInterest': 'uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 '
    'width\n'
    'bool do_rectify',
    'sensor_msgs/msg/CameraInfo': 'std_msgs/Header header\nuint32 height\nuint32 width\nstring '
    'distortion_model\n'
    'float64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\n'
    'uint32 binning_y\nsensor_msgs/RegionOfInterest roi',
    'sensor_msgs/msg/PointField': 'uint8 INT8=1\nuint8 FLOAT32=7\nstring name\nuint32 '
    'offset\nuint8 datatype\n'
    'uint32 count',
    'sensor_msgs/msg/PointCloud2': 'std_msgs/Header header\nuint32 height\nuint32 '
    'width\nPointField[] fields\n'
    'bool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\n'
    'bool is_dense',
    'geometry_msgs/msg/Point': 'float64 x\nfloat64 y\nfloat64 z',
    'geometry_msgs/msg/Quaternion': 'float64 x\nfloat64 y\nfloat64 z\nfloat64 w',
    'geometry_msgs/msg/Pose': 'geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation',
    'geometry_msgs/msg/PoseWithCovariance': 'geometry_msgs/Pose pose\nfloat64[36] covariance',
    'geometry_msgs/msg/PoseArray': 'std_msgs/Header header\ngeometry_msgs/Pose[] poses',
    'diagnostic_msgs/msg/KeyValue': 'string key\nstring value',
    'diagnostic_msgs/msg/DiagnosticStatus': 'byte level\nstring name\nstring message\nstring '
    'hardware_id\n'
    'diagnostic_msgs/KeyValue[] values',
    'diagnostic_msgs/msg/DiagnosticArray': 'std_msgs/Header '
    'header\ndiagnostic_msgs/DiagnosticStatus[] status',
}
_NUMPY = {
    'bool': np.bool_,
    'byte': np.uint8,
    'char': np.uint8,
    'int8': np.int8,
    'uint8': np.uint8,
    'int16': np.int16,
    'uint16': np.uint16,
    'int32': np.int32,
    'uint32': np.uint32,
    'int64': np.int64,
    'uint64': np.uint64,
    'float32': np.float32,
    'float64': np.float64,
}
_FIELD = re.compile(r'^([\w/]+)(\[(\d*)\])?\s+(\w+)\s*$')


def _parse(full: str, text: str) -> List[Tuple[str, str, int]]:
    """
    (type, name, array length: -1 scalar, 0 unbounded, N fixed) of each field.

    Constants and comments skipped.
    """
    pkg = full.split('/')[0]
    out = []
    for line in text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line or '=' in line:
            continue
        m = _FIELD.match(line)
        if m is None:
            raise ValueError('{}: cannot parse field line {!r}'.format(full, line))
        typ, is_array, size, name = m.group(1), m.group(2), m.group(3), m.group(4)
        if typ not in _NUMPY and typ != 'string':
            typ = typ if '/' in typ else pkg + '/' + typ
            head, tail = typ.split('/')
            typ = '{}/msg/{}'.format(head, tail)
        out.append((typ, name, -1 if not is_array else int(size or 0)))
    return out


class PlainTypestore:
    """
    Stand-in for a rosbags typestore.

    It has ``types``, ``serialize_cdr`` (type check + copy) and ``deserialize_cdr``.
    """

    def __init__(self) -> None:
        defs = dict(COMMON_MSGS)
        defs.update(vision_msgs_definitions())
        self.fields = {full: _parse(full, text) for full, text in defs.items()}
        self.types = {full: self._make_class(full) for full in self.fields}

    def _make_class(self, full: str) -> type:
        names = [f[1] for f in self.fields[full]]

        def __init__(msg: Any, **values: Any) -> None:
            missing = [n for n in names if n not in values]
            unknown = sorted(set(values) - set(names))
            if missing or unknown:
                raise TypeError(
                    '{}: missing fields {} / unknown fields {}'.format(full, missing, unknown)
                )
            for key, value in values.items():
                setattr(msg, key, value)

        def __repr__(msg: Any) -> str:
            return '{}({})'.format(
                full, ', '.join('{}={!r}'.format(n, getattr(msg, n)) for n in names)
            )

        return type(
            full.rsplit('/', 1)[1],
            (),
            {
                '__init__': __init__,
                '__repr__': __repr__,
                '__msgtype__': full,
                '__slots__': tuple(names),
            },
        )

    def _check(self, value: Any, typ: str, size: int, where: str) -> None:
        if size >= 0:
            if isinstance(value, (str, bytes, bytearray)) and typ != 'uint8':
                raise TypeError(
                    '{}: expected a sequence of {}, got {!r}'.format(where, typ, type(value))
                )
            if size and len(value) != size:
                raise TypeError('{}: expected {} elements, got {}'.format(where, size, len(value)))
            if typ in _NUMPY and isinstance(value, (bytes, bytearray, np.ndarray)):
                return
            for i, item in enumerate(value):
                self._check(item, typ, -1, '{}[{}]'.format(where, i))
        elif typ == 'string':
            if not isinstance(value, str):
                raise TypeError('{}: expected a string, got {!r}'.format(where, value))
        elif typ in _NUMPY:
            if not isinstance(value, (bool, int, float, np.number, np.bool_)):
                raise TypeError('{}: expected a {} number, got {!r}'.format(where, typ, value))
        else:
            if getattr(value, '__msgtype__', None) != typ:
                raise TypeError('{}: expected {}, got {!r}'.format(where, typ, type(value)))
            for ftyp, name, fsize in self.fields[typ]:
                self._check(getattr(value, name), ftyp, fsize, where + '.' + name)

    def _numpy_arrays(self, msg: Any) -> Any:
        for typ, name, size in self.fields[msg.__msgtype__]:
            value = getattr(msg, name)
            if size >= 0 and typ in _NUMPY:
                if isinstance(value, (bytes, bytearray)):
                    setattr(msg, name, np.frombuffer(bytes(value), np.uint8).copy())
                else:
                    setattr(msg, name, np.asarray(value, dtype=_NUMPY[typ]).copy())
            elif size >= 0 and typ in self.types:
                setattr(msg, name, [self._numpy_arrays(v) for v in value])
            elif typ in self.types:
                self._numpy_arrays(value)
        return msg

    def serialize_cdr(self, msg: Any, typename: str) -> Any:
        """Check ``msg`` against ``typename``'s definition; the "raw" form is a deep copy."""
        self._check(msg, typename, -1, typename)
        return copy.deepcopy(msg)

    def deserialize_cdr(self, raw: Any, typename: str) -> Any:
        """
        Return a copy of the message with numeric arrays as numpy arrays.

        As rosbags returns them.
        """
        if getattr(raw, '__msgtype__', None) != typename:
            raise TypeError(
                'raw message is {}, not {}'.format(
                    getattr(raw, '__msgtype__', type(raw)), typename
                )
            )
        return self._numpy_arrays(copy.deepcopy(raw))


def plain_types() -> Tuple[PlainTypestore, SimpleNamespace]:
    """
    ``(typestore, types)`` made of the stand-ins.

    Same attribute names as ``rosbags_types()``.
    """
    store = PlainTypestore()
    t = store.types
    ns = SimpleNamespace(byte=int, **{full.rsplit('/', 1)[1]: cls for full, cls in t.items()})
    assert all(hasattr(ns, name) for name in VISION_MSGS)
    return store, ns


def message_types() -> Tuple[Any, SimpleNamespace]:
    """Return rosbags' Humble typestore and types where rosbags imports, else ``plain_types()``."""
    try:
        return rosbags_types()
    except ImportError:
        return plain_types()


def uses_rosbags(typestore: Any) -> bool:
    """Tell whether ``typestore`` is rosbags' (real CDR): True, or the stand-in: False."""
    return not isinstance(typestore, PlainTypestore)

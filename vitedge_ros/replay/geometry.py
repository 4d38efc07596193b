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
Camera geometry and position ground truth of a recorded flight, for the bag replay.

``read_geometry(reader, image_topic, camera_info_topic=None)`` reads, before the frames are
replayed, every ``sensor_msgs/msg/CameraInfo`` of the camera (``camera_info_topic``, or the
``camera_info`` topic beside the image topic, or the only CameraInfo topic of the bag) and every
``tf2_msgs/msg/TFMessage`` of ``/tf`` and ``/tf_static`` into a
``vitedge_ros.geometry.tf_buffer.TransformBuffer`` (interpolating in time like tf2). The replay
then gives the perception core the CameraInfo in force at each frame and the camera pose at each
frame's header stamp, exactly as the node gets them from its subscription and tf2.

``note`` says, in one line, why person targets (and obstacle bearings) cannot be computed when the
bag lacks CameraInfo or TF; the replay logs it once. ``PoseLookup`` counts the reason of every
failed pose lookup (a TF tree without the image's frame is named).

``read_position_truth(reader)`` reads the ground truth of ``tools/make_bag.py`` bags: per header
stamp, the persons' and obstacles' ground positions (geometry_msgs/msg/PoseArray) and the
clear-path verdict (vision_msgs/msg/Classification).
"""

import bisect
from collections import Counter
import logging
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .errors import BagReplayError
from .reader import stamp_ns
from ..geometry.tf_buffer import TransformBuffer, TransformError

__all__ = [
    'CAMERA_INFO_TYPE',
    'BagGeometry',
    'PoseLookup',
    'PositionTruth',
    'TF_TYPE',
    'read_geometry',
    'read_position_truth',
]

LOG = logging.getLogger(__name__)

CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
TF_TYPE = 'tf2_msgs/msg/TFMessage'
POSE_ARRAY_TYPE = 'geometry_msgs/msg/PoseArray'
CLASSIFICATION_TYPE = 'vision_msgs/msg/Classification'
TRUTH_TOPICS = {
    'persons': '/ground_truth/persons',
    'obstacles': '/ground_truth/obstacles',
    'clear_path': '/ground_truth/clear_path',
}


class BagGeometry(NamedTuple):
    """CameraInfo messages (log time ns order) and the transform buffer of a bag."""

    camera_info_topic: Optional[str]
    camera_infos: List[Tuple[int, Any]]  # (bag log time ns, CameraInfo)
    tf: Optional[TransformBuffer]  # None when the bag has no /tf or /tf_static
    tf_messages: int
    note: str  # '' when targets can be computed, else why not

    def camera_info_at(self, log_ns: int) -> Optional[Any]:
        """
        Return the latest CameraInfo logged at or before ``log_ns`` (else the first one).

        None when there is no CameraInfo at all.
        """
        if not self.camera_infos:
            return None
        i = bisect.bisect_right([t for t, _ in self.camera_infos], int(log_ns)) - 1
        return self.camera_infos[max(i, 0)][1]


def _messages(reader: Any, conns: List[Any]) -> Any:
    try:
        for conn, log_ns, raw in reader.messages(connections=conns):
            yield conn, log_ns, reader.deserialize(raw, conn.msgtype)
    except Exception as exc:  # noqa: BLE001 - a damaged bag
        raise BagReplayError(
            'cannot read {} from bag {}: {}: {}'.format(
                ', '.join(sorted({c.topic for c in conns})),
                reader.paths[0],
                type(exc).__name__,
                exc,
            )
        ) from exc


def read_geometry(
    reader: Any, image_topic: str, camera_info_topic: Optional[str] = None
) -> BagGeometry:
    """
    Read CameraInfo and TF of an open bag (see the module docstring).

    Raises
    ------
        BagReplayError: ``camera_info_topic`` is given but absent or not a CameraInfo topic; an
            unreadable bag.

    """
    infos = [c for c in reader.connections if c.msgtype == CAMERA_INFO_TYPE]
    if camera_info_topic is not None:
        chosen = [c for c in infos if c.topic == camera_info_topic]
        if not chosen:
            raise BagReplayError(
                '--camera-info-topic {!r} is not a sensor_msgs/msg/CameraInfo topic of bag {} '
                '(CameraInfo topics: {})'.format(
                    camera_info_topic,
                    reader.paths[0],
                    ', '.join(sorted({c.topic for c in infos})) or 'none',
                )
            )
    else:
        beside = image_topic.rstrip('/').rsplit('/', 1)[0] + '/camera_info'
        if image_topic.endswith('/compressed'):
            beside = (
                image_topic[: -len('/compressed')].rstrip('/').rsplit('/', 1)[0] + '/camera_info'
            )
        chosen = [c for c in infos if c.topic == beside] or (
            infos if len({c.topic for c in infos}) == 1 else []
        )
    topic = chosen[0].topic if chosen else None
    camera_infos = [(int(t), m) for _, t, m in _messages(reader, chosen)] if chosen else []
    camera_infos.sort(key=lambda x: x[0])
    tf_conns = [
        c for c in reader.connections if c.topic in ('/tf', '/tf_static') and c.msgtype == TF_TYPE
    ]
    buffer = None
    count = 0
    if tf_conns:
        buffer = TransformBuffer()
        for conn, _, msg in _messages(reader, tf_conns):
            buffer.add_message(msg, static=conn.topic == '/tf_static')
            count += 1
    note = ''
    if not camera_infos:
        note = (
            'no sensor_msgs/CameraInfo {} in the bag: detections only (no person targets, no '
            'obstacle '
            'bearings)'.format(
                'on {!r}'.format(camera_info_topic)
                if camera_info_topic
                else 'topic beside {!r}'.format(image_topic)
            )
        )
        if infos and camera_info_topic is None:
            note += '; CameraInfo topics present: {} (choose one with --camera-info-topic)'.format(
                ', '.join(sorted({c.topic for c in infos}))
            )
    elif buffer is None or not buffer.frames:
        note = 'no /tf or /tf_static transforms in the bag: no camera pose, so no person targets'
    return BagGeometry(topic, camera_infos, buffer, count, note)


class PoseLookup:
    """
    ``pose_lookup(target_frame, source_frame, stamp)`` for PerceptionCore, from a TransformBuffer.

    Returns the camera pose at the header stamp, or raises the buffer's error (the core warns,
    naming the frames; the replay shows each kind of warning once); ``failures`` counts the reasons
    (numbers stripped).
    """

    def __init__(self, buffer: TransformBuffer) -> None:
        self.buffer = buffer
        self.failures: Counter = Counter()
        self.ok = 0

    def __call__(self, target: str, source: str, stamp: Any) -> Any:
        """
        Return the pose of ``source`` (the image frame) in ``target`` at ``stamp``.

        ``stamp`` is a builtin_interfaces/Time.
        """
        t = int(stamp.sec) * 1000000000 + int(stamp.nanosec)
        try:
            pose = self.buffer.lookup(target, source, t)
        except TransformError as exc:
            kind = '{}: {}'.format(type(exc).__name__, re.sub(r'-?\d+(\.\d+)?', 'N', str(exc)))
            self.failures[kind] += 1
            raise
        self.ok += 1
        return pose


class PositionTruth(NamedTuple):
    """Ground truth of positions per header stamp (ns); absent topics give empty dicts."""

    persons: Dict[int, np.ndarray]  # stamp -> N x 3 metres in frame
    obstacles: Dict[int, np.ndarray]
    clear_path: Dict[int, bool]
    frame: str  # frame of the positions (e.g. map)

    @property
    def empty(self) -> bool:
        """Return True when the bag carries no position or clear-path truth."""
        return not (self.persons or self.obstacles or self.clear_path)


def read_position_truth(reader: Any) -> PositionTruth:
    """
    Read ``/ground_truth/persons``.

    ``/ground_truth/obstacles`` (PoseArray) and ``/ground_truth/clear_path``.
    """
    out: Dict[str, Dict[int, Any]] = {k: {} for k in TRUTH_TOPICS}
    frame = ''
    for key, topic in TRUTH_TOPICS.items():
        want = CLASSIFICATION_TYPE if key == 'clear_path' else POSE_ARRAY_TYPE
        conns = [c for c in reader.connections if c.topic == topic and c.msgtype == want]
        if not conns:
            continue
        for _, _, msg in _messages(reader, conns):
            s = stamp_ns(msg.header)
            if key == 'clear_path':
                if len(msg.results):
                    out[key][s] = str(msg.results[0].class_id) == 'clear'
            else:
                frame = frame or str(msg.header.frame_id)
                out[key][s] = np.array(
                    [[p.position.x, p.position.y, p.position.z] for p in msg.poses],
                    dtype=np.float64,
                ).reshape(-1, 3)
    return PositionTruth(out['persons'], out['obstacles'], out['clear_path'], frame)

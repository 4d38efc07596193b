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
The node's output topics in the replay's output bag, and the writer of one frame's outputs.

``output_topics`` chooses the topics the node would publish for a bundle and parameters (as
``vitedge_ros.ros.node`` creates its publishers); ``FrameOutputWriter`` writes one ``FrameOutput``
of the perception core on them with the input frame's header, and ``/diagnostics`` every
``diagnostics_period_s`` of bag time.
"""

from collections import OrderedDict
from typing import Any, Optional

from .reader import DETECTIONS_TYPE, IMAGE_TYPE

__all__ = [
    'BEARINGS_TOPIC',
    'CLASSIFICATION_TYPE',
    'CLEAR_PATH_TOPIC',
    'DETECTIONS_TOPIC',
    'DIAGNOSTICS_TOPIC',
    'FrameOutputWriter',
    'LANDING_SAFE_TOPIC',
    'LANDING_ZONE_TOPIC',
    'OBSTACLES_TOPIC',
    'OVERLAY_TOPIC',
    'SEGMENTATION_TOPIC',
    'TARGETS_TOPIC',
    'output_topics',
]

CLASSIFICATION_TYPE = 'vision_msgs/msg/Classification'
DETECTIONS_TOPIC = '/vitedge/detections'
OVERLAY_TOPIC = '/vitedge/overlay'
SEGMENTATION_TOPIC = '/vitedge/segmentation'
TARGETS_TOPIC = '/vitedge/targets'
OBSTACLES_TOPIC = '/vitedge/obstacles'
BEARINGS_TOPIC = '/vitedge/obstacles/bearings'
CLEAR_PATH_TOPIC = '/vitedge/clear_path'
LANDING_ZONE_TOPIC = '/vitedge/landing_zone'
LANDING_SAFE_TOPIC = '/vitedge/landing_zone/safe'
DIAGNOSTICS_TOPIC = '/diagnostics'


def output_topics(
    segment: bool, params: Any, has_camera_info: bool, overlay: bool
) -> 'OrderedDict[str, str]':
    """
    Topic -> message type of every output the node publishes for these parameters (``NodeParams``).

    ``segment``: a segmentation bundle (``/vitedge/segmentation`` and the landing zone instead of
    detections); ``has_camera_info``: the bag has CameraInfo (obstacle bearings need intrinsics, or
    ``assumed_hfov_deg``).
    """
    topics = OrderedDict(
        [(SEGMENTATION_TOPIC, IMAGE_TYPE)] if segment else [(DETECTIONS_TOPIC, DETECTIONS_TYPE)]
    )
    if segment and params.publish_segmentation:
        topics[LANDING_ZONE_TOPIC] = CLASSIFICATION_TYPE
        topics[LANDING_SAFE_TOPIC] = CLASSIFICATION_TYPE
    if params.target_frame:
        topics[TARGETS_TOPIC] = 'geometry_msgs/msg/PoseArray'
    if params.publish_obstacles:
        if has_camera_info or params.assumed_hfov_deg > 0:
            topics[OBSTACLES_TOPIC] = DETECTIONS_TYPE
            topics[BEARINGS_TOPIC] = 'sensor_msgs/msg/PointCloud2'
        topics[CLEAR_PATH_TOPIC] = CLASSIFICATION_TYPE
    if overlay:
        topics[OVERLAY_TOPIC] = IMAGE_TYPE
    topics[DIAGNOSTICS_TOPIC] = 'diagnostic_msgs/msg/DiagnosticArray'
    return topics


class FrameOutputWriter:
    """
    Writes every output the node publishes for one frame into an ``OutputBag``.

    Each output carries the input frame's header.

    Parameters
    ----------
        out: the open ``OutputBag`` (its ``topics`` say which outputs are written).
        types: rosbags message classes (``vitedge_ros.ros.rosbags_types``).
        overlay: write ``/vitedge/overlay`` when the core drew one.
        seg_scores: ``MaskScores`` that score each segmentation against the ground-truth masks, or
            None.

    """

    def __init__(self, out: Any, types: Any, overlay: bool, seg_scores: Any = None) -> None:
        self.out = out
        self.types = types
        self.overlay = overlay
        self.seg_scores = seg_scores
        self._last_diag_ns: Optional[int] = None

    def write(self, frame: Any, index: int, stamp: int, out_ns: int, core: Any) -> None:
        """
        Write ``frame`` (the core's ``FrameOutput``) at log time ``out_ns``.

        ``/diagnostics`` comes from ``core``.
        """
        from ..ros import messages as M

        t, header, topics = self.types, frame.header, self.out.topics
        if frame.segmentation is not None:
            self.out.write(
                SEGMENTATION_TOPIC, M.build_label_image(frame.segmentation, header, t), out_ns
            )
            if self.seg_scores is not None:
                self.seg_scores.add(index, stamp, frame.segmentation)
            if frame.landing_zone is not None and LANDING_ZONE_TOPIC in topics:
                zone = frame.landing_zone
                self.out.write(
                    LANDING_ZONE_TOPIC, M.build_classification(zone.fractions, header, t), out_ns
                )
                self.out.write(
                    LANDING_SAFE_TOPIC,
                    M.build_verdict('safe' if zone.safe else 'unsafe', header, t),
                    out_ns,
                )
        else:
            self.out.write(
                DETECTIONS_TOPIC, M.build_detection2d_array(frame.detections, header, t), out_ns
            )
        if frame.overlay is not None and self.overlay:
            self.out.write(OVERLAY_TOPIC, M.build_image(frame.overlay, header, t), out_ns)
        if frame.targets is not None and TARGETS_TOPIC in topics:
            th = M.build_header(t, header.stamp.sec, header.stamp.nanosec, frame.target_frame)
            self.out.write(TARGETS_TOPIC, M.build_pose_array(frame.targets, th, t), out_ns)
        if frame.obstacles is not None and OBSTACLES_TOPIC in topics:
            self.out.write(
                OBSTACLES_TOPIC, M.build_obstacle_array(frame.obstacles, header, t), out_ns
            )
            self.out.write(
                BEARINGS_TOPIC, M.build_obstacle_bearings(frame.obstacles, header, t), out_ns
            )
        if frame.clear_path is not None and CLEAR_PATH_TOPIC in topics:
            self.out.write(
                CLEAR_PATH_TOPIC,
                M.build_verdict('clear' if frame.clear_path else 'blocked', header, t),
                out_ns,
            )
        self._diagnostics(header, stamp, out_ns, core)

    def _diagnostics(self, header: Any, stamp: int, out_ns: int, core: Any) -> None:
        """
        Write ``/diagnostics`` at most every ``diagnostics_period_s`` of header time.

        It is written again at once after a stamp jump back.
        """
        from ..ros import messages as M

        period_ns = int(core.params.diagnostics_period_s * 1e9)
        last = self._last_diag_ns
        if last is None or stamp - last >= period_ns or stamp < last:
            self._last_diag_ns = stamp
            dh = M.build_header(self.types, header.stamp.sec, header.stamp.nanosec, '')
            self.out.write(
                DIAGNOSTICS_TOPIC,
                M.build_diagnostic_array([core.diagnostics()], dh, self.types),
                out_ns,
            )

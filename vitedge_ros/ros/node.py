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
vitedge_node: the rclpy layer over ``vitedge_ros.perception.core.PerceptionCore`` (ROS 2 Humble).

The only module of the package that imports rclpy and ROS message packages. It declares the
parameters (with descriptions, read-only), validates them (a bad value stops start-up with its
name), subscribes the camera, and turns the core's outputs into messages:

    subscribes  image (sensor_msgs/Image) | image/compressed (sensor_msgs/CompressedImage),
                camera_info
    publishes   detections (vision_msgs/Detection2DArray), overlay (sensor_msgs/Image), targets
                (geometry_msgs/PoseArray), obstacles (vision_msgs/Detection2DArray: pixel boxes,
                poses in the optical frame), obstacles/bearings (sensor_msgs/PointCloud2: azimuth,
                elevation, ...), clear_path (vision_msgs/Classification, stamped verdict),
                label_info (vision_msgs/LabelInfo, transient local), /diagnostics
                (diagnostic_msgs/DiagnosticArray)
    segmentation bundles: segmentation (sensor_msgs/Image mono8, class ids), landing_zone
                (vision_msgs/Classification: class fractions of the centre region),
                landing_zone/safe (vision_msgs/Classification, stamped verdict), overlay (colour
                overlay) instead of detections/obstacles/targets

See docs/ROS.md for topics, parameters and message choices. ``ros2 run`` enters through
``vitedge_ros.ros.startup.main``, which checks the ROS 2 installation first (Humble interfaces) and
says in one line what is missing on an unsupported distribution instead of an ImportError.
"""

import array
import sys
import threading
from types import SimpleNamespace
from typing import Any, List, Optional

from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, PoseArray, PoseWithCovariance, Quaternion
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.duration import Duration
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField
from std_msgs.msg import Header
from vision_msgs.msg import (
    BoundingBox2D,
    Classification,
    Detection2D,
    Detection2DArray,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    Point2D,
    Pose2D,
)
from vitedge_ros.geometry.projection import CameraPose
from vitedge_ros.tasks import get_task

from . import messages
from .topic_diagnostics import FrequencyStatus, status_prefix, topic_status
from ..perception.core import create_pipeline, FrameOutput, PARAM_SPECS, ParamError, PerceptionCore
from ..perception.image_conversion import (
    image_msg_to_bgr,
    image_msg_to_frame,
    is_sixteen_bit,
    VIEW_ENCODINGS,
)

# vision_msgs >= 4.1 (Humble since February 2023); 4.0.0 has no LabelInfo: label_info is then
# skipped
try:
    from vision_msgs.msg import LabelInfo, VisionClass
except ImportError:  # pragma: no cover - depends on the installation
    LabelInfo = VisionClass = None

try:  # tf2 is only needed for targets; keep the node usable without it
    import tf2_ros
except ImportError:  # pragma: no cover - depends on the installation
    tf2_ros = None

try:
    from cv_bridge import CvBridge
except ImportError:  # pragma: no cover - depends on the installation
    CvBridge = None

try:
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover - older rclpy

    class ExternalShutdownException(Exception):
        """Placeholder where rclpy has no ExternalShutdownException."""


__all__ = ['VitedgeNode', 'main', 'rclpy_types']


def rclpy_types() -> SimpleNamespace:
    """Return the ``types`` namespace of ``vitedge_ros.ros.messages`` with rclpy's classes."""
    return SimpleNamespace(
        Time=TimeMsg,
        Header=Header,
        Image=Image,
        CompressedImage=CompressedImage,
        CameraInfo=CameraInfo,
        Detection2DArray=Detection2DArray,
        Detection2D=Detection2D,
        ObjectHypothesisWithPose=ObjectHypothesisWithPose,
        ObjectHypothesis=ObjectHypothesis,
        BoundingBox2D=BoundingBox2D,
        Pose2D=Pose2D,
        Point2D=Point2D,
        PoseWithCovariance=PoseWithCovariance,
        Pose=Pose,
        Point=Point,
        Quaternion=Quaternion,
        PoseArray=PoseArray,
        DiagnosticArray=DiagnosticArray,
        DiagnosticStatus=DiagnosticStatus,
        KeyValue=KeyValue,
        Classification=Classification,
        PointCloud2=PointCloud2,
        PointField=PointField,
        LabelInfo=LabelInfo,
        VisionClass=VisionClass,
        byte=lambda v: bytes([v]),  # rclpy 'byte' fields are bytes of length 1
        image_data=lambda b: array.array('B', b),  # fast path of the uint8[] setter
    )


class VitedgeNode(Node):
    """ROS 2 node running a model bundle on camera frames (latest-wins, on a worker thread)."""

    def __init__(self, node_name: str = 'vitedge_node', **kwargs: Any):
        super().__init__(node_name, **kwargs)
        self.types = rclpy_types()
        self.core: Optional[PerceptionCore] = None
        self._pipeline = None
        self._closed = False
        self._open_for_output = True  # False once close() has begun tearing publishers down
        self._output_lock = threading.Lock()
        self.sub_image = self.sub_info = self.diag_timer = None
        self.detections_rate: Optional[FrequencyStatus] = None
        try:
            self._setup()
        except ParamError as exc:
            self.get_logger().fatal('invalid configuration: {}'.format(exc))
            self.close()
            raise
        except Exception as exc:
            self.get_logger().fatal('start-up failed: {}: {}'.format(type(exc).__name__, exc))
            self.close()
            raise

    # ---------------------------------------------------------------------------------------------
    # setup
    def _declare_parameters(self) -> dict:
        """
        Declare every parameter read-only and statically typed; return the values.

        The label lists are string arrays (``Parameter.Type.STRING_ARRAY``; an empty default would
        make rclpy infer a byte array). rcl's YAML parser keeps no value for an empty list (``[]``:
        rclpy sees the override as "not set", rcl humble ``rcl_yaml_param_parser/src/parse.c``), so
        a list declared that way is left uninitialised (rclpy humble ``Node.get_parameter`` raises
        ParameterUninitializedException): for a list parameter that means the empty list, and
        start-up goes on.
        """
        values = {}
        for spec in PARAM_SPECS:
            desc = ParameterDescriptor(
                description=spec.description,
                additional_constraints=spec.constraints,
                read_only=True,
            )
            is_list = isinstance(spec.default, list)
            default = (
                (list(spec.default) or Parameter.Type.STRING_ARRAY) if is_list else spec.default
            )
            try:
                self.declare_parameter(spec.name, default, desc)
                values[spec.name] = self.get_parameter(spec.name).value
            except ParameterUninitializedException as exc:
                if not is_list:
                    raise ParamError(
                        spec.name, 'has no value (an empty entry in the parameters file?)'
                    ) from exc
                values[spec.name] = []
            except Exception as exc:  # noqa: BLE001 - InvalidParameterTypeException and friends
                raise ParamError(spec.name, str(exc)) from exc
        return values

    def _setup(self) -> None:
        values = self._declare_parameters()
        params, pipeline = create_pipeline(values)
        self._pipeline = pipeline
        self.node_params = params
        log = self.get_logger()
        bundle_name = getattr(getattr(pipeline, 'bundle', None), 'name', params.bundle)

        reliability = (
            ReliabilityPolicy.BEST_EFFORT
            if params.qos_reliability == 'best_effort'
            else ReliabilityPolicy.RELIABLE
        )
        # best_effort = the sensor-data profile (best effort, volatile, keep last) with depth
        # qos_depth
        sensor_qos = QoSProfile(
            reliability=reliability,
            history=HistoryPolicy.KEEP_LAST,
            depth=params.qos_depth,
            durability=DurabilityPolicy.VOLATILE,
        )
        out_qos = QoSProfile(
            reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST, depth=5
        )

        # label_info: sent once and kept for late subscribers, like a latched CameraInfo
        # (vision_msgs/LabelInfo)
        latched_qos = QoSProfile(
            reliability=ReliabilityPolicy.RELIABLE,
            history=HistoryPolicy.KEEP_LAST,
            depth=1,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )

        self.pub_detections = self.create_publisher(Detection2DArray, 'detections', out_qos)
        self.pub_overlay = (
            self.create_publisher(Image, 'overlay', out_qos) if params.publish_overlay else None
        )
        self.pub_targets = (
            self.create_publisher(PoseArray, 'targets', out_qos) if params.target_frame else None
        )
        self.pub_obstacles = None
        self.pub_bearings = None
        self.pub_clear = None
        if params.publish_obstacles:
            self.pub_obstacles = self.create_publisher(Detection2DArray, 'obstacles', out_qos)
            self.pub_bearings = self.create_publisher(PointCloud2, 'obstacles/bearings', out_qos)
            self.pub_clear = self.create_publisher(Classification, 'clear_path', out_qos)
        self.pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.pub_segmentation = None
        self.pub_landing = None
        self.pub_landing_safe = None
        task = get_task(getattr(getattr(pipeline, 'bundle', None), 'task', 'detect'))
        if task.segmentation and params.publish_segmentation:
            self.pub_segmentation = self.create_publisher(Image, 'segmentation', out_qos)
            self.pub_landing = self.create_publisher(Classification, 'landing_zone', out_qos)
            self.pub_landing_safe = self.create_publisher(
                Classification, 'landing_zone/safe', out_qos
            )
        self.pub_label_info = None
        labels = [
            str(v) for v in (getattr(getattr(pipeline, 'bundle', None), 'labels', None) or [])
        ]
        if LabelInfo is not None and labels:
            self.pub_label_info = self.create_publisher(LabelInfo, 'label_info', latched_qos)
            threshold = (
                float(getattr(pipeline, 'score_threshold', 0.0) or 0.0) if task.boxes else 0.0
            )
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id='')
            self.pub_label_info.publish(
                messages.build_label_info(labels, threshold, header, self.types)
            )
        elif labels:
            log.info('vision_msgs has no LabelInfo (older than 4.1): label_info is not published')
        self.diag_prefix = status_prefix(self.get_namespace(), self.get_name())
        self.detections_rate = FrequencyStatus(
            params.detections_min_rate_hz, params.detections_max_rate_hz
        )

        self._tf_buffer = None
        self._tf_listener = None
        pose_lookup = None
        if params.target_frame:
            if tf2_ros is None:
                raise ParamError(
                    'target_frame', 'tf2_ros is not installed, person targets need it'
                )
            self._tf_buffer = tf2_ros.Buffer()
            self._tf_listener = tf2_ros.TransformListener(self._tf_buffer, self)
            pose_lookup = self._lookup_pose

        self._bridge = CvBridge() if (CvBridge is not None and params.use_cv_bridge) else None
        image_converter = self._bridge_convert if self._bridge is not None else None
        self.core = PerceptionCore(
            pipeline,
            params,
            self._publish_output,
            log=self._log,
            image_converter=image_converter,
            pose_lookup=pose_lookup,
            bundle_name=bundle_name,
            overlay_wanted=self._overlay_wanted if self.pub_overlay is not None else None,
        )

        if params.transport == 'compressed':
            self.sub_image = self.create_subscription(
                CompressedImage, 'image/compressed', self._on_compressed, sensor_qos
            )
        else:
            self.sub_image = self.create_subscription(Image, 'image', self._on_image, sensor_qos)
        self.sub_info = None
        if params.wants_camera_info:
            self.sub_info = self.create_subscription(
                CameraInfo, 'camera_info', self._on_camera_info, sensor_qos
            )
        self.diag_timer = self.create_timer(params.diagnostics_period_s, self._publish_diagnostics)
        engines = getattr(getattr(pipeline, 'bundle', None), 'engines_dir', None)
        log.info(
            'vitedge_node ready: bundle {} ({}), backend {}, engines {}, transport {}, qos {} '
            'depth {}, '
            'cv_bridge {}, targets {}'.format(
                bundle_name,
                params.bundle,
                pipeline.backend_name,
                engines,
                params.transport,
                params.qos_reliability,
                params.qos_depth,
                'yes' if self._bridge is not None else 'no',
                params.target_frame or 'off',
            )
        )

    def _overlay_wanted(self) -> bool:
        """
        Draw the overlay only while someone subscribes to it.

        Rclpy Publisher.get_subscription_count.
        """
        return self.pub_overlay is not None and self.pub_overlay.get_subscription_count() > 0

    def _log(self, level: str, text: str) -> None:
        logger = self.get_logger()
        {'info': logger.info, 'warn': logger.warning, 'error': logger.error}.get(
            level, logger.info
        )(text)

    # ---------------------------------------------------------------------------------------------
    # conversion
    def _bridge_convert(self, msg: Image):
        """
        Our view of the message for 8-bit BGR/RGB/mono (no copy).

        Cv_bridge for the other 8-bit encodings.

        16-bit encodings (Bayer 16 too: cv_bridge would drop their low byte) use the camera's one
        16-bit scale.
        """
        if is_sixteen_bit(msg.encoding) or str(msg.encoding).strip().lower() in VIEW_ENCODINGS:
            return image_msg_to_frame(msg, scale=self.core.bit_scale)
        try:
            return self._bridge.imgmsg_to_cv2(msg, desired_encoding='bgr8')
        except Exception:  # noqa: BLE001 - CvBridgeError, TypeError: fall back to our conversion
            return image_msg_to_bgr(msg, scale=self.core.bit_scale)

    # ---------------------------------------------------------------------------------------------
    # callbacks
    def _on_image(self, msg: Image) -> None:
        self.core.on_image(msg)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self.core.on_compressed(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.core.on_camera_info(msg)

    def _lookup_pose(self, target: str, source: str, stamp: TimeMsg) -> Optional[CameraPose]:
        """Camera pose at the image stamp; falls back to the latest transform within 0.5 s."""
        when = Time.from_msg(stamp)
        try:
            tf = self._tf_buffer.lookup_transform(
                target, source, when, timeout=Duration(seconds=self.node_params.tf_timeout_s)
            )
        except tf2_ros.TransformException:
            tf = self._tf_buffer.lookup_transform(target, source, Time())  # latest; raises if none
            age = abs((Time.from_msg(tf.header.stamp) - when).nanoseconds) * 1e-9
            if age > 0.5:
                raise RuntimeError(
                    'latest transform {} -> {} is {:.2f} s away from the image stamp'.format(
                        source, target, age
                    )
                ) from None
        return CameraPose.from_transform(tf.transform)

    # ---------------------------------------------------------------------------------------------
    # outputs
    def _publish_output(self, out: FrameOutput) -> None:
        """Publish one frame's outputs (worker thread); dropped once close() has started."""
        with self._output_lock:
            if self._open_for_output:
                self._publish_frame(out)

    def _publish_frame(self, out: FrameOutput) -> None:
        t = self.types
        self.pub_detections.publish(
            messages.build_detection2d_array(out.detections, out.header, t)
        )
        self.detections_rate.tick()
        if self.pub_overlay is not None and out.overlay is not None:
            self.pub_overlay.publish(messages.build_image(out.overlay, out.header, t))
        if self.pub_targets is not None and out.targets is not None:
            header = Header(stamp=out.header.stamp, frame_id=out.target_frame)
            self.pub_targets.publish(messages.build_pose_array(out.targets, header, t))
        if self.pub_obstacles is not None and out.obstacles is not None:
            self.pub_obstacles.publish(messages.build_obstacle_array(out.obstacles, out.header, t))
            self.pub_bearings.publish(
                messages.build_obstacle_bearings(out.obstacles, out.header, t)
            )
        if self.pub_clear is not None and out.clear_path is not None:
            verdict = 'clear' if out.clear_path else 'blocked'
            self.pub_clear.publish(messages.build_verdict(verdict, out.header, t))
        if self.pub_segmentation is not None and out.segmentation is not None:
            self.pub_segmentation.publish(
                messages.build_label_image(out.segmentation, out.header, t)
            )
        if self.pub_landing is not None and out.landing_zone is not None:
            self.pub_landing.publish(
                messages.build_classification(out.landing_zone.fractions, out.header, t)
            )
            verdict = 'safe' if out.landing_zone.safe else 'unsafe'
            self.pub_landing_safe.publish(messages.build_verdict(verdict, out.header, t))

    def diagnostic_statuses(self) -> List[dict]:
        """
        Return the statuses of one /diagnostics report, named after this node.

        diagnostic_updater conventions.

        ``<ns/name>: perception`` (the core's status) and ``<ns/name>: detections topic status``
        (the rate of ``detections`` against detections_min_rate_hz / detections_max_rate_hz); see
        topic_diagnostics.
        """
        perception = dict(self.core.diagnostics(), name='{}: perception'.format(self.diag_prefix))
        rate = topic_status(
            self.diag_prefix, 'detections', self.detections_rate, self.core.backend_name
        )
        return [perception, rate]

    def _publish_diagnostics(self) -> None:
        if self.core is None:
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id='')
        self.pub_diag.publish(
            messages.build_diagnostic_array(self.diagnostic_statuses(), header, self.types)
        )

    # ---------------------------------------------------------------------------------------------
    # shutdown
    def close(self, timeout: float = 5.0) -> None:
        """
        Orderly shutdown (idempotent): no new frames, the frame in flight finishes, then teardown.

        1. the image and camera_info subscriptions and the diagnostics timer are destroyed (no new
           work);
        2. the worker is stopped: a pending frame is dropped, the frame in the engine runs to its
           end and its outputs are published (waits up to ``timeout`` s);
        3. later outputs are dropped (a frame still running after ``timeout`` never publishes on a
           destroyed node);
        4. the engine is closed only if the worker has ended (never under a running inference),
           then the node is destroyed.
        """
        if self._closed:
            return
        self._closed = True
        for sub in (self.sub_image, self.sub_info):
            if sub is not None:
                self.destroy_subscription(sub)
        self.sub_image = self.sub_info = None
        if self.diag_timer is not None:
            self.destroy_timer(self.diag_timer)
            self.diag_timer = None
        stopped = True
        if self.core is not None:
            stopped = self.core.shutdown(timeout)
            if not stopped:
                self.get_logger().warning(
                    'a frame was still in the engine after {:.1f} s; its outputs are '
                    'dropped and the engine is left to the process exit'.format(timeout)
                )
        locked = self._output_lock.acquire(timeout=max(timeout, 0.1))
        self._open_for_output = False
        if locked:
            self._output_lock.release()
        self.core = None
        if stopped and self._pipeline is not None and hasattr(self._pipeline, 'close'):
            try:
                self._pipeline.close()
            except Exception as exc:  # noqa: BLE001 - best effort at shutdown
                self.get_logger().warning('closing the engine failed: {}'.format(exc))
        self._pipeline = None
        self.destroy_node()


def main(args: Optional[List[str]] = None) -> int:
    """Entry point of ``ros2 run vitedge_ros vitedge_node``; returns the exit status."""
    rclpy.init(args=args)
    node = None
    status = 0
    try:
        node = VitedgeNode()
        rclpy.spin(node)
    except ParamError:
        status = 1  # already logged with the parameter's name
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())

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
On-drone bring-up of vitedge_node (ROS 2 Humble).

Params file, optional camera driver or rosbag, rviz.

Examples::

    ros2 launch vitedge_ros uav.launch.py                                  # subscribes
    camera/image_raw ros2 launch vitedge_ros uav.launch.py params_file:=/data/uav1.yaml     #
    bundle etc. from that file ros2 launch vitedge_ros uav.launch.py
    bundle:=/data/bundles/my_bundle backend:=tensorrt ros2 launch vitedge_ros uav.launch.py
    namespace:=uav1 tf_topic:=tf     # /uav1/camera/..., /uav1/tf ros2 launch vitedge_ros
    uav.launch.py camera:=csi                      # Jetson CSI camera through gscam ros2 launch
    vitedge_ros uav.launch.py camera:=usb composable:=true     # usb_cam as a component ros2 launch
    vitedge_ros uav.launch.py bag:=/data/flight_01 image_topic:=/camera/image_raw

Every node argument defaults to "use the params file": a value given here overrides that file only
when it is set. Topic names are relative, so ``namespace:=`` moves the inputs and the outputs
together; ``/tf`` and ``/tf_static`` can be remapped per vehicle (``tf_topic``,
``tf_static_topic``). With ``bag:=`` the player starts when vitedge_node reports ready (its engine
is loaded), then waits ``bag_delay`` seconds, so engine loading does not eat the first seconds of
the flight; mcap bags need ``rosbag2_storage_mcap`` (``ros2 bag play`` detects the storage plugin
itself on Humble).

vitedge_node is an rclpy node and always runs as its own process: rclpy nodes cannot be loaded into
rclcpp_components containers. ``composable:=true`` composes the C++ camera driver into a component
container (a new one, or ``container:=NAME``); see docs/ROS.md.
"""

import os
from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.event_handlers import OnProcessExit, OnProcessIO
from launch.events import Shutdown
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import ComposableNodeContainer, LoadComposableNodes, Node
from launch_ros.descriptions import ComposableNode

PACKAGE = 'vitedge_ros'
#: What vitedge_node logs once its engine is loaded and it subscribes (vitedge_ros/ros/node.py).
READY_MARKER = 'vitedge_node ready:'
#: Launch-only packages started on request: not exec_depends (a drone needs one camera driver, a
#: ground station rviz2); each is named with its Debian package when it is missing. Checked by
#: test/test_package.py.
OPTIONAL_PACKAGES = {
    'v4l2_camera': 'ros-humble-v4l2-camera',
    'usb_cam': 'ros-humble-usb-cam',
    'gscam': 'ros-humble-gscam',
    'rclcpp_components': 'ros-humble-rclcpp-components',
    'rviz2': 'ros-humble-rviz2',
}
CAMERAS = ('none', 'v4l2', 'usb', 'csi')

# name, default, description
ARGUMENTS = (
    (
        'params_file',
        '',
        'Parameter YAML of vitedge_node; empty: share/vitedge_ros/config/vitedge_node.yaml',
    ),
    (
        'bundle',
        '',
        'Model bundle directory; empty: the params file value (its default: the shipped '
        'aerial_vit_tiny)',
    ),
    ('backend', '', 'auto | tensorrt | onnxruntime; empty: the params file value'),
    ('transport', '', 'raw | compressed; empty: the params file value'),
    (
        'target_frame',
        '',
        'Ground frame for person targets (e.g. map); empty: the params file value',
    ),
    ('publish_overlay', '', 'true | false; empty: the params file value'),
    ('use_sim_time', '', 'true | false; empty: true when a bag plays, else the params file value'),
    (
        'node_name',
        'vitedge_node',
        'Name of the vitedge_node instance (diagnostics are named after it)',
    ),
    ('namespace', '', 'Namespace of the nodes (relative topics follow it)'),
    ('log_level', 'info', 'Log level of vitedge_node'),
    (
        'image_topic',
        'camera/image_raw',
        'Camera image topic, relative to the namespace unless it starts with / '
        '(the compressed one is <image_topic>/compressed)',
    ),
    ('camera_info_topic', '', 'CameraInfo topic; empty: camera_info beside image_topic'),
    (
        'tf_topic',
        '/tf',
        'Topic vitedge_node (and the bag) use for /tf, e.g. tf for a per-vehicle <namespace>/tf',
    ),
    ('tf_static_topic', '/tf_static', 'Topic used for /tf_static, e.g. tf_static'),
    (
        'bag',
        '',
        'Play this rosbag2 (folder or file; sqlite3 or mcap) instead of a camera; empty: live '
        'camera',
    ),
    ('bag_rate', '1.0', 'Playback rate of the bag'),
    ('bag_loop', 'false', 'Loop the bag'),
    ('bag_remap', '', 'Extra topic remaps for the bag, space separated old:=new'),
    (
        'bag_storage',
        '',
        'Storage plugin of the bag (sqlite3, mcap); empty: detected by ros2 bag play',
    ),
    (
        'bag_wait_for_node',
        'true',
        'Start the bag when vitedge_node reports ready (engine loaded); false: at once',
    ),
    (
        'bag_delay',
        '0.0',
        'Seconds ros2 bag play waits before playing (--delay), after the node is ready',
    ),
    (
        'bag_start_paused',
        'false',
        'Start the bag paused (--start-paused; resume with the space bar or the '
        '/rosbag2_player/resume service)',
    ),
    ('shutdown_after_bag', 'false', 'Stop the whole launch when the bag has finished'),
    (
        'camera',
        'none',
        'Camera driver to start: none (it runs elsewhere) | v4l2 (v4l2_camera) | usb (usb_cam) | '
        'csi (Jetson CSI camera: gscam with nvarguscamerasrc); not with bag',
    ),
    ('video_device', '/dev/video0', 'Device of camera:=v4l2 | usb'),
    ('camera_width', '1280', 'Image width of the camera driver (px)'),
    ('camera_height', '720', 'Image height of the camera driver (px)'),
    ('camera_fps', '30', 'Frame rate of the camera driver (Hz)'),
    (
        'camera_frame_id',
        'camera_optical_frame',
        'frame_id the camera driver stamps: the optical frame (z forward)',
    ),
    (
        'camera_info_url',
        '',
        'Calibration of the camera driver (file:///path/to/camera.yaml); empty: none',
    ),
    ('csi_sensor_id', '0', 'sensor-id of nvarguscamerasrc for camera:=csi'),
    (
        'csi_flip_method',
        '0',
        'flip-method of nvvidconv for camera:=csi (0 none, 2 rotate 180 degrees)',
    ),
    (
        'composable',
        'false',
        'true: run the camera driver as a component (vitedge_node stays a process)',
    ),
    (
        'container',
        '',
        'Existing component container to load the camera into (with composable:=true)',
    ),
    (
        'rviz',
        'false',
        'Start rviz2 with share/vitedge_ros/config/vitedge.rviz (overlay, targets, obstacles)',
    ),
)


def _share() -> Path:
    """Installed share folder of the package, or the source tree when it is not installed."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # noqa: BLE001 - PackageNotFoundError, or no ament index at all
        return Path(__file__).resolve().parents[1]


def _require_package(name: str) -> None:
    """Fail with the Debian package to install when an optional ROS package is missing."""
    try:
        from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    except ImportError:  # no ament index (tests without ROS): nothing to check
        return
    try:
        get_package_prefix(name)
    except PackageNotFoundError:
        raise RuntimeError(
            'package {} is not installed: sudo apt install {}'.format(
                name, OPTIONAL_PACKAGES.get(name, name)
            )
        ) from None


def _flag(value: str, name: str) -> bool:
    low = value.strip().lower()
    if low in ('true', '1', 'yes', 'on'):
        return True
    if low in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError('launch argument {}: expected true or false, got {!r}'.format(name, value))


def _number(value: str, name: str, kind=float, minimum=0):
    try:
        out = kind(value.strip())
    except ValueError:
        raise ValueError(
            'launch argument {}: expected a {} number, got {!r}'.format(
                name, 'whole' if kind is int else 'decimal', value
            )
        ) from None
    if out < minimum:
        raise ValueError('launch argument {}: must be >= {}, got {}'.format(name, minimum, out))
    return out


def _sibling_camera_info(image_topic: str) -> str:
    head, sep, _tail = image_topic.rstrip('/').rpartition('/')
    return head + '/camera_info' if sep else 'camera_info'


def resolve_name(name: str, namespace: str) -> str:
    """
    Return the absolute topic name rcl resolves ``name`` to for a node in ``namespace``.

    Private (``~``) names are not handled.
    """
    if name.startswith('/'):
        return name
    ns = namespace.strip('/')
    return '/' + '/'.join(p for p in (ns, name) if p)


def csi_pipeline(sensor_id: int, width: int, height: int, fps: int, flip: int) -> str:
    """
    gscam_config of a Jetson CSI camera.

    Argus capture, nvvidconv out of NVMM memory, then videoconvert.

    The pattern of NVIDIA's accelerated GStreamer guide for L4T 32.x (``nvarguscamerasrc`` → NV12
    in NVMM → ``nvvidconv`` → BGRx → ``videoconvert``); gscam appends its own appsink with RGB caps
    (gscam 2.0.2 ``src/gscam.cpp``), so the pipeline ends at ``videoconvert``.
    """
    return (
        'nvarguscamerasrc sensor-id={} ! video/x-raw(memory:NVMM), width=(int){}, height=(int){}, '
        'format=(string)NV12, framerate=(fraction){}/1 ! nvvidconv flip-method={} ! '
        'video/x-raw, format=(string)BGRx ! videoconvert'.format(
            sensor_id, width, height, fps, flip
        )
    )


def camera_description(camera: str, arg: dict, image_topic: str, info_topic: str):
    """(package, executable, plugin, parameters, remappings) of the driver for ``camera:=``."""
    width = _number(arg['camera_width'], 'camera_width', int, 1)
    height = _number(arg['camera_height'], 'camera_height', int, 1)
    fps = _number(arg['camera_fps'], 'camera_fps', int, 1)
    frame = arg['camera_frame_id']
    url = arg['camera_info_url']
    if camera == 'v4l2':  # v4l2_camera 0.6 (Humble): image_raw + camera_info
        params = {
            'video_device': arg['video_device'],
            'image_size': [width, height],
            'camera_frame_id': frame,
        }
        if url:
            params['camera_info_url'] = url
        return (
            'v4l2_camera',
            'v4l2_camera_node',
            'v4l2_camera::V4L2Camera',
            params,
            [('image_raw', image_topic), ('camera_info', info_topic)],
        )
    if camera == 'usb':  # usb_cam 0.8 (Humble, src/ros2/usb_cam_node.cpp): image_raw + camera_info
        params = {
            'video_device': arg['video_device'],
            'image_width': width,
            'image_height': height,
            'framerate': float(fps),
            'pixel_format': 'yuyv',
            'frame_id': frame,
            'camera_name': 'camera',
            'camera_info_url': url,
        }
        return (
            'usb_cam',
            'usb_cam_node_exe',
            'usb_cam::UsbCamNode',
            params,
            [('image_raw', image_topic), ('camera_info', info_topic)],
        )
    # csi: gscam 2.0.2 (Humble): camera/image_raw + camera/camera_info, rgb8
    params = {
        'gscam_config': csi_pipeline(
            _number(arg['csi_sensor_id'], 'csi_sensor_id', int),
            width,
            height,
            fps,
            _number(arg['csi_flip_method'], 'csi_flip_method', int),
        ),
        'frame_id': frame,
        'camera_name': 'csi_camera',
        'camera_info_url': url,
        'use_sensor_data_qos': True,
        'image_encoding': 'rgb8',
    }
    return (
        'gscam',
        'gscam_node',
        'gscam::GSCam',
        params,
        [('camera/image_raw', image_topic), ('camera/camera_info', info_topic)],
    )


def node_overrides(arg: dict, bag: str) -> dict:
    """Parameters given on the command line; an empty argument leaves the params file's value."""
    overrides = {}
    for name in ('bundle', 'backend', 'transport', 'target_frame'):
        if arg[name].strip():
            overrides[name] = (
                os.path.expanduser(arg[name].strip()) if name == 'bundle' else arg[name].strip()
            )
    if arg['publish_overlay'].strip():
        overrides['publish_overlay'] = _flag(arg['publish_overlay'], 'publish_overlay')
    if arg['use_sim_time'].strip():
        overrides['use_sim_time'] = _flag(arg['use_sim_time'], 'use_sim_time')
    elif bag:
        overrides['use_sim_time'] = True
    return overrides


def bag_command(arg: dict, bag: str, use_sim_time: bool) -> list:
    """
    Build the ``ros2 bag play`` command line with the options of Humble's play verb.

    Source: ros2bag humble, ros2bag/verb/play.py.
    """
    cmd = ['ros2', 'bag', 'play', bag, '--rate', str(_number(arg['bag_rate'], 'bag_rate'))]
    if arg['bag_storage'].strip():
        cmd += ['--storage', arg['bag_storage'].strip()]
    if _flag(arg['bag_loop'], 'bag_loop'):
        cmd.append('--loop')
    delay = _number(arg['bag_delay'], 'bag_delay')
    if delay > 0:  # Humble's --delay takes positive values only
        cmd += ['--delay', str(delay)]
    if _flag(arg['bag_start_paused'], 'bag_start_paused'):
        cmd.append('--start-paused')
    remaps = arg['bag_remap'].split()
    for src, dst in (('/tf', arg['tf_topic']), ('/tf_static', arg['tf_static_topic'])):
        resolved = resolve_name(dst, arg['namespace'])
        if resolved != src and not any(r.startswith(src + ':=') for r in remaps):
            remaps.append(
                '{}:={}'.format(src, resolved)
            )  # the bag's TF goes where the node listens
    if remaps:
        cmd += ['--remap'] + remaps
    if use_sim_time:
        cmd.append('--clock')  # publish /clock from the bag (last: it takes an optional rate)
    return cmd


def launch_setup(context, *args, **kwargs):
    """Build the actions from the launch arguments (an OpaqueFunction body)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    share = _share()
    params_file = os.path.expanduser(arg['params_file']) or str(
        share / 'config' / 'vitedge_node.yaml'
    )
    image_topic = arg['image_topic'].strip()
    info_topic = arg['camera_info_topic'].strip() or _sibling_camera_info(image_topic)
    bag = os.path.expanduser(arg['bag'].strip())
    namespace = arg['namespace'].strip()
    overrides = node_overrides(arg, bag)
    tf_remaps = [('/tf', arg['tf_topic']), ('/tf_static', arg['tf_static_topic'])]
    camera = arg['camera'].strip().lower()
    if camera not in CAMERAS:
        raise ValueError(
            'launch argument camera: expected one of {}, got {!r}'.format(
                ', '.join(CAMERAS), arg['camera']
            )
        )
    if bag and camera != 'none':
        raise ValueError(
            'launch argument camera:={} cannot be combined with bag:= '
            '(the bag is the camera)'.format(camera)
        )

    node = Node(
        package=PACKAGE,
        executable='vitedge_node',
        name=arg['node_name'],
        namespace=namespace,
        output='screen',
        emulate_tty=True,
        parameters=[params_file, overrides] if overrides else [params_file],
        remappings=[
            ('image', image_topic),
            ('image/compressed', image_topic.rstrip('/') + '/compressed'),
            ('camera_info', info_topic),
        ]
        + tf_remaps,
        arguments=['--ros-args', '--log-level', arg['log_level']],
    )
    actions = [
        LogInfo(
            msg='vitedge_node: params {}, overrides {}, image {}, camera_info {}, tf {}{}'.format(
                params_file,
                overrides or 'none',
                resolve_name(image_topic, namespace),
                resolve_name(info_topic, namespace),
                resolve_name(arg['tf_topic'], namespace),
                ', bag ' + bag if bag else '',
            )
        ),
        node,
    ]

    if _flag(arg['rviz'], 'rviz'):
        _require_package('rviz2')
        actions.append(
            Node(
                package='rviz2',
                executable='rviz2',
                name='rviz2',
                namespace=namespace,
                arguments=['-d', str(share / 'config' / 'vitedge.rviz')],
                remappings=tf_remaps,
                parameters=[{'use_sim_time': overrides['use_sim_time']}]
                if 'use_sim_time' in overrides
                else [],
                output='screen',
            )
        )

    if bag:
        player = ExecuteProcess(
            cmd=bag_command(arg, bag, overrides.get('use_sim_time', False)),
            output='screen',
            name='bag_play',
        )
        if _flag(arg['bag_wait_for_node'], 'bag_wait_for_node'):
            if arg['log_level'].strip().lower() not in ('debug', 'info'):
                raise ValueError(
                    'launch argument bag_wait_for_node:=true waits for an info line of '
                    'vitedge_node, which log_level:={} hides; '
                    'use bag_wait_for_node:=false (and bag_delay)'.format(arg['log_level'])
                )
            started = []

            def on_output(event):
                text = (
                    event.text.decode('utf-8', 'replace')
                    if isinstance(event.text, bytes)
                    else str(event.text)
                )
                if started or READY_MARKER not in text:
                    return None
                started.append(True)
                return [LogInfo(msg='vitedge_node is ready: playing {}'.format(bag)), player]

            actions.append(
                RegisterEventHandler(
                    OnProcessIO(target_action=node, on_stdout=on_output, on_stderr=on_output)
                )
            )
            actions.append(
                RegisterEventHandler(
                    OnProcessExit(
                        target_action=node,
                        on_exit=[
                            LogInfo(msg='vitedge_node exited: not playing the bag'),
                            EmitEvent(event=Shutdown()),
                        ],
                    )
                )
            )
        else:
            actions.append(player)
        if _flag(arg['shutdown_after_bag'], 'shutdown_after_bag'):
            actions.append(
                RegisterEventHandler(
                    OnProcessExit(
                        target_action=player,
                        on_exit=[LogInfo(msg='bag finished'), EmitEvent(event=Shutdown())],
                    )
                )
            )
        return actions

    composable = _flag(arg['composable'], 'composable')
    if camera != 'none':
        package, executable, plugin, params, remaps = camera_description(
            camera, arg, image_topic, info_topic
        )
        if 'use_sim_time' in overrides:
            params['use_sim_time'] = overrides['use_sim_time']
        _require_package(package)
        if composable:
            _require_package('rclcpp_components')
            component = ComposableNode(
                package=package,
                plugin=plugin,
                name='camera',
                namespace=namespace,
                parameters=[params],
                remappings=remaps,
                extra_arguments=[{'use_intra_process_comms': True}],
            )
            if arg['container']:
                actions.append(
                    LoadComposableNodes(
                        target_container=arg['container'], composable_node_descriptions=[component]
                    )
                )
            else:
                actions.append(
                    ComposableNodeContainer(
                        name='vitedge_container',
                        namespace=namespace,
                        package='rclcpp_components',
                        executable='component_container_mt',
                        composable_node_descriptions=[component],
                        output='screen',
                    )
                )
        else:
            actions.append(
                Node(
                    package=package,
                    executable=executable,
                    name='camera',
                    namespace=namespace,
                    parameters=[params],
                    remappings=remaps,
                    output='screen',
                )
            )
    elif composable:
        actions.append(
            LogInfo(
                msg='composable:=true has no effect without a camera:=: vitedge_node is an '
                'rclpy node and runs as its own process'
            )
        )
    return actions


def generate_launch_description():
    """Launch description of the on-drone bring-up (arguments: see ARGUMENTS)."""
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=desc)
        for name, default, desc in ARGUMENTS
    ]
    return LaunchDescription(declared + [OpaqueFunction(function=launch_setup)])

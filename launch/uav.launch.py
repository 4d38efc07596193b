"""On-drone bring-up of vitedge_node: params file, bundle/backend/topic overrides, camera or rosbag.

Examples::

    ros2 launch vitedge_ros uav.launch.py image_topic:=/camera/image_raw
    ros2 launch vitedge_ros uav.launch.py bundle:=/data/bundles/my_bundle backend:=tensorrt
    ros2 launch vitedge_ros uav.launch.py bag:=/data/flight_01 image_topic:=/camera/image_raw
    ros2 launch vitedge_ros uav.launch.py camera:=v4l2 composable:=true     # camera driver as a component

vitedge_node is an rclpy node and always runs as its own process: rclpy nodes cannot be loaded into
rclcpp_components containers. ``composable:=true`` composes the C++ side (the v4l2 camera driver) into a
component container (a new one, or ``container:=NAME``); see docs/ROS.md.
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
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import ComposableNodeContainer, LoadComposableNodes, Node
from launch_ros.descriptions import ComposableNode

PACKAGE = 'vitedge_ros'
SHIPPED_BUNDLE = 'aerial_vit_tiny'

# name, default, description
ARGUMENTS = (
    ('bundle', '', 'Model bundle directory; empty: share/vitedge_ros/models/' + SHIPPED_BUNDLE),
    ('backend', '', 'auto | tensorrt | onnxruntime; empty: the params file value'),
    ('image_topic', '/camera/image_raw', 'Camera image topic (the compressed one is <image_topic>/compressed)'),
    ('camera_info_topic', '', 'CameraInfo topic; empty: camera_info beside image_topic'),
    ('transport', '', 'raw | compressed; empty: the params file value'),
    ('params_file', '', 'Parameter YAML; empty: share/vitedge_ros/config/vitedge_node.yaml'),
    ('target_frame', '', 'Ground frame for person targets (e.g. map); empty: the params file value'),
    ('publish_overlay', '', 'true | false; empty: the params file value'),
    ('namespace', '', 'Namespace of the nodes'),
    ('log_level', 'info', 'Log level of vitedge_node'),
    ('bag', '', 'Play this rosbag2 (folder or file) instead of the camera; empty: live camera'),
    ('bag_rate', '1.0', 'Playback rate of the bag'),
    ('bag_loop', 'false', 'Loop the bag'),
    ('bag_remap', '', 'Extra topic remaps for the bag, space separated old:=new'),
    ('shutdown_after_bag', 'false', 'Stop the whole launch when the bag has finished'),
    ('use_sim_time', '', 'true | false; empty: true when a bag plays, else false'),
    ('camera', 'none', 'Camera driver to start: none (it runs elsewhere) | v4l2 (v4l2_camera); not with bag'),
    ('video_device', '/dev/video0', 'Device of camera:=v4l2'),
    ('composable', 'false', 'true: run the camera driver as a component (vitedge_node stays a process)'),
    ('container', '', 'Existing component container to load the camera into (with composable:=true)'),
)


def _share() -> Path:
    """Installed share folder of the package, or the source tree when it is not installed."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except Exception:   # noqa: BLE001 - PackageNotFoundError, or no ament index at all
        return Path(__file__).resolve().parents[1]


def _flag(value: str, name: str) -> bool:
    low = value.strip().lower()
    if low in ('true', '1', 'yes', 'on'):
        return True
    if low in ('false', '0', 'no', 'off', ''):
        return False
    raise ValueError('launch argument {}: expected true or false, got {!r}'.format(name, value))


def _sibling_camera_info(image_topic: str) -> str:
    head = image_topic.rstrip('/').rsplit('/', 1)[0] if '/' in image_topic.strip('/') else ''
    return (head + '/camera_info') if head else 'camera_info'


def launch_setup(context, *args, **kwargs):
    """Build the actions from the launch arguments (an OpaqueFunction body)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    share = _share()
    params_file = arg['params_file'] or str(share / 'config' / 'vitedge_node.yaml')
    bundle = arg['bundle'] or str(share / 'models' / SHIPPED_BUNDLE)
    image_topic = arg['image_topic']
    info_topic = arg['camera_info_topic'] or _sibling_camera_info(image_topic)
    bag = os.path.expanduser(arg['bag'])
    use_sim_time = _flag(arg['use_sim_time'], 'use_sim_time') if arg['use_sim_time'] else bool(bag)

    overrides = {'bundle': bundle, 'use_sim_time': use_sim_time}
    for name in ('backend', 'transport', 'target_frame'):
        if arg[name]:
            overrides[name] = arg[name]
    if arg['publish_overlay']:
        overrides['publish_overlay'] = _flag(arg['publish_overlay'], 'publish_overlay')

    actions = [
        LogInfo(msg='vitedge_node: bundle {}, params {}, image {}, camera_info {}{}'.format(
            bundle, params_file, image_topic, info_topic, ', bag ' + bag if bag else '')),
        Node(
            package=PACKAGE, executable='vitedge_node', name='vitedge_node', namespace=arg['namespace'],
            output='screen', emulate_tty=True,
            parameters=[params_file, overrides],
            remappings=[('image', image_topic), ('image/compressed', image_topic.rstrip('/') + '/compressed'),
                        ('camera_info', info_topic)],
            arguments=['--ros-args', '--log-level', arg['log_level']],
        ),
    ]

    if bag:
        cmd = ['ros2', 'bag', 'play', bag, '--rate', arg['bag_rate']]
        if _flag(arg['bag_loop'], 'bag_loop'):
            cmd.append('--loop')
        remaps = arg['bag_remap'].split()
        if remaps:
            cmd += ['--remap'] + remaps
        if use_sim_time:
            cmd.append('--clock')     # publish /clock from the bag (last: it takes an optional rate)
        player = ExecuteProcess(cmd=cmd, output='screen', name='bag_play')
        actions.append(player)
        if _flag(arg['shutdown_after_bag'], 'shutdown_after_bag'):
            actions.append(RegisterEventHandler(OnProcessExit(
                target_action=player, on_exit=[LogInfo(msg='bag finished'), EmitEvent(event=Shutdown())])))
        return actions

    camera = arg['camera'].strip().lower()
    composable = _flag(arg['composable'], 'composable')
    if camera == 'v4l2':
        cam_params = [{'video_device': arg['video_device'], 'use_sim_time': use_sim_time}]
        cam_remaps = [('image_raw', image_topic), ('camera_info', info_topic)]
        if composable:
            component = ComposableNode(package='v4l2_camera', plugin='v4l2_camera::V4L2Camera', name='camera',
                                       namespace=arg['namespace'], parameters=cam_params, remappings=cam_remaps,
                                       extra_arguments=[{'use_intra_process_comms': True}])
            if arg['container']:
                actions.append(LoadComposableNodes(target_container=arg['container'],
                                                   composable_node_descriptions=[component]))
            else:
                actions.append(ComposableNodeContainer(
                    name='vitedge_container', namespace=arg['namespace'], package='rclcpp_components',
                    executable='component_container_mt', composable_node_descriptions=[component],
                    output='screen'))
        else:
            actions.append(Node(package='v4l2_camera', executable='v4l2_camera_node', name='camera',
                                namespace=arg['namespace'], parameters=cam_params, remappings=cam_remaps,
                                output='screen'))
    elif camera != 'none':
        raise ValueError('launch argument camera: expected none or v4l2, got {!r}'.format(arg['camera']))
    elif composable:
        actions.append(LogInfo(msg='composable:=true has no effect without camera:=v4l2: vitedge_node is an '
                                   'rclpy node and runs as its own process'))
    return actions


def generate_launch_description():
    """Launch description of the on-drone bring-up (arguments: see ARGUMENTS)."""
    declared = [DeclareLaunchArgument(name, default_value=default, description=desc)
                for name, default, desc in ARGUMENTS]
    return LaunchDescription(declared + [OpaqueFunction(function=launch_setup)])

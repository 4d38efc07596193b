"""ROS 2 side of vitedge_ros.

Only ``vitedge_ros.ros.node`` imports rclpy; ``image_conversion``, ``messages``, ``rosbags_types`` and
``core`` work without a ROS installation.
"""

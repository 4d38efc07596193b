"""ROS 2 side of vitedge_ros.

Only ``vitedge_ros.ros.node`` imports rclpy; ``messages`` and ``rosbags_types`` work without a ROS
installation. The perception core and the image conversion live in ``vitedge_ros.perception`` (``core`` and
``image_conversion`` here are aliases of those modules, kept for existing imports).
"""

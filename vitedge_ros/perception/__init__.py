"""The ROS-free perception side shared by the node, the bag replay, the demo and the workstation tools.

numpy and OpenCV only (no torch, no rclpy), Python 3.6 compatible. ``overlay``: the one overlay renderer.
"""

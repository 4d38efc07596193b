"""The ROS-free perception side shared by the node, the bag replay, the demo and the workstation tools.

numpy and OpenCV only (no torch, no rclpy), Python 3.6 compatible. ``core``: the perception core
(``PerceptionCore``: parameters, frame path, outputs, diagnostics) that the rclpy node and the bag replay
drive; ``image_conversion``: ROS image messages to BGR arrays; ``overlay``: the one overlay renderer;
``diagnostics``: DiagnosticStatus levels.
"""

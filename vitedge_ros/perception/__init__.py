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
The ROS-free perception side shared by the node, the bag replay.

The demo and the workstation tools.

numpy and OpenCV only (no torch, no rclpy), Python 3.6 compatible. ``core``: the perception core
(``PerceptionCore``: parameters, frame path, outputs, diagnostics) that the rclpy node and the bag
replay drive; ``image_conversion``: ROS image messages to BGR arrays; ``overlay``: the one overlay
renderer; ``diagnostics``: DiagnosticStatus levels.
"""

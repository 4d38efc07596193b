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
Replay of recorded flights without ROS: a driver of the perception core over rosbag2 files.

``reader`` (bags in), ``writer`` (bags and files out), ``outputs`` (the node's output topics),
``geometry`` (CameraInfo, TF and position truth of a bag), ``ground_truth`` (box and mask truth,
frames matched to it), ``driver`` (``replay``: the run, in named steps), ``metrics``
(metrics.json), ``report`` (metrics.md, latency plot), ``synthetic`` (``tools/make_bag.py``'s
flights), ``cli`` (the command lines of eval_bag and make_bag), ``bench`` (the replay measured for
docs/BENCHMARKS.md), ``flights_report`` (docs/EVALUATION.md's localisation figures), ``errors``
(``BagReplayError``). The metric definitions are ``vitedge_ros.eval``'s.
"""

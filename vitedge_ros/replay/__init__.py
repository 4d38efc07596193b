"""Replay of recorded flights without ROS: a driver of the perception core over rosbag2 files.

``reader`` (bags in), ``writer`` (bags and files out), ``outputs`` (the node's output topics), ``geometry``
(CameraInfo, TF and position truth of a bag), ``ground_truth`` (box and mask truth, frames matched to it),
``driver`` (``replay``: the run, in named steps), ``metrics`` (metrics.json), ``report`` (metrics.md, latency plot),
``synthetic`` (``tools/make_bag.py``'s flights), ``cli`` (the command lines of eval_bag and make_bag), ``bench``
(the replay measured for docs/BENCHMARKS.md), ``flights_report`` (docs/EVALUATION.md's localisation figures),
``errors`` (``BagReplayError``). The metric definitions are ``vitedge_ros.eval``'s.
"""

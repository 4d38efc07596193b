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
The side-by-side benchmark behind docs/BENCHMARKS.md (``tools/benchmark.py``).

Sections, each measured in one process and written as one JSON file under ``bench/``:

* ``machine.json``  — CPU, cores, memory, OS, Python and package versions, load during the run;
* ``latency.json``  — one model four ways (timm eager, onnxruntime FP32, compressed FP32, INT8
  QDQ);
* ``digits.json``   — the digits recipe stage by stage against Torch-Pruning alone,
  ``quantize_static`` alone and ``quantize_dynamic`` alone, with the Pareto front;
* ``overhead.json`` — runtime overhead per 640×480 frame against inference;
* ``replay.json``   — eval_bag throughput and peak resident memory (onnxruntime);
* ``roofline.json`` — Jetson Nano / Orin Nano roofline estimates, next to ``gpu*.json`` when a GPU
  run exists.

``render.py`` turns those files (and nothing else) into docs/BENCHMARKS.md and its plots.
"""

"""The side-by-side benchmark behind docs/BENCHMARKS.md (``tools/benchmark.py``).

Sections, each measured in one process and written as one JSON file under ``bench/``:

* ``machine.json``  — CPU, cores, memory, OS, Python and package versions, load during the run;
* ``latency.json``  — one model four ways (timm eager, onnxruntime FP32, compressed FP32, INT8 QDQ);
* ``digits.json``   — the digits recipe stage by stage against Torch-Pruning alone, ``quantize_static``
  alone and ``quantize_dynamic`` alone, with the Pareto front;
* ``overhead.json`` — runtime overhead per 640×480 frame against inference;
* ``replay.json``   — eval_bag throughput and peak resident memory (onnxruntime);
* ``roofline.json`` — Jetson Nano / Orin Nano roofline estimates, next to ``gpu*.json`` when a GPU run exists.

``render.py`` turns those files (and nothing else) into docs/BENCHMARKS.md and its plots.
"""

"""Model compression for ViT classifiers and the ViT detector (see docs/COMPRESSION.md).

Recipes of structured pruning, low-rank factorisation, (distilled) fine-tuning, token merging and
quantization, each stage measured and checkpointed. Modules: ``recipe`` (YAML schema), ``prune``,
``lowrank``, ``distill``, ``tome``, ``quantize``, ``measure`` (params, MACs, ONNX bytes, onnxruntime latency,
roofline estimates), ``report`` (json/md/Pareto plot), ``runner`` (``run_recipe``), ``ddp`` (torchrun).
"""

"""One object per task: ``get_task('detect' | 'classify' | 'segment')`` answers everything that differs by task.

Each task lives in one module (``detect.py``, ``classify.py``, ``segment.py``): its bundle decoders, what it
outputs, whether the node flies it, the data it reads (runtime half: Python 3.6, no torch, used on the drone),
and its model architectures, export wrapper, evaluation, calibration inputs and training loop (workstation half,
torch imported on first use). Adding a task is one such module plus its decoder in the runtime
(:data:`vitedge_ros.runtime.bundle.DECODERS` and the pipeline). The registry follows timm's
(:mod:`.registry`).
"""
from . import classify, detect, segment  # noqa: F401  (each registers its task)
from .base import Task, load_ref
from .registry import UnknownTaskError, all_tasks, get_task, is_task, list_tasks, register_task, task_of_arch

__all__ = ['Task', 'UnknownTaskError', 'all_tasks', 'get_task', 'is_task', 'list_tasks', 'load_ref',
           'register_task', 'task_of_arch']

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
One object per task, answering everything that differs by task.

``get_task('detect' | 'classify' | 'segment')`` returns it.

Each task lives in one module (``detect.py``, ``classify.py``, ``segment.py``): its bundle
decoders, what it outputs, whether the node flies it, the data it reads (runtime half: Python 3.6,
no torch, used on the drone), and its model architectures, export wrapper, evaluation, calibration
inputs and training loop (workstation half, torch imported on first use). Adding a task is one such
module plus its decoder in the runtime (:data:`vitedge_ros.runtime.bundle.DECODERS` and the
pipeline). The registry follows timm's (:mod:`.registry`).
"""

from . import classify, detect, segment  # noqa: F401  (each registers its task)
from .base import load_ref, Task
from .registry import (
    all_tasks,
    get_task,
    is_task,
    list_tasks,
    register_task,
    task_of_arch,
    UnknownTaskError,
)

__all__ = [
    'Task',
    'UnknownTaskError',
    'all_tasks',
    'get_task',
    'is_task',
    'list_tasks',
    'load_ref',
    'register_task',
    'task_of_arch',
]

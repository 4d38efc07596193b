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
The task registry: ``register_task`` / ``get_task`` / ``list_tasks`` / ``is_task``.

It follows the style of timm's.

timm keeps its models in a module-level dict filled by a ``@register_model`` decorator and answers
``is_model`` / ``list_models`` / ``model_entrypoint``; ``create_model`` raises one ``Unknown model
(name)`` line for a name it lacks (huggingface/pytorch-image-models, ``timm/models/_registry.py``
and ``_factory.py``, 0.9). Here each task module (``detect.py``, ``classify.py``, ``segment.py``)
registers one :class:`~.base.Task` instance under its bundle.yaml ``task`` name; an unknown name is
one :class:`UnknownTaskError` line that lists the known ones. Python 3.6, no torch: the drone
imports this.
"""

from typing import Dict, List, Optional, Type

from .base import Task
from ..runtime.errors import VitedgeError

_TASKS: Dict[str, Task] = {}


class UnknownTaskError(VitedgeError, ValueError):
    """A task name no task module registered; the message lists the known names (one line)."""


def register_task(cls: Type[Task]) -> Type[Task]:
    """
    Class decorator: register one instance of ``cls`` under ``cls.name``.

    Returns ``cls`` unchanged.

    Raises ValueError for an empty name or a name registered twice (two modules claiming one task).
    """
    name = getattr(cls, 'name', '')
    if not name:
        raise ValueError('register_task: {} has no name'.format(cls.__name__))
    if name in _TASKS:
        raise ValueError(
            'register_task: task {!r} is registered twice ({} and {})'.format(
                name, type(_TASKS[name]).__name__, cls.__name__
            )
        )
    _TASKS[name] = cls()
    return cls


def list_tasks() -> List[str]:
    """Return the registered task names, sorted."""
    return sorted(_TASKS)


def is_task(name: object) -> bool:
    """Whether ``name`` is a registered task name."""
    return isinstance(name, str) and name in _TASKS


def get_task(name: object) -> Task:
    """
    Return the task object registered as ``name`` (``detect``, ``classify``, ``segment``).

    Raises :class:`UnknownTaskError` (a ValueError) with one line naming the bad value and the
    known tasks.
    """
    if not is_task(name):
        raise UnknownTaskError(
            'unknown task {!r} (known: {})'.format(name, ', '.join(list_tasks()))
        )
    return _TASKS[name]  # type: ignore[index]


def all_tasks() -> List[Task]:
    """Every registered task object, by name."""
    return [_TASKS[n] for n in list_tasks()]


def task_of_arch(arch: str) -> Optional[Task]:
    """
    Return the task whose own model architectures include ``arch`` (``vit_center``: detect).

    None for other names (timm architectures).
    """
    for task in all_tasks():
        if arch in task.model_archs:
            return task
    return None

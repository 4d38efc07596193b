"""Former home of the perception core, now ``vitedge_ros.perception.core`` (issue 15: one core, three drivers).

This name stays importable: it is the very same module object (``sys.modules`` alias), so every attribute,
private ones and monkeypatching included, behaves as before.
"""
import sys

from vitedge_ros.perception import core as _core

sys.modules[__name__] = _core

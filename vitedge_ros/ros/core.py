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
Former home of the perception core, now ``vitedge_ros.perception.core``.

Issue 15: one core, three drivers.

This name stays importable: it is the very same module object (``sys.modules`` alias), so every
attribute, private ones and monkeypatching included, behaves as before.
"""

import sys

from vitedge_ros.perception import core as _core

sys.modules[__name__] = _core

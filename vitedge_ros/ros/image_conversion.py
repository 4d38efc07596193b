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
Former home of the ROS image conversion.

Now ``vitedge_ros.perception.image_conversion`` (issue 15).

This name stays importable: it is the very same module object (``sys.modules`` alias).
"""

import sys

from vitedge_ros.perception import image_conversion as _image_conversion

sys.modules[__name__] = _image_conversion

"""Former home of the ROS image conversion, now ``vitedge_ros.perception.image_conversion`` (issue 15).

This name stays importable: it is the very same module object (``sys.modules`` alias).
"""
import sys

from vitedge_ros.perception import image_conversion as _image_conversion

sys.modules[__name__] = _image_conversion

"""Camera model, bearing rays, flat-ground projection and obstacle bearings (pure numpy + cv2, no ROS)."""
from .camera import PinholeCamera
from .obstacles import ObstacleInfo, box_angles, central_region, clear_path, obstacle_infos
from .projection import (
    CameraPose,
    intersect_ground,
    pixel_to_ground,
    pixels_to_ground,
    quat_from_euler,
    quat_from_matrix,
    quat_multiply,
    quat_to_matrix,
)

__all__ = ['PinholeCamera', 'CameraPose', 'ObstacleInfo', 'box_angles', 'central_region', 'clear_path',
           'intersect_ground', 'obstacle_infos', 'pixel_to_ground', 'pixels_to_ground', 'quat_from_euler',
           'quat_from_matrix', 'quat_multiply', 'quat_to_matrix']

"""vitedge_ros."""

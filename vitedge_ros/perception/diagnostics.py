"""Levels of diagnostic_msgs/DiagnosticStatus (its ``byte`` constants OK, WARN, ERROR, STALE), without ROS."""

__all__ = ['DIAG_ERROR', 'DIAG_OK', 'DIAG_STALE', 'DIAG_WARN']

DIAG_OK, DIAG_WARN, DIAG_ERROR, DIAG_STALE = 0, 1, 2, 3

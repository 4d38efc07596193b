"""Exceptions raised by the runtime, each with a message that names the problem."""


class VitedgeError(Exception):
    """Base class of all vitedge_ros runtime errors."""


class BundleError(VitedgeError, ValueError):
    """A model bundle is missing, incomplete or malformed (the message names the file or field)."""


class FrameError(VitedgeError, ValueError):
    """An input frame cannot be processed (empty, wrong dtype, wrong shape)."""


class EngineError(VitedgeError, RuntimeError):
    """An inference engine cannot be created or run (missing backend, mismatched engine file)."""

"""The error of the replay package: a replay that cannot start or go on."""
from ..runtime.errors import VitedgeError

__all__ = ['BagReplayError']


class BagReplayError(VitedgeError, RuntimeError):
    """A replay that cannot start or go on (bad bag, missing topic, bundle that does not load)."""

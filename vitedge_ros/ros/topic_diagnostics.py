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
diagnostic_updater conventions without ROS: status names and the frequency check of a topic.

The node publishes its statuses on ``/diagnostics`` the way ``diagnostic_updater`` does
(ros/diagnostics, branch ``stale/humble``, the Humble release 3.0.0;
``diagnostic_updater/_diagnostic_updater.py`` ``Updater.publish``: ``status.name = node.get_name()
+ ': ' + task name``), with one difference: the prefix is the node's fully qualified name without
the leading slash (``uav1/vitedge_node``), because ``/diagnostics`` is one absolute topic shared by
every vehicle and two nodes called ``vitedge_node`` in namespaces ``uav1`` and ``uav2`` would
otherwise publish the same status name. In the root namespace the names are exactly
diagnostic_updater's (``vitedge_node: perception``).

:class:`FrequencyStatus` is ``diagnostic_updater.FrequencyStatus`` (``_update_functions.py``, same
release) ported line by line: a ring of ``window_size`` (time, count) samples taken at each report;
the rate is the events between the oldest sample and now over that time. Level and message as
upstream: ERROR ``No events recorded.`` when nothing happened in the window, WARN ``Frequency too
low.`` below ``min_hz * (1 - tolerance)``, WARN ``Frequency too high.`` above ``max_hz * (1 +
tolerance)``, else OK ``Desired frequency met``; the same value names. :func:`topic_status` wraps
it like ``HeaderlessTopicDiagnostic`` (status name ``<topic> topic status``). Differences, on
purpose: an injectable clock (the node passes a monotonic one, so sim time or a paused bag cannot
make the window zero or negative; upstream divides by a zero window then) and ``max_hz = 0``
meaning "no upper bound".
"""

import threading
import time
from typing import Any, Callable, Dict, Optional

from .messages import DIAG_ERROR, DIAG_OK, DIAG_WARN

__all__ = ['FrequencyStatus', 'status_prefix', 'topic_status']


def status_prefix(namespace: str, name: str) -> str:
    """Prefix of the node's status names: ``name`` in the root namespace, else ``ns/sub/name``."""
    ns = str(namespace or '').strip('/')
    return '{}/{}'.format(ns, name) if ns else str(name)


class FrequencyStatus:
    """
    Rate of events (``tick``) checked against bounds (Hz), as diagnostic_updater's FrequencyStatus.

    Parameters
    ----------
        min_hz: lowest acceptable rate (0: only "no events" is an error).
        max_hz: highest acceptable rate; 0 or None: no upper bound.
        tolerance: relative slack on both bounds (upstream default 0.1).
        window_size: reports the rate is averaged over (upstream default 5).
        clock: seconds, monotonic (default ``time.monotonic``).

    """

    def __init__(
        self,
        min_hz: float,
        max_hz: Optional[float] = None,
        tolerance: float = 0.1,
        window_size: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_hz < 0 or (max_hz is not None and max_hz < 0) or tolerance < 0 or window_size < 1:
            raise ValueError(
                'FrequencyStatus: bounds and tolerance must be >= 0 and window_size >= 1'
            )
        self.min_hz = float(min_hz)
        self.max_hz = float(max_hz) if max_hz else None
        self.tolerance = float(tolerance)
        self.window_size = int(window_size)
        self.clock = clock
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Reset the statistics (the window restarts now)."""
        with self._lock:
            self.count = 0
            now = self.clock()
            self._times = [now] * self.window_size
            self._seq = [0] * self.window_size
            self._index = 0

    def tick(self) -> None:
        """Signal that an event (a published message) occurred."""
        with self._lock:
            self.count += 1

    def run(self) -> Dict[str, Any]:
        """Take a sample and return ``{'level', 'message', 'values'}`` for one DiagnosticStatus."""
        with self._lock:
            now = self.clock()
            events = self.count - self._seq[self._index]
            window = now - self._times[self._index]
            freq = events / window if window > 0 else 0.0
            self._seq[self._index] = self.count
            self._times[self._index] = now
            self._index = (self._index + 1) % self.window_size
            count = self.count
        low = self.min_hz * (1.0 - self.tolerance)
        high = self.max_hz * (1.0 + self.tolerance) if self.max_hz is not None else None
        if events == 0:
            level, message = DIAG_ERROR, 'No events recorded.'
        elif freq < low:
            level, message = DIAG_WARN, 'Frequency too low.'
        elif high is not None and freq > high:
            level, message = DIAG_WARN, 'Frequency too high.'
        else:
            level, message = DIAG_OK, 'Desired frequency met'
        values = {
            'Events in window': events,
            'Events since startup': count,
            'Duration of window (s)': '{:f}'.format(window),
            'Actual frequency (Hz)': '{:f}'.format(freq),
        }
        if self.max_hz is not None and self.min_hz == self.max_hz:
            values['Target frequency (Hz)'] = '{:f}'.format(self.min_hz)
        if self.min_hz > 0:
            values['Minimum acceptable frequency (Hz)'] = '{:f}'.format(low)
        if high is not None:
            values['Maximum acceptable frequency (Hz)'] = '{:f}'.format(high)
        return {'level': level, 'message': message, 'values': values}


def topic_status(
    prefix: str, topic: str, freq: FrequencyStatus, hardware_id: str = ''
) -> Dict[str, Any]:
    """
    One status dict for ``messages.build_diagnostic_array``.

    ``<prefix>: <topic> topic status``.
    """
    out = freq.run()
    out['name'] = '{}: {} topic status'.format(prefix, topic)
    out['hardware_id'] = hardware_id
    return out

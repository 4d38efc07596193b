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
Latest-wins processing on one worker thread (no ROS, no torch).

A producer (a ROS subscription callback, a bag reader in real-time mode) calls ``submit(item)``;
one worker thread runs ``process_fn(item)``. While an item is being processed a newer submission
replaces the pending one, and the replaced item is counted as dropped. At most one item is pending
and one in flight, so memory does not grow with the input rate.

Public API (stable; used by ``vitedge_ros.ros.core`` and ``tools/eval_bag.py --realtime``)::

    worker = LatestWinsWorker(process_fn, on_result=None, on_error=None)
    worker.submit(item) -> bool         # True when it replaced a pending item (one drop)
    worker.stats() -> WorkerStats       # submitted, processed, dropped, failed, pending, busy
    worker.wait_idle(timeout) -> bool   # True once nothing is pending or in flight
    worker.stop(timeout=None, drain=False) -> bool   # True when the thread has ended
"""

import logging
import threading
from typing import Any, Callable, NamedTuple, Optional

__all__ = ['LatestWinsWorker', 'WorkerStats']

_LOG = logging.getLogger(__name__)
_EMPTY = object()


class WorkerStats(NamedTuple):
    """Counters of a LatestWinsWorker (a consistent snapshot)."""

    submitted: int  # items given to submit()
    processed: int  # items process_fn finished without raising
    dropped: int  # items replaced before processing, or submitted/pending when stopped
    failed: int  # items for which process_fn raised
    pending: int  # 0 or 1
    busy: bool  # an item is being processed now


class LatestWinsWorker:
    """
    Run ``process_fn`` on the newest submitted item, on one daemon thread.

    Parameters
    ----------
        process_fn: called with each item on the worker thread; its return value goes to
            ``on_result``.
        on_result: optional ``on_result(item, result)``, called on the worker thread.
        on_error: optional ``on_error(item, exc)`` when ``process_fn`` (or ``on_result``) raises;
            without it the exception is logged. The worker keeps running either way.
        name: thread name.

    """

    def __init__(
        self,
        process_fn: Callable[[Any], Any],
        on_result: Optional[Callable[[Any, Any], None]] = None,
        on_error: Optional[Callable[[Any, Exception], None]] = None,
        name: str = 'latest-wins',
    ):
        self._process_fn = process_fn
        self._on_result = on_result
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending = _EMPTY
        self._busy = False
        self._stopping = False
        self._drain = False
        self._submitted = self._processed = self._dropped = self._failed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # producer side
    # -----------------------------------------------------------------------------------------
    def submit(self, item: Any) -> bool:
        """
        Hand ``item`` to the worker, replacing a pending one; return True when one was dropped.

        Never blocks on processing. After ``stop()`` the item is counted as dropped and ignored.
        """
        with self._cond:
            self._submitted += 1
            if self._stopping:
                self._dropped += 1
                return True
            replaced = self._pending is not _EMPTY
            if replaced:
                self._dropped += 1
            self._pending = item
            self._cond.notify_all()
            return replaced

    def stats(self) -> WorkerStats:
        """Return a snapshot of the counters."""
        with self._cond:
            return WorkerStats(
                self._submitted,
                self._processed,
                self._dropped,
                self._failed,
                0 if self._pending is _EMPTY else 1,
                self._busy,
            )

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """
        Block until nothing is pending or in flight, or until ``timeout`` seconds pass.

        Returns True when idle, False on timeout.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is _EMPTY and not self._busy, timeout)

    @property
    def running(self) -> bool:
        """Return True while the worker thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: Optional[float] = None, drain: bool = False) -> bool:
        """
        Stop the worker: the pending item is dropped (or processed first with ``drain=True``).

        An item already in flight is finished. Returns True when the thread ended within
        ``timeout``. Safe to call more than once and from any thread but the worker's own.
        """
        with self._cond:
            self._stopping = True
            self._drain = drain
            if not drain and self._pending is not _EMPTY:
                self._pending = _EMPTY
                self._dropped += 1
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # worker side
    # ---------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not _EMPTY or self._stopping)
                if self._pending is _EMPTY or (self._stopping and not self._drain):
                    self._busy = False
                    self._cond.notify_all()
                    return
                item, self._pending = self._pending, _EMPTY
                self._busy = True
            ok = True
            try:
                result = self._process_fn(item)
                if self._on_result is not None:
                    self._on_result(item, result)
            # the worker must survive any failure of one item
            except Exception as exc:  # noqa: BLE001
                ok = False
                self._report(item, exc)
            del item
            result = None
            with self._cond:
                if ok:
                    self._processed += 1
                else:
                    self._failed += 1
                self._busy = False
                self._cond.notify_all()

    def _report(self, item: Any, exc: Exception) -> None:
        if self._on_error is None:
            _LOG.error('latest-wins worker: processing failed: %s', exc, exc_info=exc)
            return
        try:
            self._on_error(item, exc)
        except Exception:  # noqa: BLE001 - an error handler must not kill the worker
            _LOG.exception('latest-wins worker: on_error raised')

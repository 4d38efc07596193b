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

"""LatestWinsWorker: fast producer, slow consumer; drops counted, memory bounded, clean stop."""

import threading
import time
import tracemalloc

import numpy as np
from vitedge_ros.runtime.latest_wins import LatestWinsWorker


def _slow(delay):
    seen = []

    def fn(item):
        time.sleep(delay)
        seen.append(item[0] if isinstance(item, tuple) else item)
        return item

    return fn, seen


def test_fast_producer_slow_consumer_counts_drops_and_keeps_latest():
    fn, seen = _slow(0.02)
    worker = LatestWinsWorker(fn)
    n = 200
    for i in range(n):
        worker.submit(i)
        st = worker.stats()
        assert st.pending <= 1
        time.sleep(0.001)
    assert worker.wait_idle(5.0)
    st = worker.stats()
    assert st.submitted == n
    assert st.processed + st.dropped == n and st.failed == 0
    assert st.dropped > n / 2  # the consumer is ~10x slower than the producer
    assert seen[-1] == n - 1  # the newest frame is always processed
    assert seen == sorted(seen)  # never goes back in time
    assert worker.stop(2.0) and not worker.running


def test_memory_flat_independent_of_frames_submitted():
    """Peak traced memory with 50 or 400 submitted 1 MB frames stays at a few frames."""
    frame_bytes = 1 << 20

    def peak_for(n_frames):
        fn, _ = _slow(0.005)
        worker = LatestWinsWorker(fn)
        tracemalloc.start()
        tracemalloc.clear_traces()  # resets the peak too (reset_peak is Python 3.9+)
        for i in range(n_frames):
            worker.submit((i, np.ones(frame_bytes, np.uint8)))
        worker.wait_idle(10.0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        st = worker.stats()
        worker.stop(2.0)
        return peak, st

    peak_small, st_small = peak_for(50)
    peak_large, st_large = peak_for(400)
    assert st_large.dropped > st_small.dropped and st_large.dropped > 300
    # at most: one being built by the producer, one pending, one in flight (+ slack)
    assert peak_small < 4.5 * frame_bytes
    assert peak_large < 4.5 * frame_bytes


def test_errors_counted_and_worker_survives():
    errors = []
    results = []

    def fn(item):
        if item == 'bad':
            raise ValueError('bad item')
        return item.upper()

    worker = LatestWinsWorker(
        fn,
        on_result=lambda item, res: results.append(res),
        on_error=lambda item, exc: errors.append((item, str(exc))),
    )
    worker.submit('bad')
    worker.wait_idle(2.0)
    worker.submit('good')
    worker.wait_idle(2.0)
    st = worker.stats()
    assert (st.processed, st.failed, st.dropped) == (1, 1, 0)
    assert errors == [('bad', 'bad item')] and results == ['GOOD']
    worker.stop(1.0)


def test_stop_drops_pending_and_finishes_in_flight():
    started = threading.Event()
    release = threading.Event()
    done = []

    def fn(item):
        started.set()
        release.wait(5.0)
        done.append(item)

    worker = LatestWinsWorker(fn)
    worker.submit('first')
    assert started.wait(2.0)
    worker.submit('pending')
    assert worker.stats().pending == 1
    threading.Timer(0.1, release.set).start()
    assert worker.stop(5.0)
    assert done == ['first']
    st = worker.stats()
    assert st.dropped == 1 and st.pending == 0 and not st.busy
    assert worker.submit('late') is True  # ignored after stop, counted as dropped
    assert worker.stats().dropped == 2
    assert worker.stop(1.0)  # idempotent


def test_stop_with_drain_processes_pending():
    fn, seen = _slow(0.05)
    worker = LatestWinsWorker(fn)
    worker.submit(1)
    time.sleep(0.01)
    worker.submit(2)
    assert worker.stop(5.0, drain=True)
    assert seen == [1, 2]


def test_idle_stop_is_fast():
    worker = LatestWinsWorker(lambda item: item)
    t0 = time.monotonic()
    assert worker.stop(2.0)
    assert time.monotonic() - t0 < 0.5

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

"""diagnostic_updater conventions without ROS: FrequencyStatus levels and values, status names."""

import pytest
from vitedge_ros.ros.messages import DIAG_ERROR, DIAG_OK, DIAG_WARN
from vitedge_ros.ros.topic_diagnostics import FrequencyStatus, status_prefix, topic_status


class Clock:

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _ticks(freq, clock, n, period):
    for _ in range(n):
        clock.t += period
        freq.tick()


def test_frequency_status_follows_diagnostic_updater():
    clock = Clock()
    freq = FrequencyStatus(5.0, 20.0, tolerance=0.1, window_size=5, clock=clock)
    out = freq.run()  # nothing yet: upstream's error
    assert (out['level'], out['message']) == (DIAG_ERROR, 'No events recorded.')
    _ticks(freq, clock, 10, 0.1)  # 10 Hz for 1 s
    out = freq.run()
    assert (out['level'], out['message']) == (DIAG_OK, 'Desired frequency met')
    # the first window runs from construction: 10 events over 1.0 s
    assert (
        out['values']['Events in window'] == 10
        and out['values']['Actual frequency (Hz)'] == '10.000000'
    )
    assert out['values']['Minimum acceptable frequency (Hz)'] == '4.500000'
    assert out['values']['Maximum acceptable frequency (Hz)'] == '22.000000'
    for _ in range(5):  # 4.4 Hz for 5 reports: below 5 * 0.9
        _ticks(freq, clock, 4, 1 / 4.4)
        out = freq.run()
    assert (out['level'], out['message']) == (DIAG_WARN, 'Frequency too low.')
    assert float(out['values']['Actual frequency (Hz)']) == pytest.approx(4.4, rel=1e-6)
    for _ in range(5):  # 30 Hz: above 20 * 1.1
        _ticks(freq, clock, 30, 1 / 30)
        out = freq.run()
    assert (out['level'], out['message']) == (DIAG_WARN, 'Frequency too high.')
    assert out['values']['Events since startup'] == 10 + 20 + 150


def test_frequency_status_without_upper_bound_and_a_frozen_clock():
    clock = Clock()
    freq = FrequencyStatus(1.0, 0.0, clock=clock)
    freq.tick()
    out = freq.run()  # zero-length window: no division by zero
    assert out['values']['Actual frequency (Hz)'] == '0.000000' and out['level'] == DIAG_WARN
    assert 'Maximum acceptable frequency (Hz)' not in out['values']
    _ticks(freq, clock, 1000, 0.001)
    assert freq.run()['level'] == DIAG_OK
    with pytest.raises(ValueError):
        FrequencyStatus(-1.0)


def test_status_names():
    assert status_prefix('/', 'vitedge_node') == 'vitedge_node'
    assert status_prefix('/uav1', 'vitedge_node') == 'uav1/vitedge_node'
    assert status_prefix('/fleet/uav2/', 'front') == 'fleet/uav2/front'
    st = topic_status(
        'uav1/vitedge_node', 'detections', FrequencyStatus(1.0, clock=Clock()), 'onnxruntime'
    )
    assert (
        st['name'] == 'uav1/vitedge_node: detections topic status'
        and st['hardware_id'] == 'onnxruntime'
    )

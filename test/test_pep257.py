# Copyright 2015 Open Source Robotics Foundation, Inc.
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
ament_pep257 with its default configuration, as in the ament_python package template.

The test is ros2pkg's template (ros2/ros2cli, humble,
ros2pkg/resource/ament_python/test_pep257.py.em): ``main(argv=['.', 'test'])``, the ``ament``
convention (every pydocstyle check except D100-D107, D203, D212, D404). Where ament_pep257 is not
installed (no ROS), pydocstyle checks the package and launch files with this repository's setup.cfg
``[pydocstyle]`` section instead (tools/ and test/ are exempt there, as in ruff.toml).
"""

import importlib.util
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _paths():
    return [str(ROOT / p) for p in ('vitedge_ros', 'launch', 'setup.py') if (ROOT / p).exists()]


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257():
    if importlib.util.find_spec('ament_pep257') is not None:
        from ament_pep257.main import main

        rc = main(argv=['.', 'test'])
        assert rc == 0, 'Found code style errors / warnings'
        return
    if importlib.util.find_spec('pydocstyle') is None:
        pytest.skip('neither ament_pep257 nor pydocstyle is installed')
    proc = subprocess.run(
        [sys.executable, '-m', 'pydocstyle', '--config={}'.format(ROOT / 'setup.cfg')] + _paths(),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert proc.returncode == 0, 'pydocstyle found problems:\n' + proc.stdout

# Copyright 2017 Open Source Robotics Foundation, Inc.
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
ament_flake8 with its default configuration, as in the ament_python package template.

The test is ros2pkg's template (ros2/ros2cli, humble,
ros2pkg/resource/ament_python/test_flake8.py.em): ``main_with_errors(argv=[])`` checks the current
directory (``colcon test`` runs pytest in the package directory) with ament_flake8's own
configuration/ament_flake8.ini: max-line-length 99, import-order-style google and every installed
flake8 plugin. Where ament_flake8 is not installed (no ROS), plain flake8 checks the same files
with this repository's setup.cfg ``[flake8]`` section instead.
"""

import importlib.util
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _paths():
    """
    Return what ament_flake8 walks: top-level Python files and folders not starting with . or _.

    build/, install/ and log/ are colcon's (in a workspace they are not inside the package).
    """
    skip = ('build', 'install', 'log')
    return sorted(
        str(p)
        for p in ROOT.iterdir()
        if p.name[0] not in '._'
        and p.name not in skip
        and (p.suffix == '.py' or (p.is_dir() and any(p.rglob('*.py'))))
    )


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    if importlib.util.find_spec('ament_flake8') is not None:
        from ament_flake8.main import main_with_errors

        rc, errors = main_with_errors(argv=[])
        assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(
            errors
        )
        return
    if importlib.util.find_spec('flake8') is None:
        pytest.skip('neither ament_flake8 nor flake8 is installed')
    proc = subprocess.run(
        [sys.executable, '-m', 'flake8', '--config', str(ROOT / 'setup.cfg')] + _paths(),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    assert proc.returncode == 0, 'flake8 found problems:\n' + proc.stdout

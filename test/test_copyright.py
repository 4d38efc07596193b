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
ament_copyright as in the ament_python package template, and the repository's license files.

``test_copyright`` is ros2pkg's template (ros2/ros2cli, humble, ros2pkg/resource/ament_python/
test_copyright.py.em): ``main(argv=['.', 'test'])`` wants a copyright notice and a known license
header in every Python file (setup.py beside package.xml excepted) and, at a repository root,
LICENSE and CONTRIBUTING.md with a known license. Where ament_copyright is not installed (no ROS)
the same rules are checked here for the Apache-2.0 header of ament_copyright's
template/apache2_header.txt (ament/ament_lint, humble).
"""

import hashlib
import importlib.util
import os
from pathlib import Path
import re
import xml.etree.ElementTree as ET

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: md5 of the Apache License 2.0 text (https://www.apache.org/licenses/LICENSE-2.0.txt), the same
#: file as ament_copyright's template/apache2_license.txt (ament/ament_lint, humble).
APACHE2_LICENSE_MD5 = '3b83ef96387f14655fc854ddc3c6bd57'
#: ament_copyright's template/apache2_header.txt after its ``{copyright}`` line.
APACHE2_HEADER = (
    'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file '
    'except in '
    'compliance with the License. You may obtain a copy of the License at '
    'http://www.apache.org/licenses/LICENSE-2.0 '
    'Unless required by applicable law or agreed to in writing, software distributed under the '
    'License is '
    'distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either '
    'express or implied. '
    'See the License for the specific language governing permissions and limitations under the '
    'License.'
)
COPYRIGHT_LINE = re.compile(r'^Copyright (\(c\) )?\d{4}([-,] ?\d{4})* \S', re.I | re.M)


def _source_files(paths):
    """
    Python files ament_copyright's crawler selects under ``paths``.

    It skips . and _ folders, AMENT_IGNORE.
    """
    out = set()
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(str(top)):
            if 'AMENT_IGNORE' in dirnames + filenames:
                dirnames[:] = []
                continue
            dirnames[:] = sorted(d for d in dirnames if d[0] not in '._')
            for name in filenames:
                if name.endswith('.py') and not (
                    name == 'setup.py' and os.path.exists(os.path.join(dirpath, 'package.xml'))
                ):
                    out.add(os.path.normpath(os.path.join(dirpath, name)))
    return sorted(out)


def _header_problem(path):
    """
    Why ``path`` has no copyright notice with the Apache-2.0 header in its first comment block.

    Or None.
    """
    lines = Path(path).read_text(encoding='utf-8').splitlines()
    while lines and (lines[0].startswith('#!') or re.match(r'^#.*coding[:=]', lines[0])):
        lines.pop(0)
    while lines and not lines[0].strip():
        lines.pop(0)
    block = []
    for line in lines:
        if not line.startswith('#'):
            break
        block.append(line[1:].strip())
    text = '\n'.join(block)
    if not text:
        return 'could not find copyright notice'
    if not COPYRIGHT_LINE.search(text):
        return 'could not find copyright notice'
    if ' '.join(APACHE2_HEADER.split()) not in ' '.join(text.split()):
        return 'unknown license'
    return None


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    # build/ holds copies of the package (setuptools' build/lib, the test lanes' venvs): marked for
    # the crawler, as colcon's own build folder lies outside the package
    if (ROOT / 'build').is_dir():
        (ROOT / 'build' / 'AMENT_IGNORE').touch()
    if importlib.util.find_spec('ament_copyright') is not None:
        from ament_copyright.main import main

        rc = main(argv=['.', 'test'])
        assert rc == 0, 'Found errors'
        return
    problems = [
        '{}: {}'.format(os.path.relpath(f, str(ROOT)), why)
        for f in _source_files([ROOT])
        for why in [_header_problem(f)]
        if why
    ]
    assert problems == [], '{} file(s) without a copyright notice and license:\n'.format(
        len(problems)
    ) + '\n'.join(problems)


@pytest.mark.copyright
def test_license_files_match_package_xml():
    """
    LICENSE is the Apache License 2.0 text package.xml and setup.py name.

    CONTRIBUTING.md says so too.
    """
    assert ET.parse(str(ROOT / 'package.xml')).getroot().findtext('license') == 'Apache-2.0'
    assert "license='Apache-2.0'" in (ROOT / 'setup.py').read_text(encoding='utf-8')
    assert hashlib.md5((ROOT / 'LICENSE').read_bytes()).hexdigest() == APACHE2_LICENSE_MD5
    contributing = (ROOT / 'CONTRIBUTING.md').read_text(encoding='utf-8')
    assert (
        'under the Apache 2 License' in contributing
        and '5. Submission of Contributions.' in contributing
    )
    if importlib.util.find_spec('ament_copyright') is not None:
        from ament_copyright.parser import parse_file

        for name in ('LICENSE', 'CONTRIBUTING.md'):
            assert parse_file(str(ROOT / name)).license_identifier == 'apache2', name


def test_header_check_finds_missing_and_accepts_apache_headers(tmp_path):
    good = tmp_path / 'good.py'
    this = (ROOT / 'test' / 'test_copyright.py').read_text(encoding='utf-8').splitlines()
    header = (
        '#!/usr/bin/env python3\n# Copyright 2026 vitedge_ros developers\n'
        + '\n'.join(this[1:13])
        + '\n\n"""Doc."""\n'
    )
    good.write_text(header, encoding='utf-8')
    assert _header_problem(str(good)) is None
    (tmp_path / 'none.py').write_text('"""Doc."""\nimport os\n', encoding='utf-8')
    assert _header_problem(str(tmp_path / 'none.py')) == 'could not find copyright notice'
    (tmp_path / 'mit.py').write_text('# Copyright 2026 X\n#\n# MIT licensed\n', encoding='utf-8')
    assert _header_problem(str(tmp_path / 'mit.py')) == 'unknown license'
    (tmp_path / '.hidden').mkdir()
    (tmp_path / '.hidden' / 'x.py').write_text('', encoding='utf-8')
    (tmp_path / 'package.xml').write_text('<package/>', encoding='utf-8')
    (tmp_path / 'setup.py').write_text('', encoding='utf-8')
    assert [Path(p).name for p in _source_files([tmp_path])] == ['good.py', 'mit.py', 'none.py']

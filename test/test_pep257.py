"""Docstring conventions (pep257) over the package and launch files (ament_pep257 where installed).

tools/ and test/ are exempt from docstring rules by the project's lint policy (ruff.toml
per-file-ignores), so they are not checked here.
"""
import configparser
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP_CFG = ROOT / 'setup.cfg'


def _paths():
    return [str(ROOT / p) for p in ('vitedge_ros', 'launch', 'setup.py') if (ROOT / p).exists()]


def _repo_ignore_codes():
    """Codes that setup.cfg's [pydocstyle] leaves unchecked: outside its convention, plus add-ignore."""
    from pydocstyle.violations import ErrorRegistry, conventions

    cfg = configparser.ConfigParser()
    cfg.read(str(SETUP_CFG))
    section = cfg['pydocstyle'] if cfg.has_section('pydocstyle') else {}
    convention = section.get('convention', 'pep257')
    extra = [c.strip() for c in section.get('add-ignore', '').split(',') if c.strip()]
    all_codes = set(ErrorRegistry.get_error_codes())
    return sorted((all_codes - set(conventions[convention])) | set(extra))


@pytest.mark.linter
def test_pep257():
    if importlib.util.find_spec('ament_pep257') is not None:
        from ament_pep257.main import main

        argv = _paths() + ['--ignore'] + _repo_ignore_codes()
        assert main(argv=argv) == 0, 'pep257 found problems (see the output above)'
        return
    if importlib.util.find_spec('pydocstyle') is None:
        pytest.skip('neither ament_pep257 nor pydocstyle is installed')
    proc = subprocess.run([sys.executable, '-m', 'pydocstyle', '--config={}'.format(SETUP_CFG)] + _paths(),
                          cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, 'pydocstyle found problems:\n' + proc.stdout

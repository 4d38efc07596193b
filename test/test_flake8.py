"""flake8 over the package, launch files, tools and tests (ament_flake8 where installed)."""
import configparser
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP_CFG = ROOT / 'setup.cfg'


def _paths():
    return [str(ROOT / p) for p in ('vitedge_ros', 'launch', 'tools', 'test', 'setup.py') if (ROOT / p).exists()]


def _ament_config(tmp_path: Path) -> str:
    """The repo's [flake8] section, limited to pycodestyle/pyflakes/mccabe codes.

    ament_flake8 loads every installed flake8 plugin (import order, quotes, builtins, ...). The
    project's own style rules (import order, docstrings) are set by ruff.toml and setup.cfg and checked
    by ruff and test_pep257, so only the E/W/F/C9 families are selected here.
    """
    cfg = configparser.ConfigParser()
    cfg.read(str(SETUP_CFG))
    section = dict(cfg['flake8']) if cfg.has_section('flake8') else {}
    section.setdefault('select', 'E,W,F,C90')
    out = configparser.ConfigParser()
    out['flake8'] = section
    path = tmp_path / 'flake8.cfg'
    with open(str(path), 'w') as fh:
        out.write(fh)
    return str(path)


@pytest.mark.linter
def test_flake8(tmp_path):
    if importlib.util.find_spec('ament_flake8') is not None:
        from ament_flake8.main import main_with_errors

        rc, errors = main_with_errors(argv=['--config', _ament_config(tmp_path)] + _paths())
        assert rc == 0, 'flake8 found {} problem(s):\n'.format(len(errors)) + '\n'.join(errors)
        return
    if importlib.util.find_spec('flake8') is None:
        pytest.skip('neither ament_flake8 nor flake8 is installed')
    proc = subprocess.run([sys.executable, '-m', 'flake8', '--config', str(SETUP_CFG)] + _paths(), cwd=str(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, 'flake8 found problems:\n' + proc.stdout

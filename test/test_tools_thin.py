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
tools/*.py are thin entry points over a library ``main(argv)``.

Installed as console scripts (issue 15 item 6).

Each file only puts the repository on ``sys.path``, imports ``main`` from the library and calls
``sys.exit(main())``; setup.py installs the same ``main`` as ``vitedge_<name>``. A tool run without
a workstation package of setup.py's ``tools`` extra says which one in one line
(vitedge_ros/cli.py), never with a traceback.
"""

import ast
import importlib.util
import os
from pathlib import Path
import re
import subprocess
import sys

import pytest
from test_package import (
    _setup_kwargs,
)  # setup() keyword arguments, setup.py run with setup() captured
from vitedge_ros import cli

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted((ROOT / 'tools').glob('*.py'))
# not counting comment lines (the licence header); a usage docstring, imports, main()
MAX_LINES = 30


def thin_target(path: Path):
    """
    ``module:function``, the library main a thin tool file calls.

    AssertionError naming what is not thin.
    """
    text = path.read_text(encoding='utf-8')
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith('#')]
    assert len(lines) <= MAX_LINES, '{}: {} lines besides comments'.format(path.name, len(lines))
    tree = ast.parse(text)
    target = None
    for node in tree.body:
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and node is tree.body[0]
        ):
            continue  # the docstring
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] in (['sys'],), (path.name, ast.dump(node))
            continue
        if isinstance(node, ast.ImportFrom):
            if node.module == 'pathlib':
                continue
            names = [a.name for a in node.names]
            assert (
                node.module.startswith('vitedge_ros.')
                and len(names) == 1
                and names[0].endswith('main')
            ), (path.name, node.module, names)
            target = '{}:{}'.format(node.module, names[0])
            continue
        src = ast.get_source_segment(text, node)
        allowed = (
            'ROOT = Path(__file__).resolve().parents[1]',
            'if str(ROOT) not in sys.path:\n    sys.path.insert(0, str(ROOT))',
            "if __name__ == '__main__':\n    sys.exit({}())".format(
                (target or ':main').split(':')[1]
            ),
        )
        assert src in allowed, '{}: not a thin entry point: {!r}'.format(path.name, src)
    assert target is not None, '{}: imports no library main'.format(path.name)
    return target


@pytest.mark.parametrize('path', TOOLS, ids=[p.name for p in TOOLS])
def test_every_tool_is_a_thin_entry_point(path):
    thin_target(path)


def test_the_thinness_check_refuses_logic(tmp_path):
    fat = tmp_path / 'fat.py'
    fat.write_text(
        '"""Doc."""\nimport sys\n\nfrom vitedge_ros.cli import main\n\n\ndef helper():\n    '
        'return 1\n\n\n'
        "if __name__ == '__main__':\n    sys.exit(main())\n",
        encoding='utf-8',
    )
    with pytest.raises(AssertionError, match='not a thin entry point'):
        thin_target(fat)
    fat.write_text('"""Doc."""\nimport argparse\nimport sys\n', encoding='utf-8')
    with pytest.raises(AssertionError, match='argparse'):
        thin_target(fat)


def test_each_thin_tool_is_a_console_script_of_the_same_main(monkeypatch):
    scripts = dict(
        e.replace(' ', '').split('=')
        for e in _setup_kwargs(monkeypatch)['entry_points']['console_scripts']
    )
    for path in TOOLS:
        name = 'vitedge_' + path.stem
        assert scripts.get(name) == thin_target(path), (name, scripts.get(name))
    assert scripts['vitedge_node'] == 'vitedge_ros.ros.startup:main'


def test_every_tool_answers_help_as_a_subprocess():
    """
    The thin files still work as scripts.

    ``tools/X.py --help`` exits 0 with a usage line naming the file.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {
        p.name: subprocess.Popen(
            [sys.executable, str(p), '--help'],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            cwd=str(ROOT),
            env=env,
        )
        for p in TOOLS
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert 'Traceback' not in err, (name, err)
        missing = re.match(
            r'\w+: error: ([\w-]+) is not installed: this tool needs the workstation packages', err
        )
        if (
            proc.returncode == 2 and missing
        ):  # a lane without the tools extra: the one-line answer, and true
            dist = missing.group(1)
            module = next(m for m, d in cli.WORKSTATION_PACKAGES.items() if d == dist)
            assert importlib.util.find_spec(module) is None and err.count('\n') == 1, (name, err)
            continue
        assert proc.returncode == 0, (name, err)
        assert re.match(r'usage: {}(\.py)? '.format(name[:-3]), out), (name, out[:200])


def test_workstation_packages_are_setup_pys_tools_extra(monkeypatch):
    tools = _setup_kwargs(monkeypatch)['extras_require']['tools']
    runtime = _setup_kwargs(monkeypatch)['extras_require']['runtime']
    names = {re.split(r'[ ;<>=!~\[]', r.strip(), maxsplit=1)[0].lower() for r in tools}
    names -= {re.split(r'[ ;<>=!~\[]', r.strip(), maxsplit=1)[0].lower() for r in runtime}
    assert set(cli.WORKSTATION_PACKAGES.values()) == names


@pytest.mark.parametrize(
    'module, blocked, argv',
    [
        ('vitedge_ros.train_cli', 'torch', ['--config', 'c.yaml', '--out', 'o']),
        ('vitedge_ros.export.cli', 'onnx', ['ckpt.pt', '--out', 'o']),
        ('vitedge_ros.compress.cli', 'onnx', ['--recipe', 'r.yaml', '--out', 'o']),
        ('vitedge_ros.checkpoint_cli', 'torch', ['old.pt', '--trust-checkpoint']),
    ],
)
def test_missing_workstation_package_is_one_line_exit_2(
    module, blocked, argv, monkeypatch, capsys
):
    import importlib

    main = importlib.import_module(module).main
    for name in [m for m in sys.modules if m == blocked or m.startswith(blocked + '.')]:
        monkeypatch.delitem(sys.modules, name)
    for name in [
        m
        for m in sys.modules
        if m.startswith('vitedge_ros.') and m != module and m not in ('vitedge_ros.cli',)
    ]:
        monkeypatch.delitem(sys.modules, name)  # re-imported below, without the blocked package
    monkeypatch.setitem(
        sys.modules, blocked, None
    )  # import raises ModuleNotFoundError(name=blocked)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err, err
    assert blocked in err and 'pip install "vitedge_ros[tools]"' in err, err


def test_missing_package_as_a_subprocess_names_it_and_the_extra(tmp_path):
    """tools/train.py where torch cannot be imported: one line on stderr, exit 2."""
    code = (
        'import runpy, sys\nsys.modules["torch"] = None\nsys.argv = ["tools/train.py", '
        '"--config", "c.yaml", '
        '"--out", "o"]\nrunpy.run_path(sys.argv[0], run_name="__main__")\n'
    )
    proc = subprocess.run(
        [sys.executable, '-c', code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        cwd=str(ROOT),
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        'train: error: torch is not installed: this tool needs the workstation packages '
        '(pip install "vitedge_ros[tools]")\n'
    )


def test_other_import_errors_are_not_hidden():
    @cli.workstation_tool('x')
    def broken(argv=None):
        import no_such_module_17  # noqa: F401

    with pytest.raises(ModuleNotFoundError):
        broken([])
    assert (
        cli.missing_workstation_package(ModuleNotFoundError('x', name='skimage.io'))
        == 'scikit-image'
    )
    assert (
        cli.missing_workstation_package(ImportError('cannot import name x', name='torch')) is None
    )

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
The README and docs: self-contained links, two set-up commands.

And workstation steps that chain (issue 13).
"""

from pathlib import Path
import re
import shlex
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
DOCS = sorted((ROOT / 'docs').glob('*.md')) + [README, ROOT / 'models' / 'README.md']
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')


def _blocks(text: str, after: str):
    """Return the fenced code blocks of ``text`` after the first line containing ``after``."""
    text = text[text.index(after):]
    return re.findall(r'```[a-z]*\n(.*?)```', text, re.S)


def _commands(block: str):
    """
    Return the shell commands of a code block, each split with shlex.

    Continuations are joined and comments dropped.
    """
    joined = re.sub(r'\\\n\s*', ' ', block)
    return [
        shlex.split(line, comments=True)
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith('#')
    ]


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_links_resolve_inside_the_repository(doc):
    """
    Every relative link names a file of this checkout.

    Nothing points beside it (../shared/...).
    """
    text = doc.read_text(encoding='utf-8')
    assert '../shared' not in text
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):
            continue
        path = (doc.parent / target).resolve()
        assert ROOT in path.parents or path == ROOT, (doc.name, target)
        assert path.exists(), (doc.name, target)


def test_no_file_points_outside_the_checkout():
    tracked = subprocess.run(
        ['git', 'ls-files', '*.md', '*.py', '*.yaml'],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        universal_newlines=True,
        check=True,
    ).stdout.split()
    offenders = [
        f
        for f in tracked
        if f != 'test/test_docs.py'
        and '../shared/' in (ROOT / f).read_text(encoding='utf-8', errors='replace')
    ]
    assert offenders == []


def test_readme_keeps_exactly_two_setup_commands():
    block = _blocks(README.read_text(encoding='utf-8'), '## Set-up: two commands')[0]
    assert [c[:2] for c in _commands(block)] == [['make', 'demo'], ['make', 'test']]


def test_readme_warns_before_the_embedded_default():
    text = README.read_text(encoding='utf-8')
    start, end = text.index('## The embedded default'), text.index('## Layout')
    section = text[start:end]
    warning = section[: section.index('`models/aerial_vit_tiny/`')]
    assert (
        'Warning' in warning and 'synthetic scenes' in warning and 'real photo textures' in warning
    )
    assert 'Fine-tune' in warning and 'before flying' in warning


@pytest.fixture(scope='module')
def steps():
    """Return the README's workstation commands, by tool (script name -> list of argv)."""
    block = _blocks(README.read_text(encoding='utf-8'), 'On the workstation')[0]
    by_tool = {}
    for cmd in _commands(block):
        key = Path(cmd[1]).name if cmd[0].endswith('python') else cmd[0]
        by_tool.setdefault(key, []).append(cmd)
    return block, by_tool


def _opt(cmd, flag):
    return cmd[cmd.index(flag) + 1]


@pytest.mark.needs('torch')  # recipe stages are torch plug-ins
def test_readme_steps_chain_train_compress_export_evaluate(steps, tmp_path):
    """
    Step 2 compresses step 1's checkpoint, step 3 exports step 2's distilled stage.

    Step 4 evaluates that.
    """
    from vitedge_ros.compress.recipe import load_recipe, stage_names, trains_baseline

    block, tools = steps
    assert block.count('Wall time:') == 4
    train = tools['train.py'][0]
    assert (ROOT / _opt(train, '--config')).is_file()
    trained = _opt(train, '--out') + '/final.pt'
    # the documented recipe copy: sed 's#OLD#NEW#' RECIPE > COPY
    sed = tools['sed'][0]
    old, new = re.fullmatch(r's#(.*)#(.*)#', sed[1]).groups()
    recipe_text = (ROOT / sed[2]).read_text(encoding='utf-8')
    assert recipe_text.count(old) == 1 and new == 'checkpoint: ' + trained
    copy = tmp_path / 'compress.yaml'
    copy.write_text(recipe_text.replace(old, new), encoding='utf-8')
    recipe = load_recipe(copy)
    assert recipe['model']['checkpoint'] == trained
    compress = tools['compress.py'][0]
    assert _opt(compress, '--recipe') == sed[sed.index('>') + 1]
    export = tools['export_onnx.py'][0]
    names = stage_names(recipe)
    offset = 0 if trains_baseline(recipe) else 1
    distill = '{}/stages/{:02d}-distill.pt'.format(
        _opt(compress, '--out'), names.index('distill') + offset
    )
    assert export[2] == distill
    bundle = _opt(export, '--out')
    assert tools['trt_compat.py'][0][2] == bundle
    assert _opt(tools['eval_bag.py'][0], '--bundle') == bundle
    assert _opt(tools['evaluate.py'][0], '--bundle') == bundle


@pytest.mark.needs('rosbags')
def test_readme_gt_path_is_what_make_bag_writes(steps, tmp_path):
    """Issue 13: step 4's --gt named a file tools/make_bag.py does not write."""
    _, tools = steps
    make_bag, eval_bag = tools['make_bag.py'][0], tools['eval_bag.py'][0]
    bag = _opt(make_bag, '--out')
    assert eval_bag[2] == bag
    gt = Path(_opt(eval_bag, '--gt'))
    out = tmp_path / Path(bag).name
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'make_bag.py'), '--out', str(out), '--frames', '2'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    written = {p.name for p in tmp_path.iterdir()}
    assert gt.parent == Path(bag).parent and gt.name in written, (gt, written)

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
Checkpoints load without running code.

Bad checkpoint files are one clear line (exit 2) in every tool.
"""

import builtins
from pathlib import Path
import subprocess
import sys

import pytest
import torch
from vitedge_ros.checkpoint import (
    CheckpointError,
    convert_checkpoint,
    load_checkpoint,
    max_output_diff,
    PickledCheckpointError,
    save_checkpoint,
)
from vitedge_ros.models import create_model
import yaml

ROOT = Path(__file__).resolve().parents[1]
CLS_INPUT = {
    'width': 16,
    'height': 16,
    'color': 'rgb',
    'mean': [0.5] * 3,
    'std': [0.5] * 3,
    'resize': 'stretch',
}
TINY_CLS = {
    'num_classes': 10,
    'img_size': 16,
    'patch_size': 4,
    'embed_dim': 32,
    'depth': 1,
    'num_heads': 2,
}


class _WritesMarker:
    """A pickled payload: unpickling it calls exec, which writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, ('open({!r}, "w").write("code ran")'.format(str(self.marker)),))


def _tiny_classifier(seed=0):
    torch.manual_seed(seed)
    return create_model('deit_tiny_patch16_224', **TINY_CLS).eval()


def _save(path, model):
    return save_checkpoint(
        path,
        model,
        name='tiny',
        task='classify',
        labels=[str(i) for i in range(10)],
        input_spec=CLS_INPUT,
        decoder={'type': 'classifier', 'top_k': 3},
        arch='deit_tiny',
    )


def _legacy_v1(path, model):
    """Write a version-1 checkpoint as this project wrote it before: the whole module pickled."""
    torch.save(
        {
            'format': 'vitedge-checkpoint',
            'version': 1,
            'name': 'old',
            'task': 'classify',
            'arch': 'deit_tiny',
            'model_config': {},
            'model': model,
            'state_dict': model.state_dict(),
            'labels': [str(i) for i in range(10)],
            'input': CLS_INPUT,
            'decoder': {'type': 'classifier', 'top_k': 3},
            'epoch': 0,
            'metrics': {},
            'extra': {},
        },
        str(path),
    )
    return path


@pytest.fixture()
def evil(tmp_path):
    marker = tmp_path / 'marker.txt'
    path = tmp_path / 'evil.pt'
    torch.save(
        {
            'format': 'vitedge-checkpoint',
            'version': 1,
            'model': _WritesMarker(marker),
            'task': 'classify',
            'labels': [],
            'input': CLS_INPUT,
            'decoder': {},
        },
        str(path),
    )
    return path, marker


# --- the format
# ---------------------------------------------------------------------------------------------


def test_checkpoint_is_weights_only_and_rebuilds_exactly(tmp_path):
    model = _tiny_classifier()
    _save(tmp_path / 'c.pt', model)
    raw = torch.load(str(tmp_path / 'c.pt'), weights_only=True)  # no pickled class anywhere
    assert raw['version'] == 2 and 'model' not in raw
    assert raw['structure']['factory'] == {
        'arch': 'deit_tiny_patch16_224',
        'task': 'classify',
        'num_classes': 10,
        'img_size': 16,
        'kwargs': {'patch_size': 4, 'embed_dim': 32, 'depth': 1, 'num_heads': 2},
    }
    assert raw['structure']['widths']['blocks'][0] == {
        'num_heads': 2,
        'head_dim': 16,
        'qkv': [32, 96],
        'proj': [32, 32],
        'fc1': [32, 128],
        'fc2': [128, 32],
    }
    yaml.safe_dump(raw['structure'])  # plain data
    again = load_checkpoint(tmp_path / 'c.pt')['model']
    assert max_output_diff(model, again, torch.randn(3, 3, 16, 16)) == 0.0


def test_pickled_payload_is_refused_and_never_runs(evil):
    path, marker = evil
    with pytest.raises(PickledCheckpointError) as exc:
        load_checkpoint(path)
    msg = str(exc.value)
    assert (
        '\n' not in msg
        and 'builtins.exec' in msg
        and 'could run code' in msg
        and '--trust-checkpoint' in msg
    )
    assert not marker.exists()


def test_allow_pickle_really_unpickles(evil):
    """
    The flag is what lets code run.

    With it, the payload's exec writes the marker (hence the warning).
    """
    path, marker = evil
    with pytest.raises(CheckpointError):
        load_checkpoint(path, allow_pickle=True)  # the payload is not a module: no model to use
    assert marker.read_text() == 'code ran'


def test_old_pickled_checkpoint_needs_the_flag_and_converts_identically(tmp_path):
    model = _tiny_classifier(1)
    old = _legacy_v1(tmp_path / 'old.pt', model)
    with pytest.raises(
        PickledCheckpointError, match=r'old-format vitedge checkpoint .*VisionTransformer'
    ):
        load_checkpoint(old)
    ck = load_checkpoint(old, allow_pickle=True)
    assert max_output_diff(model, ck['model'], torch.randn(2, 3, 16, 16)) == 0.0
    proof = convert_checkpoint(old, tmp_path / 'new.pt')
    assert proof['max_abs_diff'] == 0.0 and len(proof['sha256']) == 64
    raw = torch.load(str(tmp_path / 'new.pt'), weights_only=True)
    assert raw['extra']['converted_from']['max_abs_diff'] == 0.0
    assert (
        max_output_diff(
            model, load_checkpoint(tmp_path / 'new.pt')['model'], torch.randn(2, 3, 16, 16)
        )
        == 0.0
    )
    res = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'convert_checkpoint.py'), str(old)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and 'Traceback' not in res.stderr and 'could run code' in res.stderr


@pytest.mark.parametrize(
    'rel, task, converted',
    [
        (
            'models/checkpoints/aerial_vit_tiny.pt',
            'detect',
            False,
        ),  # issue 13's re-trained detector: written as v2
        ('models/checkpoints/aerial_vit_tiny_student.pt', 'detect', False),  # issue 16's student
        ('models/checkpoints/aerial_seg_tiny.pt', 'segment', True),
        ('bench/checkpoints/digits_vit_baseline.pt', 'classify', True),
    ],
)
def test_shipped_checkpoints_are_weights_only(rel, task, converted):
    """
    Shipped checkpoints are weights-only: trainer-written (version 2) or converted.

    A converted one gives identical outputs; the proof is in the file.
    """
    raw = torch.load(str(ROOT / rel), weights_only=True)
    assert raw['version'] == 2
    if converted:
        proof = raw['extra']['converted_from']
        assert proof['max_abs_diff'] == 0.0 and proof['samples'] == 8
    else:
        assert 'converted_from' not in (raw.get('extra') or {})
    ck = load_checkpoint(ROOT / rel)
    assert ck['task'] == task and ck['structure']['factory']['task'] == task


# --- bad files: one line naming the key and what the file is, exit 2, no traceback
# ------------------------------


def _bad_files(tmp_path):
    d = tmp_path / 'bad'
    d.mkdir()
    good = _save(d / 'good.pt', _tiny_classifier())
    trunc = d / 'truncated.pt'
    trunc.write_bytes(good.read_bytes()[:2000])
    text = d / 'notes.pt'
    text.write_text('model: deit\nepochs: 3\n')
    sd = d / 'state_dict.pt'
    torch.save(_tiny_classifier().state_dict(), str(sd))
    return {
        'missing': (d / 'nope.pt', 'file does not exist'),
        'truncated': (trunc, 'truncated or corrupt torch/zip file'),
        'text': (text, "a text file (starts 'model: deit'), not a torch file"),
        'state_dict': (sd, 'a plain state_dict ('),
    }


def test_load_checkpoint_says_what_the_file_is(tmp_path):
    for path, what in _bad_files(tmp_path).values():
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(path)
        assert (
            str(exc.value).startswith(str(path))
            and what in str(exc.value)
            and '\n' not in str(exc.value)
        )


def _one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    assert 'Traceback' not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


#: tools/NAME.py -> the library module whose main() it calls
TOOL_MODULES = {
    'train': 'vitedge_ros.train_cli',
    'compress': 'vitedge_ros.compress.cli',
    'export_onnx': 'vitedge_ros.export.cli',
}


def _tool(name):
    import importlib

    return importlib.import_module(TOOL_MODULES[name])  # the library main that tools/NAME.py calls


def _recipe_with(tmp_path, key, path):
    recipe = yaml.safe_load(
        (ROOT / 'config' / 'recipes' / 'test_tiny_classifier.yaml').read_text()
    )
    rec = dict(recipe, stages=recipe['stages'][1:2])
    if key == 'model':
        rec['model'] = {'arch': 'deit_tiny_patch16_224', 'checkpoint': str(path)}
    else:
        rec['teacher'] = {'arch': 'deit_tiny_patch16_224', 'checkpoint': str(path)}
    p = tmp_path / '{}-{}.yaml'.format(key, Path(path).stem)
    p.write_text(yaml.safe_dump(rec))
    return p


def _run_all(cmds):
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    out = []
    for proc in procs:
        o, e = proc.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(proc.args, proc.returncode, o, e))
    return out


def test_bad_checkpoints_exit_2_in_every_tool(tmp_path, evil):
    """
    Subprocesses: compress (model/teacher), export_onnx, train.

    One line naming the key and the file kind.
    """
    bad = _bad_files(tmp_path)
    bad['pickled'] = (evil[0], 'holding pickled Python objects (builtins.exec)')
    compress = [
        ('model', 'truncated'),
        ('model', 'state_dict'),
        ('model', 'pickled'),
        ('teacher', 'text'),
    ]
    cmds = [
        [
            sys.executable,
            str(ROOT / 'tools' / 'compress.py'),
            '--recipe',
            str(_recipe_with(tmp_path, k, bad[kind][0])),
            '--out',
            str(tmp_path / 'out'),
            '--quiet',
        ]
        for k, kind in compress
    ]
    exports = ['truncated', 'state_dict', 'pickled']
    cmds += [
        [
            sys.executable,
            str(ROOT / 'tools' / 'export_onnx.py'),
            str(bad[k][0]),
            '--out',
            str(tmp_path / 'b'),
        ]
        for k in exports
    ]
    cfg = {
        'name': 't',
        'task': 'classify',
        'model': {'arch': 'deit_tiny_patch16_224', 'checkpoint': str(bad['state_dict'][0])},
        'input': CLS_INPUT,
        'data': {'name': 'digits'},
        'train': {'epochs': 1},
    }
    (tmp_path / 'train.yaml').write_text(yaml.safe_dump(cfg))
    cmds.append(
        [
            sys.executable,
            str(ROOT / 'tools' / 'train.py'),
            '--config',
            str(tmp_path / 'train.yaml'),
            '--out',
            str(tmp_path / 'run'),
        ]
    )
    res = _run_all(cmds)
    for (key, kind), r in zip(compress, res):
        _one_line_error(r, 'error: {}.checkpoint: {}'.format(key, bad[kind][0]), bad[kind][1])
    for kind, r in zip(exports, res[len(compress):]):
        _one_line_error(
            r, 'export_onnx: bad input: CHECKPOINT {}'.format(bad[kind][0]), bad[kind][1]
        )
    _one_line_error(
        res[-1], 'error: model.checkpoint: {}'.format(bad['state_dict'][0]), 'a plain state_dict ('
    )
    assert not evil[1].exists()  # the payload never ran
    assert (
        not (tmp_path / 'b' / 'model.onnx').exists()
        and not (tmp_path / 'run' / 'last.pt').exists()
    )
    assert not (tmp_path / 'out' / 'stages').exists() or not list(
        (tmp_path / 'out' / 'stages').iterdir()
    )


@pytest.mark.parametrize('kind', ['missing', 'truncated', 'text', 'state_dict'])
def test_bad_checkpoints_in_process(tmp_path, kind, capsys):
    """
    Every kind of bad file through the tools' main().

    Exit 2, one line, for model/teacher and export.
    """
    path, what = _bad_files(tmp_path)[kind]
    for key in ('model', 'teacher'):
        rc = _tool('compress').main(
            [
                '--recipe',
                str(_recipe_with(tmp_path, key, path)),
                '--out',
                str(tmp_path / 'out'),
                '--quiet',
            ]
        )
        err = capsys.readouterr().err.strip()
        assert (
            rc == 2
            and err.startswith('error: {}.checkpoint: {}'.format(key, path))
            and what in err
        ), err
        assert '\n' not in err
    assert _tool('export_onnx').main([str(path), '--out', str(tmp_path / 'b')]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith('export_onnx: bad input: CHECKPOINT {}'.format(path))
        and what in err
        and '\n' not in err
    )

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

"""python -m vitedge_ros.training.study: a table of runs generated from their train_result.json."""

import json

from vitedge_ros.training.study import BEGIN, END, main


def _run(tmp_path, name, map50_95, person_p):
    d = tmp_path / name
    d.mkdir()
    metrics = {
        'map50': 0.8,
        'map50_95': map50_95,
        'per_class': {
            'person': {'ap50': 0.9, 'ap50_95': 0.5},
            'vehicle': {'ap50': 0.8, 'ap50_95': 0.4},
            'obstacle': {'ap50': 0.7, 'ap50_95': 0.45},
        },
        'flight_val': {'map50_95': 0.3333},
        'person_at_threshold': {'precision': person_p, 'recall': 0.81},
    }
    (d / 'train_result.json').write_text(json.dumps({'name': name, 'metrics': metrics}))
    return d


def test_the_block_holds_the_runs_figures_and_nothing_else_changes(tmp_path, capsys):
    a, b = _run(tmp_path, 'a', 0.4444, 0.8), _run(tmp_path, 'b', 0.47, 0.79)
    doc = tmp_path / 'D.md'
    marks = BEGIN.format('box'), END.format('box')
    doc.write_text('before\n\n{}\nSTALE ROW\n{}\n\nafter\n'.format(*marks))
    assert main([str(doc), 'box', 'L1={}'.format(a), 'GIoU={}'.format(b)]) == 0
    text = doc.read_text()
    assert text.startswith('before\n\n' + BEGIN.format('box')) and text.endswith('\n\nafter\n')
    assert 'STALE ROW' not in text
    rows = [line for line in text.splitlines() if line.startswith('| ')]
    want = '| L1 | `{}` | 0.800 | 0.444 | 0.900 | 0.500 | 0.400 | 0.450 | 0.333 | 0.800 / 0.810 |'
    assert rows[1] == want.format(a)
    assert rows[2].startswith('| GIoU | `{}` | 0.800 | 0.470 |'.format(b))
    assert rows[2].endswith('| 0.790 / 0.810 |')


def test_bad_runs_and_documents_are_one_line_errors(tmp_path, capsys):
    doc = tmp_path / 'D.md'
    doc.write_text('no marks\n')
    a = _run(tmp_path, 'a', 0.4, 0.8)
    assert main([str(doc), 'box', 'L1={}'.format(a)]) == 2
    assert capsys.readouterr().err == 'study: error: {}: no train-study:box marks\n'.format(doc)
    doc.write_text('{}\n{}\n'.format(BEGIN.format('box'), END.format('box')))
    assert main([str(doc), 'box', 'L1={}'.format(tmp_path / 'empty')]) == 2
    assert 'neither a run folder nor a checkpoint' in capsys.readouterr().err
    (tmp_path / 'unfinished').mkdir()
    assert main([str(doc), 'box', 'x={}'.format(tmp_path / 'unfinished')]) == 2
    assert 'no train_result.json' in capsys.readouterr().err
    assert main([str(doc), 'box']) == 2
    assert capsys.readouterr().err.startswith('study: error: usage:')
    assert doc.read_text() == '{}\n{}\n'.format(BEGIN.format('box'), END.format('box'))

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
The peer benchmark (issue 18).

Budget from the shipped chain, YOLO labels and decoding, the page block.

The end-to-end quick run (needs ultralytics, the optional ``peer`` extra) trains YOLOv8n on a
handful of generator images with every network connection and DNS look-up of the process refused
and recorded.
"""

import json
import math
import os
from pathlib import Path
import shutil
import socket
import types

import numpy as np
import pytest
from vitedge_ros.bench import peer_table
from vitedge_ros.bench.peer import (
    decode_yolo,
    export_size,
    image_budget,
    stage_images,
    training_chain,
    yolo_label_lines,
)
from vitedge_ros.runtime.preprocess import Transform

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / 'models' / 'aerial_vit_tiny'
STUDENT = ROOT / 'models' / 'aerial_vit_tiny_student'


def test_budget_is_the_shipped_chain_of_seven_stages():
    chain = training_chain(BUNDLE)
    names = [s['name'] for s in chain]
    assert names == [
        'aerial_vit_tiny',
        'aerial_vit_tiny_ft',
        'aerial_vit_tiny_ft2',
        'aerial_vit_tiny_ft3',
        'aerial_vit_tiny_ft4',
        'aerial_vit_tiny_ft5_textures',
        'shipped stage',
    ]
    b = image_budget(chain)
    # epochs x (scenes + flights x ceil(frames / every)), read off
    # config/train/aerial_vit_tiny*.yaml
    assert [r['image_passes'] for r in b['stages']] == [
        12 * 4000,
        6 * 4000,
        5 * 4000,
        3 * 3000,
        3 * (2000 + 60 * 15),
        4 * (2000 + 80 * 15),
        2 * (1200 + 90 * 20),
    ]
    assert b['image_passes'] == 128500
    assert b['images'] == 24100
    assert [r['input'] for r in b['stages']] == [[320, 240]] * 3 + [[448, 336]] * 4


def test_training_chain_without_source_config_is_a_clear_error(tmp_path):
    (tmp_path / 'bundle.yaml').write_text('name: x\nsource: {arch: vit_center}\n')
    with pytest.raises(ValueError, match='source.config'):
        training_chain(tmp_path)
    (tmp_path / 'bundle.yaml').write_text(
        'source: {config: {model: {checkpoint: runs/nowhere/final.pt}}}\n'
    )
    with pytest.raises(ValueError, match='nowhere.yaml'):
        training_chain(tmp_path, config_dir=tmp_path)


@pytest.mark.needs('torch')  # the training data package
def test_stage_images_counts_what_the_generator_yields():
    from vitedge_ros.training.data import detection_scenes

    data = {
        'train_size': 2,
        'seed': 5,
        'flights': {'count': 1, 'frames': 7, 'every': 3, 'seed': 11},
    }
    assert stage_images(data) == 2 + 3  # frames 0, 3, 6 of the flight
    n = sum(1 for _ in detection_scenes(2, 5, 160, 120, flights=data['flights']))
    assert n == stage_images(data)


def test_yolo_labels_are_normalised_clipped_and_drop_empty_boxes():
    boxes = np.array([[10, 20, 110, 70], [-10, 90, 30, 130], [50, 50, 50.5, 60]], np.float32)
    lines = yolo_label_lines(boxes, np.array([0, 2, 1]), 200, 100)
    assert lines[0] == '0 0.300000 0.450000 0.500000 0.500000'
    assert lines[1] == '2 0.075000 0.950000 0.150000 0.100000'  # clipped to x 0-30, y 90-100
    assert len(lines) == 2


def test_export_size_keeps_the_frame_aspect_on_the_stride():
    assert export_size(448) == (352, 448)
    assert export_size(320) == (256, 320)


def test_decode_yolo_class_wise_nms_threshold_and_frame_pixels():
    # anchors: A person 0.9, B person 0.8 overlapping A (suppressed), C vehicle 0.7 on A's box
    # (kept: other class), D person 0.0005 (below min_score)
    raw = np.zeros((1, 4 + 3, 4), np.float32)
    raw[0, :4, 0] = [50, 50, 20, 20]
    raw[0, :4, 1] = [52, 50, 20, 20]
    raw[0, :4, 2] = [50, 50, 20, 20]
    raw[0, :4, 3] = [150, 150, 20, 20]
    raw[0, 4, 0], raw[0, 4, 1], raw[0, 5, 2], raw[0, 4, 3] = 0.9, 0.8, 0.7, 0.0005
    tf = Transform(0.5, 0.5, 10.0, 0.0, 400, 300)
    boxes, scores, classes = decode_yolo(raw, tf, 0.001)
    assert classes.tolist() == [0, 1]
    np.testing.assert_allclose(scores, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(boxes[0], [(40 - 10) / 0.5, 40 / 0.5, (60 - 10) / 0.5, 60 / 0.5])
    boxes, scores, classes = decode_yolo(raw, tf, 0.75)
    assert classes.tolist() == [0]
    with pytest.raises(ValueError, match='1×'):
        decode_yolo(np.zeros((1, 4, 5), np.float32), tf, 0.1)


def test_epoch_seconds_add_up_every_saved_epoch_or_say_unknown(tmp_path):
    from vitedge_ros.bench.peer import epoch_seconds_total

    csv = tmp_path / 'results.csv'
    assert epoch_seconds_total({'1': 10.0, '2': 12.5}, csv, 2) == 22.5
    assert epoch_seconds_total({'1': 10.0}, csv, 2) is None  # epoch 2 not saved yet
    # a first process without the callbacks: epoch 1 from ultralytics' own first row
    csv.write_text('epoch,time,train/box_loss\n1,3061.2,3.1\n2,2950.0,2.9\n')
    assert epoch_seconds_total({'2': 1800.0}, csv, 2) == 4861.2
    assert epoch_seconds_total({'1': 5.0, '2': 6.0}, csv, 2) == 11.0  # recorded wins
    csv.write_text('epoch,time\n2,50.0\n')  # not epoch 1: nothing to take
    assert epoch_seconds_total({'2': 6.0}, csv, 2) is None


class _FakeYOLO:
    """ultralytics.YOLO as train_peer drives it: records train() calls, writes a run's files."""

    calls = []

    def __init__(self, source):
        import torch

        self.source = source
        self.callbacks = {}
        self.model = torch.nn.Linear(2, 3)

    def add_callback(self, event, fn):
        self.callbacks.setdefault(event, []).append(fn)

    def train(self, **kwargs):
        import torch

        _FakeYOLO.calls.append(dict(kwargs, source=self.source))
        save_dir = Path(kwargs.get('save_dir') or Path(kwargs['project']) / kwargs['name'])
        (save_dir / 'weights').mkdir(parents=True, exist_ok=True)
        trainer = types.SimpleNamespace(epoch=0)
        for fn in self.callbacks['on_train_start'] + self.callbacks['on_train_epoch_start']:
            fn(trainer)
        torch.save({'epoch': -1, 'optimizer': None}, str(save_dir / 'weights' / 'last.pt'))
        for fn in self.callbacks['on_model_save']:
            fn(trainer)

    def export(self, **kwargs):
        out = Path(self.source).with_suffix('.onnx')
        out.write_bytes(b'onnx')
        return str(out)


@pytest.mark.needs('torch')
def test_a_relative_work_folder_holds_the_run_and_a_resume_stays_in_it(tmp_path, monkeypatch):
    # ultralytics puts a relative project under its settings' runs_dir and resumes into the
    # save_dir its checkpoint recorded: train_peer hands it absolute paths of its own run folder
    import torch
    from vitedge_ros.bench.peer import train_peer

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    ul = types.SimpleNamespace(YOLO=_FakeYOLO, __version__='8.x')
    _FakeYOLO.calls = []
    run_dir = tmp_path / 'work' / 'runs' / 'yolov8n'
    try:
        res = train_peer(ul, 'yolov8n', 'data.yaml', Path('work'), 2, 64, threads=1)
        assert _FakeYOLO.calls[0]['project'] == str(tmp_path / 'work' / 'runs')
        assert (run_dir / 'weights' / 'last.pt').is_file() and res['train_threads'] == 1
        assert res['train_seconds'] is None  # only epoch 1 of 2 was recorded
        # an interrupted run (epoch and optimizer saved) resumes into its folder, not the
        # save_dir its checkpoint recorded
        (tmp_path / 'work' / 'yolov8n.done.json').unlink()
        torch.save({'epoch': 0, 'optimizer': {}}, str(run_dir / 'weights' / 'last.pt'))
        res = train_peer(ul, 'yolov8n', 'data.yaml', Path('work'), 2, 64, threads=1)
        call = _FakeYOLO.calls[1]
        assert call['resume'] is True and call['save_dir'] == str(run_dir)
        assert call['source'] == str(Path('work') / 'runs' / 'yolov8n' / 'weights' / 'last.pt')
        assert res['resumed'] is True
    finally:
        torch.set_num_threads(threads)


def test_peer_block_is_spliced_between_its_marks_only(tmp_path):
    page = tmp_path / 'B.md'
    page.write_text(
        '# Benchmarks\n\ntext before\n\n' + '\n'.join(peer_table.render_peer(None)) + '\n\nafter\n'
    )
    before = page.read_text()
    peer_table.write_peer_block(page, None)
    assert page.read_text() == before
    text = peer_table.splice(before, ['<!-- x -->'])
    assert text == '# Benchmarks\n\ntext before\n\n<!-- x -->\n\nafter\n'
    assert peer_table.splice('no marks\n', ['B']) == 'no marks\n\nB\n'


# --- end to end, quick
# ---------------------------------------------------------------------------------------


class _NoNetwork:
    """Refuse and record every socket connection and DNS look-up of this process."""

    def __init__(self, monkeypatch):
        self.attempts = []

        def refuse(what):
            def fn(*args, **kwargs):
                self.attempts.append((what, repr(args[:2])))
                raise OSError(
                    'network access refused by test_bench_peer: {} {}'.format(what, args[:2])
                )

            return fn

        monkeypatch.setattr(socket.socket, 'connect', refuse('connect'))
        monkeypatch.setattr(socket.socket, 'connect_ex', refuse('connect_ex'))
        monkeypatch.setattr(socket, 'create_connection', refuse('create_connection'))
        monkeypatch.setattr(socket, 'getaddrinfo', refuse('getaddrinfo'))
        monkeypatch.setattr(socket, 'gethostbyname', refuse('gethostbyname'))


@pytest.mark.needs('ultralytics', 'torch', 'onnx', 'faster_coco_eval')
def test_quick_peer_run_offline_end_to_end(tmp_path, monkeypatch):
    from vitedge_ros.bench.peer import run_peer
    from vitedge_ros.bench.render import load_results, render_page

    for key in ('YOLO_OFFLINE', 'YOLO_AUTOINSTALL', 'YOLO_CONFIG_DIR'):  # restored after the test
        monkeypatch.setenv(key, '')
    monkeypatch.delenv('ULTRALYTICS_API_KEY', raising=False)
    guard = _NoNetwork(monkeypatch)
    bench = tmp_path / 'bench'
    shutil.copytree(ROOT / 'bench', bench, ignore=shutil.ignore_patterns('peer.json'))
    data = run_peer(
        bench / 'peer.json',
        tmp_path / 'work',
        bundle=BUNDLE,
        family=(STUDENT,),
        archs=('yolov8n',),
        quick=True,
        rounds=2,
        block=2,
        warmup=1,
        log=lambda s: None,
    )
    assert guard.attempts == []
    assert json.loads((bench / 'peer.json').read_text()) == data
    assert data['quick'] is True
    assert [m['key'] for m in data['models']] == [
        'aerial_vit_tiny',
        'aerial_vit_tiny_student',
        'yolov8n',
    ]
    for m in data['models']:
        lat = m['latency_ms']['median_ms']
        assert math.isfinite(lat) and lat > 0, m['key']
        assert (
            math.isfinite(m['host_decode_ms']['median_ms'])
            and m['host_decode_ms']['median_ms'] > 0
        )
        for v in [m['map50'], m['map50_95']] + [
            c[k] for c in m['per_class'].values() for k in ('ap50', 'ap50_95')
        ]:
            assert 0.0 <= v <= 1.0, m['key']
        assert set(m['per_class']) <= {'person', 'vehicle', 'obstacle'}
        assert m['false_persons']['frames'] > 0 and m['false_persons']['total'] >= 0
        assert 0.1 <= m['threshold'] <= 0.7
        assert m['macs'] > 0
    vit, student, yolo = data['models']
    # the ViT family's curve: the student is the faster ViT, timed in the same rounds (2 rounds
    # here: the fastest round, so that a busy machine cannot flip a ~2x difference)
    assert student['latency_ratio_to_vit']['min'] < 1.0
    assert student['training']['image_passes'] is None
    # the shipped ViT is trained and kept: on its own validation scenes it finds objects
    assert vit['map50'] > 0.3
    assert vit['training']['image_passes'] == 128500
    # parameters: the same architecture built afresh by ultralytics for 3 classes
    from ultralytics.nn.tasks import DetectionModel

    assert yolo['params'] == sum(
        p.numel() for p in DetectionModel('yolov8n.yaml', nc=3, verbose=False).parameters()
    )
    from vitedge_ros.checkpoint import load_checkpoint, rebuild_model

    ck = load_checkpoint(ROOT / 'models' / 'checkpoints' / 'aerial_vit_tiny.pt')
    assert vit['params'] == sum(
        p.numel() for p in rebuild_model(ck['structure'], ck['state_dict']).parameters()
    )
    assert yolo['input'] == [1, 3, 352, 448]
    # training time: the one quick epoch, as the callbacks recorded it; every core trained
    run_dir = tmp_path / 'work' / 'runs' / 'yolov8n'
    timing = json.loads((run_dir / 'epoch_seconds.json').read_text())
    assert list(timing) == ['1'] and yolo['training']['seconds'] == timing['1'] > 0
    assert yolo['training']['threads'] == os.cpu_count()
    b = data['budget']
    assert (
        b['peer_image_passes']
        == b['peer_epochs'] * b['peer_images']
        == yolo['training']['image_passes']
    )
    assert b['shipped']['image_passes'] == 128500
    # the page: the committed one with its peer block rewritten equals the whole page rendered from
    # the JSON
    page = tmp_path / 'BENCHMARKS.md'
    shutil.copyfile(ROOT / 'docs' / 'BENCHMARKS.md', page)
    peer_table.write_peer_block(page, data)
    text = page.read_text()
    assert text == render_page(load_results(bench))
    block = text[text.index(peer_table.BEGIN):text.index(peer_table.END)]
    assert '| training image passes | 128500 | – | {} |'.format(b['peer_image_passes']) in block
    assert '`aerial_vit_tiny` (shipped ViT)' in block and 'YOLOv8n (ultralytics' in block
    assert 'Quick run' in block
    assert '`aerial_vit_tiny_student` (ViT, compressed): compressed from the shipped ViT' in block
    assert '{} / {}'.format(yolo['params'], yolo['macs']) in block


def test_only_the_peer_module_imports_ultralytics():
    import re

    pattern = re.compile(r'^\s*(import ultralytics|from ultralytics\b)', re.M)
    files = [p for d in ('vitedge_ros', 'tools', 'launch') for p in (ROOT / d).rglob('*.py')]
    users = sorted(
        str(p.relative_to(ROOT)) for p in files if pattern.search(p.read_text(encoding='utf-8'))
    )
    assert users == ['vitedge_ros/bench/peer.py']
    setup = (ROOT / 'setup.py').read_text()
    assert "'peer': ['ultralytics==" in setup
    start, end = setup.index('RUNTIME'), setup.index('extras_require')
    runtime_tools = setup[start:end]
    assert 'ultralytics' not in runtime_tools


def test_family_entry_keys_labels_and_refusals(tiny_detector_bundle, tiny_classifier_bundle):
    from vitedge_ros.bench.peer import family_entry

    labels = ['person', 'vehicle', 'obstacle']
    e = family_entry(tiny_detector_bundle, labels, ['aerial_vit_tiny'])
    assert e['key'] == 'tiny_detector' and e['input'] == [1, 3, 64, 96]
    assert e['label'] == '`tiny_detector` (ViT, compressed)'
    assert e['params'] > 0 and e['training']['image_passes'] is None
    again = family_entry(tiny_detector_bundle, labels, ['tiny_detector'])
    assert again['key'] == 'tiny_detector-2'
    assert (
        family_entry(tiny_detector_bundle, labels, ['tiny_detector', 'tiny_detector-2'])['key']
        == 'tiny_detector-3'
    )
    with pytest.raises(ValueError, match='labels'):
        family_entry(tiny_detector_bundle, ['person'], [])
    with pytest.raises(ValueError, match='a classify bundle'):
        family_entry(tiny_classifier_bundle, labels, [])
    with pytest.raises(ValueError, match='--family'):
        family_entry(Path('/nonexistent/bundle'), labels, [])


def test_a_quick_run_never_writes_the_committed_figures_nor_the_full_run(monkeypatch, tmp_path):
    """
    ``--quick`` defaults to its own work folder and JSON and renders no page.

    A fresh-clone check found it overwriting bench/peer.json, the pages and the full run folder.
    """
    from vitedge_ros.bench import peer

    seen = {}

    def fake_run(out, work, **kw):
        seen.update(out=str(out), work=str(work))
        raise ValueError('stop here')

    monkeypatch.setattr(peer, 'run_peer', fake_run)
    assert peer.main(['--quick', '--family', '']) == 2
    assert seen == {'out': 'bench_out/peer-quick/peer.json', 'work': 'bench_out/peer-quick'}
    assert peer.main(['--family', '']) == 2
    assert seen == {'out': 'bench/peer.json', 'work': 'bench_out/peer'}

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
Issue 18's acceptance verdict, computed from bench/peer.json, on the page and in the model card.

The example is the issue's own table (shipped ViT vs YOLOv8n at a sixth of the budget): the ViT
wins person AP@0.5 and latency, loses mAP@0.5:0.95 and false persons on real photos.
"""

import copy
import json
from pathlib import Path

import pytest
from vitedge_ros.bench import peer_table
from vitedge_ros.bench.peer_verdict import compare, family

LAT = {'n': 20, 'median_ms': 10.6, 'min_ms': 10.1, 'max_ms': 12.0}


def _row(key, fam, person, map5095, fp_per_frame, lat_ms, ratio=None, **training):
    return {
        'key': key,
        'family': fam,
        'label': key,
        'input': [1, 3, 336, 448],
        'params': 1,
        'macs': 1,
        'latency_ms': dict(LAT, median_ms=lat_ms),
        'host_decode_ms': LAT,
        'latency_ratio_to_vit': None
        if ratio is None
        else {'median': ratio, 'min': ratio, 'max': ratio},
        'map50': 0.8,
        'map50_95': map5095,
        'per_class': {'person': {'ap50': person, 'ap50_95': 0.4}},
        'threshold': 0.35,
        'demo_person': {'precision': 0.88, 'recall': 0.83},
        'false_persons': {'per_frame': fp_per_frame, 'total': 1, 'frames': 8},
        'training': training,
    }


def issue_table():
    """bench/peer.json as the issue's table would have written it (one peer, one student)."""
    return {
        'quick': False,
        'budget': {
            'image_passes': 128500,
            'shipped': {'image_passes': 128500},
            'rule': 'r',
            'peer_epochs': 5,
            'peer_images': 24100,
            'peer_image_passes': 120500,
        },
        'evaluation': {
            'peer_nms': {'iou': 0.7, 'max_det': 100},
            'val': {'scenes': 200, 'seed': 1000000},
            'map_min_score': 0.001,
            'demo': {'seed': 7, 'frames': 120},
            'flights': {'count': 8, 'seed': 9000},
            'threshold_rule': {'min_precision': 0.8, 'min_recall': 0.8},
            'negatives': {'sizes': ['640x480', '320x240']},
        },
        'measure': {'onnxruntime': '1.x', 'threads': 1, 'frame': 'f', 'rounds': 7, 'block': 20},
        'dataset': {'format': 'YOLO txt'},
        'versions': {'ultralytics': '8.x'},
        'seconds': 1.0,
        'models': [
            _row('aerial_vit_tiny', 'vit', 0.872, 0.448, 13.75, 10.6, image_passes=128500),
            _row('aerial_vit_tiny_student', 'vit', 0.845, 0.40, 0.23, 5.0, ratio=0.47),
            _row('yolov8n', 'peer', 0.805, 0.728, 0.5, 16.9, ratio=1.59, epochs=5),
        ],
    }


def test_training_time_is_told_for_peers_only_in_hours_or_unknown():
    data = issue_table()
    data['models'][2]['training'].update(seconds=22680.0, threads=2, device='cpu')
    assert peer_table.training_time_lines(data['models']) == [
        'Peer training time (wall clock of the saved epochs, over every process that worked on '
        'it): yolov8n 6.3 h for 5 epochs (device cpu; its last training process used 2 torch '
        'thread(s)).',
        '',
    ]
    data['models'][2]['training']['seconds'] = None
    assert 'yolov8n unknown for 5 epochs' in peer_table.training_time_lines(data['models'])[0]
    assert peer_table.training_time_lines(data['models'][:2]) == []
    del data['models'][2]['family']  # a row written before the key: told by its epochs
    assert 'yolov8n unknown for 5 epochs' in peer_table.training_time_lines(data['models'])[0]


def test_the_issue_table_is_judged_criterion_by_criterion():
    got = {c.criterion: c for c in compare(issue_table())}
    assert len(got) == 4  # one peer × four criteria; the student is not compared
    assert got['val person AP@0.5'].vit_at_least_as_good is True
    assert got['val person AP@0.5'].gap == 0.0
    assert got['val mAP@0.5:0.95'].vit_at_least_as_good is False
    assert got['val mAP@0.5:0.95'].gap == pytest.approx(0.28)
    fp = got['false persons per real no-person frame']
    assert fp.vit_at_least_as_good is False and fp.gap == pytest.approx(13.25)
    assert got['onnxruntime CPU latency (median, 1 thread)'].vit_at_least_as_good is True


def test_latency_follows_the_interleaved_ratio_and_ties_count_for_the_vit():
    data = issue_table()
    peer = data['models'][2]
    peer['latency_ratio_to_vit'] = {'median': 0.9, 'min': 0.8, 'max': 1.1}  # peer faster per round
    peer['per_class']['person']['ap50'] = 0.872  # a tie
    got = {c.criterion: c for c in compare(data)}
    lat = got['onnxruntime CPU latency (median, 1 thread)']
    assert lat.vit_at_least_as_good is False and lat.gap == pytest.approx(16.9 - 10.6)
    assert got['val person AP@0.5'].vit_at_least_as_good is True


def test_rows_without_family_are_told_apart_by_their_training():
    """bench/peer.json written before rows carried ``family``: peers are trained for epochs."""
    data = issue_table()
    for m in data['models']:
        del m['family']
    assert [family(m) for m in data['models']] == ['vit', 'vit', 'peer']
    assert {c.peer for c in compare(data)} == {'yolov8n'}


def test_missing_values_are_undecided_and_no_vit_row_is_an_error():
    data = issue_table()
    data['models'][2]['false_persons'] = {}
    fp = [c for c in compare(data) if c.criterion.startswith('false persons')][0]
    assert fp.vit_at_least_as_good is None and fp.gap is None
    data['models'] = data['models'][1:]
    with pytest.raises(ValueError, match='no aerial_vit_tiny row'):
        compare(data)


def test_page_and_card_say_plainly_where_the_vit_is_worse():
    data = issue_table()
    page = '\n'.join(peer_table.render_peer(data))
    assert 'Verdict against yolov8n (the ViT is worse on val mAP@0.5:0.95, false persons' in page
    assert '**val mAP@0.5:0.95: the ViT is worse** (0.448 vs 0.728; gap 0.28).' in page
    assert '- val person AP@0.5: the ViT is at least as good (0.872 vs 0.805).' in page
    card = '\n'.join(peer_table.render_card_gap(data))
    assert card.startswith(peer_table.CARD_BEGIN) and card.endswith(peer_table.CARD_END)
    assert 'shipped ViT trained on 128500 image passes, each peer on 120500' in card
    assert '**false persons per real no-person frame: the ViT is worse** (13.75 vs 0.5' in card
    better = copy.deepcopy(data)
    vit = better['models'][0]
    vit['map50_95'], vit['false_persons']['per_frame'] = 0.75, 0.1
    assert 'Verdict against yolov8n (the ViT meets every criterion):' in '\n'.join(
        peer_table.render_card_gap(better)
    )


def test_quick_or_missing_runs_give_no_verdict():
    data = issue_table()
    data['quick'] = True
    assert 'Verdict: none (a quick run' in '\n'.join(peer_table.render_peer(data))
    assert '**Pending:**' in '\n'.join(peer_table.render_card_gap(data))
    assert '**Pending:**' in '\n'.join(peer_table.render_card_gap(None))
    data['quick'] = False
    data['models'] = data['models'][:2]
    assert 'Verdict: none (no peer was trained' in '\n'.join(peer_table.render_peer(data))


def test_render_command_rewrites_only_the_blocks_and_refuses_corrupt_json(tmp_path, capsys):
    doc, card, js = tmp_path / 'B.md', tmp_path / 'card.md', tmp_path / 'peer.json'
    doc.write_text('# B\n\nkeep\n')
    card.write_text('# card\n\nkeep too\n')
    args = ['--json', str(js), '--doc', str(doc), '--card', str(card)]
    assert peer_table.main(args) == 0  # no JSON: pending blocks appended
    assert doc.read_text().startswith('# B\n\nkeep\n\n' + peer_table.BEGIN)
    assert 'keep too' in card.read_text() and '**Pending:**' in card.read_text()
    js.write_text(json.dumps(issue_table()))
    assert peer_table.main(args) == 0
    text = card.read_text()
    assert text.count(peer_table.CARD_BEGIN) == 1 and 'the ViT is worse' in text
    before = (doc.read_text(), card.read_text())
    js.write_text('{"models": [')
    capsys.readouterr()
    assert peer_table.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith('peer_table: error: ') and err.count('\n') == 1
    assert (doc.read_text(), card.read_text()) == before
    js.write_text('{"models": 3}')  # JSON, but not what bench.peer writes
    assert peer_table.main(args) == 2
    err = capsys.readouterr().err
    assert "missing key 'budget'" in err and err.count('\n') == 1
    assert (doc.read_text(), card.read_text()) == before


def test_a_json_with_no_models_is_refused_in_one_line(tmp_path, capsys):
    data = json.loads((Path(__file__).resolve().parents[1] / 'bench' / 'peer.json').read_text())
    data['models'] = []
    src = tmp_path / 'peer.json'
    src.write_text(json.dumps(data))
    doc, card = tmp_path / 'doc.md', tmp_path / 'card.md'
    assert peer_table.main(['--json', str(src), '--doc', str(doc), '--card', str(card)]) == 2
    assert 'no models measured' in capsys.readouterr().err
    assert not doc.exists() and not card.exists()

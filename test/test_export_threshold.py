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
tools/export_onnx.py --score-threshold: a value, or auto (picked through the runtime on flights).

The auto pick is checked against the shipped detector, whose threshold was picked by training's
torch evaluation with the same rule on the same flights.
"""

from pathlib import Path
import shutil

from conftest import DETECTOR_LABELS, make_tiny_detector, TINY_DETECTOR_INPUT
import pytest
from vitedge_ros.checkpoint import save_checkpoint
from vitedge_ros.export.cli import main as export_main
from vitedge_ros.export.threshold import pick_bundle_threshold, set_score_threshold
from vitedge_ros.runtime import load_bundle

FEW_FLIGHTS = {'count': 1, 'frames': 6, 'every': 3, 'seed': 9000}


@pytest.fixture(scope='module')
def det_ckpt(tmp_path_factory) -> Path:
    meta = {
        'name': 'tiny_det',
        'task': 'detect',
        'labels': DETECTOR_LABELS,
        'input_spec': dict(TINY_DETECTOR_INPUT),
        'arch': 'vit_center',
        'decoder': {'type': 'vit_center', 'score_threshold': 0.3, 'max_detections': 20},
    }
    return save_checkpoint(
        tmp_path_factory.mktemp('ckpt') / 'det.pt', make_tiny_detector(), **meta
    )


def test_auto_pick_reproduces_the_shipped_detectors_threshold(shipped_bundle):
    thr, record = pick_bundle_threshold(shipped_bundle)
    shipped = load_bundle(shipped_bundle)
    recorded = shipped.source['metrics']['person_at_threshold']
    assert thr == shipped.decoder['score_threshold'] == 0.35
    got = record['at_threshold']
    assert got['meets_targets'] is True and got['precision'] >= 0.8 and got['recall'] >= 0.8
    # training picked it through torch on letterboxed frames, this through the runtime
    assert abs(got['tp'] - recorded['tp']) <= 5 and abs(got['fp'] - recorded['fp']) <= 5
    assert 'SYNTHETIC' in record['picked_on'] and record['flights']['seed'] == 9000
    assert record['frames'] == 160


def test_set_score_threshold_rewrites_only_the_decoder(tiny_detector_bundle, tmp_path):
    import yaml

    b = tmp_path / 'b'
    shutil.copytree(tiny_detector_bundle, b)
    meta = yaml.safe_load((b / 'bundle.yaml').read_text())
    trained = {'precision': 0.79, 'recall': 0.81}
    meta['source'] = dict(
        meta.get('source') or {},
        metrics={'map50': 0.5, 'person_at_threshold': trained, 'threshold_picked_on': 'val'},
    )
    (b / 'bundle.yaml').write_text(yaml.safe_dump(meta, sort_keys=False))
    before = load_bundle(b)
    set_score_threshold(b, 0.42, {'picked_on': 'here'})
    after = load_bundle(b)
    assert after.decoder == dict(before.decoder, score_threshold=0.42)
    assert after.source['metrics'] == {'map50': 0.5}
    assert after.source['score_threshold_pick'] == {
        'picked_on': 'here',
        'replaces': {
            'person_at_threshold': trained,
            'threshold_picked_on': 'val',
            'score_threshold': before.decoder['score_threshold'],
        },
    }
    set_score_threshold(b, 0.5)
    assert load_bundle(b).source['score_threshold_pick']['picked_on'].startswith('given')
    assert after.input == before.input and after.labels == before.labels
    with pytest.raises(ValueError, match='not in'):
        set_score_threshold(b, 1.5)
    assert load_bundle(b).decoder['score_threshold'] == 0.5  # nothing written


def test_refusals_name_the_problem(tiny_classifier_bundle, tmp_path):
    c = tmp_path / 'c'
    shutil.copytree(tiny_classifier_bundle, c)
    with pytest.raises(ValueError, match='not a detector'):
        pick_bundle_threshold(c, flights=FEW_FLIGHTS)
    with pytest.raises(ValueError, match='has no score threshold'):
        set_score_threshold(c, 0.5)


def test_cli_value_and_auto_and_bad_values(det_ckpt, tmp_path, capsys):
    def export(out, thr):
        return export_main([str(det_ckpt), '--out', str(tmp_path / out), '--score-threshold', thr])

    assert export('v', '0.6') == 0
    assert load_bundle(tmp_path / 'v').decoder['score_threshold'] == 0.6
    assert export('a', 'auto') == 0
    out = capsys.readouterr().out
    a = load_bundle(tmp_path / 'a')
    pick = a.source['score_threshold_pick']
    assert 0.1 <= a.decoder['score_threshold'] <= 0.7
    thr = a.decoder['score_threshold']
    assert 'score threshold {} picked on SYNTHETIC flight frames'.format(thr) in out
    assert pick['rule'].startswith('best person F1') and 'tp' in pick['at_threshold']
    # training's pick of the threshold it replaced is kept apart, not left in the metrics
    assert 'person_at_threshold' not in (a.source.get('metrics') or {})
    for bad in ('1.5', 'often'):
        with pytest.raises(SystemExit) as exc:
            export('x', bad)
        assert exc.value.code == 2
        assert '--score-threshold' in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()


def test_cli_refuses_a_threshold_for_a_classifier_before_any_work(
    tiny_classifier_bundle, tmp_path, capsys
):
    src = Path(tiny_classifier_bundle)
    out = tmp_path / 'c'
    code = export_main(
        ['--from-onnx', str(src / 'model.onnx'), '--like', str(src), '--out', str(out),
         '--score-threshold', 'auto']
    )  # fmt: skip
    cap = capsys.readouterr()
    assert code == 2 and not out.exists() and 'exported' not in cap.out
    assert cap.err.strip().splitlines() == [
        'export_onnx: bad input: --score-threshold: a classify model has no score threshold '
        '(detectors only)'
    ]


def test_an_interrupted_pick_leaves_the_bundle_as_it_was(det_ckpt, tmp_path, monkeypatch):
    import vitedge_ros.export.threshold as threshold

    out = tmp_path / 'b'
    assert export_main([str(det_ckpt), '--out', str(out), '--score-threshold', '0.6']) == 0
    (out / 'engine.trt').write_bytes(b'an engine built here')  # other files stay
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(threshold, 'pick_bundle_threshold', interrupted)
    assert export_main([str(det_ckpt), '--out', str(out), '--score-threshold', 'auto']) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['b']  # no staging folder left
    assert export_main([str(det_ckpt), '--out', str(out), '--score-threshold', '0.3']) == 0
    assert load_bundle(out).decoder['score_threshold'] == 0.3
    assert (out / 'engine.trt').read_bytes() == b'an engine built here'

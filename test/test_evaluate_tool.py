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
tools/evaluate.py on real photographs (COCO and VisDrone layouts) and eval_bag's --gt formats.

Acceptance (issue 13 item 4): the mAP the tool reports equals faster-coco-eval run directly on the
same ground truth and detections; VisDrone ignored regions and "others" are honoured; bad input is
one line and exit 2.
"""

import json
from pathlib import Path
import subprocess
import sys

from photo_eval_set import write_real_photo_set
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / 'models' / 'aerial_vit_tiny'


class FixedDetector:
    """
    Hand-placed detections per file (found by image size and content order).

    For a known 0 < AP < 1.
    """

    labels = ['person', 'vehicle', 'obstacle']
    backend_name = 'fixed'
    score_threshold = 0.05

    def __init__(self, per_call):
        self.per_call = list(per_call)
        self.calls = 0

    def __call__(self, image):
        from vitedge_ros.runtime import Detection, FrameResult

        dets = [
            Detection(self.labels.index(lab), lab, s, box)
            for lab, s, box in self.per_call[self.calls]
        ]
        self.calls += 1
        return FrameResult(
            dets,
            [],
            dict.fromkeys(('preprocess', 'inference', 'postprocess', 'total'), 0.1),
            (image.shape[1], image.shape[0]),
        )


# images in name order: astronaut, camera, chelsea, coffee, rocket (boxes xyxy in the 256-pixel
# photos)
DETECTIONS = [
    [('person', 0.9, (12.0, 10.0, 180.0, 250.0)), ('person', 0.5, (150.0, 170.0, 250.0, 250.0))],
    [
        ('person', 0.35, (0.0, 60.0, 120.0, 250.0)),  # the cameraman (IoU 0.68), at a low score
        (
            'person',
            0.8,
            (118.0, 98.0, 200.0, 250.0),
        ),  # on the tripod ("others": ignored in VisDrone)
        ('person', 0.6, (165.0, 52.0, 250.0, 110.0)),
    ],  # on the buildings (ignored region in VisDrone)
    [('person', 0.7, (30.0, 20.0, 150.0, 160.0))],  # on the cat: a false person
    [('vehicle', 0.55, (60.0, 10.0, 200.0, 160.0))],  # on the cup: a false vehicle
    [],
]


def _direct(gt_dict, dets, cat_ids):
    """faster-coco-eval on dicts, as a user would run it: (AP@0.5, AP@0.5:0.95)."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt = COCO(gt_dict)
    dt = gt.loadRes(dets)
    ev = COCOeval_faster(gt, dt, 'bbox', print_function=lambda *a, **k: None)
    ev.params.catIds = list(cat_ids)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[1]), float(ev.stats[0])


@pytest.mark.needs('skimage', 'faster_coco_eval')
def test_coco_layout_map_equals_faster_coco_eval(tmp_path):
    from vitedge_ros.eval.images import evaluate_images

    fx = write_real_photo_set(tmp_path / 'set', 'coco')
    m = evaluate_images(
        fx['images'], fx['gt'], None, tmp_path / 'out', pipeline=FixedDetector(DETECTIONS)
    )
    gt = json.loads(Path(fx['gt']).read_text())
    dets = json.loads((tmp_path / 'out' / 'detections_coco.json').read_text())
    assert len(dets) == 7  # every detection scored (no ignored regions in COCO)
    # the fixture's own file, its own category ids (person 1 = the bundle's first label + 1)
    ap50, ap = _direct(gt, [d for d in dets if d['category_id'] == 1], [1])
    assert 0.2 < m['per_class']['person']['ap50'] < 0.99
    assert m['per_class']['person']['ap50'] == pytest.approx(ap50, abs=1e-12)
    assert m['per_class']['person']['ap50_95'] == pytest.approx(ap, abs=1e-12)
    assert m['map50'] == pytest.approx(ap50, abs=1e-12)  # person is the only evaluated class
    assert m['gt_labels_not_in_bundle'] == ['cat', 'cup'] and m['gt_boxes_not_evaluated'] == {
        'cat': 1,
        'cup': 1,
    }
    assert m['images_evaluated'] == 5 and m['annotations_evaluated'] == 2
    # the written ground truth re-evaluates to the same number
    again = _direct(json.loads((tmp_path / 'out' / 'gt_coco.json').read_text()), dets, [1, 2, 3])
    assert again[0] == pytest.approx(m['map50'], abs=1e-12)
    worst = m['worst']
    assert [w['file_name'] for w in worst][:2] == ['camera.jpg', 'astronaut.jpg']
    assert (worst[0]['errors'], worst[0]['fp'], worst[0]['fn']) == (2, 2, 0)
    for w in worst:
        assert (tmp_path / 'out' / w['picture']).is_file()
    png = (tmp_path / 'out' / 'pr.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 5000
    md = (tmp_path / 'out' / 'metrics.md').read_text()
    assert '| person | {:.4f} |'.format(ap50) in md


@pytest.mark.needs('skimage')
def test_visdrone_layout_honours_ignored_regions(tmp_path):
    from vitedge_ros.eval.images import evaluate_images

    fx = write_real_photo_set(tmp_path / 'set', 'visdrone')
    m = evaluate_images(
        fx['images'], fx['gt'], None, tmp_path / 'out', pipeline=FixedDetector(DETECTIONS)
    )
    assert m['gt_format'] == 'visdrone' and m['ignored_regions'] == 2
    assert m['detections_in_ignored_regions'] == 2 and m['gt_in_ignored_regions'] == 0
    # independent check: the pedestrians read back from the txt files, the two detections on the
    # tripod ("others") and on the buildings (category 0) removed by hand, as the VisDrone toolkit
    # drops them
    names = sorted(p.name for p in Path(fx['images']).iterdir())
    images, anns = [], []
    for k, name in enumerate(names):
        w, h = fx['sizes'][name]
        images.append({'id': k + 1, 'width': w, 'height': h})
        for line in (Path(fx['gt']) / (Path(name).stem + '.txt')).read_text().split():
            x, y, bw, bh, score, cat = (float(v) for v in line.split(',')[:6])
            if cat == 1:
                anns.append(
                    {
                        'id': len(anns) + 1,
                        'image_id': k + 1,
                        'category_id': 1,
                        'bbox': [x, y, bw, bh],
                        'area': bw * bh,
                        'iscrowd': 0,
                    }
                )
    dets = []
    for k, per in enumerate(DETECTIONS):
        for j, (lab, s, (x1, y1, x2, y2)) in enumerate(per):
            if names[k] == 'camera.jpg' and j in (1, 2):
                continue
            dets.append(
                {
                    'image_id': k + 1,
                    'category_id': ['person', 'vehicle', 'obstacle'].index(lab) + 1,
                    'score': s,
                    'bbox': [x1, y1, x2 - x1, y2 - y1],
                }
            )
    gt = {
        'images': images,
        'annotations': anns,
        'categories': [
            {'id': 1, 'name': 'person'},
            {'id': 2, 'name': 'vehicle'},
            {'id': 3, 'name': 'obstacle'},
        ],
    }
    ap50, ap = _direct(gt, dets, [1])
    assert m['per_class']['person']['ap50'] == pytest.approx(ap50, abs=1e-12)
    assert m['per_class']['person']['ap50_95'] == pytest.approx(ap, abs=1e-12)
    assert m['map50'] == pytest.approx(ap50, abs=1e-12)
    # without the ignore rule the two false persons would lower AP: the rule changes the number
    keep_all = dets + [
        {'image_id': 2, 'category_id': 1, 'score': 0.8, 'bbox': [118.0, 98.0, 82.0, 152.0]},
        {'image_id': 2, 'category_id': 1, 'score': 0.6, 'bbox': [165.0, 52.0, 85.0, 58.0]},
    ]
    assert _direct(gt, keep_all, [1])[0] < ap50 - 0.05


@pytest.mark.needs('skimage')
def test_cli_with_shipped_bundle_on_real_photos(tmp_path):
    """
    End to end in a fresh process.

    Exit 0, metrics equal to faster-coco-eval on the written detections.
    """
    fx = write_real_photo_set(tmp_path / 'set', 'coco')
    out = tmp_path / 'out'
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'evaluate.py'),
            str(fx['images']),
            '--gt',
            str(fx['gt']),
            '--bundle',
            str(SHIPPED),
            '--out',
            str(out),
            '--score-threshold',
            '0.05',
            '--worst',
            '3',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / 'metrics.json').read_text())
    dets = json.loads((out / 'detections_coco.json').read_text())
    assert (
        dets
        and m['detections_scored'] == len(dets)
        and m['score_threshold'] == pytest.approx(0.05)
    )
    gt = json.loads(Path(fx['gt']).read_text())
    ap50, ap = _direct(gt, [d for d in dets if d['category_id'] == 1], [1])
    assert m['per_class']['person']['ap50'] == pytest.approx(ap50, abs=1e-12)
    assert m['map50_95'] == pytest.approx(ap, abs=1e-12)
    assert len(m['worst']) == 3 and len(list((out / 'worst').iterdir())) == 3
    assert 'mAP@0.5' in proc.stdout
    again = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'evaluate.py'),
            str(fx['images']),
            '--gt',
            str(fx['gt']),
            '--bundle',
            str(SHIPPED),
            '--out',
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 2 and '--overwrite' in again.stderr


@pytest.mark.parametrize(
    'case,needle',
    [
        ('missing_images', 'IMAGES'),
        ('txt_file', 'one VisDrone-DET annotation file; give the folder'),
        ('bad_json', 'cannot read ground truth'),
        ('empty_json', 'the file is empty (expected a COCO instances JSON)'),
        ('images_not_list', "COCO 'images' must be a list, got int"),
        ('missing_file', 'images it names are not in'),
        ('no_category_maps', 'none of its categories (cup) maps to the bundle labels'),
        ('bad_label_map', "'animal' is not a label of the bundle"),
        ('classifier', "is a 'classify' model"),
        ('no_bundle', 'does not load'),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, tiny_classifier_bundle, case, needle):
    fx = write_real_photo_set(tmp_path / 'set', 'visdrone' if case == 'txt_file' else 'coco')
    images, gt, bundle, extra = str(fx['images']), str(fx['gt']), str(SHIPPED), []
    if case == 'missing_images':
        images = str(tmp_path / 'nope')
    elif case == 'txt_file':
        gt = str(Path(fx['gt']) / 'camera.txt')
    elif case == 'bad_json':
        Path(gt).write_text('{"images": [')
    elif case == 'empty_json':
        Path(gt).write_text('\n')
    elif case == 'images_not_list':
        Path(gt).write_text(json.dumps({'images': 5, 'annotations': [], 'categories': []}))
    elif case == 'missing_file':
        (Path(images) / 'rocket.jpg').unlink()
    elif case == 'no_category_maps':
        Path(gt).write_text(
            json.dumps(
                {
                    'images': [{'id': 1, 'file_name': 'coffee.jpg'}],
                    'categories': [{'id': 1, 'name': 'cup'}],
                    'annotations': [{'image_id': 1, 'category_id': 1, 'bbox': [1, 2, 3, 4]}],
                }
            )
        )
    elif case == 'bad_label_map':
        extra = ['--label-map', 'cat=animal']
    elif case == 'classifier':
        bundle = str(tiny_classifier_bundle)
    elif case == 'no_bundle':
        bundle = str(tmp_path / 'nobundle')
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / 'tools' / 'evaluate.py'),
            images,
            '--gt',
            gt,
            '--bundle',
            bundle,
            '--out',
            str(tmp_path / 'out'),
        ]
        + extra,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith('evaluate: error: '), (
        proc.stderr
    )
    assert needle in lines[0]


def test_label_map_spec_forms(tmp_path):
    from vitedge_ros.eval.ground_truth import DEFAULT_LABEL_MAP, GroundTruthError, parse_label_map

    labels = ['person', 'vehicle', 'obstacle']
    assert parse_label_map(None, labels) == dict(DEFAULT_LABEL_MAP)
    assert parse_label_map('pedestrian=person, car:vehicle ,others=ignore', labels) == {
        'pedestrian': 'person',
        'car': 'vehicle',
        'others': 'ignore',
    }
    f = tmp_path / 'map.yaml'
    f.write_text('motor: vehicle\nbicycle: ignore\n')
    assert parse_label_map(str(f), labels) == {'motor': 'vehicle', 'bicycle': 'ignore'}
    with pytest.raises(GroundTruthError, match='is not NAME=LABEL'):
        parse_label_map('pedestrian', labels)


@pytest.mark.needs('rosbags', 'faster_coco_eval')
def test_eval_bag_gt_visdrone_folder_equals_coco_json(tmp_path):
    """
    eval_bag --gt: a VisDrone folder scores exactly like the COCO JSON of the same boxes.

    The folder holds one <stamp_ns>.txt per frame.
    """
    from test_eval_bag_gt import EchoPipeline
    from vitedge_ros.replay.driver import replay
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(tmp_path / 'flight', 5, seed=4, width=320, height=240)
    coco = json.loads(Path(info['gt_json']).read_text())
    folder = tmp_path / 'visdrone'
    folder.mkdir()
    visdrone_cat = {
        1: 1,
        2: 4,
        3: 3,
    }  # person -> pedestrian, vehicle -> car, obstacle -> bicycle (mapped back)
    for im in coco['images']:
        rows = [
            '{},{},{},{},1,{},0,0'.format(*a['bbox'], visdrone_cat[a['category_id']])
            for a in coco['annotations']
            if a['image_id'] == im['id']
        ]
        (folder / '{}.txt'.format(im['stamp_ns'])).write_text('\n'.join(rows) + '\n')
    a = replay(
        info['bag'],
        None,
        '/camera/image_raw',
        tmp_path / 'a',
        gt=info['gt_json'],
        pipeline=EchoPipeline(info['gt_json']),
    )['accuracy']
    b = replay(
        info['bag'],
        None,
        '/camera/image_raw',
        tmp_path / 'b',
        gt=folder,
        pipeline=EchoPipeline(info['gt_json']),
        label_map='pedestrian=person,car=vehicle,bicycle=obstacle',
    )['accuracy']
    assert (
        b['gt_format'] == 'visdrone' and b['matched_by'] == 'stamp' and b['images_evaluated'] == 5
    )
    assert 0.1 < a['map50'] < 1.0
    assert b['map50'] == pytest.approx(a['map50'], abs=1e-12) and b['per_class'] == a['per_class']

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
tools/predict.py on real photographs, a video and a bag.

The one overlay renderer (issue 13 item 3).
"""

import json
from pathlib import Path
import subprocess
import sys

import cv2
import numpy as np
from photo_eval_set import write_real_photo_set
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / 'models' / 'aerial_vit_tiny'
SHIPPED_SEG = ROOT / 'models' / 'aerial_seg_tiny'


def run_predict(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'predict.py')]
        + [str(a) for a in args]
        + ['--backend', 'onnxruntime'],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _by_image(preds):
    out = {}
    for p in preds:
        out.setdefault(p['image_id'], []).append(p)
    return out


def _same_boxes(entries, detections):
    assert len(entries) == len(detections)
    for e, d in zip(entries, detections):
        x1, y1, x2, y2 = d.box
        assert e['category_id'] == d.class_id + 1 and e['score'] == pytest.approx(
            d.score, abs=1e-5
        )
        assert e['bbox'] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=1e-3)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    pytest.importorskip('skimage', reason='needs skimage (scikit-image: the real photos)')
    return write_real_photo_set(tmp_path_factory.mktemp('photos'), 'coco')


@pytest.fixture(scope='module')
def pipeline():
    from vitedge_ros.runtime import Pipeline

    pipe = Pipeline(SHIPPED, backend='onnxruntime')
    yield pipe
    pipe.close()


def test_folder_of_photos_pngs_and_coco_results(photos, pipeline, tmp_path):
    from vitedge_ros.data.common import read_image

    out = tmp_path / 'out'
    proc = run_predict(photos['images'], '--bundle', SHIPPED, '--out', out)
    assert proc.returncode == 0, proc.stderr
    index = json.loads((out / 'predictions_images.json').read_text())
    preds = _by_image(json.loads((out / 'predictions.json').read_text()))
    assert [im['file_name'] for im in index['images']] == sorted(photos['sizes'])
    assert index['categories'][0] == {'id': 1, 'name': 'person'} and index['task'] == 'detect'
    for im in index['images']:
        png = cv2.imread(str(out / (Path(im['file_name']).stem + '.png')))
        w, h = photos['sizes'][im['file_name']]
        assert png.shape == (h, w, 3) and (im['width'], im['height']) == (w, h)
        res = pipeline(read_image(Path(photos['images']) / im['file_name']))
        _same_boxes(preds.get(im['id'], []), res.detections)
    assert sum(len(v) for v in preds.values()) > 0


def _write_video(path, frames, fps=5.0):
    w = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (frames[0].shape[1], frames[0].shape[0])
    )
    for f in frames:
        w.write(f)
    w.release()


def _read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


def test_video_gives_mp4_with_every_frame(photos, pipeline, tmp_path):
    from photo_eval_set import small_photo

    frames = []
    for name in ('astronaut', 'camera', 'astronaut', 'camera', 'astronaut', 'camera', 'astronaut'):
        frames.append(small_photo(name)[0])
    src = tmp_path / 'clip.mp4'
    _write_video(src, frames)
    decoded, _ = _read_video(src)
    assert len(decoded) == 7
    out = tmp_path / 'out'
    proc = run_predict(src, '--bundle', SHIPPED, '--out', out)
    assert proc.returncode == 0, proc.stderr
    annotated, fps = _read_video(out / 'annotated.mp4')
    assert (
        len(annotated) == 7 and annotated[0].shape == (256, 256, 3) and fps == pytest.approx(5.0)
    )
    preds = _by_image(json.loads((out / 'predictions.json').read_text()))
    for k, frame in enumerate(decoded):
        _same_boxes(preds.get(k + 1, []), pipeline(frame).detections)
    assert not list(out.glob('.*partial*'))


@pytest.mark.needs('rosbags')
def test_bag_topic_gives_mp4_and_stamps(tmp_path, pipeline):
    from vitedge_ros.replay.synthetic import write_synthetic_bag

    info = write_synthetic_bag(
        tmp_path / 'flight', 4, seed=2, width=320, height=240, compressed=True
    )
    out = tmp_path / 'out'
    proc = run_predict(info['bag'], '--bundle', SHIPPED, '--out', out)
    assert proc.returncode == 2 and 'image topics; name one with --image-topic' in proc.stderr
    proc = run_predict(
        info['bag'], '--bundle', SHIPPED, '--out', out, '--image-topic', '/camera/image_raw'
    )
    assert proc.returncode == 0, proc.stderr
    annotated, fps = _read_video(out / 'annotated.mp4')
    assert (
        len(annotated) == 4
        and annotated[0].shape == (240, 320, 3)
        and fps == pytest.approx(10.0, rel=0.01)
    )
    index = json.loads((out / 'predictions_images.json').read_text())
    stamps = [im['stamp_ns'] for im in index['images']]
    assert stamps == [
        json.loads(Path(info['gt_json']).read_text())['images'][k]['stamp_ns'] for k in range(4)
    ]
    assert index['image_topic'] == '/camera/image_raw' and index['video']['frames'] == 4


def test_classifier_and_segmenter_results(photos, tiny_classifier_bundle, tmp_path):
    from faster_coco_eval.core import mask as mask_utils
    from vitedge_ros.data.common import read_image
    from vitedge_ros.predict import predict
    from vitedge_ros.runtime import Pipeline

    img_path = Path(photos['images']) / 'chelsea.jpg'
    s = predict(img_path, tiny_classifier_bundle, tmp_path / 'cls', backend='onnxruntime')
    assert s['task'] == 'classify' and s['frames'] == 1
    preds = json.loads((tmp_path / 'cls' / 'predictions.json').read_text())
    pipe = Pipeline(tiny_classifier_bundle, backend='onnxruntime')
    expect = pipe(read_image(img_path)).classes
    pipe.close()
    assert [(p['category_id'], round(p['score'], 5)) for p in preds] == [
        (c.class_id + 1, round(c.score, 5)) for c in expect
    ]
    assert all(set(p) == {'image_id', 'category_id', 'score'} for p in preds)

    s = predict(img_path, SHIPPED_SEG, tmp_path / 'seg', backend='onnxruntime')
    preds = json.loads((tmp_path / 'seg' / 'predictions.json').read_text())
    pipe = Pipeline(SHIPPED_SEG, backend='onnxruntime')
    seg = pipe(read_image(img_path)).segmentation
    pipe.close()
    rebuilt = np.full(seg.shape, 255, np.uint8)
    for p in preds:
        m = mask_utils.decode(dict(p['segmentation'], counts=p['segmentation']['counts'].encode()))
        rebuilt[m.astype(bool)] = p['category_id'] - 1
        assert p['area'] == int(m.sum())
    assert np.array_equal(rebuilt, seg)
    png = cv2.imread(str(tmp_path / 'seg' / 'chelsea.png'))
    assert png.shape == (170, 256, 3)


@pytest.mark.parametrize(
    'case,needle',
    [
        ('missing', 'no such file or folder'),
        ('gif', "unknown extension '.gif'"),
        ('corrupt', 'cannot decode image'),
        ('no_bundle', 'does not load'),
        ('empty_folder', 'no images in this folder'),
        ('not_a_video', 'cannot open the video'),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, case, needle):
    src = tmp_path / 'x.png'
    bundle = SHIPPED
    if case == 'gif':
        src = tmp_path / 'x.gif'
        src.write_bytes(b'GIF89a')
    elif case == 'corrupt':
        src.write_bytes(b'\x89PNG garbage')
    elif case == 'no_bundle':
        cv2.imwrite(str(src), np.zeros((8, 8, 3), np.uint8))
        bundle = tmp_path / 'nobundle'
    elif case == 'empty_folder':
        src = tmp_path / 'empty'
        src.mkdir()
    elif case == 'not_a_video':
        src = tmp_path / 'x.mp4'
        src.write_bytes(b'not a video at all')
    proc = run_predict(src, '--bundle', bundle, '--out', tmp_path / 'out')
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith('predict: error: '), (
        proc.stderr
    )
    assert needle in lines[0] and 'Traceback' not in proc.stderr


def test_corrupt_image_in_folder_is_counted_and_skipped(photos, tmp_path):
    import shutil

    folder = tmp_path / 'pics'
    shutil.copytree(str(photos['images']), str(folder))
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    proc = run_predict(folder, '--bundle', SHIPPED, '--out', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr
    index = json.loads((tmp_path / 'out' / 'predictions_images.json').read_text())
    assert index['frames_failed'] == 1 and index['failures'][0]['frame'] == 'broken.jpg'
    assert len(index['images']) == 5 and not (tmp_path / 'out' / 'broken.png').exists()
    assert 'broken.jpg skipped' in proc.stderr
    again = run_predict(folder, '--bundle', SHIPPED, '--out', tmp_path / 'out')
    assert again.returncode == 2 and '--overwrite' in again.stderr


# -------------------------------------------------------------------------------- the one renderer
def _caption_height(width, height):
    """Height in pixels of the filled caption above a person box drawn on a black frame."""
    from vitedge_ros.perception.overlay import NAMED_COLOURS, render_frame
    from vitedge_ros.runtime import Detection

    img = np.zeros((height, width, 3), np.uint8)
    x1, y1 = width // 4, height // 2
    out = render_frame(
        img,
        [Detection(0, 'person', 0.87, (x1, y1, x1 + width // 4, y1 + height // 4))],
        ['person'],
    )
    col = out[:y1, x1 + 1]  # the column just inside the box's left edge, above the box
    red = np.all(col == np.array(NAMED_COLOURS['person'], np.uint8), axis=1)
    return int(red.sum())


def test_labels_are_readable_at_any_resolution():
    h720 = _caption_height(1280, 720)
    assert h720 >= 18  # the replay's old labels were about 8 px high at 1280x720
    assert _caption_height(2560, 1440) == pytest.approx(2 * h720, rel=0.15)
    assert 10 <= _caption_height(96, 64) <= 20
    assert _caption_height(640, 480) >= 12


def test_one_colour_per_class_everywhere():
    from vitedge_ros.perception.overlay import (
        colorize,
        label_colour,
        NAMED_COLOURS,
        palette,
        render_frame,
    )
    from vitedge_ros.runtime import Detection

    labels = ['background', 'person', 'vehicle', 'kayak']
    assert (
        tuple(label_colour('kayak')) == tuple(palette(labels)[3]) == tuple(label_colour('kayak'))
    )
    seg = np.zeros((120, 160), np.uint8)
    seg[:, 80:] = 3
    assert tuple(colorize(seg, labels)[0, 100]) == label_colour('kayak')
    img = np.zeros((120, 160, 3), np.uint8)
    out = render_frame(
        img,
        [
            Detection(3, 'kayak', 0.9, (10, 60, 60, 110)),
            Detection(1, 'person', 0.9, (90, 60, 150, 110)),
        ],
        labels,
    )
    assert (
        tuple(out[85, 10]) == label_colour('kayak')
        and tuple(out[85, 150]) == NAMED_COLOURS['person']
    )
    assert img.max() == 0  # input untouched
    seg_img = render_frame(img, labels=labels, segmentation=seg, alpha=1.0, legend=True)
    assert tuple(seg_img[10, 150]) == label_colour('kayak')
    # the legend lists the classes present (background and kayak): swatches in their colours,
    # bottom left
    legend = seg_img[60:, :40].reshape(-1, 3)
    assert (legend == np.array(label_colour('kayak'), np.uint8)).all(axis=1).sum() > 20


def test_node_replay_and_demo_share_the_renderer():
    import inspect

    import vitedge_ros.demo as demo
    import vitedge_ros.replay.driver as bag_replay
    import vitedge_ros.ros.core as core
    import vitedge_ros.runtime.segmentation as rseg

    # the replay's and the demo's overlays are the core's (issue 15: every frame goes through
    # PerceptionCore)
    assert 'render_frame' in inspect.getsource(core)
    for mod in (bag_replay, demo):
        assert 'PerceptionCore' in inspect.getsource(mod)
    assert not hasattr(rseg, 'blend_overlay') and not hasattr(core, 'draw_overlay')
    assert not hasattr(bag_replay, 'draw_detections')


def test_one_overlay_renderer_in_the_package():
    """
    Issue 15: boxes and captions are drawn in vitedge_ros/perception/overlay.py only.

    The rest calls it.
    """
    renderer = ROOT / 'vitedge_ros' / 'perception' / 'overlay.py'
    drawing = (
        'cv2.rectangle',
        'cv2.putText',
        'def draw_detections',
        'def render_frame',
        'def draw_boxes',
    )
    offenders = [
        '{}: {}'.format(p.relative_to(ROOT), d)
        for p in sorted((ROOT / 'vitedge_ros').rglob('*.py'))
        if p != renderer
        for d in drawing
        if d in p.read_text(encoding='utf-8')
    ]
    assert not offenders, offenders
    assert all(
        d in renderer.read_text(encoding='utf-8') for d in drawing
    )  # the check looks at the right file
    users = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / 'vitedge_ros').rglob('*.py'))
        if 'render_frame(' in p.read_text(encoding='utf-8') and p != renderer
    ]
    assert set(users) >= {
        'vitedge_ros/perception/core.py',
        'vitedge_ros/predict.py',
        'vitedge_ros/eval/images.py',
    }


def test_overlay_module_is_python36_and_torch_free():
    src = ROOT / 'vitedge_ros' / 'perception' / 'overlay.py'
    py36 = Path.home() / '.pyenv' / 'versions' / '3.6.15' / 'bin' / 'python3.6'
    if py36.is_file():
        proc = subprocess.run(
            [str(py36), '-m', 'py_compile', str(src)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    code = (
        'import sys; import vitedge_ros.perception.overlay; '
        'print(sorted({"torch", "timm", "rclpy"} & set(sys.modules)))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], cwd=str(ROOT), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == '[]', out.stderr


def test_notes_extend_a_detection_caption():
    """
    Optional per-detection annotations are appended to the detection's caption.

    For example a person's ground position.
    """
    from vitedge_ros.perception.overlay import NAMED_COLOURS, render_frame
    from vitedge_ros.runtime import Detection

    img = np.zeros((480, 640, 3), np.uint8)
    det = [Detection(0, 'person', 0.9, (100, 200, 160, 300))]
    red = np.array(NAMED_COLOURS['person'], np.uint8)

    def caption_width(out):
        row = out[190]  # a row through the caption, above the box
        return int(np.all(row == red, axis=1).sum())

    plain = caption_width(render_frame(img, det, ['person']))
    noted = caption_width(render_frame(img, det, ['person'], notes={0: '(12.3, -4.1) m'}))
    assert noted > plain + 50

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
Run a bundle on an image, a folder of images, a video file or a rosbag2 image topic.

The library side of ``tools/predict.py``:

    tools/predict.py SOURCE --bundle DIR --out DIR [--image-topic TOPIC] [--backend NAME]
                     [--score-threshold T] [--max-frames N] [--overwrite] [-q]

``SOURCE`` is recognised by what it is: a rosbag2 directory (with ``metadata.yaml``;
``--image-topic`` names the sensor_msgs Image or CompressedImage topic, optional when the bag has
one image topic), a folder of images (read in name order, not recursively), an image file (``.png
.jpg .jpeg .bmp .tif .tiff .webp``) or a video file (``.mp4 .avi .mov .mkv .webm .m4v .mpg .mpeg
.wmv``, read with OpenCV).

Outputs in ``--out``:

* images and folders: one annotated PNG per image, ``<stem>.png``; videos and bags:
  ``annotated.mp4`` (mp4v, the source's frame rate: the video's, or the topic's message count over
  the bag's duration);
* ``predictions.json``: COCO results, one entry per prediction, ``image_id`` = frame number from 1:
  detectors ``{image_id, category_id, bbox [x, y, w, h] pixels, score}``; classifiers
  ``{image_id, category_id, score}`` for each of the top-k classes; segmenters
  ``{image_id, category_id, segmentation (COCO RLE), area, score: 1.0}`` per class present;
  ``category_id`` = label index + 1;
* ``predictions_images.json``: the ``images`` (id, file_name, width, height; bags also
  ``stamp_ns``), ``categories`` (the bundle's labels), the bundle and the frames that could not be
  read.

Every picture is drawn by the one renderer (``vitedge_ros.perception.overlay.render_frame``): boxes
in their class colours, segmentation with a legend, a classifier's top classes as text. A frame
that cannot be read (a corrupt image in a folder, a broken video or bag frame) is counted, reported
and skipped. Bad input (missing source, unknown extension, unreadable single image, bundle that
does not load) raises :class:`PredictError` with one line; the command line prints it and exits 2.
Files are written atomically.
"""

import argparse
import contextlib
import json
import os
from pathlib import Path
import sys
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np

from .cli import run_guarded, workstation_tool
from .runtime.errors import VitedgeError

__all__ = [
    'PredictError',
    'VIDEO_EXTENSIONS',
    'main',
    'predict',
    'prediction_entries',
    'source_kind',
]

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
VIDEO_NAME = 'annotated.mp4'
OUTPUT_FILES = ('predictions.json', 'predictions_images.json', VIDEO_NAME)


class PredictError(VitedgeError, ValueError):
    """
    Input that predict cannot use (missing or unknown source, unreadable image, bad bundle).

    One line.
    """


class Frame(NamedTuple):
    """One input frame."""

    name: str  # file name, ``frame_000001`` (video) or the header stamp (bag)
    image: np.ndarray  # BGR uint8
    meta: Dict[str, Any]  # extra image fields (bags: stamp_ns)


def source_kind(source: Union[str, Path]) -> str:
    """
    ``bag``, ``folder``, ``image`` or ``video`` for a source path.

    Raises
    ------
        PredictError: the path does not exist or has an extension that is neither an image nor a
            video.

    """
    from .data.common import IMAGE_EXTENSIONS

    p = Path(source)
    if not p.exists():
        raise PredictError('{}: no such file or folder'.format(p))
    if p.is_dir():
        return 'bag' if (p / 'metadata.yaml').is_file() else 'folder'
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return 'image'
    if suffix in VIDEO_EXTENSIONS:
        return 'video'
    raise PredictError(
        '{}: unknown extension {!r}: give an image ({}), a video ({}), a folder of images or a '
        'rosbag2 directory'.format(
            p, suffix or '(none)', ' '.join(IMAGE_EXTENSIONS), ' '.join(VIDEO_EXTENSIONS)
        )
    )


def _read(path: Path) -> np.ndarray:
    from .data.common import DatasetError, read_image

    try:
        return read_image(path)
    except (DatasetError, FileNotFoundError, OSError) as exc:
        raise PredictError(str(exc)) from None


def _folder_frames(folder: Path, on_bad: Callable[[str, str], None]) -> Iterator[Frame]:
    from .data.common import IMAGE_EXTENSIONS

    names = sorted(
        f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not names:
        raise PredictError(
            '{}: no images in this folder ({})'.format(folder, ' '.join(IMAGE_EXTENSIONS))
        )
    for f in names:
        try:
            yield Frame(f.name, _read(f), {})
        except PredictError as exc:
            on_bad(f.name, str(exc))


def _open_video(path: Path) -> Any:
    """
    cv2.VideoCapture of ``path`` with FFmpeg's own log lines off.

    Errors are reported as one line here.

    OpenCV reads ``OPENCV_FFMPEG_LOGLEVEL`` when its FFmpeg backend starts
    (``cap_ffmpeg_impl.hpp``); -8 is ``AV_LOG_QUIET``. A value the user set is kept. OpenCV 4.5.4
    (Ubuntu 22.04's python3-opencv, what ROS 2 Humble uses) predates that variable and FFmpeg
    writes e.g. "moov atom not found" straight to file descriptor 2 while the file is opened, so
    the open also runs with descriptor 2 on the null device.
    """
    os.environ.setdefault('OPENCV_FFMPEG_LOGLEVEL', '-8')
    import cv2

    with _stderr_fd_to_devnull():
        return cv2.VideoCapture(str(path))


@contextlib.contextmanager
def _stderr_fd_to_devnull() -> Iterator[None]:
    """
    Point file descriptor 2 at the null device for the block.

    Descriptor 2 is the C libraries' stderr, below ``sys.stderr``.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (
        OSError,
        ValueError,
        AttributeError,
    ):  # no descriptor 2 (embedded interpreter): nothing to hide
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _video_frames(path: Path, on_bad: Callable[[str, str], None]) -> Iterator[Frame]:
    cap = _open_video(path)
    if not cap.isOpened():
        raise PredictError(
            '{}: cannot open the video (unsupported codec or not a video)'.format(path)
        )
    try:
        k = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            k += 1
            if frame is None or frame.size == 0:
                on_bad('frame_{:06d}'.format(k), 'empty frame')
                continue
            yield Frame('frame_{:06d}'.format(k), frame, {'frame': k})
        if k == 0:
            raise PredictError('{}: the video has no frames OpenCV can decode'.format(path))
    finally:
        cap.release()


def _bag_frames(
    path: Path, topic: Optional[str], on_bad: Callable[[str, str], None], info: Dict[str, Any]
) -> Iterator[Frame]:
    from .perception.image_conversion import ImageConversionError, SixteenBitScale
    from .replay.reader import (
        BagReplayError,
        decode_image,
        find_connection,
        IMAGE_TYPES,
        open_bag,
        stamp_ns,
    )
    from .ros.rosbags_types import rosbags_types

    store, _ = rosbags_types()
    try:
        reader = open_bag(path, store)
    except BagReplayError as exc:
        raise PredictError(str(exc)) from None
    try:
        if topic is None:
            topics = sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})
            if len(topics) != 1:
                raise PredictError(
                    '{}: {} image topics; name one with --image-topic: {}'.format(
                        path, len(topics), ', '.join(topics) or '(none)'
                    )
                )
            topic = topics[0]
        try:
            conns = find_connection(reader, topic, IMAGE_TYPES, what='image topic')
        except BagReplayError as exc:
            raise PredictError(str(exc).replace('\n', ' ')) from None
        info['image_topic'] = topic
        count = sum(int(c.msgcount) for c in conns)
        duration_s = float(reader.duration) / 1e9
        info['fps'] = (count - 1) / duration_s if count > 1 and duration_s > 0 else 10.0
        k = 0
        scale = (
            SixteenBitScale()
        )  # one 16-bit -> 8-bit scale for the camera, fixed by its first frame
        for conn, _log_ns, raw in reader.messages(connections=conns):
            k += 1
            name = 'frame_{:06d}'.format(k)
            try:
                msg = reader.deserialize(raw, conn.msgtype)
                image = decode_image(msg, conn.msgtype, scale)
            except ImageConversionError as exc:
                on_bad(name, str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a corrupt message is one bad frame
                on_bad(name, 'cannot deserialize {}: {}'.format(conn.msgtype, exc))
                continue
            stamp = stamp_ns(msg.header)
            yield Frame(str(stamp), image, {'stamp_ns': stamp, 'frame': k})
    finally:
        reader.close()


def prediction_entries(result: Any, image_id: int, labels: Sequence[str]) -> List[Dict[str, Any]]:
    """
    COCO-results entries of one frame's ``FrameResult`` (see the module docstring).

    Ids are label + 1.
    """
    out: List[Dict[str, Any]] = []
    seg = getattr(result, 'segmentation', None)
    if seg is not None:
        from faster_coco_eval.core import mask as mask_utils

        lab = np.asarray(seg)
        for cid in (int(c) for c in np.unique(lab)):
            rle = mask_utils.encode(np.asfortranarray((lab == cid).astype(np.uint8)[:, :, None]))[
                0
            ]
            counts = (
                rle['counts'].decode('ascii')
                if isinstance(rle['counts'], bytes)
                else rle['counts']
            )
            out.append(
                {
                    'image_id': image_id,
                    'category_id': cid + 1,
                    'segmentation': {'size': [int(v) for v in rle['size']], 'counts': counts},
                    'area': int((lab == cid).sum()),
                    'score': 1.0,
                }
            )
        return out
    for cls in getattr(result, 'classes', []) or []:
        out.append(
            {'image_id': image_id, 'category_id': int(cls.class_id) + 1, 'score': float(cls.score)}
        )
    for det in result.detections:
        x1, y1, x2, y2 = (float(v) for v in det.box)
        out.append(
            {
                'image_id': image_id,
                'category_id': int(det.class_id) + 1,
                'bbox': [x1, y1, x2 - x1, y2 - y1],
                'score': float(det.score),
            }
        )
    return out


def _render(frame: Frame, result: Any, labels: Sequence[str]) -> np.ndarray:
    from .perception.overlay import render_frame

    status = [
        '{} {:.2f}'.format(c.label, float(c.score))
        for c in (getattr(result, 'classes', []) or [])[:3]
    ]
    return render_frame(
        frame.image,
        result.detections,
        labels,
        segmentation=getattr(result, 'segmentation', None),
        status=status,
    )


class _Video:
    """An MP4 written under a temporary name and renamed when closed cleanly."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.tmp = path.with_name('.{}.partial-{}.mp4'.format(path.name, os.getpid()))
        self.fps = fps
        self.writer: Any = None
        self.size = None
        self.frames = 0

    def write(self, img: np.ndarray) -> None:
        import cv2

        if self.writer is None:
            self.size = (int(img.shape[1]), int(img.shape[0]))
            self.writer = cv2.VideoWriter(
                str(self.tmp), cv2.VideoWriter_fourcc(*'mp4v'), float(self.fps), self.size, True
            )
            if not self.writer.isOpened():
                raise PredictError('{}: OpenCV cannot write an mp4v video here'.format(self.path))
        if (img.shape[1], img.shape[0]) != self.size:
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(np.ascontiguousarray(img))
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            os.replace(str(self.tmp), str(self.path))

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
        if self.tmp.exists():
            self.tmp.unlink()


def _png_name(name: str, used: set) -> str:
    stem = Path(name).stem or 'image'
    out, k = stem + '.png', 1
    while out in used:
        k += 1
        out = '{}_{}.png'.format(stem, k)
    used.add(out)
    return out


def predict(
    source: Union[str, Path],
    bundle: Union[str, Path, None],
    out_dir: Union[str, Path],
    image_topic: Optional[str] = None,
    backend: str = 'auto',
    score_threshold: Optional[float] = None,
    max_frames: Optional[int] = None,
    overwrite: bool = False,
    pipeline: Any = None,
    log: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """
    Run a bundle on ``source`` and write annotated pictures and predictions to ``out_dir``.

    Args
    ----
        source: image file, folder of images, video file or rosbag2 directory.
        bundle: bundle directory (ignored when ``pipeline`` is given).
        out_dir: output folder (created).
        image_topic: the bag's image topic (optional when it has exactly one).
        backend: runtime backend (``auto``, ``onnxruntime``, ``tensorrt``).
        score_threshold: override of the bundle's detection threshold.
        max_frames: stop after this many frames.
        overwrite: replace the outputs of an earlier run in ``out_dir`` (else refuse).
        pipeline: a ready pipeline (``__call__(bgr) -> FrameResult``, ``labels``, ``bundle``), e.g.
            for tests.
        log: called with one line per problem frame (warnings).

    Returns
    -------
        A summary: ``kind``, ``frames``, ``frames_failed``, ``failures``, ``predictions``,
        ``outputs`` (paths written), ``task``, ``bundle``.

    Raises
    ------
        PredictError: bad source, bundle or output folder (one line).

    """
    from .runtime.bundle import atomic_write_bytes

    kind = source_kind(source)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PredictError('--out {}: exists and is not a folder'.format(out))
    if not overwrite and out.is_dir() and any((out / n).exists() for n in OUTPUT_FILES):
        raise PredictError(
            '{} holds the outputs of an earlier run; '
            'choose another --out or pass --overwrite'.format(out)
        )
    pipe = pipeline
    if pipe is None:
        from .runtime import Pipeline
        from .runtime.errors import BundleError, EngineError

        if bundle is None:
            raise PredictError('--bundle: no bundle given')
        try:
            pipe = Pipeline(bundle, backend=backend, score_threshold=score_threshold)
        except (BundleError, EngineError, OSError, ValueError) as exc:
            raise PredictError('bundle {} does not load: {}'.format(bundle, exc)) from None
    labels = list(pipe.labels)
    task = getattr(getattr(pipe, 'bundle', None), 'task', 'detect')
    failures: List[Dict[str, str]] = []

    def on_bad(name: str, error: str) -> None:
        failures.append({'frame': name, 'error': error})
        if log is not None:
            log('predict: warning: {} skipped: {}'.format(name, error))

    info: Dict[str, Any] = {}
    if kind == 'image':
        frames: Iterator[Frame] = iter([Frame(Path(source).name, _read(Path(source)), {})])
    elif kind == 'folder':
        frames = _folder_frames(Path(source), on_bad)
    elif kind == 'video':
        import cv2

        cap = _open_video(Path(source))
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
        cap.release()
        info['fps'] = fps if fps and fps > 0 else 10.0
        frames = _video_frames(Path(source), on_bad)
    else:
        frames = _bag_frames(Path(source), image_topic, on_bad, info)
    out.mkdir(parents=True, exist_ok=True)
    video = _Video(out / VIDEO_NAME, 10.0) if kind in ('video', 'bag') else None
    images: List[Dict[str, Any]] = []
    results: List[Dict[str, Any]] = []
    written: List[str] = []
    used: set = set()
    from .runtime.errors import FrameError

    try:
        for frame in frames:
            if max_frames is not None and len(images) >= max_frames:
                break
            try:
                res = pipe(frame.image)
            except FrameError as exc:
                on_bad(frame.name, 'frame error: {}'.format(exc))
                continue
            img_id = len(images) + 1
            h, w = frame.image.shape[:2]
            entry = {'id': img_id, 'file_name': frame.name, 'width': int(w), 'height': int(h)}
            entry.update(frame.meta)
            images.append(entry)
            results.extend(prediction_entries(res, img_id, labels))
            picture = _render(frame, res, labels)
            if video is not None:
                if video.writer is None:
                    video.fps = float(info.get('fps') or 10.0)
                video.write(picture)
            else:
                import cv2

                ok, png = cv2.imencode('.png', picture)
                if not ok:
                    raise PredictError('cannot encode {} as PNG'.format(frame.name))
                name = _png_name(frame.name, used)
                atomic_write_bytes(out / name, png.tobytes())
                written.append(name)
        if not images:
            raise PredictError(
                '{}: no frame could be read ({} failed: {})'.format(
                    source, len(failures), failures[0]['error'] if failures else 'empty'
                )
            )
        if video is not None:
            video.close()
            written.append(VIDEO_NAME)
    except BaseException:
        if video is not None:
            video.abort()
        raise
    finally:
        close = getattr(frames, 'close', None)
        if close is not None:
            close()
        if pipeline is None:
            pipe.close()
    bundle_obj = getattr(pipe, 'bundle', None)
    index = {
        'source': str(source),
        'kind': kind,
        'task': task,
        'bundle': {
            'name': str(getattr(bundle_obj, 'name', '') or ''),
            'path': str(bundle) if bundle else None,
        },
        'images': images,
        'categories': [{'id': i + 1, 'name': n} for i, n in enumerate(labels)],
        'frames_failed': len(failures),
        'failures': failures[:100],
    }
    if 'image_topic' in info:
        index['image_topic'] = info['image_topic']
    if video is not None:
        index['video'] = {'file': VIDEO_NAME, 'fps': video.fps, 'frames': video.frames}
    atomic_write_bytes(
        out / 'predictions_images.json', (json.dumps(index, indent=1) + '\n').encode('utf-8')
    )
    atomic_write_bytes(out / 'predictions.json', json.dumps(results).encode('utf-8'))
    return {
        'kind': kind,
        'task': task,
        'frames': len(images),
        'frames_failed': len(failures),
        'failures': failures,
        'predictions': len(results),
        'outputs': written + ['predictions.json', 'predictions_images.json'],
        'out': str(out),
        'bundle': index['bundle']['name'],
    }


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of tools/predict.py."""
    p = argparse.ArgumentParser(
        prog='predict.py',
        description='Run a bundle on an image, a folder of images, a '
        'video or a rosbag2 image topic: annotated PNGs (or an MP4) and predictions.json '
        '(COCO results).',
    )
    p.add_argument('source', help='image file, folder of images, video file or rosbag2 directory')
    p.add_argument('--bundle', required=True, help='bundle directory (model.onnx + bundle.yaml)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument(
        '--image-topic', default=None, help="a bag's image topic (needed when it has several)"
    )
    p.add_argument('--backend', default='auto', choices=('auto', 'onnxruntime', 'tensorrt'))
    p.add_argument(
        '--score-threshold',
        type=float,
        default=None,
        help="override the bundle's detection threshold",
    )
    p.add_argument('--max-frames', type=int, default=None, help='stop after this many frames')
    p.add_argument(
        '--overwrite', action='store_true', help='replace the outputs of an earlier run in --out'
    )
    p.add_argument('-q', '--quiet', action='store_true', help='print only errors')
    return p


@workstation_tool('predict')
def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    Command line of tools/predict.py.

    Returns the exit status (0 done, 2 bad input, 130 interrupted).
    """
    args = build_parser().parse_args(argv)
    say = (lambda _s: None) if args.quiet else print
    status, summary = run_guarded(
        'predict',
        lambda: predict(
            args.source,
            args.bundle,
            args.out,
            image_topic=args.image_topic,
            backend=args.backend,
            score_threshold=args.score_threshold,
            max_frames=args.max_frames,
            overwrite=args.overwrite,
            log=lambda s: print(s, file=sys.stderr),
        ),
        (PredictError,),
    )
    if status:
        return status
    say(
        '{} {} frames ({} unreadable), {} predictions ({} bundle {}); wrote {} in {}'.format(
            summary['kind'],
            summary['frames'],
            summary['frames_failed'],
            summary['predictions'],
            summary['task'],
            summary['bundle'],
            ', '.join(summary['outputs'][:3]) + (' ...' if len(summary['outputs']) > 3 else ''),
            summary['out'],
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())

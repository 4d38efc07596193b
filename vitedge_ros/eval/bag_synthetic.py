"""Write a synthetic drone-flight rosbag2 with ground truth (``tools/make_bag.py``).

Topics (header ``frame_id`` ``camera``, header stamp = bag timestamp, ``fps`` frames per second):

* ``/camera/image_raw`` — sensor_msgs/msg/Image, ``bgr8`` (unless ``raw=False``)
* ``/camera/image_raw/compressed`` — sensor_msgs/msg/CompressedImage, ``jpeg`` (with ``compressed=True``)
* ``/camera/camera_info`` — sensor_msgs/msg/CameraInfo (pinhole, ``hfov_deg`` horizontal field of view)
* ``/ground_truth/detections`` — vision_msgs/msg/Detection2DArray, hypothesis ``class_id`` = class name,
  score 1.0, ``bbox`` centre/size in pixels

and, beside the bag, ``<bag>_gt.json``: COCO ground truth whose ``images`` carry ``stamp_ns`` (the header
stamp in ns, also the ``file_name`` stem), the format ``tools/eval_bag.py --gt`` reads. With ``masks=True``
also ``<bag>_masks/<stamp_ns>.png``: the segmentation label maps (``SEG_CLASSES`` ids), for segmentation
bundles' ``--gt``.
Frames come from ``vitedge_ros.data.synthetic.camera_sequence``; the bag is written under a temporary name
and renamed when complete.
"""
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Union

from .bag_io import write_file

__all__ = ['CAMERA_INFO_TOPIC', 'COMPRESSED_TOPIC', 'GT_TOPIC', 'IMAGE_TOPIC', 'START_NS', 'gt_json_path',
           'write_synthetic_bag']

IMAGE_TOPIC = '/camera/image_raw'
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
CAMERA_INFO_TOPIC = '/camera/camera_info'
GT_TOPIC = '/ground_truth/detections'
START_NS = 1700000000 * 1000000000


def gt_json_path(bag: Union[str, Path]) -> Path:
    """Path of the COCO ground truth written beside ``bag`` (``<bag>_gt.json``)."""
    bag = Path(bag)
    return bag.with_name(bag.name + '_gt.json')


def _camera_info(types: Any, header: Any, width: int, height: int, hfov_deg: float) -> Any:
    import numpy as np

    f = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    k = np.array([f, 0, cx, 0, f, cy, 0, 0, 1], dtype=np.float64)
    p = np.array([f, 0, cx, 0, 0, f, cy, 0, 0, 0, 1, 0], dtype=np.float64)
    roi = types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types.CameraInfo(header=header, height=int(height), width=int(width), distortion_model='plumb_bob',
                            d=np.zeros(5, dtype=np.float64), k=k, r=np.eye(3, dtype=np.float64).reshape(-1), p=p,
                            binning_x=0, binning_y=0, roi=roi)


def write_synthetic_bag(out: Union[str, Path], frames: int = 60, *, seed: int = 0, width: int = 640,
                        height: int = 480, fps: float = 10.0, storage: str = 'mcap', raw: bool = True,
                        compressed: bool = False, compression: str = 'none', jpeg_quality: int = 90,
                        hfov_deg: float = 70.0, persons_per_frame: float = 5.0,
                        gt_json: Union[str, Path, None] = None, overwrite: bool = False,
                        masks: bool = False) -> Dict[str, Any]:
    """Write a synthetic flight bag to ``out`` and its COCO ground truth beside it.

    Args:
        out: bag directory to create.
        frames: number of camera frames.
        seed: scene seed (same seed, same flight).
        width: frame width in pixels.
        height: frame height in pixels.
        fps: camera rate (sets the stamps).
        storage: ``mcap`` or ``sqlite3``.
        raw: write ``/camera/image_raw`` (bgr8).
        compressed: write ``/camera/image_raw/compressed`` (jpeg).
        compression: rosbag2 compression: ``none``, ``file`` or ``message`` (zstd), or ``storage`` (mcap
            chunk compression).
        jpeg_quality: JPEG quality of the compressed topic.
        hfov_deg: horizontal field of view written to camera_info.
        persons_per_frame: person density of the generated world.
        gt_json: COCO ground-truth path (default ``<out>_gt.json``).
        overwrite: replace an existing bag / JSON.
        masks: also write the per-frame label maps to ``<out>_masks/<stamp_ns>.png``.

    Returns:
        ``{'bag', 'gt_json', 'frames', 'topics': {topic: count}, 'annotations': {class: count}}`` (and
        ``'masks_dir'`` with ``masks``).

    """
    import cv2
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    from ..data.synthetic import DETECTION_CLASSES, camera_sequence
    from ..ros.messages import build_detection2d_array, build_header, build_image
    from ..ros.rosbags_types import rosbags_types

    if not raw and not compressed:
        raise ValueError('write_synthetic_bag: nothing to write (raw=False and compressed=False)')
    if storage not in ('mcap', 'sqlite3'):
        raise ValueError('storage must be mcap or sqlite3, got {!r}'.format(storage))
    modes = {'none': CompressionMode.NONE, 'file': CompressionMode.FILE, 'message': CompressionMode.MESSAGE,
             'storage': CompressionMode.STORAGE}
    if compression not in modes:
        raise ValueError('compression must be one of {}, got {!r}'.format(', '.join(modes), compression))
    if compression == 'storage' and storage != 'mcap':
        raise ValueError('compression "storage" (chunk compression) needs storage mcap')
    if fps <= 0 or frames < 1:
        raise ValueError('need frames >= 1 and fps > 0')
    out = Path(out)
    gt_path = Path(gt_json) if gt_json is not None else gt_json_path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError('{} exists already (pass overwrite=True / --overwrite)'.format(out))
        shutil.rmtree(str(out))
    tmp_root = out.with_name('.{}.partial-{}'.format(out.name, os.getpid()))
    shutil.rmtree(str(tmp_root), ignore_errors=True)
    tmp_root.mkdir(parents=True)
    tmp = tmp_root / out.name   # storage file gets the bag's final name

    store, types = rosbags_types()
    writer = Writer(tmp, version=9, storage_plugin=StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3)
    writer.set_compression(modes[compression], CompressionFormat.ZSTD)
    writer.set_custom_data('vitedge_ros.tool', 'make_bag')
    writer.set_custom_data('vitedge_ros.seed', str(seed))
    period_ns = int(round(1e9 / fps))
    masks_dir = out.with_name(out.name + '_masks') if masks else None
    if masks_dir is not None:
        shutil.rmtree(str(masks_dir), ignore_errors=True)
        masks_dir.mkdir(parents=True)
    images, anns = [], []
    counts = {name: 0 for name in DETECTION_CLASSES}
    try:
        writer.open()
        conns = {}
        if raw:
            conns[IMAGE_TOPIC] = writer.add_connection(IMAGE_TOPIC, 'sensor_msgs/msg/Image', typestore=store)
        if compressed:
            conns[COMPRESSED_TOPIC] = writer.add_connection(COMPRESSED_TOPIC, 'sensor_msgs/msg/CompressedImage',
                                                            typestore=store)
        conns[CAMERA_INFO_TOPIC] = writer.add_connection(CAMERA_INFO_TOPIC, 'sensor_msgs/msg/CameraInfo',
                                                         typestore=store)
        conns[GT_TOPIC] = writer.add_connection(GT_TOPIC, 'vision_msgs/msg/Detection2DArray', typestore=store)

        def put(topic: str, msg: Any, ts: int) -> None:
            writer.write(conns[topic], ts, store.serialize_cdr(msg, conns[topic].msgtype))

        for i, scene in enumerate(camera_sequence(frames, seed=seed, width=width, height=height,
                                                  persons_per_frame=persons_per_frame)):
            ts = START_NS + i * period_ns
            header = build_header(types, ts // 1000000000, ts % 1000000000, 'camera')
            if raw:
                put(IMAGE_TOPIC, build_image(scene.image, header, types, 'bgr8'), ts)
            if compressed:
                ok, buf = cv2.imencode('.jpg', scene.image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
                if not ok:
                    raise RuntimeError('JPEG encoding failed')
                put(COMPRESSED_TOPIC, types.CompressedImage(header=header, format='jpeg', data=buf.reshape(-1)), ts)
            put(CAMERA_INFO_TOPIC, _camera_info(types, header, width, height, hfov_deg), ts)
            if masks_dir is not None:
                ok, png = cv2.imencode('.png', scene.mask)
                if not ok:
                    raise RuntimeError('PNG encoding of a mask failed')
                write_file(masks_dir / '{}.png'.format(ts), png.tobytes())
            gt_dets = []
            img_id = i + 1
            images.append({'id': img_id, 'file_name': '{}.png'.format(ts), 'stamp_ns': ts, 'width': int(width),
                           'height': int(height)})
            for box, lab in zip(scene.boxes.tolist(), scene.labels.tolist()):
                x1, y1, x2, y2 = (float(v) for v in box)
                name = DETECTION_CLASSES[int(lab)]
                counts[name] += 1
                bw, bh = x2 - x1, y2 - y1
                anns.append({'id': len(anns) + 1, 'image_id': img_id, 'category_id': int(lab) + 1,
                             'bbox': [x1, y1, bw, bh], 'area': bw * bh, 'iscrowd': 0})
                gt_dets.append(_GtBox(name, (x1, y1, x2, y2)))
            put(GT_TOPIC, build_detection2d_array(gt_dets, header, types), ts)
        writer.close()
        os.replace(str(tmp), str(out))
    except BaseException:
        try:
            writer.abort()
        finally:
            shutil.rmtree(str(tmp_root), ignore_errors=True)
        raise
    shutil.rmtree(str(tmp_root), ignore_errors=True)
    coco = {'info': {'description': 'vitedge_ros synthetic flight {} (seed {}); images keyed by header stamp '
                                    'stamp_ns'.format(out.name, seed)},
            'images': images, 'annotations': anns,
            'categories': [{'id': i + 1, 'name': n, 'supercategory': 'object'}
                           for i, n in enumerate(DETECTION_CLASSES)]}
    write_file(gt_path, json.dumps(coco).encode('utf-8'))
    topics = {t: frames for t in conns}
    info = {'bag': str(out), 'gt_json': str(gt_path), 'frames': frames, 'topics': topics, 'annotations': counts}
    if masks_dir is not None:
        info['masks_dir'] = str(masks_dir)
    return info


class _GtBox:
    """A ground-truth box in the shape ``build_detection2d_array`` expects (score 1.0)."""

    __slots__ = ('label', 'score', 'box', 'class_id')

    def __init__(self, label: str, box: tuple) -> None:
        self.label = label
        self.score = 1.0
        self.box = box
        self.class_id = -1

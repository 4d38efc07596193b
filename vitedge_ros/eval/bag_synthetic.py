"""Write a synthetic drone-flight rosbag2 with ground truth (``tools/make_bag.py``).

The flight is ``vitedge_ros.data.flights.GroundFlight``: a pinhole camera (``hfov_deg``) at ``altitude`` metres
over flat generated ground, looking down with ``tilt_deg`` from nadir, objects at their real sizes. The default,
15 m, 640x480, 60 deg, nadir, gives about 0.027 m per pixel (the sizes the shipped detector is trained on).

Topics (header stamp = bag timestamp, ``fps`` frames per second; image frame ``camera_optical_frame``):

* ``/camera/image_raw`` — sensor_msgs/msg/Image, ``bgr8`` (unless ``raw=False``)
* ``/camera/image_raw/compressed`` — sensor_msgs/msg/CompressedImage, ``jpeg`` (with ``compressed=True``)
* ``/camera/camera_info`` — sensor_msgs/msg/CameraInfo (pinhole, no distortion, the flight's intrinsics)
* ``/tf`` — tf2_msgs/msg/TFMessage, ``map -> base_link`` at every frame stamp (ENU map, FLU body; REP-103/105)
* ``/tf_static`` — tf2_msgs/msg/TFMessage, once: ``base_link -> camera_link`` (gimbal offset and pitch) and
  ``camera_link -> camera_optical_frame`` (the REP-103 optical rotation)
* ``/ground_truth/detections`` — vision_msgs/msg/Detection2DArray, hypothesis ``class_id`` = class name,
  score 1.0, ``bbox`` centre/size in pixels
* ``/ground_truth/persons`` and ``/ground_truth/obstacles`` — geometry_msgs/msg/PoseArray in ``map``: ground
  positions (metres, z = 0) of the persons / obstacles annotated in the frame (header stamp = the frame's)
* ``/ground_truth/clear_path`` — vision_msgs/msg/Classification ``clear`` / ``blocked`` of the true boxes under
  the node's clear-path rule and defaults (the frame's header)

and, beside the bag, ``<bag>_gt.json``: COCO ground truth whose ``images`` carry ``stamp_ns`` (the header
stamp in ns, also the ``file_name`` stem), the format ``tools/eval_bag.py --gt`` reads. With ``masks=True``
also ``<bag>_masks/<stamp_ns>.png``: the segmentation label maps (``SEG_CLASSES`` ids), for segmentation
bundles' ``--gt``. The bag is written under a temporary name and renamed when complete.
"""
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .bag_io import write_file

__all__ = ['CAMERA_INFO_TOPIC', 'CLEAR_PATH_GT_TOPIC', 'COMPRESSED_TOPIC', 'GT_TOPIC', 'IMAGE_TOPIC',
           'NODE_PARAMS', 'OBSTACLES_GT_TOPIC', 'PERSONS_GT_TOPIC', 'START_NS', 'TF_STATIC_TOPIC', 'TF_TOPIC',
           'gt_json_path', 'write_synthetic_bag']

IMAGE_TOPIC = '/camera/image_raw'
COMPRESSED_TOPIC = '/camera/image_raw/compressed'
CAMERA_INFO_TOPIC = '/camera/camera_info'
GT_TOPIC = '/ground_truth/detections'
PERSONS_GT_TOPIC = '/ground_truth/persons'
OBSTACLES_GT_TOPIC = '/ground_truth/obstacles'
CLEAR_PATH_GT_TOPIC = '/ground_truth/clear_path'
TF_TOPIC = '/tf'
TF_STATIC_TOPIC = '/tf_static'
START_NS = 1700000000 * 1000000000
#: vitedge_node parameters that match this world (also config/synthetic_world.yaml, for tools/eval_bag.py --params):
#: its persons are figures painted flat on the ground, standing nowhere, so a person's ground position is the
#: centre of its box (``person_height_m: 0``), not the feet of an upright person.
NODE_PARAMS = {'person_height_m': 0.0}


def gt_json_path(bag: Union[str, Path]) -> Path:
    """Path of the COCO ground truth written beside ``bag`` (``<bag>_gt.json``)."""
    bag = Path(bag)
    return bag.with_name(bag.name + '_gt.json')


def _camera_info(types: Any, header: Any, width: int, height: int, K: Any) -> Any:
    import numpy as np

    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    p = np.concatenate([K, np.zeros((3, 1))], axis=1).reshape(-1)
    roi = types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types.CameraInfo(header=header, height=int(height), width=int(width), distortion_model='plumb_bob',
                            d=np.zeros(5, dtype=np.float64), k=K.reshape(-1).copy(),
                            r=np.eye(3, dtype=np.float64).reshape(-1), p=p, binning_x=0, binning_y=0, roi=roi)


def _static_qos() -> Any:
    """Return the QoS of ``/tf_static`` as tf2_ros's StaticTransformBroadcaster offers it.

    ``StaticBroadcasterQoS`` (geometry2, ``tf2_ros/qos.hpp``): keep last 1, reliable, transient local, so
    ``ros2 bag play`` serves the static transforms to late subscribers too.
    """
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    zero = QosTime(0, 0)
    return Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, zero, zero,
               QosLiveliness.AUTOMATIC, zero, False)


def _transform(types: Any, sec: int, nanosec: int, parent: str, child: str, translation: Any, rotation: Any) -> Any:
    from ..ros.messages import build_header

    t = types.Transform(translation=types.Vector3(x=float(translation[0]), y=float(translation[1]),
                                                  z=float(translation[2])),
                        rotation=types.Quaternion(x=float(rotation[0]), y=float(rotation[1]), z=float(rotation[2]),
                                                  w=float(rotation[3])))
    return types.TransformStamped(header=build_header(types, sec, nanosec, parent), child_frame_id=child, transform=t)


def write_synthetic_bag(out: Union[str, Path], frames: int = 60, *, seed: int = 0, width: int = 640,
                        height: int = 480, fps: float = 10.0, storage: str = 'mcap', raw: bool = True,
                        compressed: bool = False, compression: str = 'none', jpeg_quality: int = 90,
                        hfov_deg: float = 60.0, persons_per_frame: float = 5.0,
                        gt_json: Union[str, Path, None] = None, overwrite: bool = False,
                        masks: bool = False, altitude: float = 15.0, tilt_deg: float = 0.0, speed: float = 2.0,
                        heading_deg: Optional[float] = None) -> Dict[str, Any]:
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
        hfov_deg: horizontal field of view of the camera (degrees; written to camera_info).
        persons_per_frame: person density of the generated world.
        gt_json: COCO ground-truth path (default ``<out>_gt.json``).
        overwrite: replace an existing bag / JSON.
        masks: also write the per-frame label maps to ``<out>_masks/<stamp_ns>.png``.
        altitude: flight height above the ground (metres).
        tilt_deg: camera axis from nadir, towards the heading (degrees).
        speed: ground speed (m/s).
        heading_deg: track heading (counter-clockwise from east); None: from the seed.

    Returns:
        ``{'bag', 'gt_json', 'frames', 'topics': {topic: count}, 'annotations': {class: count}, 'gsd_m'}`` (and
        ``'masks_dir'`` with ``masks``); ``gsd_m`` is the median metres per pixel at the image centre.

    Raises:
        ValueError: bad arguments (the message names them), a view that reaches the horizon.
        FileExistsError: ``out`` exists and ``overwrite`` is False.

    """
    import cv2
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    from ..data.flights import MAP_FRAME, OPTICAL_FRAME, GroundFlight
    from ..data.synthetic import DETECTION_CLASSES, OBSTACLE, PERSON
    from ..ros.messages import build_detection2d_array, build_header, build_image, build_pose_array, build_verdict
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
    flight = GroundFlight(frames, seed=seed, width=width, height=height, hfov_deg=hfov_deg, altitude=altitude,
                          tilt_deg=tilt_deg, speed=speed, fps=fps, heading_deg=heading_deg,
                          persons_per_frame=persons_per_frame)
    out = Path(out)
    gt_path = Path(gt_json) if gt_json is not None else gt_json_path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError('{} exists already (give --overwrite to replace it)'.format(out))
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
    writer.set_custom_data('vitedge_ros.flight', 'altitude_m={} tilt_deg={} hfov_deg={} {}x{}'.format(
        altitude, tilt_deg, hfov_deg, width, height))
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
        conns[TF_TOPIC] = writer.add_connection(TF_TOPIC, 'tf2_msgs/msg/TFMessage', typestore=store)
        conns[TF_STATIC_TOPIC] = writer.add_connection(TF_STATIC_TOPIC, 'tf2_msgs/msg/TFMessage', typestore=store,
                                                       offered_qos_profiles=[_static_qos()])
        conns[GT_TOPIC] = writer.add_connection(GT_TOPIC, 'vision_msgs/msg/Detection2DArray', typestore=store)
        conns[PERSONS_GT_TOPIC] = writer.add_connection(PERSONS_GT_TOPIC, 'geometry_msgs/msg/PoseArray',
                                                        typestore=store)
        conns[OBSTACLES_GT_TOPIC] = writer.add_connection(OBSTACLES_GT_TOPIC, 'geometry_msgs/msg/PoseArray',
                                                          typestore=store)
        conns[CLEAR_PATH_GT_TOPIC] = writer.add_connection(CLEAR_PATH_GT_TOPIC, 'vision_msgs/msg/Classification',
                                                           typestore=store)

        def put(topic: str, msg: Any, ts: int) -> None:
            writer.write(conns[topic], ts, store.serialize_cdr(msg, conns[topic].msgtype))

        statics = [_transform(types, START_NS // 1000000000, START_NS % 1000000000, link.parent, link.child,
                              link.translation, link.rotation) for link in flight.static_links]
        put(TF_STATIC_TOPIC, types.TFMessage(transforms=statics), START_NS)
        gsds = []
        for i, scene in enumerate(flight.frames()):
            ts = START_NS + i * period_ns
            sec, nsec = ts // 1000000000, ts % 1000000000
            header = build_header(types, sec, nsec, OPTICAL_FRAME)
            body = flight.body_pose(scene.body)
            put(TF_TOPIC, types.TFMessage(transforms=[_transform(types, sec, nsec, MAP_FRAME, 'base_link',
                                                                 body.translation, body.rotation)]), ts)
            gsds.append(scene.gsd)
            if raw:
                put(IMAGE_TOPIC, build_image(scene.image, header, types, 'bgr8'), ts)
            if compressed:
                ok, buf = cv2.imencode('.jpg', scene.image, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
                if not ok:
                    raise RuntimeError('JPEG encoding failed')
                put(COMPRESSED_TOPIC, types.CompressedImage(header=header, format='jpeg', data=buf.reshape(-1)), ts)
            put(CAMERA_INFO_TOPIC, _camera_info(types, header, width, height, flight.K), ts)
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
            map_header = build_header(types, sec, nsec, MAP_FRAME)
            for topic, cls in ((PERSONS_GT_TOPIC, PERSON), (OBSTACLES_GT_TOPIC, OBSTACLE)):
                xy = scene.ground_xy[scene.labels == cls]
                put(topic, build_pose_array([(float(x), float(y), 0.0) for x, y in xy], map_header, types), ts)
            put(CLEAR_PATH_GT_TOPIC, build_verdict('clear' if scene.clear_path else 'blocked', header, types), ts)
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
    topics = {t: (1 if t == TF_STATIC_TOPIC else frames) for t in conns}
    info = {'bag': str(out), 'gt_json': str(gt_path), 'frames': frames, 'topics': topics, 'annotations': counts,
            'gsd_m': float(sorted(gsds)[len(gsds) // 2]) if gsds else None}
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

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
Write a synthetic drone-flight rosbag2 with ground truth (``tools/make_bag.py``).

The flight is ``vitedge_ros.data.flights.GroundFlight``: a pinhole camera (``hfov_deg``) at
``altitude`` metres over flat generated ground, looking down with ``tilt_deg`` from nadir, objects
at their real sizes. The default, 15 m, 640x480, 60 deg, nadir, gives about 0.027 m per pixel (the
sizes the shipped detector is trained on).

Topics (header stamp = bag timestamp, ``fps`` frames per second; image frame
``camera_optical_frame``):

* ``/camera/image_raw`` — sensor_msgs/msg/Image, ``bgr8`` (unless ``raw=False``)
* ``/camera/image_raw/compressed`` — sensor_msgs/msg/CompressedImage, ``jpeg`` (with
  ``compressed=True``)
* ``/camera/camera_info`` — sensor_msgs/msg/CameraInfo (pinhole, no distortion, the flight's
  intrinsics)
* ``/tf`` — tf2_msgs/msg/TFMessage, ``map -> base_link`` at every frame stamp (ENU map, FLU body;
  REP-103/105)
* ``/tf_static`` — tf2_msgs/msg/TFMessage, once: ``base_link -> camera_link`` (gimbal offset and
  pitch) and ``camera_link -> camera_optical_frame`` (the REP-103 optical rotation)
* ``/ground_truth/detections`` — vision_msgs/msg/Detection2DArray, hypothesis ``class_id`` = class
  name, score 1.0, ``bbox`` centre/size in pixels
* ``/ground_truth/persons`` and ``/ground_truth/obstacles`` — geometry_msgs/msg/PoseArray in
  ``map``: ground positions (metres, z = 0) of the persons / obstacles annotated in the frame
  (header stamp = the frame's)
* ``/ground_truth/clear_path`` — vision_msgs/msg/Classification ``clear`` / ``blocked`` of the true
  boxes under the node's clear-path rule and defaults (the frame's header)

and, beside the bag, ``<bag>_gt.json``: COCO ground truth whose ``images`` carry ``stamp_ns`` (the
header stamp in ns, also the ``file_name`` stem), the format ``tools/eval_bag.py --gt`` reads. With
``masks=True`` also ``<bag>_masks/<stamp_ns>.png``: the segmentation label maps (``SEG_CLASSES``
ids), for segmentation bundles' ``--gt``. The bag is written under a temporary name and renamed
when complete.
"""

import json
import os
from pathlib import Path
import shutil
from typing import Any, Dict, List, Optional, Union

from .writer import write_file

__all__ = [
    'CAMERA_INFO_TOPIC',
    'CLEAR_PATH_GT_TOPIC',
    'COMPRESSED_TOPIC',
    'GT_TOPIC',
    'IMAGE_TOPIC',
    'NODE_PARAMS',
    'OBSTACLES_GT_TOPIC',
    'PERSONS_GT_TOPIC',
    'START_NS',
    'TF_STATIC_TOPIC',
    'TF_TOPIC',
    'gt_json_path',
    'write_synthetic_bag',
]

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
#: vitedge_node parameters that match this world (also config/synthetic_world.yaml, for
#: tools/eval_bag.py --params):
#: its persons are figures painted flat on the ground, standing nowhere, so a person's ground
#: position is the
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
    return types.CameraInfo(
        header=header,
        height=int(height),
        width=int(width),
        distortion_model='plumb_bob',
        d=np.zeros(5, dtype=np.float64),
        k=K.reshape(-1).copy(),
        r=np.eye(3, dtype=np.float64).reshape(-1),
        p=p,
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def _static_qos() -> Any:
    """
    Return the QoS of ``/tf_static`` as tf2_ros's StaticTransformBroadcaster offers it.

    ``StaticBroadcasterQoS`` (geometry2, ``tf2_ros/qos.hpp``): keep last 1, reliable, transient
    local, so ``ros2 bag play`` serves the static transforms to late subscribers too.
    """
    from rosbags.interfaces import (
        Qos,
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    zero = QosTime(0, 0)
    return Qos(
        QosHistory.KEEP_LAST,
        1,
        QosReliability.RELIABLE,
        QosDurability.TRANSIENT_LOCAL,
        zero,
        zero,
        QosLiveliness.AUTOMATIC,
        zero,
        False,
    )


def _transform(
    types: Any, sec: int, nanosec: int, parent: str, child: str, translation: Any, rotation: Any
) -> Any:
    from ..ros.messages import build_header

    t = types.Transform(
        translation=types.Vector3(
            x=float(translation[0]), y=float(translation[1]), z=float(translation[2])
        ),
        rotation=types.Quaternion(
            x=float(rotation[0]), y=float(rotation[1]), z=float(rotation[2]), w=float(rotation[3])
        ),
    )
    return types.TransformStamped(
        header=build_header(types, sec, nanosec, parent), child_frame_id=child, transform=t
    )


_COMPRESSION_MODES = ('none', 'file', 'message', 'storage')


def _check_options(
    raw: bool, compressed: bool, storage: str, compression: str, fps: float, frames: int
) -> None:
    if not raw and not compressed:
        raise ValueError('write_synthetic_bag: nothing to write (raw=False and compressed=False)')
    if storage not in ('mcap', 'sqlite3'):
        raise ValueError('storage must be mcap or sqlite3, got {!r}'.format(storage))
    if compression not in _COMPRESSION_MODES:
        raise ValueError(
            'compression must be one of {}, got {!r}'.format(
                ', '.join(_COMPRESSION_MODES), compression
            )
        )
    if compression == 'storage' and storage != 'mcap':
        raise ValueError('compression "storage" (chunk compression) needs storage mcap')
    if fps <= 0 or frames < 1:
        raise ValueError('need frames >= 1 and fps > 0')


def _open_writer(tmp: Path, storage: str, compression: str, custom: Dict[str, str]) -> Any:
    """Return a rosbags ``Writer`` of the temporary bag (not opened yet)."""
    from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer

    modes = {
        'none': CompressionMode.NONE,
        'file': CompressionMode.FILE,
        'message': CompressionMode.MESSAGE,
        'storage': CompressionMode.STORAGE,
    }
    writer = Writer(
        tmp,
        version=9,
        storage_plugin=StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3,
    )
    writer.set_compression(modes[compression], CompressionFormat.ZSTD)
    for key, value in custom.items():
        writer.set_custom_data(key, value)
    return writer


def _connections(writer: Any, store: Any, raw: bool, compressed: bool) -> Dict[str, Any]:
    """Return the bag's topics (images, camera, TF, ground truth), on an open writer."""
    topics = []
    if raw:
        topics.append((IMAGE_TOPIC, 'sensor_msgs/msg/Image'))
    if compressed:
        topics.append((COMPRESSED_TOPIC, 'sensor_msgs/msg/CompressedImage'))
    topics += [
        (CAMERA_INFO_TOPIC, 'sensor_msgs/msg/CameraInfo'),
        (TF_TOPIC, 'tf2_msgs/msg/TFMessage'),
        (TF_STATIC_TOPIC, 'tf2_msgs/msg/TFMessage'),
        (GT_TOPIC, 'vision_msgs/msg/Detection2DArray'),
        (PERSONS_GT_TOPIC, 'geometry_msgs/msg/PoseArray'),
        (OBSTACLES_GT_TOPIC, 'geometry_msgs/msg/PoseArray'),
        (CLEAR_PATH_GT_TOPIC, 'vision_msgs/msg/Classification'),
    ]
    conns = {}
    for topic, msgtype in topics:
        qos = {'offered_qos_profiles': [_static_qos()]} if topic == TF_STATIC_TOPIC else {}
        conns[topic] = writer.add_connection(topic, msgtype, typestore=store, **qos)
    return conns


class _FlightWriter:
    """Writes one flight's messages into an open bag and collects its COCO ground truth."""

    def __init__(
        self,
        writer: Any,
        store: Any,
        types: Any,
        conns: Dict[str, Any],
        flight: Any,
        jpeg_quality: int,
        masks_dir: Optional[Path],
    ) -> None:
        from ..data.synthetic import DETECTION_CLASSES

        self.writer, self.store, self.types, self.conns = writer, store, types, conns
        self.flight = flight
        self.jpeg_quality = int(jpeg_quality)
        self.masks_dir = masks_dir
        self.images: List[Dict[str, Any]] = []
        self.anns: List[Dict[str, Any]] = []
        self.counts = dict.fromkeys(DETECTION_CLASSES, 0)
        self.gsds: List[float] = []

    def put(self, topic: str, msg: Any, ts: int) -> None:
        conn = self.conns[topic]
        self.writer.write(conn, ts, self.store.serialize_cdr(msg, conn.msgtype))

    def statics(self) -> None:
        """``/tf_static`` once, at the first stamp."""
        types = self.types
        links = [
            _transform(
                types,
                START_NS // 1000000000,
                START_NS % 1000000000,
                link.parent,
                link.child,
                link.translation,
                link.rotation,
            )
            for link in self.flight.static_links
        ]
        self.put(TF_STATIC_TOPIC, types.TFMessage(transforms=links), START_NS)

    def frame(self, index: int, scene: Any, ts: int) -> None:
        """
        Every message of one frame at stamp ``ts`` (ns).

        TF, images, CameraInfo, mask file, ground truth.
        """
        import cv2

        from ..data.flights import MAP_FRAME, OPTICAL_FRAME
        from ..ros.messages import build_header, build_image

        types = self.types
        sec, nsec = ts // 1000000000, ts % 1000000000
        header = build_header(types, sec, nsec, OPTICAL_FRAME)
        body = self.flight.body_pose(scene.body)
        self.put(
            TF_TOPIC,
            types.TFMessage(
                transforms=[
                    _transform(
                        types, sec, nsec, MAP_FRAME, 'base_link', body.translation, body.rotation
                    )
                ]
            ),
            ts,
        )
        self.gsds.append(scene.gsd)
        if IMAGE_TOPIC in self.conns:
            self.put(IMAGE_TOPIC, build_image(scene.image, header, types, 'bgr8'), ts)
        if COMPRESSED_TOPIC in self.conns:
            ok, buf = cv2.imencode(
                '.jpg', scene.image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
            )
            if not ok:
                raise RuntimeError('JPEG encoding failed')
            self.put(
                COMPRESSED_TOPIC,
                types.CompressedImage(header=header, format='jpeg', data=buf.reshape(-1)),
                ts,
            )
        height, width = scene.image.shape[:2]
        self.put(CAMERA_INFO_TOPIC, _camera_info(types, header, width, height, self.flight.K), ts)
        if self.masks_dir is not None:
            ok, png = cv2.imencode('.png', scene.mask)
            if not ok:
                raise RuntimeError('PNG encoding of a mask failed')
            write_file(self.masks_dir / '{}.png'.format(ts), png.tobytes())
        self._truth(index, scene, ts, header)

    def _truth(self, index: int, scene: Any, ts: int, header: Any) -> None:
        """
        Record the ground truth of one frame.

        That is the boxes (topic and COCO), the ground positions of persons and obstacles
        and the clear-path verdict.
        """
        from ..data.flights import MAP_FRAME
        from ..data.synthetic import DETECTION_CLASSES, OBSTACLE, PERSON
        from ..ros.messages import (
            build_detection2d_array,
            build_header,
            build_pose_array,
            build_verdict,
        )

        types = self.types
        height, width = scene.image.shape[:2]
        img_id = index + 1
        self.images.append(
            {
                'id': img_id,
                'file_name': '{}.png'.format(ts),
                'stamp_ns': ts,
                'width': int(width),
                'height': int(height),
            }
        )
        gt_dets = []
        for box, lab in zip(scene.boxes.tolist(), scene.labels.tolist()):
            x1, y1, x2, y2 = (float(v) for v in box)
            name = DETECTION_CLASSES[int(lab)]
            self.counts[name] += 1
            bw, bh = x2 - x1, y2 - y1
            self.anns.append(
                {
                    'id': len(self.anns) + 1,
                    'image_id': img_id,
                    'category_id': int(lab) + 1,
                    'bbox': [x1, y1, bw, bh],
                    'area': bw * bh,
                    'iscrowd': 0,
                }
            )
            gt_dets.append(_GtBox(name, (x1, y1, x2, y2)))
        self.put(GT_TOPIC, build_detection2d_array(gt_dets, header, types), ts)
        map_header = build_header(types, ts // 1000000000, ts % 1000000000, MAP_FRAME)
        for topic, cls in ((PERSONS_GT_TOPIC, PERSON), (OBSTACLES_GT_TOPIC, OBSTACLE)):
            xy = scene.ground_xy[scene.labels == cls]
            self.put(
                topic,
                build_pose_array([(float(x), float(y), 0.0) for x, y in xy], map_header, types),
                ts,
            )
        self.put(
            CLEAR_PATH_GT_TOPIC,
            build_verdict('clear' if scene.clear_path else 'blocked', header, types),
            ts,
        )

    def coco(self, name: str, seed: int) -> Dict[str, Any]:
        """
        Return the COCO instances JSON of the flight.

        Images keyed by header stamp ``stamp_ns``.
        """
        from ..data.synthetic import DETECTION_CLASSES

        return {
            'info': {
                'description': 'vitedge_ros synthetic flight {} (seed {}); images keyed by header '
                'stamp '
                'stamp_ns'.format(name, seed)
            },
            'images': self.images,
            'annotations': self.anns,
            'categories': [
                {'id': i + 1, 'name': n, 'supercategory': 'object'}
                for i, n in enumerate(DETECTION_CLASSES)
            ],
        }


def _fresh_dir(path: Path) -> None:
    shutil.rmtree(str(path), ignore_errors=True)
    path.mkdir(parents=True)


def write_synthetic_bag(
    out: Union[str, Path],
    frames: int = 60,
    *,
    seed: int = 0,
    width: int = 640,
    height: int = 480,
    fps: float = 10.0,
    storage: str = 'mcap',
    raw: bool = True,
    compressed: bool = False,
    compression: str = 'none',
    jpeg_quality: int = 90,
    hfov_deg: float = 60.0,
    persons_per_frame: float = 5.0,
    gt_json: Union[str, Path, None] = None,
    overwrite: bool = False,
    masks: bool = False,
    altitude: float = 15.0,
    tilt_deg: float = 0.0,
    speed: float = 2.0,
    heading_deg: Optional[float] = None,
) -> Dict[str, Any]:
    """
    Write a synthetic flight bag to ``out`` and its COCO ground truth beside it.

    Args
    ----
        out: bag directory to create.
        frames: number of camera frames.
        seed: scene seed (same seed, same flight).
        width: frame width in pixels.
        height: frame height in pixels.
        fps: camera rate (sets the stamps).
        storage: ``mcap`` or ``sqlite3``.
        raw: write ``/camera/image_raw`` (bgr8).
        compressed: write ``/camera/image_raw/compressed`` (jpeg).
        compression: rosbag2 compression: ``none``, ``file`` or ``message`` (zstd), or ``storage``
            (mcap chunk compression).
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

    Returns
    -------
        ``{'bag', 'gt_json', 'frames', 'topics': {topic: count}, 'annotations': {class: count},
        'gsd_m'}`` (and ``'masks_dir'`` with ``masks``); ``gsd_m`` is the median metres per pixel
        at the image centre.

    Raises
    ------
        ValueError: bad arguments (the message names them), a view that reaches the horizon.
        FileExistsError: ``out`` exists and ``overwrite`` is False.

    """
    from ..data.flights import GroundFlight
    from ..ros.rosbags_types import rosbags_types

    _check_options(raw, compressed, storage, compression, fps, frames)
    flight = GroundFlight(
        frames,
        seed=seed,
        width=width,
        height=height,
        hfov_deg=hfov_deg,
        altitude=altitude,
        tilt_deg=tilt_deg,
        speed=speed,
        fps=fps,
        heading_deg=heading_deg,
        persons_per_frame=persons_per_frame,
    )
    out = Path(out)
    gt_path = Path(gt_json) if gt_json is not None else gt_json_path(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError('{} exists already (give --overwrite to replace it)'.format(out))
        shutil.rmtree(str(out))
    tmp_root = out.with_name('.{}.partial-{}'.format(out.name, os.getpid()))
    _fresh_dir(tmp_root)
    tmp = tmp_root / out.name  # storage file gets the bag's final name
    store, types = rosbags_types()
    flight_note = 'altitude_m={} tilt_deg={} hfov_deg={} {}x{}'.format(
        altitude, tilt_deg, hfov_deg, width, height
    )
    writer = _open_writer(
        tmp,
        storage,
        compression,
        {
            'vitedge_ros.tool': 'make_bag',
            'vitedge_ros.seed': str(seed),
            'vitedge_ros.flight': flight_note,
        },
    )
    period_ns = int(round(1e9 / fps))
    masks_dir = out.with_name(out.name + '_masks') if masks else None
    if masks_dir is not None:
        _fresh_dir(masks_dir)
    try:
        writer.open()
        bag = _FlightWriter(
            writer,
            store,
            types,
            _connections(writer, store, raw, compressed),
            flight,
            jpeg_quality,
            masks_dir,
        )
        bag.statics()
        for i, scene in enumerate(flight.frames()):
            bag.frame(i, scene, START_NS + i * period_ns)
        writer.close()
        os.replace(str(tmp), str(out))
    except BaseException:
        try:
            writer.abort()
        finally:
            shutil.rmtree(str(tmp_root), ignore_errors=True)
        raise
    shutil.rmtree(str(tmp_root), ignore_errors=True)
    write_file(gt_path, json.dumps(bag.coco(out.name, seed)).encode('utf-8'))
    gsds = sorted(bag.gsds)
    info = {
        'bag': str(out),
        'gt_json': str(gt_path),
        'frames': frames,
        'topics': {t: (1 if t == TF_STATIC_TOPIC else frames) for t in bag.conns},
        'annotations': bag.counts,
        'gsd_m': float(gsds[len(gsds) // 2]) if gsds else None,
    }
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

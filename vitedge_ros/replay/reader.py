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
rosbag2 input of the bag replay, through the ``rosbags`` library (no ROS installation).

``open_bag(path, typestore)`` opens a rosbag2 directory (sqlite3 or mcap, compressed or not) with
``rosbags.highlevel.AnyReader`` and turns every failure into a ``BagReplayError`` naming the bag;
``find_connection`` picks a topic or lists the topics that exist; ``iter_messages`` reads them, a
storage failure mid-bag becoming a ``BagReplayError``. ``decode_image`` turns one deserialized
Image or CompressedImage into a BGR array (``ImageConversionError`` on a bad frame).
"""

from pathlib import Path
import re
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import BagReplayError
from ..perception.image_conversion import (
    compressed_msg_to_bgr,
    image_msg_to_bgr,
    ImageConversionError,
    SixteenBitScale,
)

__all__ = [
    'BagReplayError',
    'COMPRESSED_TYPE',
    'DETECTIONS_TYPE',
    'IMAGE_TYPE',
    'IMAGE_TYPES',
    'bag_storage',
    'decode_image',
    'find_connection',
    'iter_messages',
    'open_bag',
    'resolve_bag_path',
    'stamp_ns',
    'topic_listing',
]

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'


def resolve_bag_path(path: Union[str, Path]) -> Path:
    """
    Return the rosbag2 directory for ``path`` (a bag directory, or a storage file inside one).

    Raises
    ------
        BagReplayError: the path does not exist or is not a rosbag2 directory.

    """
    p = Path(path)
    if not p.exists():
        raise BagReplayError('bag not found: {}'.format(p))
    if p.is_file():
        if (p.parent / 'metadata.yaml').is_file():
            return p.parent
        raise BagReplayError(
            'cannot read bag {}: a rosbag2 bag is a directory with metadata.yaml '
            '(give the directory, not a single file)'.format(p)
        )
    if not (p / 'metadata.yaml').is_file():
        raise BagReplayError(
            'cannot read bag {}: no metadata.yaml in this directory (not a rosbag2 bag, '
            'or a recording that was not closed; `ros2 bag reindex` can repair one)'.format(p)
        )
    return p


def bag_storage(path: Path) -> str:
    """
    Return the storage identifier (``mcap``/``sqlite3``) named in a bag's metadata.yaml.

    Returns '' when unknown.
    """
    try:
        text = (Path(path) / 'metadata.yaml').read_text(encoding='utf-8', errors='replace')
    except OSError:
        return ''
    match = re.search(r'storage_identifier:\s*(\S+)', text)
    return match.group(1).strip('\'"') if match else ''


def open_bag(path: Union[str, Path], typestore: Any = None) -> Any:
    """
    Open a rosbag2 directory with AnyReader; the caller closes it (``reader.close()``).

    ``typestore`` is used for bags without embedded message definitions (ROS 2 Humble sqlite3
    bags).

    Raises
    ------
        BagReplayError: the bag is missing, not a rosbag2 bag, or unreadable (the message says
            why).

    """
    from rosbags.highlevel import AnyReader

    bag = resolve_bag_path(path)
    try:
        reader = AnyReader([bag], default_typestore=typestore)
        reader.open()
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable bag
        raise BagReplayError(
            'cannot read bag {}: {}: {}'.format(bag, type(exc).__name__, exc)
        ) from exc
    return reader


def topic_listing(reader: Any) -> List[str]:
    """``topic (type, N msgs)`` for each topic of an open reader, sorted by name."""
    out = []
    for conn in sorted(reader.connections, key=lambda c: c.topic):
        out.append('{} ({}, {} msgs)'.format(conn.topic, conn.msgtype, conn.msgcount))
    return out


def find_connection(
    reader: Any, topic: str, msgtypes: Optional[tuple] = None, what: str = 'topic'
) -> List[Any]:
    """
    Connect of ``topic`` in an open reader (all of them; a bag may hold several).

    Raises
    ------
        BagReplayError: the topic is absent (the message lists the topics that exist) or has a type
            other than ``msgtypes``.

    """
    conns = [c for c in reader.connections if c.topic == topic]
    if not conns:
        listing = topic_listing(reader)
        raise BagReplayError(
            '{} {!r} is not in bag {}; topics in the bag:\n  {}'.format(
                what,
                topic,
                reader.paths[0],
                '\n  '.join(listing) if listing else '(none: the bag is empty)',
            )
        )
    if msgtypes is not None:
        bad = sorted({c.msgtype for c in conns if c.msgtype not in msgtypes})
        if bad:
            raise BagReplayError(
                '{} {!r} in bag {} has type {}; expected {}'.format(
                    what, topic, reader.paths[0], ', '.join(bad), ' or '.join(msgtypes)
                )
            )
    return conns


def stamp_ns(header: Any) -> int:
    """Header stamp as integer nanoseconds (``sec * 1e9 + nanosec``)."""
    return int(header.stamp.sec) * 1000000000 + int(header.stamp.nanosec)


def decode_image(msg: Any, msgtype: str, scale: Optional[SixteenBitScale] = None) -> np.ndarray:
    """
    Convert a deserialized sensor_msgs Image or CompressedImage to BGR uint8 H x W x 3.

    ``scale`` is the camera's one 16-bit -> 8-bit scale (give the same object for every frame of a
    topic); None scales a 16-bit frame by its own bit depth.

    Raises
    ------
        ImageConversionError: the frame cannot be converted (the message names the encoding).

    """
    if msgtype == COMPRESSED_TYPE:
        return compressed_msg_to_bgr(msg, scale=scale)
    if msgtype == IMAGE_TYPE:
        return image_msg_to_bgr(msg, scale=scale)
    raise ImageConversionError(msgtype, 'unsupported_encoding', 'not an image message type')


def iter_messages(reader: Any, conns: Sequence[Any]) -> Iterator[Tuple[Any, int, bytes]]:
    """
    ``reader.messages(connections=conns)``.

    (connection, log time ns, raw CDR bytes) in log-time order.

    Raises
    ------
        BagReplayError: a storage failure met mid-bag (the message says after how many messages).

    """
    it = reader.messages(connections=conns)
    count = 0
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - any storage failure means a damaged bag
            raise BagReplayError(
                'cannot read bag {} after {} messages: {}: {}'.format(
                    reader.paths[0], count, type(exc).__name__, exc
                )
            ) from exc
        count += 1
        yield item

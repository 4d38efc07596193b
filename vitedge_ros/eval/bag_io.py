"""rosbag2 input and output for bag replay, through the ``rosbags`` library (no ROS installation).

Reading: ``open_bag(path, typestore)`` opens a rosbag2 directory (sqlite3 or mcap, compressed or not)
with ``rosbags.highlevel.AnyReader`` and turns every failure into a ``BagReplayError`` naming the bag;
``find_connection`` picks a topic or lists the topics that exist. ``decode_image`` turns one
deserialized Image or CompressedImage into a BGR array (``ImageConversionError`` on a bad frame).

Writing: ``OutputBag`` writes into a hidden temporary directory beside its final path and renames it to
the final name only after a clean close, so an interrupted run never leaves a bag that looks complete.
Message definitions (vision_msgs included) are embedded in the bag, so other tools read it without the
project's typestore.
"""
import os
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np

from ..perception.image_conversion import ImageConversionError, SixteenBitScale, compressed_msg_to_bgr, image_msg_to_bgr

__all__ = [
    'BagReplayError', 'COMPRESSED_TYPE', 'DETECTIONS_TYPE', 'IMAGE_TYPE', 'IMAGE_TYPES', 'OutputBag',
    'bag_storage', 'decode_image', 'find_connection', 'open_bag', 'resolve_bag_path', 'stamp_ns',
    'topic_listing', 'write_file',
]

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
DETECTIONS_TYPE = 'vision_msgs/msg/Detection2DArray'
STORAGES = ('mcap', 'sqlite3')


class BagReplayError(RuntimeError):
    """A replay that cannot start or go on (bad bag, missing topic, bundle that does not load)."""


def resolve_bag_path(path: Union[str, Path]) -> Path:
    """Return the rosbag2 directory for ``path`` (a bag directory, or a storage file inside one).

    Raises:
        BagReplayError: the path does not exist or is not a rosbag2 directory.

    """
    p = Path(path)
    if not p.exists():
        raise BagReplayError('bag not found: {}'.format(p))
    if p.is_file():
        if (p.parent / 'metadata.yaml').is_file():
            return p.parent
        raise BagReplayError('cannot read bag {}: a rosbag2 bag is a directory with metadata.yaml '
                             '(give the directory, not a single file)'.format(p))
    if not (p / 'metadata.yaml').is_file():
        raise BagReplayError('cannot read bag {}: no metadata.yaml in this directory (not a rosbag2 bag, '
                             'or a recording that was not closed; `ros2 bag reindex` can repair one)'.format(p))
    return p


def bag_storage(path: Path) -> str:
    """Storage identifier (``mcap``/``sqlite3``) named in a bag's metadata.yaml, '' when unknown."""
    try:
        text = (Path(path) / 'metadata.yaml').read_text(encoding='utf-8', errors='replace')
    except OSError:
        return ''
    match = re.search(r'storage_identifier:\s*(\S+)', text)
    return match.group(1).strip('\'"') if match else ''


def open_bag(path: Union[str, Path], typestore: Any = None) -> Any:
    """Open a rosbag2 directory with AnyReader; the caller closes it (``reader.close()``).

    ``typestore`` is used for bags without embedded message definitions (ROS 2 Humble sqlite3 bags).

    Raises:
        BagReplayError: the bag is missing, not a rosbag2 bag, or unreadable (the message says why).

    """
    from rosbags.highlevel import AnyReader

    bag = resolve_bag_path(path)
    try:
        reader = AnyReader([bag], default_typestore=typestore)
        reader.open()
    except Exception as exc:   # noqa: BLE001 - any reader failure means an unreadable bag
        raise BagReplayError('cannot read bag {}: {}: {}'.format(bag, type(exc).__name__, exc)) from exc
    return reader


def topic_listing(reader: Any) -> List[str]:
    """``topic (type, N msgs)`` for each topic of an open reader, sorted by name."""
    out = []
    for conn in sorted(reader.connections, key=lambda c: c.topic):
        out.append('{} ({}, {} msgs)'.format(conn.topic, conn.msgtype, conn.msgcount))
    return out


def find_connection(reader: Any, topic: str, msgtypes: Optional[tuple] = None, what: str = 'topic') -> List[Any]:
    """Connections of ``topic`` in an open reader (all of them; a bag may hold several).

    Raises:
        BagReplayError: the topic is absent (the message lists the topics that exist) or has a type other
            than ``msgtypes``.

    """
    conns = [c for c in reader.connections if c.topic == topic]
    if not conns:
        listing = topic_listing(reader)
        raise BagReplayError('{} {!r} is not in bag {}; topics in the bag:\n  {}'.format(
            what, topic, reader.paths[0], '\n  '.join(listing) if listing else '(none: the bag is empty)'))
    if msgtypes is not None:
        bad = sorted({c.msgtype for c in conns if c.msgtype not in msgtypes})
        if bad:
            raise BagReplayError('{} {!r} in bag {} has type {}; expected {}'.format(
                what, topic, reader.paths[0], ', '.join(bad), ' or '.join(msgtypes)))
    return conns


def stamp_ns(header: Any) -> int:
    """Header stamp as integer nanoseconds (``sec * 1e9 + nanosec``)."""
    return int(header.stamp.sec) * 1000000000 + int(header.stamp.nanosec)


def decode_image(msg: Any, msgtype: str, scale: Optional[SixteenBitScale] = None) -> np.ndarray:
    """Convert a deserialized sensor_msgs Image or CompressedImage to BGR uint8 H x W x 3.

    ``scale`` is the camera's one 16-bit -> 8-bit scale (give the same object for every frame of a topic);
    None scales a 16-bit frame by its own bit depth.

    Raises:
        ImageConversionError: the frame cannot be converted (the message names the encoding).

    """
    if msgtype == COMPRESSED_TYPE:
        return compressed_msg_to_bgr(msg, scale=scale)
    if msgtype == IMAGE_TYPE:
        return image_msg_to_bgr(msg, scale=scale)
    raise ImageConversionError(msgtype, 'unsupported_encoding', 'not an image message type')


def write_file(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` atomically (temporary file + rename), readable by others as a normal file."""
    from ..runtime.bundle import atomic_write_bytes

    atomic_write_bytes(path, data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(str(path), 0o666 & ~umask)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputBag:
    """A rosbag2 output written under a temporary name and renamed to ``path`` after a clean close.

    Args:
        path: final bag directory (must not exist unless ``overwrite``; replaced only at commit).
        typestore: rosbags typestore holding every type written (definitions are embedded from it).
        topics: mapping topic -> message type of the connections to create.
        storage: ``mcap`` or ``sqlite3``.
        custom_data: string key/values stored in metadata.yaml.
        overwrite: replace an existing bag at ``path`` when committing.

    Use as a context manager: a clean exit commits, an exception (KeyboardInterrupt included) aborts and
    removes the temporary directory.

    """

    PARTIAL_MARK = '.partial-'

    def __init__(self, path: Union[str, Path], typestore: Any, topics: Dict[str, str], storage: str = 'mcap',
                 custom_data: Optional[Dict[str, str]] = None, overwrite: bool = False) -> None:
        if storage not in STORAGES:
            raise BagReplayError('output storage must be one of {}, got {!r}'.format(', '.join(STORAGES), storage))
        self.path = Path(path)
        self.typestore = typestore
        self.topics = dict(topics)
        self.storage = storage
        self.custom_data = dict(custom_data or {})
        self.overwrite = overwrite
        # the bag is written as <parent>/.<name>.partial-<pid>/<name>, so its storage file has its final name
        self.tmp_root = self.path.parent / '.{}{}{}'.format(self.path.name, self.PARTIAL_MARK, os.getpid())
        self.tmp_path = self.tmp_root / self.path.name
        self.counts: Dict[str, int] = {t: 0 for t in self.topics}
        self._writer: Any = None
        self._conns: Dict[str, Any] = {}
        self.committed = False

    def _remove_stale_partials(self) -> None:
        prefix = '.{}{}'.format(self.path.name, self.PARTIAL_MARK)
        if not self.path.parent.is_dir():
            return
        for entry in self.path.parent.iterdir():
            if entry.name.startswith(prefix):
                tail = entry.name[len(prefix):]
                if tail.isdigit() and (int(tail) == os.getpid() or not _pid_alive(int(tail))):
                    shutil.rmtree(str(entry), ignore_errors=True)

    def open(self) -> 'OutputBag':
        """Create the temporary bag and its connections."""
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.path.exists() and not self.overwrite:
            raise BagReplayError('output bag {} exists already (choose another --out or pass --overwrite)'.format(
                self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_partials()
        self.tmp_root.mkdir()
        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        writer = Writer(self.tmp_path, version=9, storage_plugin=plugin)
        for key, value in self.custom_data.items():
            writer.set_custom_data(str(key), str(value))
        writer.open()
        self._writer = writer
        try:
            for topic, msgtype in self.topics.items():
                self._conns[topic] = writer.add_connection(topic, msgtype, typestore=self.typestore)
        except BaseException:
            self.abort()
            raise
        return self

    def write(self, topic: str, msg: Any, timestamp_ns: int) -> None:
        """Serialize ``msg`` (CDR) and write it on ``topic`` at ``timestamp_ns``."""
        conn = self._conns[topic]
        self._writer.write(conn, int(timestamp_ns), self.typestore.serialize_cdr(msg, conn.msgtype))
        self.counts[topic] += 1

    def commit(self) -> Path:
        """Close the writer and move the bag to its final name; return the final path."""
        writer, self._writer = self._writer, None
        try:
            writer.close()
            if self.path.exists():
                if self.path.is_dir():
                    shutil.rmtree(str(self.path))
                else:
                    self.path.unlink()
            os.replace(str(self.tmp_path), str(self.path))
        finally:
            shutil.rmtree(str(self.tmp_root), ignore_errors=True)
        self.committed = True
        return self.path

    def abort(self) -> None:
        """Drop the partial bag (safe to call more than once)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.abort()
            except Exception:   # noqa: BLE001 - removing the directory is what matters
                pass
        shutil.rmtree(str(self.tmp_root), ignore_errors=True)

    def __enter__(self) -> 'OutputBag':
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

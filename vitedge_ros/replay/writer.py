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
rosbag2 output of the bag replay: ``OutputBag`` and atomic files.

``OutputBag`` writes into a hidden temporary directory beside its final path and renames it to the
final name only after a clean close, so an interrupted run never leaves a bag that looks complete.
Message definitions (vision_msgs included) are embedded in the bag, so other tools read it without
the project's typestore.
"""

import os
from pathlib import Path
import shutil
from typing import Any, Dict, Optional, Union

from .errors import BagReplayError

__all__ = ['OutputBag', 'STORAGES', 'write_file']

STORAGES = ('mcap', 'sqlite3')


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
    """
    A rosbag2 output written under a temporary name and renamed to ``path`` after a clean close.

    Parameters
    ----------
        path: final bag directory (must not exist unless ``overwrite``; replaced only at commit).
        typestore: rosbags typestore holding every type written (definitions are embedded from it).
        topics: mapping topic -> message type of the connections to create.
        storage: ``mcap`` or ``sqlite3``.
        custom_data: string key/values stored in metadata.yaml.
        overwrite: replace an existing bag at ``path`` when committing.

    Use as a context manager: a clean exit commits, an exception (KeyboardInterrupt included)
    aborts and removes the temporary directory.

    """

    PARTIAL_MARK = '.partial-'

    def __init__(
        self,
        path: Union[str, Path],
        typestore: Any,
        topics: Dict[str, str],
        storage: str = 'mcap',
        custom_data: Optional[Dict[str, str]] = None,
        overwrite: bool = False,
    ) -> None:
        if storage not in STORAGES:
            raise BagReplayError(
                'output storage must be one of {}, got {!r}'.format(', '.join(STORAGES), storage)
            )
        self.path = Path(path)
        self.typestore = typestore
        self.topics = dict(topics)
        self.storage = storage
        self.custom_data = dict(custom_data or {})
        self.overwrite = overwrite
        # the bag is written as <parent>/.<name>.partial-<pid>/<name>, so its storage file has its
        # final name
        self.tmp_root = self.path.parent / '.{}{}{}'.format(
            self.path.name, self.PARTIAL_MARK, os.getpid()
        )
        self.tmp_path = self.tmp_root / self.path.name
        self.counts: Dict[str, int] = dict.fromkeys(self.topics, 0)
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

    def open(self) -> 'OutputBag':  # noqa: A003 - open/close, as rosbags' Writer
        """Create the temporary bag and its connections."""
        from rosbags.rosbag2 import StoragePlugin, Writer

        if self.path.exists() and not self.overwrite:
            raise BagReplayError(
                'output bag {} exists already (choose another --out or pass --overwrite)'.format(
                    self.path
                )
            )
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
                self._conns[topic] = writer.add_connection(
                    topic, msgtype, typestore=self.typestore
                )
        except BaseException:
            self.abort()
            raise
        return self

    def write(self, topic: str, msg: Any, timestamp_ns: int) -> None:
        """Serialize ``msg`` (CDR) and write it on ``topic`` at ``timestamp_ns``."""
        conn = self._conns[topic]
        self._writer.write(
            conn, int(timestamp_ns), self.typestore.serialize_cdr(msg, conn.msgtype)
        )
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
            except Exception:  # noqa: BLE001 - removing the directory is what matters
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

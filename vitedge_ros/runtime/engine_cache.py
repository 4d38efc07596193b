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
A writable place for a bundle's TensorRT engines when the bundle folder itself is read-only.

A bundle installed with the ROS package (``/opt/ros/humble/share/vitedge_ros/models/...`` from a
Debian package, or ``install/share/...`` that ``colcon build`` rewrites) must not receive engines:
the folder is read-only or gets replaced. :func:`engine_view` gives the node (and
``tools/build_engine.py``) a writable
*view* of the bundle instead::

    <cache_dir>/<bundle name>-<onnx sha256[:12]>/
        bundle.yaml -> <bundle>/bundle.yaml        (symbolic links: the bundle itself is not
        copied) model.onnx  -> <bundle>/model.onnx engines/                                   (a
        real, writable folder)
            <key>.engine -> <bundle>/engines/<key>.engine   (links to engines already built in the
            bundle)

The view is a bundle folder like any other, so the engine loader (``vitedge_ros.runtime.engines``)
looks up ``<view>/engines`` with its usual key checks and ``tools/build_engine.py <view>`` writes
there, atomically as always. The folder name carries the ONNX hash, so a re-exported model gets a
fresh view and never meets the engines of the old one. Python 3.6 compatible; no ROS.
"""

import os
from pathlib import Path
from typing import Union

from .engine_key import ENGINE_SUFFIX, onnx_sha256, sanitize, SHA_LEN
from .errors import BundleError

__all__ = ['default_engine_cache_dir', 'engine_view']

_LINKED = ('bundle.yaml', 'model.onnx')


def _link(target: Path, link: Path) -> None:
    """
    Make ``link`` a symbolic link to ``target``, atomically.

    A wrong or dangling link is replaced.
    """
    if link.is_symlink() and os.readlink(str(link)) == str(target):
        return
    tmp = link.with_name('.{}.{}.tmp'.format(link.name, os.getpid()))
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(str(target), str(tmp))
    os.replace(str(tmp), str(link))


def default_engine_cache_dir() -> Path:
    """
    Return ``$XDG_CACHE_HOME/vitedge_ros/engines``, else ``~/.cache/vitedge_ros/engines``.

    This follows the XDG base directories.
    """
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'vitedge_ros' / 'engines'


def engine_view(bundle_dir: Union[str, Path], cache_dir: Union[str, Path]) -> Path:
    """
    Return the writable view of ``bundle_dir`` under ``cache_dir``.

    Created or refreshed; see the module doc.

    Args
    ----
        bundle_dir: a bundle folder (``bundle.yaml`` and ``model.onnx``), possibly read-only.
        cache_dir: a writable folder (``~`` is expanded); created if missing.

    Returns
    -------
        ``<cache_dir>/<bundle folder name>-<onnx sha256[:12]>``, whose ``engines/`` is writable.

    Raises
    ------
        BundleError: ``model.onnx`` or ``bundle.yaml`` is missing.
        OSError: the cache folder cannot be created or written (the caller may fall back to the
            bundle).

    """
    src = Path(bundle_dir).expanduser().resolve()
    for name in _LINKED:
        if not (src / name).is_file():
            raise BundleError('{}: missing {}'.format(src, name))
    sha = onnx_sha256(src / 'model.onnx')[:SHA_LEN]
    view = Path(os.path.expanduser(str(cache_dir))) / '{}-{}'.format(sanitize(src.name), sha)
    engines = view / 'engines'
    engines.mkdir(parents=True, exist_ok=True)
    for name in _LINKED:
        _link(src / name, view / name)
    for old in list(engines.iterdir()):  # links to engines deleted from the bundle since
        if old.is_symlink() and not old.exists():
            old.unlink()
    built = src / 'engines'
    if built.is_dir():
        for eng in built.iterdir():
            if eng.name.endswith(ENGINE_SUFFIX) and not eng.name.startswith('.') and eng.is_file():
                dest = engines / eng.name
                if not dest.exists() or dest.is_symlink():
                    _link(eng, dest)
    return view

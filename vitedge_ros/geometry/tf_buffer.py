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
A small tf2-like transform buffer (pure numpy): frames in a tree, transforms interpolated in time.

Used by the bag replay to give the perception core the camera pose at each image stamp, as
``tf2_ros.Buffer`` does on the drone. The behaviour follows tf2's ``BufferCore::lookupTransform``
and ``TimeCache`` (ros2/geometry2, ``tf2/src/buffer_core.cpp`` and ``tf2/src/cache.cpp``, Humble):

* every child frame has one parent at a time; ``lookup(target, source, t)`` walks from both frames
  up to their common ancestor and composes the links, giving the pose of ``source`` in ``target``
  (``p_target = R @ p_source + t``, the transform ``lookup_transform(target, source, t)`` returns);
* a dynamic link (``/tf``) is interpolated between the two samples around ``t``: translation
  linearly, rotation by spherical linear interpolation (``TimeCache::interpolate``: ``lerp`` and
  ``slerp``); a sample at exactly ``t`` is used as is; ``t`` before the oldest or after the newest
  sample is an extrapolation error (tf2 does not extrapolate), as is a link with a single sample at
  another time;
* a static link (``/tf_static``) holds at every time (``StaticCache``);
* time 0 means "the latest time all links of the chain have in common" (tf2's
  ``TimeCacheInterface`` rule).

Stamps are integer nanoseconds. Quaternions are (x, y, z, w). Errors derive from ``LookupError``
and name the frames and times involved: ``FrameNotFoundError`` (a frame the buffer has never heard
of: the names it knows are listed), ``ConnectivityError`` (frames in two unconnected trees),
``ExtrapolationError`` (a time outside a link's samples).
"""

import bisect
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .projection import CameraPose, quat_multiply, quat_to_matrix
from ..runtime.errors import VitedgeError

__all__ = [
    'ConnectivityError',
    'ExtrapolationError',
    'FrameNotFoundError',
    'TransformBuffer',
    'TransformError',
    'slerp',
]


class TransformError(VitedgeError, LookupError):
    """Base of the buffer's lookup errors."""


class FrameNotFoundError(TransformError):
    """A frame that no transform in the buffer names."""


class ConnectivityError(TransformError):
    """Two frames with no chain of transforms between them."""


class ExtrapolationError(TransformError):
    """A lookup time outside the samples of a dynamic link."""


class _Sample(NamedTuple):
    stamp: int
    parent: str
    translation: np.ndarray
    rotation: np.ndarray


def slerp(q0: Sequence[float], q1: Sequence[float], ratio: float) -> np.ndarray:
    """
    Spherical linear interpolation of unit quaternions (x, y, z, w), ``ratio`` in [0, 1].

    The shorter arc is taken (``q1`` negated when the dot product is negative), as
    ``tf2::Quaternion::slerp`` does; nearly parallel quaternions fall back to a normalised linear
    blend.
    """
    a = np.asarray(q0, dtype=np.float64).reshape(4)
    b = np.asarray(q1, dtype=np.float64).reshape(4)
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 1.0 - 1e-12:
        out = a + ratio * (b - a)
        return out / np.linalg.norm(out)
    theta = np.arccos(min(dot, 1.0))
    s = np.sin(theta)
    return (np.sin((1.0 - ratio) * theta) * a + np.sin(ratio * theta) * b) / s


def _compose(
    outer: Tuple[np.ndarray, np.ndarray], inner: Tuple[np.ndarray, np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """(q, t) of ``outer`` after ``inner``: p -> R_o (R_i p + t_i) + t_o."""
    qo, to = outer
    qi, ti = inner
    return quat_multiply(qo, qi), quat_to_matrix(qo) @ ti + to


def _invert(tr: Tuple[np.ndarray, np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    q, t = tr
    qi = np.array([-q[0], -q[1], -q[2], q[3]])
    return qi, -(quat_to_matrix(qi) @ t)


class TransformBuffer:
    """
    Transforms of a frame tree over time; see the module docstring for the rules.

    ``set_transform(parent, child, stamp_ns, translation, rotation, static=False)`` adds one sample
    (a geometry_msgs/TransformStamped: ``header.frame_id`` = parent, ``child_frame_id`` = child,
    the transform maps child coordinates into the parent). ``add_message(msg, static)`` adds every
    transform of a tf2_msgs/TFMessage. ``lookup(target, source, stamp_ns) -> CameraPose`` gives the
    pose of ``source`` in ``target``.
    """

    def __init__(self) -> None:
        self._dynamic: Dict[str, List[_Sample]] = {}
        self._stamps: Dict[str, List[int]] = {}
        self._static: Dict[str, _Sample] = {}

    # ---------------------------------------------------------------------------------------------
    # filling
    def set_transform(
        self,
        parent: str,
        child: str,
        stamp_ns: int,
        translation: Sequence[float],
        rotation: Sequence[float],
        static: bool = False,
    ) -> None:
        """
        Add the transform child -> parent at ``stamp_ns``.

        Translation in metres, rotation (x, y, z, w).

        Raises
        ------
            ValueError: empty or equal frame names, a non-finite value or a zero quaternion.

        """
        parent, child = str(parent).lstrip('/'), str(child).lstrip('/')
        if not parent or not child or parent == child:
            raise ValueError(
                'transform needs two different, non-empty frames, got {!r} -> {!r}'.format(
                    parent, child
                )
            )
        t = np.asarray(translation, dtype=np.float64).reshape(3)
        q = np.asarray(rotation, dtype=np.float64).reshape(4)
        n = float(np.linalg.norm(q))
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))) or n < 1e-9:
            raise ValueError(
                'transform {} -> {} at {} ns is not finite or has a zero quaternion'.format(
                    parent, child, stamp_ns
                )
            )
        sample = _Sample(int(stamp_ns), parent, t, q / n)
        if static:
            self._static[child] = sample
            return
        samples = self._dynamic.setdefault(child, [])
        stamps = self._stamps.setdefault(child, [])
        i = bisect.bisect_left(stamps, sample.stamp)
        if i < len(stamps) and stamps[i] == sample.stamp:
            samples[i] = sample  # a repeated stamp replaces the older sample
        else:
            stamps.insert(i, sample.stamp)
            samples.insert(i, sample)

    def add_message(self, msg, static: bool = False) -> int:
        """
        Add every TransformStamped of a tf2_msgs/TFMessage (duck-typed).

        Return how many were added.

        Transforms that ``set_transform`` refuses are skipped (counted out of the return value).
        """
        added = 0
        for ts in getattr(msg, 'transforms', ()):
            tr, rot = ts.transform.translation, ts.transform.rotation
            stamp = int(ts.header.stamp.sec) * 1000000000 + int(ts.header.stamp.nanosec)
            try:
                self.set_transform(
                    ts.header.frame_id,
                    ts.child_frame_id,
                    stamp,
                    (tr.x, tr.y, tr.z),
                    (rot.x, rot.y, rot.z, rot.w),
                    static=static,
                )
            except ValueError:
                continue
            added += 1
        return added

    # ---------------------------------------------------------------------------------------------
    # query
    @property
    def frames(self) -> List[str]:
        """Every frame named by a transform (parents and children), sorted."""
        names = set(self._static) | set(self._dynamic)
        names |= {s.parent for s in self._static.values()}
        names |= {s[0].parent for s in self._dynamic.values() if s}
        for samples in self._dynamic.values():
            names |= {s.parent for s in samples}
        return sorted(names)

    def _parent_of(self, frame: str, stamp: int) -> Optional[str]:
        if frame in self._static:
            return self._static[frame].parent
        samples = self._dynamic.get(frame)
        if not samples:
            return None
        i = bisect.bisect_right(self._stamps[frame], stamp) - 1
        return samples[max(i, 0)].parent

    def _link(self, frame: str, stamp: int) -> Tuple[np.ndarray, np.ndarray]:
        """
        (q, t) of ``frame`` in its parent at ``stamp`` (interpolated).

        See the module docstring.
        """
        if frame in self._static:
            s = self._static[frame]
            return s.rotation, s.translation
        samples, stamps = self._dynamic[frame], self._stamps[frame]
        i = bisect.bisect_left(stamps, stamp)
        if i < len(stamps) and stamps[i] == stamp:
            return samples[i].rotation, samples[i].translation
        if i == 0 or i == len(stamps):
            where = 'past' if i == 0 else 'future'
            raise ExtrapolationError(
                'lookup of {} -> {} at {:.9f} s would require extrapolation into the {} (samples '
                '{:.9f} .. '
                '{:.9f} s)'.format(
                    samples[0].parent,
                    frame,
                    stamp * 1e-9,
                    where,
                    stamps[0] * 1e-9,
                    stamps[-1] * 1e-9,
                )
            )
        a, b = samples[i - 1], samples[i]
        ratio = (stamp - a.stamp) / float(b.stamp - a.stamp)
        return slerp(a.rotation, b.rotation, ratio), a.translation + ratio * (
            b.translation - a.translation
        )

    def _chain(self, frame: str, stamp: int) -> List[str]:
        """``frame`` and its ancestors up to the root."""
        chain = [frame]
        seen = {frame}
        while True:
            parent = self._parent_of(chain[-1], stamp)
            if parent is None:
                return chain
            if parent in seen:
                raise ConnectivityError('the transforms form a loop at frame {!r}'.format(parent))
            chain.append(parent)
            seen.add(parent)

    def _latest_common(self, frames: Sequence[str]) -> int:
        """
        Return tf2's time 0: the newest stamp every dynamic link of ``frames`` has.

        Static links hold at any time.
        """
        latest = None
        for f in frames:
            if f in self._static or f not in self._stamps:
                continue
            newest = self._stamps[f][-1]
            latest = newest if latest is None else min(latest, newest)
        return 0 if latest is None else latest

    def lookup(self, target: str, source: str, stamp_ns: int = 0) -> CameraPose:
        """
        Pose of ``source`` in ``target`` at ``stamp_ns`` (0: the latest common time).

        Raises
        ------
            FrameNotFoundError: ``target`` or ``source`` is named by no transform (the known frames
                are listed).
            ConnectivityError: the frames are in unconnected trees.
            ExtrapolationError: ``stamp_ns`` lies outside the samples of a dynamic link of the
                chain.

        """
        target, source = str(target).lstrip('/'), str(source).lstrip('/')
        known = self.frames
        for what, name in (('source', source), ('target', target)):
            if name not in known:
                raise FrameNotFoundError(
                    'frame {!r} ({} of the lookup) does not exist in the TF tree (frames: '
                    '{})'.format(name, what, ', '.join(known) or 'none')
                )
        stamp = int(stamp_ns)
        up_src = self._chain(source, stamp)
        up_tgt = self._chain(target, stamp)
        common = next((f for f in up_src if f in set(up_tgt)), None)
        if common is None:
            raise ConnectivityError(
                'frames {!r} and {!r} are not connected (roots {!r} and {!r})'.format(
                    source, target, up_src[-1], up_tgt[-1]
                )
            )
        src_links = up_src[: up_src.index(common)]
        tgt_links = up_tgt[: up_tgt.index(common)]
        if stamp == 0:
            stamp = self._latest_common(src_links + tgt_links)
        identity = (np.array([0.0, 0.0, 0.0, 1.0]), np.zeros(3))
        src_in_common = identity
        for f in src_links:  # source up to the common ancestor
            src_in_common = _compose(self._link(f, stamp), src_in_common)
        tgt_in_common = identity
        for f in tgt_links:
            tgt_in_common = _compose(self._link(f, stamp), tgt_in_common)
        q, t = _compose(_invert(tgt_in_common), src_in_common)
        return CameraPose(q / np.linalg.norm(q), t)

    def can_transform(self, target: str, source: str, stamp_ns: int = 0) -> Tuple[bool, str]:
        """Return (True, '') when ``lookup`` would succeed, else (False, the reason)."""
        try:
            self.lookup(target, source, stamp_ns)
        except TransformError as exc:
            return False, str(exc)
        return True, ''

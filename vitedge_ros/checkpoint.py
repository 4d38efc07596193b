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
Checkpoints that load without running code.

Tensors plus a plain description of the model's structure.

A checkpoint is a ``torch.save`` dict that ``torch.load(path, weights_only=True)`` reads (tensors,
and plain
str/number/bool/list/dict data only; no pickled class)::

    {'format': 'vitedge-checkpoint', 'version': 2, 'name', 'task', 'arch', 'model_config',
     'structure': <vitedge_ros.structure description: factory arguments, pruned widths and head
     counts,
                   low-rank factorisations, ToMe settings>,
     'state_dict': {name: tensor}, 'labels', 'input' (InputSpec dict), 'decoder' (bundle decoder
     dict), 'epoch', 'metrics', 'extra' (report entry, stage config and fingerprint; optimizer
     state for resuming)}

Loading rebuilds the module from ``structure`` (factory, then the recorded structural edits) and
loads the tensors strictly (:func:`vitedge_ros.structure.rebuild_model`). Version-1 checkpoints
pickled the whole ``nn.Module``: unpickling one runs whatever code the file names, so
:func:`load_checkpoint` refuses them (and any file holding pickled objects) unless
``allow_pickle=True`` (CLI ``--trust-checkpoint``); ``tools/convert_checkpoint.py`` rewrites a
trusted one in this format. ``weights_only`` loading is safe from PyTorch 2.6 on (CVE-2025-32434
affected ``torch.load(weights_only=True)`` up to 2.5.1; see the torch.load documentation,
https://pytorch.org/docs/stable/generated/torch.load.html).

Files are written atomically (temporary file + rename).
"""

import io
import logging
import os
from pathlib import Path
import pickle
import pickletools
import tempfile
from typing import Any, Dict, List, Optional, Union
import zipfile

import torch
from torch import nn

from .runtime.engine_key import onnx_sha256 as file_sha256  # any file's SHA-256 (1 MiB chunks)
from .runtime.errors import VitedgeError
from .structure import check_rebuilds, describe_structure, plain, rebuild_model, StructureError

LOG = logging.getLogger(__name__)
FORMAT = 'vitedge-checkpoint'
VERSION = 2
PICKLE_RISK = (
    'loading it could run code from the file, so it is refused (only for a file you trust: '
    '--trust-checkpoint / allow_pickle=True, then convert it with tools/convert_checkpoint.py)'
)
_HARMLESS_GLOBALS = (
    'collections.OrderedDict',
    'torch._utils._rebuild_tensor_v2',
    'torch._utils._rebuild_parameter',
    'torch._utils._rebuild_parameter_with_state',
    'torch.Size',
    'builtins.set',
)


class CheckpointError(VitedgeError, ValueError):
    """The file is not a readable vitedge checkpoint (one line: the file and what it is)."""


class PickledCheckpointError(CheckpointError):
    """The file holds pickled Python objects; loading it needs ``allow_pickle=True``."""


# --- writing
# -------------------------------------------------------------------------------------------------


def _weights_only_data(value: Any, where: str) -> Any:
    """
    ``value`` with tensors kept and everything else plain.

    Tuples kept: the weights-only loader reads them.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(
                    '{}: key {!r} is neither a string nor an integer'.format(where, k)
                )
            out[k] = _weights_only_data(v, '{}.{}'.format(where, k))
        return out
    if isinstance(value, tuple):
        return tuple(_weights_only_data(v, '{}[{}]'.format(where, i)) for i, v in enumerate(value))
    if isinstance(value, list):
        return [_weights_only_data(v, '{}[{}]'.format(where, i)) for i, v in enumerate(value)]
    try:
        return plain(value, where)
    except StructureError as exc:
        raise CheckpointError(str(exc)) from exc


def save_checkpoint(
    path: Union[str, Path],
    model: nn.Module,
    *,
    name: str,
    task: str,
    labels: Any,
    input_spec: Dict[str, Any],
    decoder: Dict[str, Any],
    arch: str = '',
    model_config: Optional[Dict[str, Any]] = None,
    epoch: int = 0,
    metrics: Optional[Dict[str, Any]] = None,
    extra: Optional[Dict[str, Any]] = None,
    structure: Optional[Dict[str, Any]] = None,
) -> Path:
    """
    Write a checkpoint atomically; returns its path.

    The structure description comes from ``model``
    (:func:`vitedge_ros.structure.describe_structure`; ``model_config`` supplies arch and kwargs of
    a timm model not built by ``create_model``) and is checked to rebuild ``model``'s tensor names
    and shapes before anything is written. ``extra`` may hold tensors (optimizer state) and plain
    data. Raises :class:`CheckpointError` for a model that cannot be described or metadata that is
    not plain data.
    """
    path = Path(path)
    try:
        desc = structure if structure is not None else describe_structure(model, model_config)
        check_rebuilds(desc, model)
    except StructureError as exc:
        raise CheckpointError('{}: cannot save: {}'.format(path, exc)) from exc
    payload = {
        'format': FORMAT,
        'version': VERSION,
        'name': name,
        'task': task,
        'arch': arch,
        'model_config': dict(model_config or {}),
        'structure': desc,
        'labels': list(labels),
        'input': dict(input_spec),
        'decoder': dict(decoder),
        'epoch': int(epoch),
        'metrics': dict(metrics or {}),
        'extra': dict(extra or {}),
    }
    payload = _weights_only_data(payload, 'checkpoint')
    payload['state_dict'] = {
        k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + path.name + '.', suffix='.tmp', dir=str(path.parent))
    os.close(fd)
    try:
        torch.save(payload, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# --- what a file is (without unpickling it)
# --------------------------------------------------------------------


def _pickle_globals(path: Path) -> List[str]:
    """
    Classes/functions a torch zip file's pickle names.

    Read with pickletools, which executes nothing.
    """
    names: List[str] = []
    try:
        with zipfile.ZipFile(str(path)) as zf:
            pkl = [n for n in zf.namelist() if n.endswith('data.pkl')]
            if not pkl:
                return names
            data = zf.read(pkl[0])
    except (zipfile.BadZipFile, OSError, KeyError):
        return names
    strings: List[str] = []
    try:
        for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if op.name == 'GLOBAL' and isinstance(arg, str):
                mod, _, attr = arg.partition(' ')
                names.append('{}.{}'.format('builtins' if mod == '__builtin__' else mod, attr))
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                names.append('{}.{}'.format(strings[-2], strings[-1]))
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # malformed pickle: report what was found so far
        pass
    out: List[str] = []
    for n in names:
        if (
            n in _HARMLESS_GLOBALS
            or (n.startswith('torch.') and n.endswith('Storage'))
            or n in out
        ):
            continue
        out.append(n)
    return out


def _mentions_format(path: Path) -> bool:
    try:
        with zipfile.ZipFile(str(path)) as zf:
            return any(
                FORMAT.encode() in zf.read(n) for n in zf.namelist() if n.endswith('data.pkl')
            )
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


def _sniff(path: Path) -> str:
    """Return a few words on what a file that torch cannot read is."""
    with open(str(path), 'rb') as f:
        head = f.read(64)
    size = path.stat().st_size
    kinds = (
        (b'\x89PNG', 'a PNG image'),
        (b'\xff\xd8\xff', 'a JPEG image'),
        (b'\x1f\x8b', 'a gzip archive'),
        (b'\x93NUMPY', 'a numpy .npy array'),
        (b'%PDF', 'a PDF document'),
        (b'GIF8', 'a GIF image'),
    )
    for magic, kind in kinds:
        if head.startswith(magic):
            return kind
    if head.startswith(b'PK\x03\x04') or head.startswith(b'PK\x05\x06'):
        return 'a truncated or corrupt torch/zip file ({} bytes)'.format(size)
    if len(head) >= 9 and head[8:9] == b'{' and int.from_bytes(head[:8], 'little') < size:
        return 'a safetensors file of bare tensors (no vitedge structure description)'
    if path.suffix.lower() == '.onnx':
        return 'an ONNX model (export input is a checkpoint; bundles hold ONNX graphs)'
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        return 'not a torch file ({} bytes of unknown binary data)'.format(size)
    if text.lstrip().startswith(('{', '[')):
        return 'a JSON/text file, not a torch file'
    first = text.strip().splitlines()[0][:24] if text.strip() else text[:24]
    return 'a text file (starts {!r}), not a torch file'.format(first)


def _pickled_message(path: Path, exc: Exception) -> str:
    names = _pickle_globals(path)
    if not names:
        msg = str(exc)
        marker = 'Unsupported global: GLOBAL '
        if marker in msg:
            names = [msg.split(marker, 1)[1].split()[0]]
    shown = ', '.join(names[:3]) + (
        ' and {} more'.format(len(names) - 3) if len(names) > 3 else ''
    )
    what = (
        'an old-format vitedge checkpoint (pickled nn.Module)'
        if _mentions_format(path)
        else 'a torch file'
    )
    return '{}: {} holding pickled Python objects{}; {}'.format(
        path, what, ' ({})'.format(shown) if shown else '', PICKLE_RISK
    )


def _read(path: Path, allow_pickle: bool) -> Any:
    if not path.exists():
        raise CheckpointError('{}: file does not exist'.format(path))
    if path.is_dir():
        raise CheckpointError('{}: a directory, not a checkpoint file'.format(path))
    if path.stat().st_size == 0:
        raise CheckpointError('{}: empty file (0 bytes)'.format(path))
    try:
        return torch.load(str(path), map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as exc:
        if 'Unsupported global' not in str(exc) and not _pickle_globals(path):
            raise CheckpointError('{}: {}'.format(path, _sniff(path))) from exc
        if not allow_pickle:
            raise PickledCheckpointError(_pickled_message(path, exc)) from exc
        LOG.warning(
            '%s: loading pickled Python objects (--trust-checkpoint): any code in the file runs '
            'now, '
            'with your permissions',
            path,
        )
    except Exception as exc:
        raise CheckpointError('{}: {}'.format(path, _sniff(path))) from exc
    try:
        return torch.load(str(path), map_location='cpu', weights_only=False)
    except Exception as exc:
        raise CheckpointError(
            '{}: cannot unpickle it: {}'.format(
                path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            )
        ) from exc


def _what_it_holds(path: Path, obj: Any) -> str:
    if isinstance(obj, dict):
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        if obj and len(tensors) == len(obj):
            return (
                '{}: a plain state_dict ({} tensors) without the structure description a vitedge '
                'checkpoint '
                'carries (write checkpoints with vitedge_ros.checkpoint.save_checkpoint)'.format(
                    path, len(obj)
                )
            )
        keys = ', '.join(repr(k) for k in list(obj)[:5])
        return '{}: a torch file holding a dict ({}{}) but no format: {}'.format(
            path, keys, ', ...' if len(obj) > 5 else '', FORMAT
        )
    if isinstance(obj, nn.Module):
        return '{}: a whole pickled {} (torch.save(model)), not a vitedge checkpoint'.format(
            path, type(obj).__name__
        )
    return '{}: a torch file holding a {}, not a vitedge checkpoint'.format(
        path, type(obj).__name__
    )


# --- loading
# -------------------------------------------------------------------------------------------------


def load_checkpoint(path: Union[str, Path], allow_pickle: bool = False) -> Dict[str, Any]:
    """
    Read a checkpoint; the rebuilt model is in ``ckpt['model']`` (eval mode).

    Its tensors in ``state_dict``.

    Reads with ``torch.load(weights_only=True)``: nothing in the file is executed. A file with
    pickled Python objects (a version-1 checkpoint, a whole pickled model, anything else) raises
    :class:`PickledCheckpointError` unless ``allow_pickle`` (which runs the file's code: trusted
    files only). Raises :class:`CheckpointError` with one line naming the file and what it is
    otherwise (missing, empty, truncated, not a torch file, a plain state_dict, a description that
    does not rebuild).
    """
    path = Path(path)
    ck = _read(path, allow_pickle)
    if not isinstance(ck, dict) or ck.get('format') != FORMAT:
        if allow_pickle and isinstance(ck, nn.Module):
            raise CheckpointError(
                '{} (labels, input and decoder are missing)'.format(_what_it_holds(path, ck))
            )
        raise CheckpointError(_what_it_holds(path, ck))
    version = ck.get('version')
    if version == 1 and isinstance(ck.get('model'), nn.Module):  # only reachable with allow_pickle
        return _legacy(path, ck)
    if version != VERSION:
        raise CheckpointError(
            '{}: vitedge checkpoint version {!r}, this code reads version {}'.format(
                path, version, VERSION
            )
        )
    for key in ('structure', 'state_dict', 'task', 'labels', 'input', 'decoder'):
        if key not in ck:
            raise CheckpointError('{}: checkpoint lacks {!r}'.format(path, key))
    try:
        ck['model'] = rebuild_model(ck['structure'], ck['state_dict'])
    except StructureError as exc:
        raise CheckpointError('{}: {}'.format(path, exc)) from exc
    ck.setdefault('extra', {})
    return ck


def _legacy(path: Path, ck: Dict[str, Any]) -> Dict[str, Any]:
    """
    Return a version-1 checkpoint (the pickled module).

    Already unpickled with the caller's consent.
    """
    model = ck['model']
    if ck.get('state_dict') is not None:
        model.load_state_dict(ck['state_dict'])
    ck['model'] = model.eval()
    ck['state_dict'] = model.state_dict()
    try:
        ck['structure'] = describe_structure(model, ck.get('model_config'))
    except StructureError as exc:
        LOG.warning(
            '%s: the structure of this pickled model cannot be described (%s); it loads but '
            'cannot be '
            'converted',
            path,
            exc,
        )
        ck['structure'] = None
    for key in ('labels', 'input', 'decoder', 'task'):
        if key not in ck:
            raise CheckpointError('{}: checkpoint lacks {!r}'.format(path, key))
    ck.setdefault('extra', {})
    return ck


# --- conversion of version-1 (pickled) checkpoints
# --------------------------------------------------------------


def _sample_inputs(spec: Dict[str, Any], n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, int(spec['height']), int(spec['width']), generator=g)


def _outputs(model: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    with torch.no_grad():
        out = model(x)
    if isinstance(out, dict):
        return [out[k] for k in sorted(out)]
    return list(out) if isinstance(out, (list, tuple)) else [out]


def max_output_diff(a: nn.Module, b: nn.Module, x: torch.Tensor) -> float:
    """
    Return the largest absolute difference between the outputs of two modules on ``x``.

    ``inf`` when the output shapes differ.
    """
    worst = 0.0
    for oa, ob in zip(_outputs(a.eval(), x), _outputs(b.eval(), x)):
        if oa.shape != ob.shape:
            return float('inf')
        worst = max(worst, float((oa.float() - ob.float()).abs().max()) if oa.numel() else 0.0)
    return worst


def convert_checkpoint(
    src: Union[str, Path], dst: Union[str, Path], samples: int = 4, seed: int = 0
) -> Dict[str, Any]:
    """
    Rewrite a trusted version-1 (pickled) checkpoint ``src`` as ``dst`` in this format.

    Returns the proof.

    Unpickles ``src`` (it must be trusted), writes ``dst`` atomically (``dst`` may equal ``src``),
    reads it back with ``weights_only=True`` and compares the rebuilt module's outputs with the
    pickled one's on ``samples`` random inputs of the checkpoint's input size: raises
    :class:`CheckpointError` unless the maximum absolute difference is 0. The proof (source
    SHA-256, max abs difference, samples) is stored in ``extra['converted_from']`` and returned.
    """
    src, dst = Path(src), Path(dst)
    old = load_checkpoint(src, allow_pickle=True)
    if old.get('version') == VERSION:
        raise CheckpointError('{}: already a version-{} checkpoint'.format(src, VERSION))
    if old.get('structure') is None:
        raise CheckpointError(
            "{}: the pickled model's structure cannot be described, so it cannot be "
            'converted'.format(src)
        )
    model = old['model']
    x = _sample_inputs(old['input'], samples, seed)
    proof = {
        'sha256': file_sha256(src),
        'file': src.name,
        'format_version': old.get('version'),
        'samples': int(samples),
        'seed': int(seed),
    }
    extra = dict((old.get('extra') or {}).items())
    tmp = dst.with_name('.' + dst.name + '.converting')
    try:
        save_checkpoint(
            tmp,
            model,
            name=old.get('name', ''),
            task=old['task'],
            labels=old['labels'],
            input_spec=old['input'],
            decoder=old['decoder'],
            arch=old.get('arch', ''),
            model_config=old.get('model_config'),
            epoch=old.get('epoch', 0),
            metrics=old.get('metrics'),
            extra=dict(extra, converted_from=dict(proof, max_abs_diff=-1.0)),
            structure=old['structure'],
        )
        new = load_checkpoint(tmp)
        diff = max_output_diff(model, new['model'], x)
        if diff != 0.0:
            raise CheckpointError(
                '{}: the rebuilt model differs from the pickled one by {:.3g}; '
                'not converted'.format(src, diff)
            )
        proof['max_abs_diff'] = diff
        save_checkpoint(
            dst,
            new['model'],
            name=new['name'],
            task=new['task'],
            labels=new['labels'],
            input_spec=new['input'],
            decoder=new['decoder'],
            arch=new['arch'],
            model_config=new['model_config'],
            epoch=new['epoch'],
            metrics=new['metrics'],
            extra=dict(extra, converted_from=proof),
            structure=new['structure'],
        )
    finally:
        if tmp.exists():
            tmp.unlink()
    return proof

"""Checkpoint files that cannot execute code, and finding the newest intact one to resume from.

Every checkpoint (``--load-from``, ``--resume``, ``tools/test.py CHECKPOINT``, ``tools/infer.py
--checkpoint``, a config's ``load_from``, light-layer and CLIP weight files) is read with
``torch.load(weights_only=True)`` plus an allowlist of exactly the non-tensor types mmengine and
clipdense write: numpy arrays, scalars and dtypes, and mmengine's ``HistoryBuffer`` with its
statistics methods (logged values in the message hub). Unpickling anything else would mean
running code chosen by whoever wrote the file, so it fails with :class:`UnsafeCheckpointError`
naming the type. :func:`install_checkpoint_loader` (run when clipdense is imported) routes
mmengine's local checkpoint loading through :func:`load_checkpoint_file`.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .atomic_io import is_temporary_path


class CheckpointError(ValueError):
    """A checkpoint file is missing, empty, truncated or not a PyTorch checkpoint."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holds a type outside the allowlist (unpickling it could run code)."""


def _history_buffer_getattr(owner, name: str):
    """The ``getattr`` pickle uses for ``HistoryBuffer``'s statistics methods (``min``, ``max``,
    ``current``, ``mean``, ...), and nothing else."""
    statistics = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in statistics and callable(getattr(owner, name, None)):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(owner, "__name__", type(owner).__name__)}, {name!r}) is not allowed '
        'in a checkpoint (only HistoryBuffer statistics methods are)')


def _numpy_globals() -> list:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    entries = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy 1.x pickles name numpy.core, numpy 2.x numpy._core: accept both spellings
    for name in ('_reconstruct', 'scalar'):
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            entries.append((getattr(multiarray, name), f'{module}.{name}'))
    entries += [type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGUSV']  # numpy.dtypes.*
    return entries


def allowed_checkpoint_globals() -> list:
    """The allowlist passed to ``torch.serialization.safe_globals`` (see module docstring)."""
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] + _numpy_globals()


ALLOWED_TYPES_TEXT = ('tensors, numbers, strings, containers, numpy arrays/scalars/dtypes and '
                      "mmengine's HistoryBuffer")


def _sniff(path: str) -> None:
    """Clear errors for files that are not PyTorch checkpoints at all."""
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointError(f'{path} is empty (0 bytes): not a checkpoint')
    with open(path, 'rb') as f:
        head = f.read(64)
    if head.startswith(b'PK') or head.startswith(b'\x80'):  # torch zip format / legacy pickle
        return
    text = head.decode('utf-8', errors='replace').rstrip('\ufffd')  # a character cut at 64
    kind = (f'a text file (it starts with {text[:40]!r})' if '\x00' not in text and
            '\ufffd' not in text else f'of an unknown format (first bytes {head[:8]!r})')
    raise CheckpointError(f'{path} is not a PyTorch checkpoint: it is {kind}')


def _unpickler_reason(message: str) -> str:
    """The weights-only unpickler's own reason, without torch's generic advice around it."""
    generic = ('Weights only load failed', 'Check the documentation', 'Please file an issue')
    parts = [p.strip() for p in message.split('\n\n') if p.strip()]
    reason = ' '.join(p for p in parts if not p.startswith(generic)) or message
    return ' '.join(reason.replace('WeightsUnpickler error:', '').split())[:300]


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` of a local checkpoint, weights-only with the allowlist above.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the file holds a type outside the allowlist (named).
        CheckpointError: empty, truncated, corrupt or not a PyTorch file.
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    _sniff(filename)
    try:
        with torch.serialization.safe_globals(allowed_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        blocked = re.search(r'GLOBAL ([\w.]+)', str(err))
        what = f'{blocked.group(1)}, which' if blocked else 'an object that'
        reason = _unpickler_reason(str(err))
        raise UnsafeCheckpointError(
            f'{filename} holds {what} is not allowed in a checkpoint ({reason}). '
            f'Checkpoints are loaded weights-only (allowed: {ALLOWED_TYPES_TEXT}) because '
            'unpickling other types can run arbitrary code; re-save its tensors as a plain state '
            'dict if you trust the file.') from err
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f'{filename} could not be read: the file is truncated or corrupt ({err})') from err


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine ``CheckpointLoader`` scheme for local files (see :func:`load_checkpoint_file`)."""
    return load_checkpoint_file(filename, map_location)


def install_checkpoint_loader() -> None:
    """Routes mmengine's local checkpoint loading through :func:`load_checkpoint_file`."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)


def checkpoint_is_intact(path: str) -> bool:
    """True when ``path`` is a complete checkpoint: a torch zip archive whose entries all pass
    their CRC check (a run killed while writing leaves no central directory), or a legacy
    pickle file that loads."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                return any(n.endswith('data.pkl') for n in names) and archive.testzip() is None
        load_checkpoint_file(path, map_location='cpu')
        return True
    except (OSError, CheckpointError, zipfile.BadZipFile):
        return False


_STEP = re.compile(r'(\d+)\.pth$')


def _candidates(directory: str) -> List[Tuple[int, float, str]]:
    found = []
    if osp.isdir(directory):
        for name in os.listdir(directory):
            path = osp.join(directory, name)
            match = _STEP.search(name)
            if match and not is_temporary_path(path) and osp.isfile(path):
                found.append((int(match.group(1)), osp.getmtime(path), path))
    return found


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The newest intact checkpoint of a run, and notes on the ones skipped.

    ``last_checkpoint`` names the newest one when the run ended cleanly; when it is missing,
    empty or points at a missing or incomplete file (a run killed during a save), the newest
    intact ``*_<step>.pth`` in the work dir (and the checkpoint directory ``last_checkpoint``
    names) is used instead.
    """
    notes, named = [], None
    pointer = osp.join(work_dir, 'last_checkpoint')
    directories = {osp.abspath(work_dir)}
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
        if named is None:
            notes.append(f'{pointer} is empty')
        else:
            directories.add(osp.abspath(osp.dirname(named)))
            if checkpoint_is_intact(named):
                return named, notes
            notes.append(f'{pointer} names {named}, which is '
                         f'{"incomplete" if osp.isfile(named) else "missing"}')
    candidates = sorted((c for d in directories for c in _candidates(d)), reverse=True)
    for _, _, path in candidates:
        if checkpoint_is_intact(path):
            return path, notes
        notes.append(f'{path} is incomplete')
    return None, notes

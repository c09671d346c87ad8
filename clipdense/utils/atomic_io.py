"""Atomic file writes: a reader (or a run killed half-way) never sees a half-written file.

The payload goes to a hidden temporary file in the target's directory, is flushed and fsynced,
then renamed over the target (``os.replace`` is atomic on POSIX and Windows), and the directory
is fsynced so the rename survives a power cut. :class:`AtomicLocalBackend` makes mmengine's local
file writes (checkpoints, ``last_checkpoint``, dumped results) go through :func:`atomic_write`.
"""
import contextlib
import io
import os
import os.path as osp
from typing import BinaryIO, Callable, Union

from mmengine.fileio.backends import LocalBackend, register_backend

TEMP_SUFFIX = '.tmp'


def temporary_path(path: str) -> str:
    """``dir/.name.<pid>.tmp``: hidden, so globs such as ``*.pth`` never pick it up."""
    directory, name = osp.split(path)
    return osp.join(directory, f'.{name}.{os.getpid()}{TEMP_SUFFIX}')


def is_temporary_path(path: str) -> bool:
    name = osp.basename(path)
    return name.startswith('.') and name.endswith(TEMP_SUFFIX)


def fsync_directory(directory: str) -> None:
    """Persists a rename in ``directory`` (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory or '.', os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Union[str, os.PathLike], payload: Union[bytes, str],
                 encoding: str = 'utf-8') -> None:
    """Writes ``payload`` (bytes, or text in ``encoding``) to ``path`` atomically and durably;
    missing parent directories are created."""
    path = os.fspath(path)
    if isinstance(payload, str):
        payload = payload.encode(encoding)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, 'wb') as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def atomic_save(path: Union[str, os.PathLike], write: Callable[[BinaryIO], None]) -> None:
    """Runs a serialiser ``write(file)`` on an in-memory file, then writes the result to
    ``path`` atomically, e.g. ``atomic_save(p, lambda f: torch.save(obj, f))``,
    ``lambda f: image.save(f, format='TIFF')`` or ``lambda f: np.savez_compressed(f, **arrays)``."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write(path, buffer.getvalue())


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put``/``put_text`` (see module docstring)."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj, encoding)


def install_atomic_file_backend() -> None:
    """Makes :class:`AtomicLocalBackend` mmengine's backend for local paths."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def check_writable_dir(path: str, what: str = 'output folder') -> None:
    """Raises before any work is done when ``path`` cannot be (created and) written as a
    folder: it is a file, lies under a file, or its nearest existing parent is read-only."""
    path = osp.abspath(os.fspath(path))
    if osp.exists(path) and not osp.isdir(path):
        raise NotADirectoryError(f'{what} {path} exists and is not a folder')
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise NotADirectoryError(f'{what} {path} cannot be created: {existing} is a file')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f'{what} {path}: {existing} is not writable')


def check_writable_file(path: str, what: str = 'output file', suffixes=None) -> None:
    """Like :func:`check_writable_dir` for a file path (and its required ``suffixes``)."""
    path = osp.abspath(os.fspath(path))
    if osp.isdir(path):
        raise IsADirectoryError(f'{what} {path} is a folder; give a file name')
    if suffixes and not path.endswith(tuple(suffixes)):
        raise ValueError(f'{what} {path} must end with {" or ".join(suffixes)}')
    check_writable_dir(osp.dirname(path), f'folder of the {what}')
    if osp.exists(path) and not os.access(path, os.W_OK):
        raise PermissionError(f'{what} {path} is not writable')

"""Runs a tool and SIGKILLs it at a chosen point of its N-th checkpoint save (tests only).

    python tests/tools/kill_during_save.py POINT N tools/train.py CONFIG [args...]

POINT is where the process dies, observed from the outside (file opens and removals), so the
same points apply to any implementation of the save:

* ``mid-write``: halfway through writing the checkpoint's bytes (``*iter_<k>.pth*``);
* ``after-write``: right after the checkpoint's bytes are written and the file is closed;
* ``last-checkpoint``: when the ``last_checkpoint`` pointer file is opened for writing;
* ``removal``: when an old checkpoint is about to be removed (``max_keep_ckpts``).
"""
import builtins
import os
import re
import runpy
import signal
import sys

POINTS = ('mid-write', 'after-write', 'last-checkpoint', 'removal')
CHECKPOINT = re.compile(r'iter_\d+\.pth')


def die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _DyingFile:
    """A binary file that dies halfway through ``write`` or right after ``close``."""

    def __init__(self, file, point):
        self.file, self.point = file, point

    def write(self, data):
        if self.point == 'mid-write':
            self.file.write(bytes(data)[:len(data) // 2])
            self.file.flush()
            die()
        return self.file.write(data)

    def close(self):
        self.file.close()
        if self.point == 'after-write':
            die()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getattr__(self, name):
        return getattr(self.file, name)


def install(point: str, nth: int) -> None:
    real_open = builtins.open
    saved = []  # checkpoint names in the order their saves began

    def patched_open(file, mode='r', *args, **kwargs):
        name = os.path.basename(os.fspath(file)) if isinstance(file, (str, os.PathLike)) else ''
        writing = any(c in mode for c in 'wxa')
        if writing and 'b' in mode and CHECKPOINT.search(name):
            saved.append(CHECKPOINT.search(name).group(0))
            if len(saved) == nth and point in ('mid-write', 'after-write'):
                return _DyingFile(real_open(file, mode, *args, **kwargs), point)
        if writing and 'last_checkpoint' in name and len(saved) == nth and \
                point == 'last-checkpoint':
            real_open(file, mode, *args, **kwargs)  # opened (and truncated, if in place)
            die()
        return real_open(file, mode, *args, **kwargs)

    def guarded(real_remove):
        def remove(path, *args, **kwargs):
            # the removal that save #nth causes: the checkpoint of save #(nth - 1)
            if point == 'removal' and len(saved) >= nth - 1 >= 1 and \
                    os.path.basename(os.fspath(path)) == saved[nth - 2]:
                die()
            return real_remove(path, *args, **kwargs)
        return remove

    builtins.open = patched_open
    os.remove, os.unlink = guarded(os.remove), guarded(os.unlink)


def main():
    point, nth, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if point not in POINTS:
        raise SystemExit(f'POINT must be one of {POINTS}, got {point!r}')
    install(point, nth)
    sys.argv = [script] + sys.argv[4:]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()

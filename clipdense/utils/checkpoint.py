"""Checkpoint loading on torch >= 2.6 with a deliberate trust rule.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; torch >= 2.6 then refuses training
checkpoints (they pickle MessageHub/HistoryBuffer objects and numpy scalars), so ``--resume``
breaks. The rule here: a checkpoint the user names on the command line (``--resume``,
``--load-from``, ``tools/test.py CHECKPOINT``, ``tools/infer.py --checkpoint``) or one inside the
run's own work directory is the project's own training checkpoint and is fully unpickled; every
other file (e.g. a config's ``load_from``) is loaded with ``weights_only=True`` and a clear error
explains how to trust it. Foreign CLIP weights never come through here (see
``clipdense.clip.weights``).
"""
import os
import pickle

import torch

_trusted_paths = set()


def trust_checkpoints(*paths: str) -> None:
    """Marks files, or every file under directories, as trusted training checkpoints."""
    for path in paths:
        if path:
            _trusted_paths.add(os.path.realpath(os.path.expanduser(path)))


def is_trusted(filename: str) -> bool:
    real = os.path.realpath(filename)
    return any(real == p or real.startswith(p.rstrip(os.sep) + os.sep) for p in _trusted_paths)


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local-file loader with the trust rule above."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    if is_trusted(filename):
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise RuntimeError(
            f'{filename} holds more than weights (e.g. a training state) and is not one of this '
            'run\'s own checkpoints, so it is not fully unpickled. If you trust it, pass it '
            'explicitly: --resume/--load-from FILE (train), CHECKPOINT (test), --checkpoint FILE '
            '(infer); or '
            're-save its "state_dict" as a plain weights file.') from err


def install_checkpoint_loader() -> None:
    """Routes mmengine's local checkpoint loading through :func:`load_local_checkpoint`."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)

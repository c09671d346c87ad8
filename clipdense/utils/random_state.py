"""Capture and restore every random number generator a training step draws from.

States are plain containers of tensors, ints, floats and strings, so they load weights-only.
"""
import random
from typing import Optional

import numpy as np
import torch


def capture_random_state() -> dict:
    """torch CPU (and CUDA, when initialised), numpy and Python ``random`` states."""
    numpy_state = np.random.get_state()
    state = dict(torch=torch.get_rng_state(),
                 numpy=[numpy_state[0], numpy_state[1].tolist(), *map(_plain, numpy_state[2:])],
                 python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> Optional[str]:
    """Restores :func:`capture_random_state`'s output; returns a note on what could not be
    restored (CUDA states for another number of devices), else None."""
    torch.set_rng_state(state['torch'])
    kind, keys, *rest = state['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), *rest))
    random.setstate(state['python'])
    cuda = state.get('cuda')
    if cuda is None or not torch.cuda.is_available():
        return 'no CUDA random state restored' if cuda is not None else None
    if len(cuda) != torch.cuda.device_count():
        return (f'CUDA random states of {len(cuda)} devices saved, {torch.cuda.device_count()} '
                'present: CUDA random states not restored')
    torch.cuda.set_rng_state_all(cuda)
    return None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


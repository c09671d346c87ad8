"""Access to the compiled kernels (``clipdense.ops._ext``) and shared argument validation."""
import importlib
from typing import Optional, Sequence, Tuple

import torch

_BUILD_HINT = ('build it with `pip install --no-build-isolation -e .` (or '
               '`python setup.py build_ext --inplace`) in the clipdense checkout')
_ext = None
_import_error: Optional[BaseException] = None


def _load():
    global _ext, _import_error
    if _ext is None and _import_error is None:
        try:
            _ext = importlib.import_module('clipdense.ops._ext')
        except ImportError as e:  # not built, or built against another torch
            _import_error = e
    return _ext


def extension_available() -> bool:
    """Whether the compiled kernels can be imported."""
    return _load() is not None


def cuda_kernels_available() -> bool:
    """Whether the compiled kernels include the CUDA ones."""
    ext = _load()
    return ext is not None and bool(ext.with_cuda())


def get_ext(op: str, *tensors: torch.Tensor):
    """Returns the extension module, raising a clear error if ``op`` cannot run on ``tensors``."""
    ext = _load()
    if ext is None:
        raise RuntimeError(f'clipdense.ops.{op}: the compiled extension clipdense.ops._ext is not '
                           f'available ({_import_error}); {_BUILD_HINT}.')
    for t in tensors:
        if t.is_cuda and not ext.with_cuda():
            raise RuntimeError(f'clipdense.ops.{op}: got CUDA tensors but clipdense.ops._ext was '
                               f'built without CUDA kernels; rebuild on a machine with CUDA (or '
                               f'with FORCE_CUDA=1): {_BUILD_HINT}.')
        if not (t.is_cuda or t.device.type == 'cpu'):
            raise RuntimeError(f'clipdense.ops.{op}: device {t.device} is not supported '
                               f'(CPU and CUDA only).')
    return ext


FLOAT_TYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_tensor(x, name: str, op: str, dims: int, layout: str,
                 dtypes: Optional[Sequence[torch.dtype]] = FLOAT_TYPES) -> None:
    """Raises TypeError/ValueError naming ``name`` unless ``x`` is a ``dims``-d tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f'{op}: {name} must be a torch.Tensor of shape {layout}, got '
                        f'{type(x).__name__}')
    if x.dim() != dims:
        raise ValueError(f'{op}: {name} must have shape {layout}, got {tuple(x.shape)}')
    if dtypes is not None and x.dtype not in dtypes:
        names = ', '.join(str(d).replace('torch.', '') for d in dtypes)
        raise TypeError(f'{op}: {name} must have dtype in ({names}), got {x.dtype}')


def check_same_device(op: str, ref_name: str, ref: torch.Tensor, **others: torch.Tensor) -> None:
    for name, t in others.items():
        if t is not None and t.device != ref.device:
            raise ValueError(f'{op}: {name} is on {t.device} but {ref_name} is on {ref.device}')


def pair(value, name: str, op: str) -> Tuple[int, int]:
    """(h, w) from an int or a pair of positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2 or
            not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f'{op}: {name} must be a positive int or a pair of positive ints, '
                         f'got {value!r}')
    return int(value[0]), int(value[1])


def is_channels_last(x: torch.Tensor) -> bool:
    """True when ``x`` is laid out channels-last (and not also plain contiguous)."""
    return (x.dim() == 4 and not x.is_contiguous() and
            x.is_contiguous(memory_format=torch.channels_last))

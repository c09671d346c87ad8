"""Shared markers and tolerances of the ops tests."""
import pytest
import torch

import clipdense.ops as ops

requires_ext = pytest.mark.skipif(not ops.extension_available(),
                                  reason='clipdense.ops._ext not built')
requires_cuda = pytest.mark.skipif(
    not (torch.cuda.is_available() and ops.extension_available() and
         ops.cuda_kernels_available()),
    reason='needs a GPU and the CUDA kernels')

# (atol, rtol) against a float32/float64 computation of the same op
TOLERANCES = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (2e-2, 2e-2),
}


def assert_close(actual, expected, dtype=None):
    atol, rtol = TOLERANCES[dtype or actual.dtype]
    torch.testing.assert_close(actual.double(), expected.double(), atol=atol, rtol=rtol)

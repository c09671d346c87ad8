import os
import subprocess
import sys
import types

import pytest
import torch

import clipdense.ops as ops
from clipdense.ops import _ext_loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BLOCK_EXT = r'''
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == 'clipdense.ops._ext':
            raise ImportError('blocked for the test')
sys.meta_path.insert(0, Block())
import torch
import clipdense.ops as ops
assert not ops.extension_available()
try:
    ops.roi_align(torch.zeros(1, 1, 2, 2), torch.zeros(1, 5), 1)
except RuntimeError as e:
    assert 'pip install --no-build-isolation -e .' in str(e), e
    print('ok')
'''


def test_import_without_extension():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    out = subprocess.run([sys.executable, '-c', BLOCK_EXT], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('ok')


def test_cuda_tensors_without_cuda_kernels(monkeypatch):
    fake_ext = types.SimpleNamespace(with_cuda=lambda: False)
    monkeypatch.setattr(_ext_loader, '_ext', fake_ext)
    fake_tensor = types.SimpleNamespace(is_cuda=True, device=torch.device('cuda', 0))
    with pytest.raises(RuntimeError, match='built without CUDA kernels'):
        _ext_loader.get_ext('roi_align', fake_tensor)


def test_unsupported_device_is_rejected_before_the_kernel():
    with pytest.raises(RuntimeError, match='device meta is not supported'):
        ops.roi_align(torch.zeros(1, 1, 4, 4, device='meta'),
                      torch.zeros(1, 5, device='meta'), 2)

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import clipdense.ops as ops
from clipdense.ops.reference import mask_pool_ref

from .helpers import TOLERANCES, assert_close, requires_cuda, requires_ext

pytestmark = requires_ext
FLOAT_TYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def make_masks(b, q, h, w, kind, gen):
    soft = torch.rand(b, q, h, w, generator=gen)
    if q:
        soft[:, 0] = 0  # an empty mask
    if kind == 'bool':
        return soft > 0.6
    if kind == 'uint8':
        return (soft > 0.6).to(torch.uint8) * 255  # nonzero counts as on
    return soft.to(kind)


@pytest.mark.parametrize('dtype', FLOAT_TYPES)
@pytest.mark.parametrize('mask_kind', ['bool', 'uint8', torch.float32, torch.float16])
@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_reference(dtype, mask_kind, channels_last):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 12, 7, 9, generator=gen).to(dtype)
    if channels_last:
        feats = feats.to(memory_format=torch.channels_last)
    feats.requires_grad_()
    masks = make_masks(2, 5, 29, 31, mask_kind, gen)
    out = ops.mask_pool(feats, masks)
    assert out.shape == (2, 5, 12) and out.dtype == dtype
    ref = mask_pool_ref(feats.detach().double(), masks)
    assert_close(out, ref, dtype)
    assert torch.all(out[:, 0] == 0)  # empty mask
    grad = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(grad)
    fr = feats.detach().double().requires_grad_()
    mask_pool_ref(fr, masks).backward(grad.double())
    assert feats.grad.dtype == dtype
    assert_close(feats.grad, fr.grad, dtype)


@pytest.mark.parametrize('size', [(7, 9), (14, 18), (3, 2)])
def test_mask_resolutions(size):
    """Masks at the feature size (identity), smaller (upsampling) and much larger."""
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(1, 4, 7, 9, generator=gen, dtype=torch.float64)
    masks = torch.rand(1, 3, *size, generator=gen, dtype=torch.float64)
    assert_close(ops.mask_pool(feats, masks), mask_pool_ref(feats, masks))
    assert_close(ops.mask_pool(feats, masks, eps=0.5), mask_pool_ref(feats, masks, eps=0.5))


@pytest.mark.parametrize('channels_last', [False, True])
def test_gradcheck(channels_last):
    gen = torch.Generator().manual_seed(2)
    feats = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    if channels_last:
        feats = feats.to(memory_format=torch.channels_last)
    feats.requires_grad_()
    masks = torch.rand(2, 3, 9, 11, generator=gen) > 0.5
    assert torch.autograd.gradcheck(lambda f: ops.mask_pool(f, masks), (feats,))


def test_gradcheck_soft_masks():
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(1, 3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    masks = torch.rand(1, 2, 6, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f, m: ops.mask_pool(f, m), (feats, masks))


def test_chunked_weights():
    """Many masks upsampled onto a large grid: the weights are built in chunks of masks."""
    gen = torch.Generator().manual_seed(4)
    feats = torch.randn(1, 2, 160, 160, generator=gen, dtype=torch.float64, requires_grad=True)
    masks = torch.rand(1, 200, 8, 8, generator=gen) > 0.5
    out = ops.mask_pool(feats, masks)
    fr = feats.detach().clone().requires_grad_()
    ref = mask_pool_ref(fr, masks)
    assert_close(out, ref)
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    out.backward(grad)
    ref.backward(grad)
    assert_close(feats.grad, fr.grad)


def test_empty():
    feats = torch.randn(2, 3, 4, 4, requires_grad=True)
    out = ops.mask_pool(feats, torch.zeros(2, 0, 8, 8, dtype=torch.bool))
    assert out.shape == (2, 0, 3)
    out.sum().backward()
    assert torch.all(feats.grad == 0)
    out = ops.mask_pool(feats, torch.zeros(2, 3, 8, 8, dtype=torch.bool))
    assert torch.all(out == 0)
    assert ops.mask_pool(torch.randn(0, 3, 4, 4), torch.ones(0, 2, 8, 8)).shape == (0, 2, 3)


def test_non_contiguous():
    gen = torch.Generator().manual_seed(5)
    feats = torch.randn(6, 2, 5, 5, generator=gen).transpose(0, 1)[:, ::2]  # (2, 3, 5, 5)
    masks = (torch.rand(2, 4, 10, 10, generator=gen) > 0.5).transpose(2, 3)
    assert_close(ops.mask_pool(feats, masks), mask_pool_ref(feats.double(), masks),
                 torch.float32)


@pytest.mark.parametrize('bad, exc, match', [
    (dict(features=torch.randn(3, 4, 4)), ValueError, r'features must have shape \(B, C, h, w\)'),
    (dict(features=torch.ones(2, 3, 4, 4, dtype=torch.int32)), TypeError, 'features must have dtype'),
    (dict(masks=torch.ones(2, 8, 8)), ValueError, r'masks must have shape \(B, Q, H, W\)'),
    (dict(masks=torch.ones(3, 2, 8, 8)), ValueError, 'disagree on B'),
    (dict(masks=torch.ones(2, 2, 8, 8, dtype=torch.int64)), TypeError, 'masks must have dtype'),
    (dict(masks=torch.ones(2, 2, 8, 8, device='meta')), ValueError, 'masks is on meta'),
    (dict(eps=-1.0), ValueError, 'eps'),
])
def test_bad_input(bad, exc, match):
    args = dict(features=torch.randn(2, 3, 4, 4), masks=torch.ones(2, 2, 8, 8, dtype=torch.bool))
    args.update(bad)
    with pytest.raises(exc, match=match):
        ops.mask_pool(**args)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(b=st.integers(1, 2), q=st.integers(0, 4), c=st.integers(1, 5), h=st.integers(1, 9),
       w=st.integers(1, 9), mh=st.integers(1, 20), mw=st.integers(1, 20),
       kind=st.sampled_from(['bool', 'uint8', torch.float32, torch.float64]),
       channels_last=st.booleans(), seed=st.integers(0, 2**16))
def test_fuzz_against_reference(b, q, c, h, w, mh, mw, kind, channels_last, seed):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(b, c, h, w, generator=gen, dtype=torch.float64)
    if channels_last:
        feats = feats.to(memory_format=torch.channels_last)
    feats.requires_grad_()
    masks = make_masks(b, q, mh, mw, kind, gen)
    out = ops.mask_pool(feats, masks)
    fr = feats.detach().clone().requires_grad_()
    ref = mask_pool_ref(fr, masks)
    assert_close(out, ref)
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    out.backward(grad)
    ref.backward(grad)
    assert_close(feats.grad, fr.grad)


def test_module():
    layer = ops.MaskPool(eps=1e-3)
    feats, masks = torch.randn(1, 3, 4, 4), torch.rand(1, 2, 8, 8)
    assert torch.equal(layer(feats, masks), ops.mask_pool(feats, masks, 1e-3))


@requires_cuda
@pytest.mark.parametrize('dtype', FLOAT_TYPES)
@pytest.mark.parametrize('mask_kind', ['bool', torch.float32])
@pytest.mark.parametrize('channels_last', [False, True])
def test_cuda_matches_cpu(dtype, mask_kind, channels_last):
    gen = torch.Generator().manual_seed(6)
    feats = torch.randn(2, 32, 10, 12, generator=gen).to(dtype)
    if channels_last:
        feats = feats.to(memory_format=torch.channels_last)
    masks = make_masks(2, 7, 80, 96, mask_kind, gen)
    fc, fg = feats.clone().requires_grad_(), feats.cuda().requires_grad_()
    out_c, out_g = ops.mask_pool(fc, masks), ops.mask_pool(fg, masks.cuda())
    assert_close(out_g.cpu(), out_c, dtype)
    grad = torch.randn(out_c.shape, generator=gen).to(dtype)
    out_c.backward(grad)
    out_g.backward(grad.cuda())
    assert_close(fg.grad.cpu(), fc.grad, dtype)


@requires_cuda
def test_cuda_gradcheck():
    feats = torch.randn(2, 3, 4, 5, dtype=torch.float64, device='cuda', requires_grad=True)
    masks = torch.rand(2, 3, 9, 11, device='cuda') > 0.5
    assert torch.autograd.gradcheck(lambda f: ops.mask_pool(f, masks), (feats,))

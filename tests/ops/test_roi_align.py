import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.ops import roi_align as tv_roi_align

import clipdense.ops as ops
from clipdense.ops.reference import roi_align_ref

from .helpers import TOLERANCES, assert_close, requires_cuda, requires_ext

pytestmark = requires_ext
FLOAT_TYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def make_rois(num, batch, height, width, scale, gen, dtype=torch.float32):
    """Random RoIs in image coordinates, with edge cases mixed in: boxes partly or wholly outside
    the image, zero-area, inverted (x2 < x1), full-image, and an out-of-range batch index."""
    img_h, img_w = height / scale, width / scale
    xy = torch.rand(num, 2, generator=gen) * torch.tensor([img_w, img_h]) * 1.4 - 0.2 * torch.tensor([img_w, img_h])
    wh = torch.rand(num, 2, generator=gen) * torch.tensor([img_w, img_h]) * 0.8
    boxes = torch.cat([xy, xy + wh], 1)
    idx = torch.randint(0, batch, (num, 1), generator=gen).float()
    rois = torch.cat([idx, boxes], 1)
    special = torch.tensor([
        [0, 0, 0, img_w, img_h],                  # whole image
        [0, 3, 4, 3, 4],                          # zero area
        [0, 8, 9, 2, 3],                          # inverted
        [batch - 1, -50, -40, -10, -5],           # wholly outside (top-left)
        [batch - 1, img_w + 5, img_h + 5, img_w + 30, img_h + 20],  # wholly outside
        [0, -3.5, -2.25, img_w + 1.5, 4.75],      # partly outside
        [batch, 0, 0, 10, 10],                    # batch index out of range -> zeros
    ])
    return torch.cat([rois, special]).to(dtype)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_torchvision(dtype, aligned, sampling_ratio, channels_last):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 13, 17, generator=gen, dtype=dtype)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    rois = make_rois(20, 2, 13, 17, 0.25, gen, dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = ops.roi_align(x1, rois, (5, 4), 0.25, sampling_ratio, aligned)
    ref = tv_roi_align(x2, rois[:-1], (5, 4), 0.25, sampling_ratio, aligned)  # tv: no bad index
    assert ours.dtype == dtype
    assert ours.is_contiguous(memory_format=torch.channels_last if channels_last else
                              torch.contiguous_format)
    assert_close(ours[:-1], ref)
    assert torch.all(ours[-1] == 0)
    grad = torch.randn(ours.shape, generator=gen, dtype=dtype)
    ours.backward(grad)
    ref.backward(grad[:-1])
    assert_close(x1.grad, x2.grad)


@pytest.mark.parametrize('dtype', FLOAT_TYPES)
@pytest.mark.parametrize('channels_last', [False, True])
def test_matches_reference_all_dtypes(dtype, channels_last):
    gen = torch.Generator().manual_seed(1)
    x32 = torch.randn(2, 5, 11, 9, generator=gen)
    rois = make_rois(12, 2, 11, 9, 0.5, gen)
    x = x32.to(dtype)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    out = ops.roi_align(x, rois, 3, 0.5, 0, True)
    ref = roi_align_ref(x.detach().double(), rois.double(), 3, 0.5, 0, True)
    assert_close(out, ref, dtype)
    grad = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(grad)
    xr = x.detach().double().requires_grad_()
    roi_align_ref(xr, rois.double(), 3, 0.5, 0, True).backward(grad.double())
    assert x.grad.dtype == dtype
    atol, rtol = TOLERANCES[dtype]
    # grads sum several contributions: scale the tolerance
    torch.testing.assert_close(x.grad.double(), xr.grad, atol=4 * atol, rtol=4 * rtol)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
@pytest.mark.parametrize('channels_last', [False, True])
def test_gradcheck(aligned, sampling_ratio, channels_last):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    rois = torch.tensor([[0, 1.3, 0.7, 5.2, 4.9], [1, -1.0, 2.0, 9.0, 7.5], [1, 2.5, 2.5, 3.0, 6.0],
                         [0, 4.0, 4.0, 4.0, 4.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda t: ops.roi_align(t, rois, (2, 3), 1.0, sampling_ratio, aligned), (x,))


def test_non_contiguous_and_rois_dtype():
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(6, 2, 9, 10, generator=gen)
    x = base.transpose(0, 1)[:, ::2]  # (2, 3, 9, 10), neither NCHW nor channels-last contiguous
    assert not x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last)
    rois = make_rois(8, 2, 9, 10, 1.0, gen)
    out = ops.roi_align(x, rois, 4)
    assert_close(out, ops.roi_align(x.contiguous(), rois, 4))
    # rois in another floating dtype than the features are accepted (e.g. float32 under AMP)
    assert_close(ops.roi_align(x.half(), rois, 4), out, torch.float16)
    assert_close(ops.roi_align(x, rois.double(), 4), out)


def test_empty():
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    out = ops.roi_align(x, torch.zeros(0, 5), 7)
    assert out.shape == (0, 4, 7, 7)
    out.sum().backward()
    assert torch.all(x.grad == 0)
    out = ops.roi_align(torch.randn(0, 4, 5, 5), torch.tensor([[0., 0, 0, 3, 3]]), 2)
    assert out.shape == (1, 4, 2, 2) and torch.all(out == 0)
    out = ops.roi_align(torch.randn(1, 4, 0, 5), torch.tensor([[0., 0, 0, 3, 3]]), 2)
    assert torch.all(out == 0)


@pytest.mark.parametrize('bad, exc, match', [
    (dict(input=torch.randn(4, 5, 5)), ValueError, r'input must have shape \(N, C, H, W\)'),
    (dict(input=torch.ones(1, 4, 5, 5, dtype=torch.int64)), TypeError, 'input must have dtype'),
    (dict(input=[1.0]), TypeError, 'input must be a torch.Tensor'),
    (dict(rois=torch.zeros(3, 4)), ValueError, r'rois must have shape \(N, 5\).*\(3, 4\)'),
    (dict(rois=torch.zeros(5)), ValueError, r'rois must have shape \(N, 5\)'),
    (dict(rois=torch.zeros(3, 5, dtype=torch.int32)), TypeError, 'rois must be a floating'),
    (dict(rois=torch.zeros(3, 5, device='meta')), ValueError, 'rois is on meta'),
    (dict(output_size=0), ValueError, 'output_size'),
    (dict(output_size=(2, 3, 4)), ValueError, 'output_size'),
    (dict(sampling_ratio=1.5), TypeError, 'sampling_ratio'),
])
def test_bad_input(bad, exc, match):
    args = dict(input=torch.randn(1, 4, 5, 5), rois=torch.zeros(3, 5), output_size=2)
    args.update(bad)
    with pytest.raises(exc, match=match):
        ops.roi_align(**args)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(n=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12),
       k=st.integers(0, 6), ph=st.integers(1, 4), pw=st.integers(1, 4),
       scale=st.sampled_from([1.0, 0.5, 0.25, 1 / 3]), sampling_ratio=st.integers(-1, 3),
       aligned=st.booleans(), channels_last=st.booleans(), seed=st.integers(0, 2**16))
def test_fuzz_against_reference(n, c, h, w, k, ph, pw, scale, sampling_ratio, aligned,
                                channels_last, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    rois = make_rois(k, n, h, w, scale, gen, torch.float64)
    out = ops.roi_align(x, rois, (ph, pw), scale, sampling_ratio, aligned)
    xr = x.detach().clone().requires_grad_()
    ref = roi_align_ref(xr, rois, (ph, pw), scale, sampling_ratio, aligned)
    assert_close(out, ref)
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    out.backward(grad)
    ref.backward(grad)
    assert_close(x.grad, xr.grad)


def test_module():
    layer = ops.RoIAlignFast(output_size=7, spatial_scale=0.5, sampling_ratio=2)
    assert layer.output_size == (7, 7)
    assert 'sampling_ratio=2' in repr(layer)
    x = torch.randn(1, 3, 10, 10)
    rois = torch.tensor([[0., 1, 2, 15, 18]])
    assert torch.equal(layer(x, rois), ops.roi_align(x, rois, 7, 0.5, 2, True))
    with pytest.raises(ValueError, match='pool_mode'):
        ops.RoIAlignFast(7, pool_mode='max')


def test_mmdet_single_roi_extractor():
    pytest.importorskip('mmdet')
    pytest.importorskip('mmcv.ops')
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    ops.register_openmmlab_modules()
    assert MODELS.get('RoIAlignFast') is ops.RoIAlignFast
    # other tests may leave 'mmseg' as the process-wide default scope
    with DefaultScope.overwrite_default_scope('mmdet'):
        _check_single_roi_extractor(MODELS)


def _check_single_roi_extractor(MODELS):
    extractor = MODELS.build(dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlignFast', output_size=7, sampling_ratio=0),
        out_channels=8, featmap_strides=[4, 8]))
    assert all(isinstance(layer, ops.RoIAlignFast) for layer in extractor.roi_layers)
    assert [layer.spatial_scale for layer in extractor.roi_layers] == [0.25, 0.125]
    gen = torch.Generator().manual_seed(4)
    feats = (torch.randn(2, 8, 32, 32, generator=gen), torch.randn(2, 8, 16, 16, generator=gen))
    rois = torch.tensor([[0., 4, 4, 20, 30], [1, 10, 10, 120, 100], [0, 0, 0, 127, 127]])
    out = extractor(feats, rois)
    assert out.shape == (3, 8, 7, 7)
    # the same as mmcv's RoIAlign in the same extractor
    reference = MODELS.build(dict(
        type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
        out_channels=8, featmap_strides=[4, 8]))
    torch.testing.assert_close(out, reference(feats, rois), atol=1e-5, rtol=1e-5)


@requires_cuda
@pytest.mark.parametrize('dtype', FLOAT_TYPES)
@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('sampling_ratio', [0, 2])
def test_cuda_matches_cpu(dtype, channels_last, sampling_ratio):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 16, 20, 24, generator=gen).to(dtype)
    rois = make_rois(40, 2, 20, 24, 0.5, gen)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    xc = x.clone().requires_grad_()
    xg = x.cuda().requires_grad_()
    out_c = ops.roi_align(xc, rois, 7, 0.5, sampling_ratio)
    out_g = ops.roi_align(xg, rois.cuda(), 7, 0.5, sampling_ratio)
    assert out_g.is_contiguous(memory_format=torch.channels_last if channels_last else
                               torch.contiguous_format)
    assert_close(out_g.cpu(), out_c, dtype)
    grad = torch.randn(out_c.shape, generator=gen).to(dtype)
    out_c.backward(grad)
    out_g.backward(grad.cuda())
    atol, rtol = TOLERANCES[dtype]
    torch.testing.assert_close(xg.grad.cpu().double(), xc.grad.double(), atol=4 * atol,
                               rtol=4 * rtol)
    if dtype == torch.float32:
        ref = tv_roi_align(x.cuda(), rois[:-1].cuda(), 7, 0.5, sampling_ratio, True)
        assert_close(out_g[:-1], ref)


@requires_cuda
def test_cuda_gradcheck():
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, device='cuda', requires_grad=True)
    rois = torch.tensor([[0, 1.3, 0.7, 5.2, 4.9], [1, -1.0, 2.0, 9.0, 7.5]], dtype=torch.float64,
                        device='cuda')
    assert torch.autograd.gradcheck(lambda t: ops.roi_align(t, rois, (2, 3)), (x,))

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import clipdense.ops as ops
from clipdense.ops.reference import masked_crops_ref

from .helpers import requires_cuda, requires_ext

pytestmark = requires_ext
MEAN, STD = ops.CLIP_MEAN, ops.CLIP_STD


def make_scene(q, h, w, gen, mask_dtype=torch.bool):
    image = torch.rand(3, h, w, generator=gen) * 255
    masks = torch.zeros(q, h, w, dtype=torch.bool)
    for i in range(q):
        y0, x0 = (int(v) for v in torch.randint(0, min(h, w), (2,), generator=gen))
        y1 = y0 + 1 + int(torch.randint(0, h - y0, (1,), generator=gen))
        x1 = x0 + 1 + int(torch.randint(0, w - x0, (1,), generator=gen))
        blob = torch.rand(y1 - y0, x1 - x0, generator=gen) > 0.3
        masks[i, min(y0, h - 1):y1, min(x0, w - 1):x1] = blob
    if q > 1:
        masks[1] = False                       # empty mask
    if q > 2:
        masks[2] = False
        masks[2, h // 2, w // 3] = True        # a single pixel
    if mask_dtype == torch.uint8:
        masks = masks.to(torch.uint8) * 7
    elif mask_dtype != torch.bool:
        masks = masks.to(mask_dtype) * 0.4 + 0.3  # on = 0.7, off = 0.3
    return image, masks


def check(image, masks, size, atol=1e-4, **kwargs):
    crops, valid = ops.masked_crops(image, masks, size, MEAN, STD, **kwargs)
    ref, ref_valid = masked_crops_ref(image, masks, size, MEAN, STD, **kwargs)
    assert crops.shape == (masks.size(0), image.size(0), size, size)
    assert valid.dtype == torch.bool and torch.equal(valid, ref_valid)
    torch.testing.assert_close(crops.float(), ref.float(), atol=atol, rtol=1e-4)
    return crops, valid


@pytest.mark.parametrize('mode', ['bicubic', 'bilinear'])
@pytest.mark.parametrize('expand_ratio', [1.0, 1.3, 0.6])
@pytest.mark.parametrize('size', [16, 40])
def test_matches_reference(mode, expand_ratio, size):
    gen = torch.Generator().manual_seed(0)
    image, masks = make_scene(6, 30, 25, gen)
    crops, valid = check(image, masks, size, mode=mode, expand_ratio=expand_ratio)
    assert not valid[1]
    assert torch.all(crops[1] == 0)  # fill = mean -> zero after normalisation


@pytest.mark.parametrize('mask_dtype', [torch.uint8, torch.float32, torch.float16])
def test_mask_dtypes(mask_dtype):
    gen = torch.Generator().manual_seed(1)
    image, masks = make_scene(4, 20, 24, gen, mask_dtype)
    bool_masks = masks > 0.5 if masks.is_floating_point() else masks != 0
    a, _ = check(image, masks, 12)
    b, _ = ops.masked_crops(image, bool_masks, 12, MEAN, STD)
    assert torch.equal(a, b)


@pytest.mark.parametrize('dtype', [torch.uint8, torch.float16, torch.bfloat16, torch.float64])
def test_image_dtypes(dtype):
    gen = torch.Generator().manual_seed(2)
    image, masks = make_scene(4, 20, 24, gen)
    image = image.round().to(dtype) if dtype == torch.uint8 else image.to(dtype)
    crops, _ = ops.masked_crops(image, masks, 12, MEAN, STD)
    assert crops.dtype == (torch.float32 if dtype == torch.uint8 else dtype)
    ref, _ = masked_crops_ref(image.double(), masks, 12, MEAN, STD)
    atol = {torch.float16: 2e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-4)
    torch.testing.assert_close(crops.double(), ref, atol=atol, rtol=1e-2)


def test_boxes_fill_and_edge_cases():
    gen = torch.Generator().manual_seed(3)
    image, masks = make_scene(6, 20, 30, gen)
    boxes = torch.tensor([[2.0, 3.0, 17.5, 12.2],    # inside
                          [0.0, 0.0, 30.0, 20.0],    # mask empty -> invalid anyway
                          [-10.0, -5.0, 50.0, 40.0],  # larger than the image -> clamped
                          [5.0, 5.0, 5.0, 9.0],      # zero width -> invalid
                          [40.0, 30.0, 60.0, 50.0],  # outside the image -> invalid
                          [10.0, 8.0, 4.0, 2.0]])    # inverted -> invalid
    crops, valid = check(image, masks, 10, boxes=boxes, fill=(0.0, 255.0, 10.0))
    assert valid.tolist()[1:] == [False, True, False, False, False]
    fill = (torch.tensor([0.0, 255.0, 10.0]) - torch.tensor(MEAN)) / torch.tensor(STD)
    torch.testing.assert_close(crops[3], fill[:, None, None].expand(3, 10, 10))
    check(image, masks, 10, boxes=boxes.double(), expand_ratio=1.5, fill=128)


def test_ovseg_semantics():
    """A full mask with the crop size equal to the image: the crop is the normalised image."""
    gen = torch.Generator().manual_seed(4)
    image = torch.rand(3, 12, 12, generator=gen) * 255
    masks = torch.ones(1, 12, 12, dtype=torch.bool)
    crops, valid = ops.masked_crops(image, masks, 12, MEAN, STD)
    expected = (image - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    torch.testing.assert_close(crops[0], expected, atol=1e-5, rtol=1e-5)
    # a rectangle crop squashed (not padded) to a square: the interpolate of the filled crop
    masks = torch.zeros(1, 12, 12, dtype=torch.bool)
    masks[0, 2:6, 1:11] = True
    masks[0, 3, 4] = False
    crops, _ = ops.masked_crops(image, masks, 8, MEAN, STD, fill=0.0, mode='bicubic')
    region = torch.where(masks[0, 2:6, 1:11], image[:, 2:6, 1:11], torch.tensor(0.0))
    region = (region - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    expected = F.interpolate(region[None], (8, 8), mode='bicubic', align_corners=False)[0]
    torch.testing.assert_close(crops[0], expected, atol=1e-4, rtol=1e-4)


def test_empty():
    image = torch.rand(3, 8, 8) * 255
    crops, valid = ops.masked_crops(image, torch.zeros(0, 8, 8, dtype=torch.bool), 5, MEAN, STD)
    assert crops.shape == (0, 3, 5, 5) and valid.shape == (0,)
    crops, valid = ops.masked_crops(image, torch.zeros(2, 8, 8, dtype=torch.bool), 5, MEAN, STD)
    assert not valid.any() and torch.all(crops == 0)


@pytest.mark.parametrize('bad, exc, match', [
    (dict(image=torch.rand(1, 3, 8, 8)), ValueError, r'image must have shape \(C, H, W\)'),
    (dict(image=torch.ones(3, 8, 8, dtype=torch.int32)), TypeError, 'image must have dtype'),
    (dict(image=torch.rand(9, 8, 8)), ValueError, '1 to 8 channels'),
    (dict(masks=torch.ones(8, 8, dtype=torch.bool)), ValueError, r'masks must have shape \(Q, H, W\)'),
    (dict(masks=torch.ones(2, 8, 9, dtype=torch.bool)), ValueError, 'must match image'),
    (dict(masks=torch.ones(2, 8, 8, device='meta')), ValueError, 'masks is on meta'),
    (dict(boxes=torch.zeros(3, 4)), ValueError, r'boxes must have shape \(Q, 4\)'),
    (dict(boxes=torch.zeros(2, 4, dtype=torch.int64)), TypeError, 'boxes must have dtype'),
    (dict(size=0), ValueError, 'size'),
    (dict(mode='nearest'), ValueError, 'mode'),
    (dict(mean=(1.0, 2.0)), ValueError, 'mean must have one value per channel'),
    (dict(std=(1.0, 0.0, 1.0)), ValueError, 'std must be nonzero'),
    (dict(expand_ratio=0), ValueError, 'expand_ratio'),
])
def test_bad_input(bad, exc, match):
    args = dict(image=torch.rand(3, 8, 8), masks=torch.ones(2, 8, 8, dtype=torch.bool), size=4,
                mean=MEAN, std=STD)
    args.update(bad)
    with pytest.raises(exc, match=match):
        ops.masked_crops(**args)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(q=st.integers(0, 5), h=st.integers(1, 24), w=st.integers(1, 24), size=st.integers(1, 20),
       mode=st.sampled_from(['bicubic', 'bilinear']),
       expand_ratio=st.sampled_from([1.0, 0.5, 1.2, 2.0]), with_boxes=st.booleans(),
       seed=st.integers(0, 2**16))
def test_fuzz_against_reference(q, h, w, size, mode, expand_ratio, with_boxes, seed):
    gen = torch.Generator().manual_seed(seed)
    image, masks = make_scene(q, h, w, gen)
    boxes = None
    if with_boxes:
        xy = torch.rand(q, 2, generator=gen) * torch.tensor([w, h]) * 1.2 - 2
        boxes = torch.cat([xy, xy + torch.rand(q, 2, generator=gen) * torch.tensor([w, h])], 1)
    check(image, masks, size, mode=mode, expand_ratio=expand_ratio, boxes=boxes)


def test_module():
    layer = ops.MaskedCrops(size=8, expand_ratio=1.2)
    image, masks = make_scene(3, 16, 16, torch.Generator().manual_seed(5))
    a, va = layer(image, masks)
    b, vb = ops.masked_crops(image, masks, 8, MEAN, STD, expand_ratio=1.2)
    assert torch.equal(a, b) and torch.equal(va, vb)


@requires_cuda
@pytest.mark.parametrize('mode', ['bicubic', 'bilinear'])
@pytest.mark.parametrize('mask_dtype', [torch.bool, torch.float32])
@pytest.mark.parametrize('image_dtype', [torch.float32, torch.uint8, torch.float16])
def test_cuda_matches_cpu(mode, mask_dtype, image_dtype):
    gen = torch.Generator().manual_seed(6)
    image, masks = make_scene(8, 60, 50, gen, mask_dtype)
    image = image.round().to(image_dtype) if image_dtype == torch.uint8 else image.to(image_dtype)
    boxes = torch.tensor([[3.0, 4.0, 40.0, 33.0]]).repeat(8, 1)
    for kwargs in (dict(), dict(expand_ratio=1.2), dict(boxes=boxes, fill=7.0)):
        a, va = ops.masked_crops(image, masks, 32, MEAN, STD, mode=mode, **kwargs)
        if 'boxes' in kwargs:
            kwargs['boxes'] = kwargs['boxes'].cuda()
        b, vb = ops.masked_crops(image.cuda(), masks.cuda(), 32, MEAN, STD, mode=mode, **kwargs)
        assert torch.equal(va, vb.cpu())
        atol = 1e-2 if image_dtype == torch.float16 else 1e-4
        torch.testing.assert_close(b.cpu().float(), a.float(), atol=atol, rtol=1e-3)

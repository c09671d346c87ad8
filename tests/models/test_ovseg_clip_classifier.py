"""RegionCLIPClassifier (OVSeg's CLIP adapter): crops, batching, text classifier, empty masks."""
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import TINY_VIT


def _classifier(depth=2, mask_prompt_fwd=True, **kwargs):
    from clipdense.models.heads import RegionCLIPClassifier
    torch.manual_seed(0)
    return RegionCLIPClassifier(clip=dict(arch=TINY_VIT, mask_prompt_depth=depth),
                                mask_prompt_fwd=mask_prompt_fwd, **kwargs).eval()


def _scene(q=6, height=50, width=70, seed=0):
    """A 0-255 image and masks: blobs, a thin line, a single pixel, a full mask, an empty one."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(3, height, width, generator=gen) * 255
    masks = torch.zeros(q, height, width, dtype=torch.bool)
    masks[0, 5:20, 10:40] = True
    masks[0, 8:12, 15:20] = False  # hole
    masks[1, 30:49, 2:9] = True
    masks[2, 25, :] = True  # one row
    masks[3, 44, 66] = True  # one pixel at the border
    masks[4] = True
    # masks[5] stays empty
    return image, masks


def _reference_box(mask, ratio):
    """OVSeg: BitMasks box (float32), expand_box on 0-dim tensors, int(), clamp."""
    ys, xs = torch.where(mask)
    if ys.numel() == 0:
        return [0, 0, 0, 0]
    x1, y1, x2, y2 = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1],
                                  dtype=torch.float32)
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    w, h = (x2 - x1) * ratio, (y2 - y1) * ratio
    left, top, right, bottom = (int(v) for v in (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w,
                                                  cy + 0.5 * h))
    return [max(left, 0), max(top, 0), min(right, mask.shape[1]), min(bottom, mask.shape[0])]


@pytest.mark.parametrize('ratio', [1.0, 1.3, 0.7, 2.5])
def test_crop_boxes_match_the_original_rule(ratio):
    from clipdense.models.heads.region_clip_classifier import mask_crop_boxes
    _, masks = _scene()
    random = torch.rand(20, 50, 70, generator=torch.Generator().manual_seed(1)) > 0.995
    masks = torch.cat([masks, random])
    boxes = mask_crop_boxes(masks, ratio)
    assert boxes.tolist() == [_reference_box(m, ratio) for m in masks]
    assert boxes[5].tolist() == [0, 0, 0, 0]


def test_crop_masks_equal_nearest_interpolation_per_region():
    from clipdense.models.heads.region_clip_classifier import crop_masks_nearest
    masks = torch.rand(4, 90, 70, generator=torch.Generator().manual_seed(2)) > 0.5
    boxes = torch.tensor([[0, 0, 70, 90], [3, 5, 35, 37], [10, 20, 13, 21], [1, 1, 65, 33]])
    for size in (64, 32, 16):
        out = crop_masks_nearest(masks, boxes, size)
        for mask, (left, top, right, bottom), got in zip(masks, boxes.tolist(), out):
            piece = mask[top:bottom, left:right].float()[None, None]
            expected = F.interpolate(piece, size=(size, size), mode='nearest')[0, 0] > 0
            assert torch.equal(got, expected)


def test_crops_equal_the_per_region_python_reference():
    classifier = _classifier(expand_ratio=1.2)
    image, masks = _scene()
    crops, crop_masks, valid = classifier.region_crops(image, masks)
    loop_crops, loop_masks, loop_valid = classifier.region_crops_loop(image, masks)
    assert valid.tolist() == [True] * 5 + [False] and torch.equal(valid, loop_valid)
    assert crops.shape == (6, 3, 64, 64) and crop_masks.shape == (6, 64, 64)
    assert torch.allclose(crops[valid], loop_crops, atol=1e-4)
    assert torch.equal(crop_masks[valid], loop_masks)
    assert not crop_masks[~valid].any()
    # pixels outside the mask become the CLIP mean, i.e. zero after normalisation
    full_box_mask = torch.zeros(1, 50, 70, dtype=torch.bool)
    full_box_mask[0, 0, 0] = full_box_mask[0, 49, 69] = True  # box = whole image, 2 pixels on
    crop, _, _ = classifier.region_crops(image, full_box_mask)
    assert crop[0, :, 20:40, 20:40].abs().max() < 1e-4


@pytest.mark.parametrize('mask_prompt_fwd', [True, False])
def test_region_embeddings_equal_the_original_loop(mask_prompt_fwd):
    classifier = _classifier(mask_prompt_fwd=mask_prompt_fwd, chunk_size=4)
    image, masks = _scene()
    with torch.no_grad():
        embeds, empty = classifier.region_embeddings(image, masks)
    loop, loop_empty = classifier.region_embeddings_loop(image, masks)
    per_region, _ = classifier.region_embeddings_loop(image, masks, batched_forward=False)
    assert empty.tolist() == [False] * 5 + [True] and torch.equal(empty, loop_empty)
    assert torch.allclose(embeds, loop, atol=1e-5)
    assert torch.allclose(embeds, per_region, atol=1e-5)
    assert torch.allclose(embeds[~empty].norm(dim=1), torch.ones(5))
    assert not embeds[empty].any()


def test_chunk_size_does_not_change_results():
    image, masks = _scene()
    results = []
    for chunk in (1, 3, 100):
        with torch.no_grad():
            results.append(_classifier(chunk_size=chunk).region_embeddings(image, masks)[0])
    assert torch.allclose(results[0], results[1], atol=1e-5)
    assert torch.allclose(results[0], results[2], atol=1e-5)


def test_classify_is_softmax_of_100_cos_and_flags_empty_masks():
    classifier = _classifier()
    image, masks = _scene()
    text = F.normalize(torch.randn(4, 24, generator=torch.Generator().manual_seed(5)), dim=-1)
    with torch.no_grad():
        probs, empty = classifier.classify(image, masks, text)
        embeds, _ = classifier.region_embeddings(image, masks)
    expected = (100 * embeds @ text.T).softmax(dim=-1)
    assert torch.allclose(probs[:5], expected[:5], atol=1e-6)
    assert torch.allclose(probs[:5].sum(1), torch.ones(5))
    assert probs[5].tolist() == [1.0] * 4 and empty[5]
    zero_rows, _ = classifier.classify(image, masks, text, empty_value=0.0)
    assert zero_rows[5].tolist() == [0.0] * 4


def test_no_regions():
    classifier = _classifier()
    image, _ = _scene()
    masks = torch.zeros(0, 50, 70, dtype=torch.bool)
    embeds, empty = classifier.region_embeddings(image, masks)
    assert embeds.shape == (0, 24) and empty.shape == (0, )
    probs, _ = classifier.classify(image, masks, F.normalize(torch.randn(3, 24), dim=-1))
    assert probs.shape == (0, 3)


def test_vocabulary_classifier_is_vild14_ensemble_and_cached(tmp_path):
    from clipdense.clip import VILD_TEMPLATES, CLIPTokenizer
    classifier = _classifier(cache_dir=str(tmp_path))
    vocabulary = ['cat', ['dog', 'puppy']]
    text = classifier.encode_vocabulary(vocabulary)
    tokenizer = CLIPTokenizer()
    with torch.no_grad():
        def name_embedding(names):
            prompts = [t.format(n) for n in names for t in VILD_TEMPLATES]
            embeds = F.normalize(classifier.text_encoder.encode_text(tokenizer(prompts)), dim=-1)
            return F.normalize(embeds.mean(0), dim=-1)
        expected = torch.stack([name_embedding(['cat']), name_embedding(['dog', 'puppy'])])
    assert text.shape == (2, 24) and torch.allclose(text, expected, atol=1e-6)
    assert torch.equal(classifier.encode_vocabulary(vocabulary), text)  # memory cache
    assert classifier.text_cache.misses == 1 and classifier.text_cache.hits == 0
    assert len(list(tmp_path.iterdir())) == 1
    again = _classifier(cache_dir=str(tmp_path))  # same weights: served from disk
    assert torch.equal(again.encode_vocabulary(vocabulary), text)
    assert again.text_cache.hits == 1


def test_bad_inputs_raise_clear_errors():
    classifier = _classifier()
    image, masks = _scene()
    with pytest.raises(ValueError, match='do not match the image size'):
        classifier.region_embeddings(image, masks[:, :40])
    with pytest.raises(ValueError, match='binary'):
        classifier.region_embeddings(image, masks.float() * 0.7)
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        classifier.region_embeddings(image[:2], masks)
    with pytest.raises(ValueError, match=r'\(Q, H, W\)'):
        classifier.region_embeddings(image, masks[0])
    with pytest.raises(ValueError, match='text_embeddings'):
        classifier.classify(image, masks, torch.randn(3, 7))
    with pytest.raises(ValueError, match='mask_prompt_depth'):
        _classifier(depth=0, mask_prompt_fwd=True)

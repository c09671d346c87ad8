"""MaskPromptCLIPViT (OVSeg's mask prompt tuning) against hand computations."""
import pytest
import torch

from tests.conftest import TEXT_CFG, TINY_VIT

THREE_BLOCKS = dict(embed_dim=24, text_cfg=TEXT_CFG, vision_cfg=dict(
    layers=3, width=32, patch_size=16, image_size=64, head_width=16))


def _tower(arch=THREE_BLOCKS, depth=3, **kwargs):
    from clipdense.models.backbones import MaskPromptCLIPViT
    torch.manual_seed(0)
    return MaskPromptCLIPViT(arch=arch, mask_prompt_depth=depth, **kwargs).eval()


def _images(n=2, size=64, seed=1):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _keep_grid(mask):
    from clipdense.models.backbones import MaskPromptCLIPViT  # noqa: F401
    tower = _tower(depth=1)
    return tower.patch_keep(mask[None])[0].reshape(4, 4)


def test_keep_rule_hole_in_full_mask_keeps_every_patch():
    mask = torch.ones(64, 64, dtype=torch.bool)
    mask[20:23, 36:39] = False  # a hole inside patch (row 1, col 2)
    assert _keep_grid(mask).all()
    mask[16:32, 32:48] = False  # the whole patch empty: only that one is dropped
    expected = torch.ones(4, 4, dtype=torch.bool)
    expected[1, 2] = False
    assert torch.equal(_keep_grid(mask), expected)


def test_keep_rule_isolated_pixels_keep_their_patches():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[17, 33] = True  # patch (1, 2)
    mask[63, 0] = True  # patch (3, 0)
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[1, 2] = expected[3, 0] = True
    assert torch.equal(_keep_grid(mask), expected)


def test_keep_rule_box_not_aligned_to_patches():
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[10:38, 20:51] = True  # rows 10..37 -> patch rows 0..2; cols 20..50 -> patch cols 1..3
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[0:3, 1:4] = True
    assert torch.equal(_keep_grid(mask), expected)


def test_plain_tower_bit_for_bit_without_masks_and_with_full_masks():
    from clipdense.clip import build_clip
    tower = _tower()
    torch.manual_seed(0)
    plain = build_clip(arch=THREE_BLOCKS).visual.eval()
    images = _images()
    with torch.no_grad():
        reference = plain(images)
        assert torch.equal(tower(images), reference)  # same weights (same seed), no masks
        full = torch.ones(2, 64, 64, dtype=torch.bool)
        assert torch.equal(tower(images, full), reference)  # every patch kept: nothing replaced
        assert torch.equal(_tower(depth=0)(images), reference)  # MPT off


def _manual_prompted(tower, images, keep):
    """The forward written out block by block, with the replacements of OVSeg."""
    visual = tower.visual
    prompts = tower.mask_embedding
    x = visual.conv1(images).flatten(2).transpose(1, 2)
    x = torch.where(keep[..., None], x, prompts[0])
    cls = visual.class_embedding.expand(x.shape[0], 1, -1)
    x = visual.ln_pre(torch.cat([cls, x], 1) + visual.positional_embedding)
    inputs = []
    for index, block in enumerate(visual.transformer.resblocks):
        inputs.append(x)
        x = block(x)
        if index + 1 < prompts.shape[0]:
            x = torch.cat([x[:, :1], torch.where(keep[..., None], x[:, 1:], prompts[index + 1])],
                          1)
    return visual.ln_post(x[:, 0]) @ visual.proj, inputs


@pytest.mark.parametrize('depth', [1, 2, 3])
def test_replacement_at_exactly_the_configured_depths(depth):
    tower = _tower(depth=depth)
    images = _images()
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[0, 5:30, 10:60] = True
    masks[1, 40:64, 0:20] = True
    keep = tower.patch_keep(masks)
    seen_inputs, seen_outputs = [], []

    def record(module, args, output):
        seen_inputs.append(args[0])
        seen_outputs.append(output)

    hooks = [block.register_forward_hook(record) for block in tower.visual.transformer.resblocks]
    with torch.no_grad():
        out = tower(images, masks)
        for hook in hooks:
            hook.remove()
        expected, manual_inputs = _manual_prompted(tower, images, keep)
    assert torch.allclose(out, expected, atol=1e-6)
    background = ~keep
    prompts = tower.mask_embedding
    for index, block_input in enumerate(seen_inputs):
        assert torch.allclose(block_input, manual_inputs[index], atol=1e-6)
        patches = block_input[:, 1:]
        if index == 0:
            continue
        previous = seen_outputs[index - 1]
        # the class token is never replaced
        assert torch.equal(block_input[:, 0], previous[:, 0])
        # foreground patches pass through; background ones become prompts[index] up to depth
        assert torch.equal(patches[keep], previous[:, 1:][keep])
        if index < depth:
            assert torch.equal(patches[background],
                               prompts[index].expand(2, -1, -1)[background])
        else:
            assert torch.equal(patches[background], previous[:, 1:][background])


def test_mask_shapes_and_dtypes_give_identical_results():
    tower = _tower()
    images = _images(3)
    masks = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(2)) > 0.7
    masks[2] = False
    masks[2, 30:34, 30:34] = True
    with torch.no_grad():
        base = tower(images, masks)
        assert torch.equal(tower(images, masks[:, None]), base)
        assert torch.equal(tower(images, masks.float()), base)
        assert torch.equal(tower(images, masks[:, None].to(torch.uint8)), base)


def test_batched_equals_one_by_one():
    tower = _tower()
    images = _images(4)
    masks = torch.rand(4, 64, 64, generator=torch.Generator().manual_seed(3)) > 0.5
    with torch.no_grad():
        batched = tower(images, masks)
        single = torch.cat([tower(images[i:i + 1], masks[i:i + 1]) for i in range(4)])
    assert torch.allclose(batched, single, atol=1e-5)


def test_shared_prompt_broadcasts_one_token_per_depth():
    tower = _tower(shared_prompt=True)
    assert tuple(tower.mask_embedding.shape) == (3, 1, 32)
    masks = torch.zeros(1, 64, 64, dtype=torch.bool)
    masks[0, :16, :16] = True
    with torch.no_grad():
        tower.mask_embedding.normal_()
        expected, _ = _manual_prompted(tower, _images(1), tower.patch_keep(masks))
        assert torch.allclose(tower(_images(1), masks), expected, atol=1e-6)


def test_mask_embedding_init_and_only_prompts_get_gradients_when_frozen():
    tower = _tower(arch=TINY_VIT, depth=2)
    assert tuple(tower.mask_embedding.shape) == (2, 16, 32)
    assert 0.01 < float(tower.mask_embedding.detach().std()) < 0.03  # N(0, 0.02)
    tower.requires_grad_(False)
    tower.mask_embedding.requires_grad_(True)
    masks = torch.zeros(2, 64, 64, dtype=torch.bool)
    masks[:, :20, :20] = True
    tower(_images(), masks).sum().backward()
    assert tower.mask_embedding.grad is not None and tower.mask_embedding.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in tower.named_parameters() if n != 'mask_embedding')


def test_bad_inputs_raise_clear_errors():
    from clipdense.clip import build_clip
    from clipdense.models.backbones import MaskPromptCLIPViT
    tower = _tower()
    images = _images()
    with pytest.raises(ValueError, match='binary'):
        tower(images, torch.full((2, 64, 64), 0.5))
    with pytest.raises(ValueError, match='tower input size'):
        tower(images, torch.ones(2, 32, 32, dtype=torch.bool))
    with pytest.raises(ValueError, match='one channel'):
        tower(images, torch.ones(2, 2, 64, 64, dtype=torch.bool))
    with pytest.raises(ValueError, match='2 images'):
        tower(images, torch.ones(3, 64, 64, dtype=torch.bool))
    with pytest.raises(ValueError, match='tower input size'):
        tower(_images(size=48))
    with pytest.raises(ValueError, match='no mask prompts'):
        _tower(depth=0)(images, torch.ones(2, 64, 64, dtype=torch.bool))
    with pytest.raises(ValueError, match='mask_prompt_depth'):
        _tower(depth=4)
    torch.manual_seed(0)
    resnet = build_clip(arch=dict(embed_dim=24, text_cfg=TEXT_CFG, vision_cfg=dict(
        layers=[1, 1, 1, 1], width=8, image_size=64))).visual
    with pytest.raises(TypeError, match='not an open_clip VisionTransformer'):
        MaskPromptCLIPViT(visual=resnet)

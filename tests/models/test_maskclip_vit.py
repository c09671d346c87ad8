"""MaskCLIP dense features of open_clip ViTs against a plain-torch recomputation of the weights."""
import math

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import TEXT_CFG, TINY_VIT


def _layer_norm(x, state, name):
    return F.layer_norm(x, x.shape[-1:], state[f'{name}.weight'], state[f'{name}.bias'])


def _mlp(x, state, block):
    hidden = F.gelu(x @ state[f'{block}.mlp.c_fc.weight'].T + state[f'{block}.mlp.c_fc.bias'])
    return hidden @ state[f'{block}.mlp.c_proj.weight'].T + state[f'{block}.mlp.c_proj.bias']


def _attention(x, state, block, heads):
    """Full multi-head self-attention written out: softmax(q k^T / sqrt(d)) v."""
    qkv = x @ state[f'{block}.attn.in_proj_weight'].T + state[f'{block}.attn.in_proj_bias']
    q, k, v = qkv.chunk(3, dim=-1)
    split = lambda t: t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    weights = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
    mixed = (weights @ v).transpose(1, 2).reshape(x.shape)
    return mixed @ state[f'{block}.attn.out_proj.weight'].T + state[f'{block}.attn.out_proj.bias']


def reference_maskclip(visual, images, feats_block):
    """MaskCLIP from the state dict alone: embeddings with a bicubically resized position grid,
    full blocks, the LN2 output of ``feats_block``, the value-only last block, ln_post, proj."""
    state = {k: v.double() for k, v in visual.state_dict().items()}
    heads = visual.transformer.resblocks[0].attn.num_heads
    patch = state['conv1.weight'].shape[-1]
    x = F.conv2d(images.double(), state['conv1.weight'], stride=patch)
    batch, width, gh, gw = x.shape
    pos = state['positional_embedding']
    side = math.isqrt(pos.shape[0] - 1)
    grid = pos[1:].reshape(1, side, side, width).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(gh, gw), mode='bicubic',
                         align_corners=False).double()
    pos = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(gh * gw, width)])
    x = torch.cat([state['class_embedding'].expand(batch, 1, width),
                   x.flatten(2).transpose(1, 2)], dim=1) + pos
    x = _layer_norm(x, state, 'ln_pre')
    layers = len(visual.transformer.resblocks)
    feats = None
    for i in range(layers - 1):
        block = f'transformer.resblocks.{i}'
        x = x + _attention(_layer_norm(x, state, f'{block}.ln_1'), state, block, heads)
        ln2 = _layer_norm(x, state, f'{block}.ln_2')
        if i == feats_block:
            feats = ln2[:, 1:].transpose(1, 2).reshape(batch, width, gh, gw)
        x = x + _mlp(ln2, state, block)
    block = f'transformer.resblocks.{layers - 1}'
    value_w = state[f'{block}.attn.in_proj_weight'][2 * width:]
    value_b = state[f'{block}.attn.in_proj_bias'][2 * width:]
    v = _layer_norm(x, state, f'{block}.ln_1') @ value_w.T + value_b
    x = x + v @ state[f'{block}.attn.out_proj.weight'].T + state[f'{block}.attn.out_proj.bias']
    x = x + _mlp(_layer_norm(x, state, f'{block}.ln_2'), state, block)
    dense = _layer_norm(x[:, 1:], state, 'ln_post') @ state['proj']
    return dense.transpose(1, 2).reshape(batch, -1, gh, gw), feats


def _three_layer_vit(patch=16, width=32, image=64):
    from clipdense.clip import build_clip
    torch.manual_seed(0)
    arch = dict(embed_dim=24, text_cfg=TEXT_CFG, vision_cfg=dict(
        layers=3, width=width, patch_size=patch, image_size=image, head_width=16))
    return build_clip(arch=arch).visual.eval()


@pytest.mark.parametrize('size', [(64, 64), (48, 96)])
def test_dense_and_block_features_equal_plain_recomputation(size):
    from clipdense.models.backbones import MaskCLIPViT
    visual = _three_layer_vit()
    backbone = MaskCLIPViT(visual=visual, feats_idx=-2).eval()
    assert backbone.feats_idx == 1
    torch.manual_seed(1)
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = backbone(images)
    dense, feats = reference_maskclip(visual, images, feats_block=1)
    grid = (size[0] // 16, size[1] // 16)
    assert out['dense'].shape == (2, 24, *grid) and out['feats'].shape == (2, 32, *grid)
    torch.testing.assert_close(out['dense'].double(), dense, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(out['feats'].double(), feats, atol=2e-5, rtol=1e-4)


def test_last_block_uses_no_token_mixing():
    """The value-path last block is per token: changing one input token changes only its own
    output."""
    from clipdense.models.backbones.maskclip_vit import value_path_block
    visual = _three_layer_vit()
    tokens = torch.randn(1, 5, 32)
    changed = tokens.clone()
    changed[0, 4] += 3.0
    with torch.no_grad():
        a = value_path_block(visual.transformer.resblocks[-1], tokens)
        b = value_path_block(visual.transformer.resblocks[-1], changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert (a[:, 4] - b[:, 4]).abs().max() > 0.1


def test_sequence_first_layout_gives_same_features():
    """open_clip < 2.26 ran blocks sequence-first; the computation must not depend on it."""
    from clipdense.models.backbones import MaskCLIPViT
    visual = _three_layer_vit()
    images = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        batch_first = MaskCLIPViT(visual=visual, feats_idx=0)(images)
        for block in visual.transformer.resblocks:
            block.attn.batch_first = False
        seq_first = MaskCLIPViT(visual=visual, feats_idx=0)(images)
    for key in ('dense', 'feats'):
        torch.testing.assert_close(batch_first[key], seq_first[key], atol=1e-5, rtol=1e-5)


def test_patch_14_and_other_widths():
    """ViT-L/14-like geometry: patch 14, a 4x4 trained grid used at 5x7."""
    from clipdense.models.backbones import MaskCLIPViT
    visual = _three_layer_vit(patch=14, width=48, image=56)
    backbone = MaskCLIPViT(visual=visual, feats_idx=-3)
    with torch.no_grad():
        out = backbone(torch.randn(1, 3, 70, 98))
    assert out['dense'].shape == (1, 24, 5, 7) and out['feats'].shape == (1, 48, 5, 7)
    dense, feats = reference_maskclip(visual, torch.zeros(1, 3, 70, 98), feats_block=0)
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, 70, 98))
    torch.testing.assert_close(out['dense'].double(), dense, atol=2e-5, rtol=1e-4)


def test_builds_from_clip_kwargs_and_rejects_bad_input(tiny_rn_clip):
    from clipdense.models.backbones import MaskCLIPViT
    backbone = MaskCLIPViT(clip=dict(arch=TINY_VIT), feats_idx=None)
    out = backbone(torch.randn(1, 3, 32, 32))
    assert set(out) == {'dense'} and out['dense'].shape == (1, 24, 2, 2)
    with pytest.raises(ValueError, match='smaller than one 16px patch'):
        backbone(torch.randn(1, 3, 8, 32))
    with pytest.raises(ValueError, match=r'feats_idx=1 must name one of the first 1 blocks'):
        MaskCLIPViT(clip=dict(arch=TINY_VIT), feats_idx=1)
    with pytest.raises(TypeError, match='not an open_clip VisionTransformer'):
        MaskCLIPViT(visual=tiny_rn_clip.visual)

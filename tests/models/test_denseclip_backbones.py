"""DenseCLIP image towers: shapes on non-square inputs and OpenAI weights reproducing forwards
recomputed here from the loaded tensors."""
import math

import pytest
import torch
import torch.nn.functional as F

from clipdense.clip import build_clip
from clipdense.models.backbones import CLIPResNetWithAttention, CLIPVisionTransformer
from tests.conftest import TEXT_CFG, TINY_RN
from tests.weight_files import save_torchscript_archive

TINY_VIT4 = dict(embed_dim=24, vision_cfg=dict(layers=4, width=32, patch_size=16, image_size=64,
                                               head_width=16), text_cfg=TEXT_CFG)
BN = dict(type='BN', requires_grad=True)


def _resize_grid(pos, size):
    """Bilinear (align_corners=False) resize of a (1 + s*s, C) embedding's grid to ``size``."""
    side = math.isqrt(pos.shape[0] - 1)
    grid = pos[1:].reshape(side, side, -1).permute(2, 0, 1)[None]
    grid = F.interpolate(grid, size=size, mode='bilinear', align_corners=False)
    return torch.cat([pos[:1], grid[0].flatten(1).T])


def _attention_pool_reference(x, weights, heads, pos=None):
    """CLIP's attention pool over all positions with plain tensor ops (no nn.MultiheadAttention);
    ``pos`` ``(1 + H*W, C)`` defaults to the weights' grid resized bilinearly to the map."""
    batch, channels, height, width = x.shape
    tokens = x.flatten(2).transpose(1, 2)
    tokens = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
    if pos is None:
        pos = _resize_grid(weights['attnpool.positional_embedding'], (height, width))
    tokens = tokens + pos

    def project(name):
        out = tokens @ weights[f'attnpool.{name}.weight'].T + weights[f'attnpool.{name}.bias']
        return out.reshape(batch, -1, heads, channels // heads).transpose(1, 2)

    q, k, v = project('q_proj'), project('k_proj'), project('v_proj')
    attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(channels // heads), dim=-1)
    out = (attn @ v).transpose(1, 2).reshape(batch, -1, channels)
    out = out @ weights['attnpool.c_proj.weight'].T + weights['attnpool.c_proj.bias']
    return out[:, 0], out[:, 1:].transpose(1, 2).reshape(batch, -1, height, width)


def _clip_and_archive(arch, tmp_path, seed, **kwargs):
    """A random tiny CLIP and its OpenAI-style TorchScript archive."""
    torch.manual_seed(seed)
    clip = build_clip(arch=arch, **kwargs).eval()
    path = tmp_path / 'clip-tiny.pt'
    save_torchscript_archive(clip.state_dict(), path)
    return clip, str(path)


def test_resnet_with_attention_shapes_on_non_square_input():
    backbone = CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, output_dim=24,
                                       input_resolution=64).eval()
    *maps, (global_feat, dense) = backbone(torch.randn(2, 3, 96, 160))
    assert [tuple(m.shape) for m in maps] == [(2, 32, 24, 40), (2, 64, 12, 20),
                                              (2, 128, 6, 10), (2, 256, 3, 5)]
    assert tuple(global_feat.shape) == (2, 24) and tuple(dense.shape) == (2, 24, 3, 5)


def test_openai_resnet_weights_reproduce_attention_pool_recomputed_by_hand(tmp_path):
    clip, path = _clip_and_archive(TINY_RN, tmp_path, seed=0)
    # Grid 2x2 in the file (64 px), 3x3 in the model (96 px): resized at load, again at run time.
    backbone = CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, output_dim=24,
                                       input_resolution=96, heads=4, pretrained=path)
    report = backbone.load_clip_weights(path)
    assert report.missing == [] and report.unexpected == []
    assert report.resized == [('attnpool.positional_embedding', (5, 256), (10, 256))]
    backbone.eval()
    visual_weights = {k[len('visual.'):]: v for k, v in clip.state_dict().items()
                      if k.startswith('visual.')}
    loaded_pos = _resize_grid(visual_weights['attnpool.positional_embedding'], (3, 3))
    assert torch.allclose(backbone.attnpool.positional_embedding, loaded_pos, atol=1e-6)

    image = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        x = clip.visual.stem(image)
        for layer in (clip.visual.layer1, clip.visual.layer2, clip.visual.layer3,
                      clip.visual.layer4):
            x = layer(x)
        expected = _attention_pool_reference(
            x, dict(visual_weights, **{'attnpool.positional_embedding': loaded_pos}), heads=4)
        *maps, (global_feat, dense) = backbone(image)
    assert torch.allclose(maps[-1], x, atol=1e-5)
    assert torch.allclose(global_feat, expected[0], atol=1e-5)
    assert torch.allclose(dense, expected[1], atol=1e-5)
    assert dense.abs().mean() > 0.01  # a real signal, not zeros


def test_resnet_with_attention_global_output_equals_clip_image_embedding(tmp_path):
    clip, path = _clip_and_archive(TINY_RN, tmp_path, seed=1)
    backbone = CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, output_dim=24,
                                       input_resolution=64, heads=4, pretrained=path)  # OpenAI's
    backbone.init_weights()
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(backbone.eval()(image)[-1][0], clip.encode_image(image), atol=1e-5)


def test_attention_pool_heads_default_to_denseclips_32_and_plain_resnet_keeps_openais():
    assert CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8).attnpool.num_heads == 32
    assert CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, heads=4).attnpool.num_heads == 4
    with torch.device('meta'):  # RN50x4 (width 80): OpenAI's rule gives 40 heads, DenseCLIP's 32
        assert CLIPResNetWithAttention(model_name='RN50x4').attnpool.num_heads == 32
        assert CLIPResNetWithAttention(model_name='RN50x4', heads=40).attnpool.num_heads == 40
        assert CLIPResNetWithAttention([1, 1, 1, 1], 8, 24, 64, 4).attnpool.num_heads == 4
    from clipdense.models.backbones import CLIPResNet
    assert CLIPResNet(model_name='RN50x4').heads == 40
    assert CLIPResNet(layers=[1, 1, 1, 1], width=80).heads == 40


def _hand_cropped(pos, side, height, width):
    """The detection rule, one position at a time: cell (i, j) takes grid cell
    (min(i, side - 1), min(j, side - 1)); the global token keeps row 0."""
    rows = [pos[0]]
    for i in range(height):
        for j in range(width):
            rows.append(pos[1 + min(i, side - 1) * side + min(j, side - 1)])
    return torch.stack(rows)


@pytest.mark.parametrize('map_size', [(3, 2), (2, 4), (4, 4), (6, 3), (5, 7)],
                         ids=['smaller', 'smaller-rows', 'equal', 'taller', 'larger'])
def test_detection_positional_embedding_is_cropped_top_left_and_edge_extended(map_size):
    """Grid 4x4 (input_resolution 128). Maps within it take the top-left crop (the original's
    ``pos[1:].reshape(4, 4, C)[:H, :W]``, no interpolation); larger maps, where the original
    failed with a shape error, repeat the last row/column."""
    torch.manual_seed(0)
    backbone = CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, output_dim=24,
                                       input_resolution=128, heads=4,
                                       pos_embed_mode='crop').eval()
    pool = backbone.attnpool
    height, width = map_size
    pos = pool.positional_embedding.detach()
    expected = _hand_cropped(pos, 4, height, width)
    assert torch.equal(pool.positional_embedding_for(height, width).detach(), expected)
    if height <= 4 and width <= 4:
        original = torch.cat([pos[:1], pos[1:].reshape(4, 4, -1)[:height, :width].reshape(
            height * width, -1)])
        assert torch.equal(expected, original)
    image = torch.randn(2, 3, 32 * height, 32 * width)
    weights = {f'attnpool.{k}': v for k, v in pool.state_dict().items()}
    with torch.no_grad():
        *maps, (global_feat, dense) = backbone(image)
        ref_global, ref_dense = _attention_pool_reference(maps[-1], weights, heads=4,
                                                          pos=expected)
    assert dense.shape == (2, 24, height, width)
    assert torch.allclose(global_feat, ref_global, atol=1e-5)
    assert torch.allclose(dense, ref_dense, atol=1e-5)


def test_segmentation_positional_embedding_is_interpolated_by_default():
    backbone = CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, input_resolution=128)
    pos = backbone.attnpool.positional_embedding.detach()
    assert backbone.attnpool.pos_embed_mode == 'interpolate'
    assert torch.allclose(backbone.attnpool.positional_embedding_for(3, 2).detach(),
                          _resize_grid(pos, (3, 2)), atol=1e-6)
    with pytest.raises(ValueError, match="pos_embed_mode must be one of"):
        CLIPResNetWithAttention(layers=[1, 1, 1, 1], width=8, pos_embed_mode='nearest')


def _tiny_vit(**kwargs):
    return CLIPVisionTransformer(input_resolution=64, patch_size=16, width=32, layers=4, heads=2,
                                 output_dim=24, out_indices=[0, 1, 2, 3], norm_cfg=BN, **kwargs)


def test_vit_shapes_on_non_square_input():
    backbone = _tiny_vit(get_embeddings=True).eval()
    *maps, (global_feat, dense) = backbone(torch.randn(2, 3, 64, 96))
    assert [tuple(m.shape) for m in maps] == [(2, 32, 16, 24), (2, 32, 8, 12), (2, 32, 4, 6),
                                              (2, 32, 2, 3)]
    assert tuple(global_feat.shape) == (2, 24) and tuple(dense.shape) == (2, 24, 4, 6)
    assert len(_tiny_vit().eval()(torch.randn(1, 3, 64, 96))) == 4  # no embeddings


@pytest.mark.parametrize('double_class_embedding', [False, True])
def test_openai_vit_weights_reproduce_clip(double_class_embedding, tmp_path):
    clip, path = _clip_and_archive(TINY_VIT4, tmp_path, seed=2, quick_gelu=True)
    backbone = _tiny_vit(get_embeddings=True, pretrained=path,
                         double_class_embedding=double_class_embedding)
    report = backbone.load_clip_weights(path)
    assert report.unexpected == [] and all(k.startswith('fpn') for k in report.missing)
    backbone.eval()
    visual = clip.visual
    if double_class_embedding:  # the original's quirk: class embedding added twice
        with torch.no_grad():
            visual.positional_embedding[0] += visual.class_embedding
    image = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        *maps, (global_feat, dense) = backbone(image)
        expected_global = visual(image)
        _, block_outputs = visual.transformer.forward_intermediates(
            visual.ln_pre(_tokens_plain(visual, image)), indices=[2])
    assert torch.allclose(global_feat, expected_global, atol=1e-5)
    token_map = block_outputs[0][:, 1:].transpose(1, 2).reshape(2, 32, 4, 4)
    assert torch.allclose(maps[2], F.group_norm(token_map, 1), atol=1e-4)  # fpn3 = GN(block 2)
    assert global_feat.abs().mean() > 0.01


def _tokens_plain(visual, image):
    """open_clip's patch tokens with class token and positional embedding."""
    x = visual.conv1(image).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.expand(x.shape[0], 1, -1)
    return torch.cat([cls, x], dim=1) + visual.positional_embedding


def test_vit_positional_embedding_resized_at_load_and_run_time(tmp_path):
    clip, path = _clip_and_archive(TINY_VIT4, tmp_path, seed=3, quick_gelu=True)
    backbone = CLIPVisionTransformer(input_resolution=96, patch_size=16, width=32, layers=4,
                                     heads=2, out_indices=[0, 1, 2, 3], norm_cfg=BN,
                                     pretrained=path)
    report = backbone.load_clip_weights(path)
    assert report.resized == [('positional_embedding', (17, 32), (37, 32))]
    assert 'ln_post.weight' not in report.unexpected  # dropped without get_embeddings
    expected = _resize_grid(clip.visual.positional_embedding.detach(), (6, 6))
    assert torch.allclose(backbone.positional_embedding, expected, atol=1e-6)
    tokens, height, width = backbone.tokens(torch.zeros(1, 3, 32, 80))
    assert (height, width) == (2, 5) and tokens.shape == (1, 11, 32)


def test_vit_drop_path_rises_linearly_and_bad_arguments_raise():
    backbone = CLIPVisionTransformer(input_resolution=64, patch_size=16, width=32, layers=4,
                                     heads=2, out_indices=[0, 1, 2, 3], drop_path_rate=0.3,
                                     norm_cfg=BN)
    rates = [block.ls_1.drop_prob for block in backbone.transformer.resblocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match='out_indices'):
        CLIPVisionTransformer(width=32, layers=4, heads=2, out_indices=[3, 5, 7, 11])
    with pytest.raises(ValueError, match='patch_size'):
        CLIPVisionTransformer(width=32, layers=4, heads=2, patch_size=32, out_indices=[0, 1, 2, 3])


@pytest.mark.parametrize('per_token', [True, False])
def test_vit_drop_path_masks_token_positions_like_the_original(per_token):
    """The original applied per-sample DropPath to (L, B, C) tensors: the mask is per token
    position and shared by the batch, so identical images stay identical in training."""
    torch.manual_seed(0)
    backbone = CLIPVisionTransformer(input_resolution=64, patch_size=16, width=32, layers=4,
                                     heads=2, out_indices=[0, 1, 2, 3], drop_path_rate=0.9,
                                     drop_path_per_token=per_token, norm_cfg=BN).train()
    image = torch.randn(1, 3, 64, 64).expand(8, -1, -1, -1)
    with torch.no_grad():
        out = backbone(image)[2]  # fpn3: GroupNorm only, per sample
        assert torch.equal(out[0], out[-1]) == per_token
        backbone.eval()
        assert not torch.allclose(out[0], backbone(image)[2][0])  # something was dropped

import pytest
import torch
import torch.nn.functional as F

from clipdense.clip import (CLIPWeightsError, build_clip, infer_clip_config, read_weight_file,
                            resize_grid_pos_embed)
from tests.conftest import TINY_RN, TINY_VIT
from tests.weight_files import (save_open_clip_checkpoint, save_safetensors,
                                save_torchscript_archive)


def _write(fmt, state_dict, path):
    if fmt == 'torchscript':
        save_torchscript_archive(state_dict, path)
    elif fmt == 'plain':
        torch.save(state_dict, path)
    elif fmt == 'nested_state_dict':
        torch.save({'state_dict': state_dict, 'epoch': 1}, path)
    elif fmt == 'nested_model':
        torch.save({'model': state_dict}, path)
    elif fmt == 'open_clip':
        save_open_clip_checkpoint(state_dict, path)
    elif fmt == 'safetensors':
        save_safetensors(state_dict, path)


FORMATS = ['torchscript', 'plain', 'nested_state_dict', 'nested_model', 'open_clip',
           'safetensors']


@pytest.mark.parametrize('fmt', FORMATS)
def test_every_format_reads_to_openai_names(fmt, tiny_rn_clip, tmp_path):
    expected = tiny_rn_clip.state_dict()
    path = tmp_path / ('w.safetensors' if fmt == 'safetensors' else 'w.pt')
    _write(fmt, expected, path)
    loaded = read_weight_file(str(path))
    assert set(loaded) == set(expected)  # metadata tensors (input_resolution, ...) dropped
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize('arch', [TINY_RN, TINY_VIT], ids=['resnet', 'vit'])
def test_build_with_weights_reproduces_the_source_model(arch, tmp_path):
    torch.manual_seed(1)
    source = build_clip(arch=arch).eval()
    path = tmp_path / 'clip.pt'
    save_torchscript_archive(source.state_dict(), path)
    rebuilt = build_clip(arch=arch, pretrained=str(path), quick_gelu=False).eval()
    image = torch.randn(2, 3, 64, 64)
    text = torch.randint(1, 1000, (3, 77))
    with torch.no_grad():
        assert torch.allclose(rebuilt.encode_image(image), source.encode_image(image))
        assert torch.allclose(rebuilt.encode_text(text), source.encode_text(text))


def test_torchscript_archive_implies_quick_gelu(tiny_vit_clip, tmp_path):
    path = tmp_path / 'openai.pt'
    save_torchscript_archive(tiny_vit_clip.state_dict(), path)
    model = build_clip(arch=TINY_VIT, pretrained=str(path))
    activation = model.visual.transformer.resblocks[0].mlp.gelu
    assert type(activation).__name__ == 'QuickGELU'


def test_vit_positional_embedding_is_resized_bicubically(tiny_vit_clip, tmp_path):
    path = tmp_path / 'vit.pt'
    torch.save(tiny_vit_clip.state_dict(), path)
    bigger = build_clip(arch=TINY_VIT, pretrained=str(path), image_size=96)
    source = tiny_vit_clip.visual.positional_embedding.detach()  # 1 + 4x4 rows
    resized = bigger.visual.positional_embedding.detach()  # 1 + 6x6 rows
    assert resized.shape == (37, source.shape[1])
    assert torch.equal(resized[0], source[0])  # the class position is kept
    grid = source[1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(6, 6), mode='bicubic', align_corners=False)
    assert torch.allclose(resized[1:], expected.permute(0, 2, 3, 1).reshape(36, -1), atol=1e-6)


def test_resize_grid_pos_embed_identity_and_non_square_error():
    pos = torch.randn(1 + 9, 8)
    assert resize_grid_pos_embed(pos, (3, 3)) is pos
    assert resize_grid_pos_embed(pos, (2, 5)).shape == (1 + 10, 8)
    with pytest.raises(CLIPWeightsError, match='not a square grid'):
        resize_grid_pos_embed(torch.randn(1 + 8, 8), (3, 3))


def test_text_positional_embedding_is_truncated_for_shorter_context(tiny_rn_clip, tmp_path):
    path = tmp_path / 'rn.pt'
    torch.save(tiny_rn_clip.state_dict(), path)
    arch = dict(TINY_RN, text_cfg=dict(TINY_RN['text_cfg'], context_length=13))
    short = build_clip(arch=arch, pretrained=str(path))
    assert torch.equal(short.positional_embedding, tiny_rn_clip.positional_embedding[:13])


def test_wrong_architecture_names_the_mismatch_and_the_right_model(tiny_vit_clip, tmp_path):
    path = tmp_path / 'vit.pt'
    torch.save(tiny_vit_clip.state_dict(), path)
    with pytest.raises(CLIPWeightsError, match=r'shape mismatches.*ViT width 32, patch 16'):
        build_clip(arch=dict(TINY_VIT, vision_cfg=dict(TINY_VIT['vision_cfg'], width=64,
                                                       head_width=32)),
                   pretrained=str(path))
    with pytest.raises(CLIPWeightsError, match='does not fit CLIP.*look like ViT width 32'):
        build_clip(arch=TINY_RN, pretrained=str(path))
    text_only = {k: v for k, v in tiny_vit_clip.state_dict().items() if 'visual.' not in k}
    torch.save(text_only, path)
    with pytest.raises(CLIPWeightsError, match='does not match.*missing keys'):
        build_clip(arch=TINY_VIT, pretrained=str(path))


def test_inferred_config_matches_the_architecture(tiny_rn_clip, tiny_vit_clip):
    rn = infer_clip_config(tiny_rn_clip.state_dict())
    assert rn['vision_cfg'] == dict(layers=[1, 1, 1, 1], width=8, patch_size=None, image_size=64)
    assert rn['embed_dim'] == 24 and rn['text_cfg']['layers'] == 1
    vit = infer_clip_config(tiny_vit_clip.state_dict())
    assert vit['vision_cfg'] == dict(width=32, patch_size=16, layers=2, image_size=64)


def test_missing_file_and_hub_tags_give_instructions(tmp_path):
    with pytest.raises(CLIPWeightsError, match='not found.*local file'):
        read_weight_file(str(tmp_path / 'RN50.pt'))
    with pytest.raises(CLIPWeightsError, match='hub tag.*allow_download=True'):
        build_clip(model_name='ViT-B-16', pretrained='laion2b_s34b_b88k')
    with pytest.raises(ValueError, match='unknown CLIP model name'):
        build_clip(model_name='ViT-Q-99')


def test_foreign_pickles_are_not_unpickled(tmp_path):
    path = tmp_path / 'evil.pt'
    torch.save({'obj': _Opaque()}, path)
    with pytest.raises(CLIPWeightsError, match='weights-only'):
        read_weight_file(str(path))


class _Opaque:
    pass

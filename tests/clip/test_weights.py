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
    with pytest.raises(CLIPWeightsError, match=r'test_weights\._Opaque, which is not allowed'):
        read_weight_file(str(path))


def test_unreadable_weight_files_are_named(tiny_rn_clip, tmp_path):
    empty, text = tmp_path / 'empty.pt', tmp_path / 'notes.pt'
    empty.write_bytes(b'')
    text.write_text('RN50 weights: see the download page\n')
    corrupt = tmp_path / 'cut.safetensors'
    save_safetensors(tiny_rn_clip.state_dict(), corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    renamed = tmp_path / 'weights.bin'  # safetensors content under another suffix
    save_safetensors(tiny_rn_clip.state_dict(), renamed)
    assert set(read_weight_file(str(renamed))) == set(tiny_rn_clip.state_dict())
    for path, message in ((empty, r"empty\.pt' is empty \(0 bytes\)"),
                          (text, r"notes\.pt is not a PyTorch checkpoint: it is a text file "
                                 r"\(it starts with 'RN50 weights"),
                          (corrupt, r"cut\.safetensors' is not a readable \.safetensors file")):
        with pytest.raises(CLIPWeightsError, match=message):
            read_weight_file(str(path))


def test_wrong_architecture_hint_for_a_single_tower(tiny_rn_clip, tmp_path):
    """DenseCLIP towers load their part of the file (``visual.`` stripped, or the text keys
    only); the hint still names the architecture the file was made for."""
    import open_clip

    from clipdense.clip.weights import load_state_dict_into, sub_state_dict
    from clipdense.models.backbones.clip_resnet import CLIPResNet
    from clipdense.models.text.clip_text_encoder import CLIPTextEncoder
    path = tmp_path / 'tiny_rn.pt'
    torch.save(tiny_rn_clip.state_dict(), path)
    tower = CLIPResNet(layers=[1, 1, 1, 1], width=16, output_dim=24, input_resolution=64)
    with pytest.raises(CLIPWeightsError, match=r'look like ResNet layers \[1, 1, 1, 1\], width 8'):
        tower.load_clip_weights(str(path))
    text = CLIPTextEncoder(embed_dim=24, transformer_width=64, transformer_heads=1,
                           transformer_layers=1)
    with pytest.raises(CLIPWeightsError, match='look like text transformer width 32, 1 layers'):
        text.load_clip_weights(str(path))
    rn50 = open_clip.create_model('RN50', device='meta').state_dict()  # shapes only
    with pytest.raises(CLIPWeightsError, match="look like 'RN50' .*model_name='RN50'"):
        load_state_dict_into(tower, sub_state_dict(rn50, 'visual.'))
    vit = open_clip.create_model('ViT-B-16', device='meta').state_dict()
    with pytest.raises(CLIPWeightsError,
                       match=r"look like 'ViT-B-16' \(ViT width 768, patch 16, 12 layers\)"):
        load_state_dict_into(tower, sub_state_dict(vit, 'visual.'))


class _Opaque:
    pass

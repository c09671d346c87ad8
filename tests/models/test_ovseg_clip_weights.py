"""Released OVSeg CLIP weights (``clip_adapter.clip_model.`` + OpenAI naming +
``visual.mask_embedding``): direct loading and tools/model_converters/ovseg_clip.py."""
import os
import sys

import pytest
import torch

from tests.conftest import ROOT, TINY_VIT

sys.path.insert(0, os.path.join(ROOT, 'tools', 'model_converters'))

PREFIX = 'clip_adapter.clip_model.'


def _openai_state_dict(clip, depth=2):
    """An OVSeg-trained CLIP's state dict: OpenAI names plus the mask prompts."""
    state = {k: v.clone() for k, v in clip.state_dict().items()}
    visual = clip.visual
    tokens = visual.positional_embedding.shape[0] - 1
    state['visual.mask_embedding'] = torch.randn(depth, tokens, visual.conv1.out_channels,
                                                 device=visual.conv1.weight.device)
    return state


def _ovseg_checkpoint(state):
    """The layout of a released detectron2 OVSeg checkpoint."""
    model = {PREFIX + k: v for k, v in state.items()}
    model['clip_adapter.non_object_embedding'] = torch.randn(1, 24)
    model['sem_seg_head.predictor.query_embed.weight'] = torch.randn(100, 256)
    model['backbone.stem.conv1.weight'] = torch.randn(4, 3, 3, 3)
    return dict(model=model, iteration=119999)


@pytest.fixture
def ovseg_file(tmp_path):
    from clipdense.clip import build_clip
    torch.manual_seed(3)
    clip = build_clip(arch=TINY_VIT, quick_gelu=True)
    state = _openai_state_dict(clip)
    path = tmp_path / 'ovseg_tiny_ft_mpt.pth'
    torch.save(_ovseg_checkpoint(state), path)
    return str(path), state


def _assert_loaded(classifier, state):
    own = classifier.visual.state_dict()
    for key, value in state.items():
        if key == 'visual.mask_embedding':
            assert torch.equal(own['mask_embedding'], value)
        elif key.startswith('visual.'):
            assert torch.equal(own[key], value), key
        else:
            assert torch.equal(classifier.text_encoder.state_dict()[key], value), key


def test_released_checkpoint_loads_directly(ovseg_file):
    from open_clip.transformer import QuickGELU
    from clipdense.models.heads import RegionCLIPClassifier
    path, state = ovseg_file
    classifier = RegionCLIPClassifier(clip=dict(arch=TINY_VIT, pretrained=path,
                                                mask_prompt_depth=2))
    _assert_loaded(classifier, state)
    # OVSeg fine-tuned OpenAI CLIP: QuickGELU is chosen for such weights
    assert isinstance(classifier.visual.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)
    assert isinstance(classifier.text_encoder.transformer.resblocks[0].mlp.gelu, QuickGELU)


def test_converter_writes_a_weights_only_clip_file(ovseg_file, tmp_path):
    import ovseg_clip
    from clipdense.models.backbones import MaskPromptCLIPViT
    from clipdense.models.heads import RegionCLIPClassifier
    path, state = ovseg_file
    out = tmp_path / 'converted' / 'ovseg_clip.pth'
    ovseg_clip.main([path, str(out)])
    written = torch.load(out, weights_only=True)
    assert set(written) == set(state)
    assert all(torch.equal(written[k], v) for k, v in state.items())
    _assert_loaded(RegionCLIPClassifier(clip=dict(arch=TINY_VIT, pretrained=str(out),
                                                  mask_prompt_depth=2)), state)
    tower = MaskPromptCLIPViT(arch=TINY_VIT, pretrained=str(out), mask_prompt_depth=2)
    assert torch.equal(tower.mask_embedding, state['visual.mask_embedding'])


def test_converter_merges_a_training_checkpoint_with_its_base(ovseg_file, tmp_path):
    import ovseg_clip
    from clipdense.models.classifiers import MaskAdaptedCLIP
    path, state = ovseg_file
    model = MaskAdaptedCLIP(classifier=dict(clip=dict(arch=TINY_VIT, pretrained=path,
                                                      mask_prompt_depth=2),
                                            mask_prompt_fwd=True), train_mode='mask_prompt')
    with torch.no_grad():
        model.classifier.visual.mask_embedding.add_(1.0)
    saved = model.state_dict()
    assert list(saved) == ['classifier.visual.mask_embedding']  # frozen weights are not saved
    checkpoint = tmp_path / 'epoch_5.pth'
    torch.save(dict(meta=dict(epoch=5), state_dict=saved), checkpoint)
    from clipdense.clip import CLIPWeightsError
    with pytest.raises(CLIPWeightsError, match='--base'):
        ovseg_clip.convert(str(checkpoint), str(tmp_path / 'incomplete.pth'))
    merged = ovseg_clip.convert(str(checkpoint), str(tmp_path / 'merged.pth'), base=path)
    assert torch.equal(merged['visual.mask_embedding'], state['visual.mask_embedding'] + 1)
    assert torch.equal(merged['visual.conv1.weight'], state['visual.conv1.weight'])
    assert not os.path.exists(tmp_path / 'incomplete.pth')


@pytest.mark.parametrize('name, prompts', [('ViT-B-16', (3, 196, 768)),
                                           ('ViT-L-14', (3, 256, 1024))])
def test_released_layouts_of_vit_b16_and_l14_fit(name, prompts):
    """Shape-only (meta tensors): every key of an OVSeg checkpoint of that architecture maps
    onto the tower and the text tower, nothing missing, nothing left over."""
    from clipdense.clip import build_clip, load_state_dict_into, sub_state_dict
    from clipdense.models.backbones import MaskPromptCLIPViT
    from clipdense.models.backbones.mask_prompt_clip_vit import OVSEG_CLIP_PREFIX
    with torch.device('meta'):
        clip = build_clip(name, quick_gelu=True)
        state = _openai_state_dict(clip, depth=3)
        tower = MaskPromptCLIPViT(visual=clip.visual, mask_prompt_depth=3)
    assert tuple(state['visual.mask_embedding'].shape) == prompts
    released = {PREFIX + k: v for k, v in state.items()}
    released['clip_adapter.non_object_embedding'] = torch.empty(1, prompts[2], device='meta')
    mapped = sub_state_dict(released, OVSEG_CLIP_PREFIX)
    report = tower.load_weights(mapped, source=name)
    assert report.missing == [] and report.unexpected == []
    del clip.visual
    text = {k: v for k, v in mapped.items() if not k.startswith('visual.')}
    report = load_state_dict_into(clip, text, source=name)
    assert [k for k in report.missing if k != 'logit_bias'] == [] and report.unexpected == []


def test_wrong_prompt_depth_fails_with_a_clear_error(ovseg_file):
    from clipdense.clip import CLIPWeightsError
    from clipdense.models.backbones import MaskPromptCLIPViT
    path, _ = ovseg_file
    with pytest.raises(CLIPWeightsError, match='mask_embedding'):
        MaskPromptCLIPViT(arch=TINY_VIT, pretrained=path, mask_prompt_depth=1)


def test_activation_follows_the_file(ovseg_file, tmp_path):
    """QuickGELU for mask-adapted weights (OVSeg adapts OpenAI CLIP: releases and converted
    files), the config's activation for other files, and quick_gelu set explicitly wins."""
    import ovseg_clip
    from open_clip.transformer import QuickGELU
    from clipdense.clip import build_clip
    from clipdense.models.backbones import MaskPromptCLIPViT
    path, _ = ovseg_file
    converted, plain = str(tmp_path / 'converted.pth'), str(tmp_path / 'plain.pth')
    ovseg_clip.convert(path, converted)
    torch.save(build_clip(arch=TINY_VIT).state_dict(), plain)

    def activation(**kwargs):
        tower = MaskPromptCLIPViT(arch=TINY_VIT, mask_prompt_depth=2, **kwargs)
        return type(tower.visual.transformer.resblocks[0].mlp.gelu)

    assert activation(pretrained=path) is QuickGELU
    assert activation(pretrained=converted) is QuickGELU
    assert activation(pretrained=converted, quick_gelu=False) is torch.nn.GELU
    assert activation(pretrained=plain) is torch.nn.GELU

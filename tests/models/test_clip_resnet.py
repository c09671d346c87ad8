import pytest
import torch

from clipdense.models.backbones import CLIPResNet
from tests.conftest import TINY_RN
from tests.weight_files import save_torchscript_archive


def test_stage_maps_shapes_on_non_square_input():
    backbone = CLIPResNet(layers=[1, 1, 1, 1], width=8).eval()
    outs = backbone(torch.randn(2, 3, 96, 160))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 24, 40), (2, 64, 12, 20), (2, 128, 6, 10),
                                              (2, 256, 3, 5)]
    assert backbone.out_channels == [32, 64, 128, 256]


def test_openai_weights_reproduce_open_clip_resnet(tiny_rn_clip, tmp_path):
    path = tmp_path / 'RN-tiny.pt'
    save_torchscript_archive(tiny_rn_clip.state_dict(), path)
    backbone = CLIPResNet(layers=[1, 1, 1, 1], width=8, pretrained=str(path))
    report = backbone.load_clip_weights(str(path))
    assert report.missing == [] and report.unexpected == []
    backbone.eval()
    visual = tiny_rn_clip.visual.eval()
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        x = visual.stem(image)
        expected = []
        for layer in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
            x = layer(x)
            expected.append(x)
        outs = backbone(image)
    for out, ref in zip(outs, expected):
        assert torch.allclose(out, ref, atol=1e-5)


def test_model_name_sets_the_architecture():
    backbone = CLIPResNet(model_name='RN101')
    assert backbone.layers == [3, 4, 23, 3] and backbone.output_dim == 512
    with pytest.raises(ValueError, match='not a CLIP ResNet'):
        CLIPResNet(model_name='ViT-B-16')


def test_frozen_stages_and_norm_eval():
    backbone = CLIPResNet(layers=[1, 1, 1, 1], width=8, frozen_stages=1, norm_eval=True)
    backbone.train()
    assert not any(p.requires_grad for p in backbone.layer1.parameters())
    assert all(p.requires_grad for p in backbone.layer2.parameters())
    assert not backbone.layer3[0].bn1.training


def test_registered_for_segmentation_and_detection():
    from mmdet.registry import MODELS as DET
    from mmseg.registry import MODELS as SEG
    assert SEG.get('CLIPResNet') is CLIPResNet and DET.get('CLIPResNet') is CLIPResNet


def test_missing_pretrained_file_says_what_to_pass(tmp_path):
    from clipdense.clip import CLIPWeightsError
    backbone = CLIPResNet(layers=[1, 1, 1, 1], width=8, pretrained=str(tmp_path / 'RN50.pt'))
    with pytest.raises(CLIPWeightsError, match=r'not found: .*RN50.pt.*local file'):
        backbone.init_weights()

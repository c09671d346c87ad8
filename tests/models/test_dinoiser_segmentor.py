"""The zero-shot segmentor (MaskCLIP / CLIP-DINOiser) on a tiny random open_clip ViT."""
import logging

import pytest
import torch
from mmengine.registry import init_default_scope

from tests.conftest import TINY_VIT

VOCAB = ['background', 'cat; kitty', 'dog']
TINY_TEACHERS = dict(
    correlation=dict(type='DINOValueTeacher', arch_kwargs=dict(embed_dim=32, depth=2,
                                                               num_heads=2)),
    saliency=dict(type='FOUNDSaliencyTeacher', arch_kwargs=dict(embed_dim=32, depth=2,
                                                                num_heads=2)))


def build_segmentor(**overrides):
    import clipdense  # noqa: F401  (registration)
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = dict(type='ZeroShotSegmentor', clip=dict(arch=TINY_VIT), backbone=dict(feats_idx=0),
               decode_head=dict(type='DINOiserHead', in_channels=32, proj_channels=16),
               class_names=VOCAB, templates='single',
               test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    cfg.update(overrides)
    model = MODELS.build(cfg).eval()
    with torch.no_grad():  # make the saliency decide: half the patches salient
        model.decode_head.bkg_decoder.weight.mul_(40)
    return model


@pytest.fixture(scope='module')
def segmentor():
    return build_segmentor()


def test_slide_equals_whole_when_one_window_covers_the_image(segmentor):
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        slide = segmentor.encode_decode(images)
        segmentor.test_cfg['mode'] = 'whole'
        whole = segmentor.encode_decode(images)
        segmentor.test_cfg['mode'] = 'slide'
    assert slide.shape == (2, 3, 64, 64)
    torch.testing.assert_close(slide, whole)
    # the background rule fired somewhere, so the test covers it
    assert (whole[:, 0] == 1).any() and (whole[:, 0] < 1).any()


def test_slide_averages_window_probabilities(segmentor):
    from clipdense.models.segmentors.zero_shot import slide_windows
    torch.manual_seed(1)
    image = torch.randn(1, 3, 64, 112)
    windows = slide_windows(64, 112, (64, 64), (32, 32))
    assert windows == [(0, 64, 0, 64), (0, 64, 32, 96), (0, 64, 48, 112)]
    expected = torch.zeros(1, 3, 64, 112)
    counts = torch.zeros(1, 1, 64, 112)
    with torch.no_grad():
        for y1, y2, x1, x2 in windows:
            expected[..., y1:y2, x1:x2] += segmentor.window_probabilities(
                image[..., y1:y2, x1:x2])
            counts[..., y1:y2, x1:x2] += 1
        slide = segmentor.encode_decode(image)
        segmentor.test_cfg['window_batch_size'] = 1
        one_at_a_time = segmentor.encode_decode(image)
        segmentor.test_cfg['window_batch_size'] = 8
    assert counts.min() == 1 and counts.max() == 3
    torch.testing.assert_close(slide, expected / counts)
    torch.testing.assert_close(one_at_a_time, slide)


def test_batch_of_two_equals_two_batches_of_one(segmentor):
    torch.manual_seed(2)
    images = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        both = segmentor.encode_decode(images)
        singles = torch.cat([segmentor.encode_decode(images[i:i + 1]) for i in range(2)])
    torch.testing.assert_close(both, singles, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(both[0], both[1])


def test_vocabulary_synonyms_and_classifier_caches(tmp_path, monkeypatch):
    model = build_segmentor(text_cache_dir=str(tmp_path / 'text'))
    calls = []
    encode = model.text_encoder.encode_text
    monkeypatch.setattr(model.text_encoder, 'encode_text',
                        lambda ids: calls.append(len(ids)) or encode(ids))
    first = model.text_classifier()
    assert first.shape == (3, 24) and calls == [4]  # 4 prompts: background, cat, kitty, dog
    assert model.text_classifier() is first and calls == [4]  # memory cache
    model.set_vocabulary(['grass', 'sky'])
    assert model.text_classifier().shape == (2, 24) and model.background_index is None
    model.set_vocabulary(VOCAB)
    model._classifiers.clear()
    torch.testing.assert_close(model.text_classifier(), first)
    assert calls == [4, 2] and model.text_cache.hits == 1  # disk cache served the repeat
    with pytest.raises(ValueError, match='empty'):
        model.set_vocabulary(['cat', ' ; '])
    with pytest.raises(ValueError, match='has one class'):
        model.set_vocabulary(['cat; kitty'])


def test_probability_threshold_makes_background(segmentor):
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain = segmentor.encode_decode(images)
        segmentor.prob_threshold = 0.9
        thresholded = segmentor.encode_decode(images)
        segmentor.set_vocabulary(['cat', 'dog'])
        with pytest.raises(ValueError, match="needs a 'background' class"):
            segmentor.encode_decode(images)
    segmentor.prob_threshold = None
    segmentor.set_vocabulary(VOCAB)
    low = plain.max(1).values < 0.9
    assert low.any()
    assert (thresholded.argmax(1)[low] == 0).all()
    torch.testing.assert_close(thresholded[:, 1:], plain[:, 1:])


def test_checkpoints_hold_light_layers_and_released_format_loads(tmp_path):
    from mmengine.runner.checkpoint import load_checkpoint
    model = build_segmentor()
    assert sorted(model.state_dict()) == ['decode_head.bkg_decoder.bias',
                                          'decode_head.bkg_decoder.weight',
                                          'decode_head.obj_proj.bias',
                                          'decode_head.obj_proj.weight']
    torch.manual_seed(5)
    released = {'obj_proj.weight': torch.randn(16, 32, 3, 3), 'obj_proj.bias': torch.randn(16),
                'bkg_decoder.weight': torch.randn(1, 32, 1, 1), 'bkg_decoder.bias': torch.randn(1)}
    path = tmp_path / 'clip_dinoiser_last.pt'
    torch.save({'epoch': 99, 'model_state_dict': released}, str(path))
    clip_before = model.backbone.visual.conv1.weight.clone()
    logger = logging.getLogger('zero-shot-checkpoint-test')
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    load_checkpoint(model, str(path), map_location='cpu', logger=logger)
    for key, value in released.items():
        torch.testing.assert_close(model.decode_head.state_dict()[key], value)
    torch.testing.assert_close(model.backbone.visual.conv1.weight, clip_before)
    assert not messages  # neither missing nor unexpected keys
    full = build_segmentor(save_clip_weights=True).state_dict()
    assert any(k.startswith('backbone.visual.') for k in full)
    assert any(k.startswith('text_encoder.') for k in full)


def test_missing_clip_weight_file_is_named():
    with pytest.raises(FileNotFoundError, match=r"'pretrained/nowhere\.bin'\. Put an open_clip"):
        build_segmentor(clip=dict(arch=TINY_VIT, pretrained='pretrained/nowhere.bin'))


def test_light_layer_loss_with_tiny_teachers_trains_only_light_layers():
    model = build_segmentor(teachers=TINY_TEACHERS, train_cfg=dict(),
                            data_preprocessor=dict(type='SegDataPreProcessor',
                                                   mean=[122.77, 116.75, 104.09],
                                                   std=[68.5, 66.63, 70.32]))
    model.train()
    assert not model.backbone.training and not model.teachers.training
    torch.manual_seed(3)
    losses = model.loss(torch.randn(2, 3, 64, 64), None)
    assert set(losses) == {'loss_correlation', 'loss_saliency'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    trainable = {n for n, p in model.named_parameters() if p.grad is not None}
    assert trainable == {'decode_head.obj_proj.weight', 'decode_head.obj_proj.bias',
                         'decode_head.bkg_decoder.weight', 'decode_head.bkg_decoder.bias'}
    with pytest.raises(ValueError, match='training needs decode_head and teachers'):
        build_segmentor().loss(torch.randn(1, 3, 64, 64), None)

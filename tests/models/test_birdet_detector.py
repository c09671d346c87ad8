"""BIRDet inside F-VLM (the toy config): per-image classifiers, what trains, re-scoring and POS
on the detector's output, and the OV-COCO configs."""
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from clipdense.models.layers.bim import BackgroundInformationModelling
from clipdense.models.layers.detection_post_processing import DetectionPostProcessingMixin
from clipdense.models.layers.partial_object_suppression import PartialObjectSuppression

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'birdet'
TOY = 'birdet_rn-tiny_1xb8-300i_toy-scenes-96x128.py'
SCENES = ['meadow', 'beach', 'snow', 'night', 'room']


@pytest.fixture(scope='module')
def detector():
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(CONFIGS / TOY))
    cfg.model.roi_head.background.scene_vocabulary = SCENES
    cfg.model.roi_head.background.scene_scorer.checkpoint = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def batch(num_images=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(num_images, 3, 96, 128, generator=generator)
    samples = []
    for index in range(num_images):
        meta = dict(img_shape=(96, 128), ori_shape=(96, 128), scale_factor=(1.0, 1.0),
                    pad_shape=(96, 128), batch_input_shape=(96, 128), img_id=index)
        sample = DetDataSample(metainfo=meta)
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 10., 60., 50.]]),
                                           labels=torch.tensor([index % 3]))
        samples.append(sample)
    return inputs, samples


def test_per_image_classifier_is_class_texts_plus_bim_background(detector):
    detector.eval()
    inputs, _ = batch(3, seed=1)
    with torch.no_grad():
        stages = detector.clip_stages(inputs)
        classifier = detector.region_classifier(inputs, stages[-1]).classifier
        texts = detector.encode_vocabulary(detector.test_vocabulary)
        background = detector.roi_head.background(None, inputs, detector.text_encoder)
    assert isinstance(detector.roi_head.background, BackgroundInformationModelling)
    assert classifier.shape == (3, len(texts) + 1, texts.shape[1])
    torch.testing.assert_close(classifier[:, :-1], texts.expand(3, -1, -1))
    torch.testing.assert_close(classifier[:, -1], background)
    for index in range(3):  # each image's background is its own (batching changes nothing)
        with torch.no_grad():
            alone = detector.roi_head.background(None, inputs[index:index + 1],
                                                 detector.text_encoder)
        torch.testing.assert_close(alone[0], background[index], rtol=1e-5, atol=1e-6)


def test_training_step_updates_context_not_the_frozen_towers(detector):
    detector.train()
    detector.zero_grad()
    inputs, samples = batch(2)
    losses = detector.loss(inputs, samples)
    detector.parse_losses(losses)[0].backward()
    bim = detector.roi_head.background
    assert bim.context.grad is not None and bim.context.grad.abs().sum() > 0
    for frozen in (detector.text_encoder, detector.backbone, bim.scene_scorer):
        assert all(p.grad is None for p in frozen.parameters())
        assert not any(p.requires_grad for p in frozen.parameters())
    assert not bim.scene_scorer.network.training  # frozen BN statistics


def test_predict_rescored_by_bim_then_pos(detector, monkeypatch):
    detector.eval()
    assert isinstance(detector, DetectionPostProcessingMixin)
    bim = detector.roi_head.background
    calls = []
    original = type(bim).rescore

    def spy(self, scores, bg_probs):
        calls.append((scores.clone(), bg_probs.clone()))
        return original(self, scores, bg_probs)

    monkeypatch.setattr(type(bim), 'rescore', spy)
    inputs, samples = batch(2)
    steps = detector.test_cfg['post_processing']
    with torch.no_grad():
        with_pos = detector.predict(inputs, [s.clone() for s in samples])
        detector.test_cfg['post_processing'] = []
        try:
            plain = detector.predict(inputs, [s.clone() for s in samples])
        finally:
            detector.test_cfg['post_processing'] = steps
    assert len(calls) == 4  # once per image and call
    scores, bg = calls[0]
    torch.testing.assert_close(original(bim, scores, bg), scores * (1 - 0.5 * bg)[:, None])
    for got, before in zip(with_pos, plain):
        expected = PartialObjectSuppression(theta=0.8)(before.pred_instances)
        assert torch.equal(got.pred_instances.bboxes, expected.bboxes)
        assert len(got.pred_instances) <= len(before.pred_instances)


@pytest.mark.parametrize('name', ['birdet_rn50_8xb8-184k_ov-coco-1024x1024.py',
                                  'birdet-zs_rn50_8xb8-184k_ov-coco-1024x1024.py',
                                  'fvlm-pos_rn50_8xb8-184k_ov-coco-1024x1024.py'])
def test_ov_coco_configs(name):
    cfg = Config.fromfile(str(CONFIGS / name))
    assert cfg.model.type == 'PostProcessedDetector' and cfg.model.detector_type == 'FVLM'
    assert cfg.model.test_cfg.post_processing == [dict(type='PartialObjectSuppression',
                                                       theta=0.8)]
    background = cfg.model.roi_head.background
    if name.startswith('birdet'):
        text = cfg.model.text_encoder
        assert background.context_width == text.transformer_width == 512
        bim = MODELS.build(dict(background, embed_dim=text.embed_dim))
        assert len(bim.scene_vocabulary) == 365 and bim.top_k == 5
        assert bim.context.shape == (8, 512)

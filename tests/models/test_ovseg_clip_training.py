"""MaskAdaptedCLIP: which weights learn, the contrastive losses, checkpoints, prediction."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from tests.conftest import TINY_VIT

TEXTS = ['ball', 'sky', 'ball', 'kite']


def _model(train_mode='mask_prompt', **kwargs):
    from clipdense.models.classifiers import MaskAdaptedCLIP
    torch.manual_seed(0)
    classifier = dict(clip=dict(arch=TINY_VIT, mask_prompt_depth=2),
                      mask_prompt_fwd=train_mode == 'mask_prompt')
    return MaskAdaptedCLIP(classifier=classifier, train_mode=train_mode, **kwargs)


def _batch(texts=TEXTS, seed=0):
    gen = torch.Generator().manual_seed(seed)
    crops = [torch.randn(3, 64, 64, generator=gen) for _ in texts]
    samples = []
    for index, text in enumerate(texts):
        sample = BaseDataElement(metainfo=dict(text=text, gt_label=index % 3))
        mask = torch.zeros(64, 64, dtype=torch.bool)
        mask[8 * index:8 * index + 30, 10:50] = True
        sample.region_mask = mask
        samples.append(sample)
    return crops, samples


def _train(model, steps=3, lr=0.05):
    params = list(model.trainable_parameters().values())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    crops, samples = _batch()
    losses = []
    model.train()
    for _ in range(steps):
        loss = model(crops, samples, mode='loss')['loss_region_text']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def test_mask_prompt_tuning_changes_only_mask_embedding():
    model = _model('mask_prompt')
    assert set(model.trainable_parameters()) == {'classifier.visual.mask_embedding'}
    before = {k: v.clone() for k, v in model.state_dict(keep_vars=False).items()}
    before_all = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = _train(model, steps=4)
    assert losses[-1] < losses[0]
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before_all[n])}
    assert changed == {'classifier.visual.mask_embedding'}
    assert list(before) == ['classifier.visual.mask_embedding']  # checkpoints: prompts only


def test_full_fine_tuning_changes_only_the_image_tower():
    model = _model('full')
    trainable = set(model.trainable_parameters())
    assert trainable == {n for n, _ in model.named_parameters()
                         if n.startswith('classifier.visual.')}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _train(model, steps=2, lr=1e-3)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith('classifier.visual.visual.') for n in changed)
    assert 'classifier.visual.mask_embedding' not in changed  # no prompts fed: no gradient
    saved = model.state_dict()
    assert all(k.startswith('classifier.visual.') for k in saved)
    assert not any(k.startswith('classifier.text_encoder.') for k in saved)


def test_batch_classes_loss_by_hand():
    model = _model('full', logit_scale=50.0)
    crops, samples = _batch()
    embeds = model(crops, samples, mode='tensor')
    out = model.loss(embeds, TEXTS)
    distinct = ['ball', 'sky', 'kite']
    text = model.classifier.encode_vocabulary([[t] for t in distinct], ['{}'])
    logits = 50.0 * embeds @ text.T
    expected = F.cross_entropy(logits, torch.tensor([0, 1, 0, 2]))
    assert torch.allclose(out['loss_region_text'], expected, atol=1e-6)
    assert math.isclose(float(out['logit_scale']), 50.0, rel_tol=1e-6)


def test_clip_loss_by_hand():
    model = _model('full', loss_type='clip', logit_scale=20.0)
    crops, samples = _batch()
    embeds = model(crops, samples, mode='tensor')
    distinct = model.classifier.encode_vocabulary([['ball'], ['sky'], ['kite']], ['{}'])
    text = distinct[[0, 1, 0, 2]]  # one text per sample, as open_clip's ClipLoss
    logits = 20.0 * embeds @ text.T
    target = torch.arange(4)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    assert torch.allclose(model.loss(embeds, TEXTS)['loss_region_text'], expected, atol=1e-6)


def test_default_temperature_is_the_clips_and_can_be_learnt():
    model = _model('mask_prompt')
    assert math.isclose(float(model.log_logit_scale.exp()),
                        float(model.classifier.text_encoder.logit_scale.exp()), rel_tol=1e-6)
    learnt = _model('mask_prompt', train_logit_scale=True, logit_scale=100.0)
    assert 'log_logit_scale' in learnt.trainable_parameters()
    _train(learnt, steps=2)
    assert float(learnt.log_logit_scale.detach()) <= math.log(100) + 1e-6


def test_checkpoint_round_trip_without_frozen_weights():
    model = _model('mask_prompt')
    _train(model, steps=1)
    fresh = _model('mask_prompt')
    result = fresh.load_state_dict(model.state_dict(), strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert torch.equal(fresh.classifier.visual.mask_embedding,
                       model.classifier.visual.mask_embedding)
    kept = _model('mask_prompt', save_frozen_weights=True).state_dict()
    assert any(k.startswith('classifier.text_encoder.') for k in kept)


def test_predict_and_region_accuracy():
    from clipdense.evaluation import RegionAccuracy
    model = _model('mask_prompt', class_names=['ball', 'sky', 'kite'])
    crops, samples = _batch()
    with torch.no_grad():
        out = model(crops, samples, mode='predict')
    probs = torch.stack([s.pred_score for s in out])
    assert probs.shape == (4, 3) and torch.allclose(probs.sum(1), torch.ones(4))
    assert [s.pred_label for s in out] == probs.argmax(1).tolist()
    metric = RegionAccuracy()
    metric.process(None, [dict(pred_label=p, gt_label=g) for p, g in
                          [(0, 0), (1, 0), (1, 1), (2, 2), (2, 2), (0, 2)]])
    result = metric.compute_metrics(metric.results)
    assert math.isclose(result['aAcc'], 4 / 6 * 100)
    assert math.isclose(result['mAcc'], (1 / 2 + 1 + 2 / 3) / 3 * 100)


def test_bad_configurations():
    from clipdense.models.classifiers import MaskAdaptedCLIP
    with pytest.raises(ValueError, match='mask_prompt_fwd'):
        MaskAdaptedCLIP(classifier=dict(clip=dict(arch=TINY_VIT, mask_prompt_depth=2),
                                        mask_prompt_fwd=False),
                        train_mode='mask_prompt')
    with pytest.raises(ValueError, match='train_mode'):
        _model('everything')
    with pytest.raises(ValueError, match='vocabulary'):
        crops, samples = _batch()
        _model('mask_prompt')(crops, samples, mode='predict')

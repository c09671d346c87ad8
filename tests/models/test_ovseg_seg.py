"""OVSeg part 2: the open-vocabulary class head, the ensemble, the semantic map and the two-stage
segmentor (tiny random models, CPU)."""
import math
import os

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import ROOT

TINY_CONFIG = os.path.join(ROOT, 'configs/_base_/models/ovseg_tiny_toy.py')
TOY_CLASSES = ['sky', 'grass', 'ball', 'box', 'tent', 'kite']


def _log(rows):
    return torch.tensor(rows, dtype=torch.float64).log().float()


# ------------------------------------------------------------------------------ pure functions
def test_maskformer_probs_drop_the_no_object_column_without_renormalising():
    from clipdense.models.segmentors.ovseg import maskformer_class_probs
    probs = maskformer_class_probs(_log([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    assert torch.allclose(probs, torch.tensor([[0.5, 0.3], [0.1, 0.1]]), atol=1e-6)


def test_ensemble_against_a_hand_computation():
    from clipdense.models.segmentors.ovseg import ensemble_class_probs
    logits = _log([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    clip = torch.tensor([[0.8, 0.2], [0.25, 0.75], [0.9, 0.1]])
    empty = torch.tensor([False, False, True])  # row 2: p_clip = 1, the given 0.9/0.1 unused
    half = ensemble_class_probs(logits, clip, empty, 0.5)
    expected = torch.tensor([[math.sqrt(0.5 * 0.8), math.sqrt(0.3 * 0.2)],
                             [math.sqrt(0.1 * 0.25), math.sqrt(0.1 * 0.75)],
                             [math.sqrt(0.6), math.sqrt(0.2)]])
    assert torch.allclose(half, expected, atol=1e-6)
    ade = ensemble_class_probs(logits, clip, empty, 0.7)
    assert ade[0, 0].item() == pytest.approx(0.5 ** 0.3 * 0.8 ** 0.7, abs=1e-6)
    assert ade[1, 1].item() == pytest.approx(0.1 ** 0.3 * 0.75 ** 0.7, abs=1e-6)
    assert ade[2, 0].item() == pytest.approx(0.6 ** 0.3, abs=1e-6)
    # lambda = 0 is MaskFormer alone, lambda = 1 CLIP alone (empty masks: 1 everywhere)
    assert torch.allclose(ensemble_class_probs(logits, clip, empty, 0.0),
                          torch.tensor([[0.5, 0.3], [0.1, 0.1], [0.6, 0.2]]), atol=1e-6)
    assert torch.allclose(ensemble_class_probs(logits, clip, empty, 1.0),
                          torch.tensor([[0.8, 0.2], [0.25, 0.75], [1.0, 1.0]]), atol=1e-6)
    with pytest.raises(ValueError, match='do not match'):
        ensemble_class_probs(logits, clip[:, :1], empty, 0.5)


def test_semantic_map_against_a_hand_computation():
    from clipdense.models.segmentors.ovseg import semantic_map
    class_probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    masks = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.5, 0.5], [1.0, 0.0]]])
    expected = torch.tensor([[[1.25, 0.25], [0.5, 0.0]], [[0.25, 0.25], [0.5, 0.0]]])
    assert torch.allclose(semantic_map(class_probs, masks), expected)
    with pytest.raises(ValueError, match='class rows'):
        semantic_map(class_probs[:1], masks)


def test_lambda_one_ensemble_labels_equal_clip_alone():
    """The formula at lambda = 1 adds the empty masks' soft masks to every class alike: the
    label map is CLIP alone's (the original's CLIP-only branch drops them)."""
    from clipdense.models.segmentors.ovseg import ensemble_class_probs, semantic_map
    torch.manual_seed(0)
    logits, clip = torch.randn(6, 5), torch.rand(6, 4).softmax(-1)
    masks = torch.rand(6, 7, 9)
    empty = torch.tensor([False, True, False, False, True, False])
    formula = semantic_map(ensemble_class_probs(logits, clip, empty, 1.0), masks)
    clip_alone = semantic_map(clip[~empty], masks[~empty])
    offset = formula - clip_alone
    assert torch.allclose(offset, masks[empty].sum(0).expand_as(offset), atol=1e-5)
    assert torch.equal(formula.argmax(0), clip_alone.argmax(0))


# ----------------------------------------------------------------------------------- class head
def test_class_head_logits_are_100_cos_with_no_object_last():
    from clipdense.models.heads.ovseg_class_head import OVSegClassHead
    torch.manual_seed(0)
    head = OVSegClassHead(in_channels=8, embed_dims=6, hidden_channels=10, num_layers=2)
    text = F.normalize(torch.randn(3, 6), dim=-1)
    head.set_text_embeddings(text)
    queries = torch.randn(2, 4, 8)
    logits = head(queries)
    assert logits.shape == (2, 4, 4)
    hidden = F.relu(queries @ head.layers[0].weight.T + head.layers[0].bias)
    embed = hidden @ head.layers[1].weight.T + head.layers[1].bias
    cos_text = F.cosine_similarity(embed[..., None, :], text, dim=-1)
    cos_none = F.cosine_similarity(embed, head.no_object_embedding, dim=-1)
    assert torch.allclose(logits[..., :3], 100 * cos_text, atol=1e-4)
    assert torch.allclose(logits[..., 3], 100 * cos_none, atol=1e-4)
    assert head.no_object_embedding.std().item() == pytest.approx(6 ** -0.5, rel=1.0)
    with pytest.raises(ValueError, match=r'\(C, 6\)'):
        head.set_text_embeddings(torch.randn(3, 5))
    with pytest.raises(RuntimeError, match='no text embeddings'):
        OVSegClassHead(in_channels=8, embed_dims=6)(queries)


# ------------------------------------------------------------------------------------ segmentor
def _build(**overrides):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def model():
    return _build(class_names=TOY_CLASSES, train_class_names=TOY_CLASSES)


def _inputs(model, height=64, width=96, ori=None, seed=1):
    from mmseg.structures import SegDataSample
    torch.manual_seed(seed)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(height, width),
                                         ori_shape=ori or (height, width)))
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
    return image, data['inputs'], data['data_samples']


@torch.no_grad()
def test_image_pixels_undo_the_normalisation(model):
    image, inputs, _ = _inputs(model, 60, 90)
    pixels = model.image_pixels(inputs)[0, :, :60, :90]
    assert torch.equal(pixels, image.flip(0).float())  # the preprocessor turns BGR into RGB


@torch.no_grad()
def test_maskformer_alone_equals_mmseg_maskformer_inference(model):
    """lambda = 0 is MaskFormer's semantic inference (softmax without no-object, einsum)."""
    _, inputs, samples = _inputs(model)
    metas = [s.metainfo for s in samples]
    model.ensemble_weight = 0.0
    try:
        ours = model.encode_decode(inputs, metas)
    finally:
        model.ensemble_weight = 0.7
    model.decode_head.set_text_embeddings(model.text_embeddings())
    reference = model.decode_head.predict(model.extract_feat(inputs), metas, model.test_cfg)
    assert ours.shape == (1, 6, 64, 96)
    assert torch.allclose(ours, reference, atol=1e-5)


@torch.no_grad()
def test_ensemble_uses_one_batched_clip_call_per_image(model, monkeypatch):
    from clipdense.models.segmentors.ovseg import ensemble_class_probs, semantic_map
    _, inputs, samples = _inputs(model)
    metas = [s.metainfo for s in samples]
    calls = []
    classify = model.clip_classifier.classify

    def counting(image, masks, text):
        calls.append(tuple(masks.shape))
        return classify(image, masks, text)

    monkeypatch.setattr(model.clip_classifier, 'classify', counting)
    result = model.predict_regions(inputs, metas)[0]
    assert calls == [(8, 64, 96)]  # all 8 queries in one call
    text = model.text_embeddings()
    class_logits, mask_logits = model.proposals(inputs, metas, text)
    masks = mask_logits[0].sigmoid()
    clip_probs, empty = classify(model.image_pixels(inputs)[0], masks > 0.5, text)
    expected = semantic_map(ensemble_class_probs(class_logits[0], clip_probs, empty, 0.7), masks)
    assert torch.allclose(result['sem_seg'], expected, atol=1e-5)
    assert torch.equal(result['empty'], empty)


@torch.no_grad()
def test_lambda_one_is_clip_alone(model):
    from clipdense.models.segmentors.ovseg import semantic_map
    _, inputs, samples = _inputs(model)
    metas = [s.metainfo for s in samples]
    model.ensemble_weight, model.mask_threshold = 1.0, 0.6  # some masks come out empty
    try:
        result = model.predict_regions(inputs, metas)[0]
    finally:
        model.ensemble_weight, model.mask_threshold = 0.7, 0.5
    text = model.text_embeddings()
    _, mask_logits = model.proposals(inputs, metas, text)
    masks = mask_logits[0].sigmoid()
    clip_probs, empty = model.clip_classifier.classify(model.image_pixels(inputs)[0],
                                                       masks > 0.6, text)
    assert torch.allclose(result['sem_seg'], semantic_map(clip_probs[~empty], masks[~empty]),
                          atol=1e-5)
    assert result['class_probs'].shape[0] == int((~empty).sum())


@torch.no_grad()
def test_external_proposals_equal_the_same_masks_produced_internally(model, monkeypatch):
    """Masks given as files (binary, at the original size) give what the same masks coming out
    of the proposal network (logits +-30, so sigmoid is 0/1) give with CLIP alone."""
    _, inputs, samples = _inputs(model, 64, 96, ori=(128, 192))
    metas = [s.metainfo for s in samples]
    torch.manual_seed(3)
    masks = torch.zeros(5, 64, 96, dtype=torch.bool)
    masks[0, :20, :30] = masks[1, 10:50, 40:90] = masks[2, 30:, :] = masks[3, 5:9, 70:75] = True
    # mask 4 stays empty

    def fixed_proposals(inputs, batch_img_metas, text):
        return torch.randn(1, 5, 7), torch.where(masks, 30.0, -30.0)[None]

    monkeypatch.setattr(model, 'proposals', fixed_proposals)
    model.ensemble_weight = 1.0
    try:
        internal = model.encode_decode(inputs, metas)
        external_masks = masks.repeat_interleave(2, 1).repeat_interleave(2, 2).numpy()
        external_metas = [dict(metas[0], mask_proposals=external_masks)]
        model.ensemble_weight = 0.7  # external proposals are classified by CLIP alone anyway
        external = model.encode_decode(inputs, external_metas)
    finally:
        model.ensemble_weight = 0.7
    assert internal.abs().sum() > 0
    assert torch.allclose(internal, external, atol=1e-5)


@torch.no_grad()
def test_any_vocabulary_and_predictions_at_the_original_size(model):
    _, inputs, samples = _inputs(model, 64, 96, ori=(50, 75))
    model.set_vocabulary([['cat'], ['dog', 'puppy'], 'tree; shrub'])
    try:
        out = model.predict(inputs, samples)[0]
    finally:
        model.set_vocabulary(TOY_CLASSES)
    assert model.vocabulary != [['cat'], ['dog', 'puppy'], ['tree', 'shrub']]
    assert out.seg_logits.data.shape == (3, 50, 75)
    assert out.pred_sem_seg.data.max() < 3
    expected = model.clip_classifier.encode_vocabulary([['cat'], ['dog', 'puppy'],
                                                        ['tree', 'shrub']])
    model.set_vocabulary([['cat'], ['dog', 'puppy'], ['tree', 'shrub']])
    assert torch.equal(model.text_embeddings(), expected)
    model.set_vocabulary(TOY_CLASSES)


def test_training_loss_and_checkpoint_without_clip(model):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    images = [torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8) for _ in range(2)]
    samples = []
    for _ in images:
        sample = SegDataSample(metainfo=dict(img_shape=(96, 96), ori_shape=(96, 96)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 6, (1, 96, 96)))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    model.train()
    try:
        assert not model.clip_classifier.training
        losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        model.eval()
    assert set(losses) >= {'decode.loss_cls', 'decode.loss_mask', 'decode.loss_dice',
                           'decode.d0.loss_cls'}
    total = sum(losses.values())
    total.backward()
    assert model.decode_head.cls_embed.no_object_embedding.grad is not None
    assert all(p.grad is None for p in model.clip_classifier.parameters())
    model.zero_grad()
    state = model.state_dict()
    assert not any(k.startswith('clip_classifier.') for k in state)
    assert 'decode_head.cls_embed.no_object_embedding' in state
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match='lambda'):
        _build(ensemble_weight=1.5)
    with pytest.raises(ValueError, match="'whole'"):
        _build(test_cfg=dict(mode='slide'))
    model = _build(class_names=None, train_class_names=TOY_CLASSES[:3])
    with pytest.raises(ValueError, match='no vocabulary'):
        model.text_embeddings()
    with pytest.raises(ValueError, match='num_classes=6'):
        model.decode_head.set_text_embeddings(model.text_embeddings(TOY_CLASSES[:3]))
        model.decode_head.loss(None, [], None)

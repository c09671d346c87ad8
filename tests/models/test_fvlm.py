"""F-VLM: ensemble formula, frozen CLIP, VLM branch on the project's RoIAlign, any vocabulary."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import clipdense.models.heads.fvlm_roi_head as roi_head_module
from clipdense.models.heads.fvlm_roi_head import clip_attention_pool, ensemble_probabilities
from clipdense.ops import RoIAlignFast
from clipdense.ops.reference import roi_align_ref

REPO_ROOT = Path(__file__).resolve().parents[2]
TOY_CONFIG = REPO_ROOT / 'configs/fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py'
H, W = 96, 128


def build_model(config=TOY_CONFIG, **model_options):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(config))
    cfg.model.update(model_options)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def model():
    return build_model()


def samples(num=2):
    out = []
    for index in range(num):
        sample = DetDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W), pad_shape=(H, W),
                                             batch_input_shape=(H, W), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 50., 60.], [60., 20., 110., 80.]]) + index,
            labels=torch.tensor([0, 2]))
        out.append(sample)
    return out


def images(num=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(num, 3, H, W, generator=generator)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_ensemble_formula_by_hand():
    rng = np.random.default_rng(0)
    det, vlm = rng.normal(size=(3, 5)) * 3, rng.normal(size=(3, 5)) * 3
    is_base = np.array([True, False, True, False])
    got = ensemble_probabilities(torch.tensor(det), torch.tensor(vlm), torch.tensor(is_base),
                                 base_alpha=0.35, novel_beta=0.65).numpy()
    for row in range(3):
        p, q = softmax(det[row]), softmax(vlm[row])
        a = np.where(is_base, 0.35, 0.65)
        scores = np.append(p[:4] ** (1 - a) * q[:4] ** a, p[4])  # background: the detector's
        assert got[row] == pytest.approx(scores / scores.sum(), abs=1e-6)
    with pytest.raises(ValueError, match='shapes do not match'):
        ensemble_probabilities(torch.zeros(2, 5), torch.zeros(2, 4), torch.ones(4, dtype=bool))


def test_clip_attention_pool_matches_open_clip():
    from open_clip.modified_resnet import AttentionPool2d
    torch.manual_seed(0)
    pool = AttentionPool2d(spacial_dim=7, embed_dim=64, num_heads=4, output_dim=24).eval()
    features = torch.randn(5, 64, 7, 7)
    with torch.no_grad():
        assert torch.allclose(clip_attention_pool(pool, features), pool(features), atol=1e-6)
        assert clip_attention_pool(pool, features[:0]).shape == (0, 24)


def test_frozen_clip_gets_no_gradient_and_keeps_weights(model):
    model.train()
    frozen = {name: p.detach().clone() for name, p in model.named_parameters()
              if name.startswith(('backbone.', 'text_encoder.'))}
    frozen_buffers = {name: b.clone() for name, b in model.backbone.named_buffers()}
    trainable = [p for n, p in model.named_parameters() if p.requires_grad]
    assert frozen and all(not model.get_parameter(n).requires_grad for n in frozen)
    assert all(n.startswith(('neck.', 'rpn_head.', 'roi_head.')) for n, p in
               model.named_parameters() if p.requires_grad)
    before = [p.detach().clone() for p in trainable]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    for _ in range(2):
        losses = model.loss(images(), samples())
        assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'acc'} <= set(losses)
        total = sum(v.sum() for k, v in losses.items() if 'loss' in k
                    for v in (v if isinstance(v, list) else [v]))
        assert torch.isfinite(total)
        optimizer.zero_grad()
        total.backward()
        assert model.roi_head.bbox_head.temperature.grad is not None
        optimizer.step()
    for name, value in frozen.items():
        parameter = model.get_parameter(name)
        assert parameter.grad is None and torch.equal(parameter, value), name
    for name, value in model.backbone.named_buffers():
        assert torch.equal(value, frozen_buffers[name]), name  # BN statistics frozen too
    assert any(not torch.equal(a, b) for a, b in zip(before, trainable))
    assert model.roi_head.regions is None  # the batch's classifier does not outlive the call


def test_vlm_branch_uses_project_roi_align(model, monkeypatch):
    model.eval()
    assert isinstance(model.roi_head.bbox_roi_extractor.roi_layers[0], RoIAlignFast)
    calls = []
    original = roi_head_module.roi_align

    def spy(features, rois, *args):
        calls.append((features, rois, args))
        return original(features, rois, *args)

    monkeypatch.setattr(roi_head_module, 'roi_align', spy)
    inputs = images(1)
    with torch.no_grad():
        model.predict(inputs, samples(1))
        last_stage = model.clip_stages(inputs)[-1]
    (features, rois, args), = calls
    assert torch.equal(features, last_stage)
    assert args == (7, 1 / 32, 1, False) and rois.shape[1] == 5 and len(rois) > 0
    # the region embeddings: the reference RoIAlign + CLIP's attention pool
    with torch.no_grad():
        got = model.roi_head.vlm_region_embeddings(last_stage, rois, model.backbone.attnpool)
        pooled = roi_align_ref(last_stage, rois, (7, 7), 1 / 32, 1, False)
        want = clip_attention_pool(model.backbone.attnpool, pooled)
    assert torch.allclose(got, want, atol=1e-5)


def test_unseen_class_is_scored_with_the_novel_weight(model):
    model.eval()
    vocabulary = [['ball'], ['zebra-striped unicorn'], ['tent', 'tipi']]
    model.set_vocabulary(vocabulary)
    try:
        assert model.base_class_mask(model.test_vocabulary).tolist() == [True, False, True]
        texts = model.encode_vocabulary(vocabulary)
        assert texts.shape == (3, 32)
        assert torch.allclose(texts.norm(dim=-1), torch.ones(3))
        inputs = images(1)
        with torch.no_grad():
            stages = model.clip_stages(inputs)
            regions = model.region_classifier(inputs, stages[-1])
            assert regions.classifier.shape == (1, 4, 32) and regions.is_base.tolist() == [
                True, False, True]
            rois = torch.tensor([[0., 10., 10., 60., 70.], [0., 40., 5., 120., 90.]])
            x = model.neck(tuple(stages))
            model.roi_head.regions = regions
            det_logits = model.roi_head._bbox_forward(x, rois)['cls_score']
            probs = model.roi_head.region_probabilities(det_logits, rois, regions)
            vlm = model.roi_head.vlm_region_embeddings(stages[-1], rois, model.backbone.attnpool)
            vlm_logits = torch.nn.functional.normalize(vlm, dim=-1) @ \
                regions.classifier[0].T / 0.01
            want = ensemble_probabilities(det_logits, vlm_logits,
                                          torch.tensor([True, False, True]), 0.35, 0.65)
            assert torch.allclose(probs, want, atol=1e-5)
            assert (probs[:, 1] > 0).all()
            model.roi_head.regions = None
        # a vocabulary of names never seen in training: every detection is one of them
        model.set_vocabulary(['zebra-striped unicorn', 'flying teapot'])
        assert not model.base_class_mask(model.test_vocabulary).any()
        model.roi_head.test_cfg.score_thr = 0.0
        with torch.no_grad():
            result = model.predict(inputs, samples(1))[0].pred_instances
        assert len(result) > 0 and set(result.labels.tolist()) <= {0, 1}
        assert (result.scores > 0).all()
    finally:
        model.vocabulary = None
        model.roi_head.test_cfg.score_thr = 0.05


def test_text_classifiers_are_cached_and_invalidated_by_new_weights(model):
    model.encode_vocabulary(['ball'])
    assert (('ball', ), ) in model._text_classifiers
    model.load_state_dict(copy.deepcopy(model.state_dict()))
    assert not model._text_classifiers


def test_vocabulary_arguments():
    with pytest.raises(ValueError, match='needs base_class_names'):
        build_model(base_class_names=None)
    with pytest.raises(KeyError, match='unknown vocabulary name'):
        build_model(class_names='imagenet')


@pytest.mark.parametrize('config, heads, grid, embed', [
    ('fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py', 32, 7, 1024),
    ('fvlm_rn50x4_8xb8-184k_ov-coco-1024x1024.py', 40, 9, 640),
])
def test_full_configs_build(config, heads, grid, embed):
    """The full-size configs build (on the meta device) with OpenAI's attention-pool heads and a
    VLM RoI grid equal to the CLIP pool's positional grid."""
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(REPO_ROOT / 'configs/fvlm' / config))
    cfg.model.backbone.pretrained = cfg.model.text_encoder.pretrained = None
    with torch.device('meta'):
        detector = MODELS.build(cfg.model)
    pool = detector.backbone.attnpool
    assert pool.num_heads == heads and pool.positional_embedding.shape[0] == grid * grid + 1
    assert detector.roi_head.vlm_roi_output_size == grid
    assert pool.c_proj.out_features == embed == detector.text_encoder.embed_dim
    assert len(detector.base_class_names) == 48 and len(detector.class_names) == 65


def test_optional_class_agnostic_mask_head():
    from mmdet.structures.mask import BitmapMasks
    mask_head = dict(
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlignFast', output_size=14, sampling_ratio=0),
            out_channels=32, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(type='FCNMaskHead', num_convs=2, in_channels=32, conv_out_channels=32,
                       class_agnostic=True, num_classes=1,
                       loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)))
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(TOY_CONFIG))
    cfg.model.roi_head.update(mask_head)
    cfg.model.train_cfg.rcnn.mask_size = 28
    cfg.model.test_cfg.rcnn.mask_thr_binary = 0.5
    torch.manual_seed(0)
    detector = MODELS.build(cfg.model)
    detector.init_weights()
    data = samples(1)
    full = np.zeros((2, H, W), np.uint8)
    full[0, 12:60, 10:50] = full[1, 20:80, 60:110] = 1
    data[0].gt_instances.masks = BitmapMasks(full, H, W)
    detector.train()
    losses = detector.loss(images(1), data)
    assert 'loss_mask' in losses and torch.isfinite(losses['loss_mask'])
    detector.eval()
    detector.roi_head.test_cfg.score_thr = 0.0
    with torch.no_grad():
        result = detector.predict(images(1), samples(1))[0].pred_instances
    assert result.masks.shape[1:] == (H, W) and len(result.masks) == len(result.labels) > 0

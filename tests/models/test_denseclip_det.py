"""DenseCLIP detectors (mmdet 3.x): score-map fusion, auxiliary loss, gradients, text cache."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

RETINANET = 'configs/denseclip/denseclip-retinanet_rn-tiny_1xb8-20e_toy-coco-96x128.py'
MASK_RCNN = 'configs/denseclip/denseclip-mask-rcnn_rn-tiny_1xb8-20e_toy-coco-96x128.py'
TINY_VIT = dict(_delete_=True, type='CLIPVisionTransformer', input_resolution=128, patch_size=16,
                width=32, layers=4, heads=2, output_dim=64, out_indices=[0, 1, 2, 3],
                get_embeddings=True, norm_cfg=dict(type='BN', requires_grad=True))


def build_detector(path, seed=0, vit=False, **overrides):
    import clipdense  # noqa: F401
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(path)
    if vit:  # this project's extension: the multi-scale ViT, score map at the stride-16 level
        cfg.merge_from_dict(dict(model=dict(
            backbone=copy.deepcopy(TINY_VIT), score_concat_index=2,
            neck=dict(in_channels=[32, 32, 32 + 4, 32]))))
    cfg.merge_from_dict(dict(model=overrides))
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    return model


def det_samples(height=96, width=128):
    """Two images with GT boxes/labels/masks (mmdet 3.x data samples)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    boxes = [torch.tensor([[10., 20., 50., 60.], [60., 10., 120., 80.]]),
             torch.tensor([[4., 40., 70., 90.]])]
    labels = [torch.tensor([0, 2]), torch.tensor([3])]
    samples = []
    for image_boxes, image_labels in zip(boxes, labels):
        masks = np.zeros((len(image_boxes), height, width), np.uint8)
        for mask, (x1, y1, x2, y2) in zip(masks, image_boxes.int().tolist()):
            mask[y1:y2, x1:x2] = 1
        sample = DetDataSample(metainfo=dict(
            img_shape=(height, width), pad_shape=(height, width), ori_shape=(height, width),
            batch_input_shape=(height, width), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(bboxes=image_boxes, labels=image_labels,
                                           masks=BitmapMasks(masks, height, width))
        samples.append(sample)
    return samples


def _neck_inputs(model, inputs):
    captured = []
    handle = model.neck.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    with torch.no_grad():
        model.extract_feat(inputs)
    handle.remove()
    return captured[0]


@pytest.mark.parametrize('path', [RETINANET, MASK_RCNN], ids=['retinanet', 'mask-rcnn'])
@pytest.mark.parametrize('vit', [False, True], ids=['rn', 'vit'])
def test_score_map_over_tau_enters_the_original_level(path, vit):
    model = build_detector(path, vit=vit).eval()
    inputs = torch.randn(2, 3, 96, 128)
    stages = _neck_inputs(model, inputs)
    level = 2 if vit else 3
    channels = [32, 32, 32 + 4, 32] if vit else [64, 128, 256, 512 + 4]
    assert [s.shape[1] for s in stages] == channels
    with torch.no_grad():
        text, score_map = model.pixel_text_scores(inputs)
    assert text.shape == (2, 4, 64) and score_map.shape == (2, 4) + stages[level].shape[-2:]
    assert score_map.abs().max() <= 1 + 1e-6  # cosine
    assert torch.equal(stages[level][:, -4:], score_map / model.tau)
    with pytest.raises(ValueError, match='set score_concat_index'):
        model.score_concat_index = 1
        model.extract_feat(inputs)


@pytest.mark.parametrize('path', [RETINANET, MASK_RCNN], ids=['retinanet', 'mask-rcnn'])
@pytest.mark.parametrize('vit', [False, True], ids=['rn', 'vit'])
def test_gradients_reach_contexts_gamma_and_detector_never_the_text_encoder(path, vit):
    model = build_detector(path, vit=vit).train()
    losses = model.loss(torch.randn(2, 3, 96, 128), det_samples())
    aux = 'loss_seg' if path == RETINANET else 'loss_aux_seg'
    assert 0.2 < losses[aux].item() < 5.0
    total = sum(sum(v) if isinstance(v, list) else v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.contexts.grad.abs().sum() > 0 and model.gamma.grad.abs().sum() > 0
    assert model.context_decoder.out_proj[1].weight.grad.abs().sum() > 0
    assert model.neck.lateral_convs[0].conv.weight.grad.abs().sum() > 0
    head = model.bbox_head.retina_cls if path == RETINANET else model.roi_head.mask_head.conv_logits
    assert head.weight.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in model.text_encoder.parameters())
    assert not model.text_encoder.training


def test_aux_loss_is_off_without_seg_loss_and_gradients_come_from_it():
    model = build_detector(RETINANET, seg_loss=False).train()
    assert 'loss_seg' not in model.loss(torch.randn(2, 3, 96, 128), det_samples())
    model = build_detector(RETINANET).train()
    model.loss(torch.randn(2, 3, 96, 128), det_samples())['loss_seg'].backward()
    assert model.contexts.grad.abs().sum() > 0  # the auxiliary loss alone trains the contexts


def test_box_occupancy_targets_on_a_hand_made_example():
    from clipdense.models.detectors.denseclip_detector import box_occupancy_targets
    boxes = [torch.tensor([[2., 3., 17., 13.],  # class 0: cells x 0..4, y 0..3
                           [10., 6., 40., 30.],  # class 2, overlaps A, leaves the 32x32 image
                           [-6., 20., 9., 50.]]),  # class 1, partly left of and below the image
             torch.tensor([[5., 5., 7., 7.]])]  # thinner than a cell: covers nothing
    labels = [torch.tensor([0, 2, 1]), torch.tensor([1])]
    target, weight = box_occupancy_targets(boxes, labels, num_classes=3, size=(8, 8))
    expected = np.zeros((2, 3, 8, 8), np.float32)
    # corners / 4 truncated towards zero, clamped to [0, 7]; rows y1:y2, columns x1:x2
    expected[0, 0, 0:3, 0:4] = 1  # (0.5, 0.75, 4.25, 3.25) -> (0, 0, 4, 3)
    expected[0, 2, 1:7, 2:7] = 1  # (2.5, 1.5, 10, 7.5) -> (2, 1, 7, 7): last row/col never set
    expected[0, 1, 5:7, 0:2] = 1  # (-1.5, 5, 2.25, 12.5) -> (0, 5, 2, 7)
    union = expected.max(axis=1, keepdims=True).repeat(3, axis=1)
    assert np.array_equal(target.numpy(), expected)
    assert np.array_equal(weight.numpy(), union)
    assert union[0, 0].sum() == 42  # 12 (A) + 30 (B) + 4 (C) - 4 (A and B overlap)


def test_aux_loss_is_bce_over_the_union_of_boxes_divided_by_its_cells():
    model = build_detector(RETINANET)
    samples = det_samples()
    score_map = torch.randn(2, 4, 24, 32)
    target = torch.zeros(2, 4, 24, 32)
    weight = torch.zeros(2, 1, 24, 32)
    for i, sample in enumerate(samples):  # boxes / 4: all corners are exact cells here or below
        for (x1, y1, x2, y2), label in zip((sample.gt_instances.bboxes / 4).long().tolist(),
                                           sample.gt_instances.labels.tolist()):
            target[i, label, y1:y2, x1:x2] = 1
            weight[i, :, y1:y2, x1:x2] = 1
    weight = weight.expand(-1, 4, -1, -1)
    prob = score_map.sigmoid()
    by_hand = -(weight * (target * prob.log() + (1 - target) * (1 - prob).log())).sum() / \
        weight.sum()
    assert torch.allclose(model.aux_seg_loss(score_map, samples), by_hand, rtol=1e-5)
    empty = [samples[0].clone()]
    empty[0].gt_instances = InstanceData(bboxes=torch.tensor([[5., 5., 7., 7.]]),
                                         labels=torch.tensor([1]))
    assert model.aux_seg_loss(score_map[:1], empty).item() == 0.0  # the original: 0/0 = NaN


def test_predictions_and_text_cache_in_inference():
    model = build_detector(MASK_RCNN).eval()
    calls = []
    model.text_encoder.register_forward_hook(lambda *_: calls.append(1))
    inputs = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        first = model.predict(inputs, det_samples())
        second = model.predict(inputs, det_samples())
    assert len(calls) == 1
    instances = first[0].pred_instances
    assert {'bboxes', 'scores', 'labels', 'masks'} <= set(instances.keys())
    assert instances.masks.shape[-2:] == (96, 128) and int(instances.labels.max()) < 4
    assert torch.equal(instances.bboxes, second[0].pred_instances.bboxes)


def test_class_names_from_dataset_metainfo_or_config_with_clear_errors():
    from clipdense.clip import TokenBudgetError
    from clipdense.datasets import TOY_THING_CLASSES
    model = build_detector(RETINANET)
    assert model.class_names == list(TOY_THING_CLASSES) and model.texts.shape == (4, 5)
    with pytest.raises(ValueError, match='2 class names but the detection head has '
                                         'num_classes=4'):
        build_detector(RETINANET, class_names=['ball', 'box'])
    with pytest.raises(TokenBudgetError, match="'a very long kite name indeed' is 6 BPE"):
        build_detector(MASK_RCNN, class_names=['ball', 'box', 'tent',
                                               'a very long kite name indeed'])
    with pytest.raises(KeyError, match='neither a list of class names nor a registered'):
        build_detector(RETINANET, class_names='NoSuchDataset')


def test_original_constructor_arguments_are_accepted():
    """``pretrained`` at detector level routes to both towers; ``clip_head`` is ignored as in
    the original; arguments the original never used must stay unset."""
    from clipdense.models.detectors import DenseCLIPMaskRCNN
    cfg = Config.fromfile(MASK_RCNN).model
    kwargs = {k: v for k, v in cfg.items() if k != 'type'}
    kwargs['backbone'] = dict(kwargs['backbone'], pretrained=None)
    init_default_scope('mmdet')
    model = DenseCLIPMaskRCNN(**dict(kwargs, clip_head=False, pretrained='/nowhere/RN50.pt'))
    assert model.backbone.pretrained == model.text_encoder.pretrained == '/nowhere/RN50.pt'
    with pytest.raises(ValueError, match="'text_adapter'.* unused by the original"):
        DenseCLIPMaskRCNN(**dict(kwargs, text_adapter=dict(type='x')))
    with pytest.raises(ValueError, match='both the detector and its backbone set pretrained'):
        DenseCLIPMaskRCNN(**dict(kwargs, backbone=dict(kwargs['backbone'], pretrained='a.pt'),
                                 pretrained='b.pt'))


def test_fused_stage0_upsampling_matches_the_original():
    """The auxiliary map is ``F.upsample(score_map / tau, stage-0 size, 'bilinear')`` (align
    corners off), computed once per step together with the features the heads use."""
    model = build_detector(RETINANET).eval()
    inputs = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        feats, fused, size = model.fused_features(inputs)
        _, score_map = model.pixel_text_scores(inputs)
        stage0 = model.backbone(inputs)[0]
    assert size == tuple(stage0.shape[-2:]) == (24, 32)
    assert torch.equal(fused, score_map / model.tau)
    upsampled = F.interpolate(fused, size=size, mode='bilinear', align_corners=False)
    assert upsampled.shape == (1, 4, 24, 32)
    assert len(feats) == 5 and feats[0].shape == (1, 32, 12, 16)

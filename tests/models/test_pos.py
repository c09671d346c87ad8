"""Partial Object Suppression on hand-made boxes, and as a post-processing step of mmdet
detectors configured through ``test_cfg.post_processing``."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torchvision.ops import batched_nms

from clipdense.models.layers.detection_post_processing import (DetectionPostProcessingMixin,
                                                               build_post_processed_detector)
from clipdense.models.layers.partial_object_suppression import (PartialObjectSuppression,
                                                                overlap_area_ratio,
                                                                partial_object_mask,
                                                                partial_object_suppression)

BIG = [0., 0., 100., 100.]
INSIDE = [10., 10., 40., 40.]        # fully inside BIG: OAR 1, IoU 0.09
HALF_INSIDE = [90., 10., 110., 30.]  # half of its 400 px^2 inside BIG: OAR 0.5


def boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_overlap_area_ratio_by_hand():
    oar = overlap_area_ratio(boxes(BIG, INSIDE, HALF_INSIDE, [200., 200., 210., 210.]))
    assert oar.shape == (4, 4)
    assert oar[0, 1] == oar[1, 0] == 1.0
    assert oar[0, 2] == oar[2, 0] == 0.5
    assert oar[0, 3] == 0 and oar[1, 2] == 0
    assert torch.equal(oar.diagonal(), torch.ones(4))


def test_part_inside_same_class_box_is_removed_while_iou_nms_keeps_it():
    b, scores, labels = boxes(BIG, INSIDE), torch.tensor([0.9, 0.6]), torch.tensor([2, 2])
    assert sorted(batched_nms(b, scores, labels, 0.5).tolist()) == [0, 1]  # IoU 0.09
    keep, new_scores = partial_object_suppression(b, scores, labels, theta=0.8)
    assert keep.tolist() == [True, False]
    assert torch.equal(new_scores, scores)


def test_other_class_and_higher_scoring_part_are_untouched():
    b = boxes(BIG, INSIDE, INSIDE)
    assert partial_object_mask(b, torch.tensor([0.9, 0.6, 0.6]),
                               torch.tensor([0, 1, 0])).tolist() == [False, False, True]
    # the smaller box scores higher: kept, and the larger one is not suppressed either
    assert partial_object_mask(b[:2], torch.tensor([0.5, 0.7]),
                               torch.tensor([0, 0])).tolist() == [False, False]


@pytest.mark.parametrize('theta, suppressed', [(0.49, True), (0.5, False), (0.0, True),
                                               (1.0, False)])
def test_theta_edges_oar_must_exceed_theta(theta, suppressed):
    mask = partial_object_mask(boxes(BIG, HALF_INSIDE), torch.tensor([0.9, 0.3]),
                               torch.tensor([1, 1]), theta=theta)
    assert mask.tolist() == [False, suppressed]


def test_theta_one_keeps_even_fully_contained_boxes_and_zero_keeps_disjoint_ones():
    b, s, l = boxes(BIG, INSIDE), torch.tensor([0.9, 0.6]), torch.tensor([0, 0])
    assert partial_object_mask(b, s, l, theta=1.0).tolist() == [False, False]
    far = boxes(BIG, [150., 150., 160., 160.])
    assert partial_object_mask(far, s, l, theta=0.0).tolist() == [False, False]


def test_empty_input_and_bad_input():
    keep, scores = partial_object_suppression(torch.zeros(0, 4), torch.zeros(0),
                                              torch.zeros(0, dtype=torch.long))
    assert keep.shape == (0, ) and scores.shape == (0, )
    empty = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                         labels=torch.zeros(0, dtype=torch.long))
    assert len(PartialObjectSuppression()(empty)) == 0
    with pytest.raises(ValueError, match='theta'):
        partial_object_mask(boxes(BIG), torch.ones(1), torch.zeros(1), theta=1.5)
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        partial_object_mask(torch.zeros(3, 5), torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match='mode'):
        PartialObjectSuppression(mode='soft')
    with pytest.raises(KeyError, match='labels'):
        PartialObjectSuppression()(InstanceData(bboxes=boxes(BIG), scores=torch.ones(1)))


def test_step_on_instance_data_hard_and_decay():
    instances = InstanceData(bboxes=boxes(BIG, INSIDE, HALF_INSIDE, INSIDE),
                             scores=torch.tensor([0.9, 0.6, 0.5, 0.4]),
                             labels=torch.tensor([0, 0, 0, 1]))
    hard = PartialObjectSuppression(theta=0.8)(instances)
    assert hard.scores.tolist() == pytest.approx([0.9, 0.5, 0.4])
    assert hard.labels.tolist() == [0, 0, 1]
    decay = PartialObjectSuppression(theta=0.4, mode='decay', decay_factor=0.5)(instances)
    assert decay.scores.tolist() == pytest.approx([0.9, 0.3, 0.25, 0.4])
    thresholded = PartialObjectSuppression(theta=0.4, mode='decay', decay_factor=0.5,
                                           score_thr=0.3)(instances)
    assert thresholded.scores.tolist() == pytest.approx([0.9, 0.3, 0.4])
    assert instances.scores.tolist() == pytest.approx([0.9, 0.6, 0.5, 0.4])  # input unchanged


def test_vectorised_matches_a_pairwise_loop():
    generator = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=generator) * 80
    wh = torch.rand(60, 2, generator=generator) * 40 + 1
    b = torch.cat([xy, xy + wh], 1)
    s = torch.rand(60, generator=generator)
    lab = torch.randint(0, 3, (60, ), generator=generator)
    oar = overlap_area_ratio(b)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    expected = [any(lab[i] == lab[j] and oar[i, j] > 0.6 and area[i] <= area[j] and s[i] < s[j]
                    for j in range(60) if j != i) for i in range(60)]
    got = partial_object_mask(b, s, lab, theta=0.6).tolist()
    assert got == expected and 0 < sum(got) < 60


def _retinanet_cfg(test_cfg):
    return dict(
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[0., 0., 0.], std=[1., 1., 1.],
                               bgr_to_rgb=False, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                      norm_cfg=dict(type='BN', requires_grad=True), init_cfg=None),
        neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=16, start_level=0,
                  add_extra_convs='on_input', num_outs=3),
        bbox_head=dict(
            type='RetinaHead', num_classes=2, in_channels=16, stacked_convs=1, feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                            target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        test_cfg=test_cfg)


def test_post_processed_detector_applies_pos_to_a_real_mmdet_detector():
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    test_cfg = dict(nms_pre=200, min_bbox_size=0, score_thr=0.0,
                    nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)
    torch.manual_seed(0)
    plain = MODELS.build(ConfigDict(type='RetinaNet', **_retinanet_cfg(dict(test_cfg))))
    with_pos = MODELS.build(ConfigDict(
        type='PostProcessedDetector', detector_type='RetinaNet', **_retinanet_cfg(
            dict(test_cfg, post_processing=[dict(type='PartialObjectSuppression', theta=0.5)]))))
    assert isinstance(with_pos, type(plain)) and isinstance(with_pos,
                                                            DetectionPostProcessingMixin)
    assert list(with_pos.state_dict()) == list(plain.state_dict())
    plain.init_weights()  # RetinaNet's prior-probability bias: many low, overlapping scores
    with_pos.load_state_dict(plain.state_dict())
    plain.eval(), with_pos.eval()
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1.0, 1.0),
                pad_shape=(64, 64), batch_input_shape=(64, 64))
    with torch.no_grad():
        before = plain.predict(image, [DetDataSample(metainfo=meta)])[0].pred_instances
        after = with_pos.predict(image, [DetDataSample(metainfo=meta)])[0].pred_instances
    expected = PartialObjectSuppression(theta=0.5)(before)
    assert 0 < len(after) < len(before)  # random heads give many overlapping boxes
    assert torch.equal(after.bboxes, expected.bboxes)
    assert torch.equal(after.scores, expected.scores)
    # without the key the mixed-in detector behaves as the plain one
    with_pos.test_cfg.pop('post_processing')
    with torch.no_grad():
        unchanged = with_pos.predict(image, [DetDataSample(metainfo=meta)])[0].pred_instances
    assert torch.equal(unchanged.bboxes, before.bboxes)


def test_post_processed_detector_errors():
    with pytest.raises(KeyError, match='detector_type'):
        build_post_processed_detector()
    with pytest.raises(KeyError, match='NoSuchDetector'):
        build_post_processed_detector(detector_type='NoSuchDetector')
    from clipdense.models.layers.detection_post_processing import build_post_processing_steps
    with pytest.raises(TypeError, match='list of step configs'):
        build_post_processing_steps(dict(type='PartialObjectSuppression'))

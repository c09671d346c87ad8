"""F-VLM's box head: 4 convs + 1 fc, a projection to the CLIP embedding, class-agnostic boxes."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmdet.models.layers import multiclass_nms
from mmdet.models.losses import accuracy
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ..necks.fvlm_fpn import FVLM_NORM_CFG


def text_logits(region_embeddings: Tensor, classifier: Tensor, batch_index: Tensor,
                temperature) -> Tensor:
    """Cosine logits of regions against their image's classifier.

    Args:
        region_embeddings: ``(N, E)`` (any norm; L2-normalised here).
        classifier: ``(B, K, E)`` L2-normalised rows (class texts and the background) per image.
        batch_index: ``(N,)`` image of each region.
        temperature: scalar (float or 0-dim tensor); logits are ``cos / temperature``.

    Returns:
        ``(N, K)`` logits.
    """
    regions = F.normalize(region_embeddings.float(), dim=-1)
    logits = regions.new_empty(regions.shape[0], classifier.shape[1])
    batch_index = batch_index.long()
    for image in range(classifier.shape[0]):  # per image: no (N, K, E) intermediate
        rows = batch_index == image
        logits[rows] = regions[rows] @ classifier[image].float().T
    return logits / temperature


def _norm1d_cfg(norm_cfg: dict) -> dict:
    """The config of ``norm_cfg``'s layer for ``(N, C)`` inputs (``BN`` -> ``BN1d``)."""
    return dict(norm_cfg, type='BN1d') if norm_cfg['type'] == 'BN' else norm_cfg


@MODELS.register_module()
class FVLMBBoxHead(BBoxHead):
    """Region embeddings and class-agnostic box deltas (F-VLM's ``FastrcnnHead``).

    ``num_convs`` 3x3 convs and ``num_fcs`` fcs, each followed by a norm and ReLU; a linear
    layer without bias projects the fc output to the CLIP embedding size (the original's
    "class-predict" layer with ``num_classes = TEXT_DIM``); another predicts 4 deltas per RoI.
    Classification is the cosine of that embedding with the text classifier divided by
    ``temperature_scale * temperature`` (a learned scalar initialised to 1).

    The number of classes follows the vocabulary: :class:`FVLMRoIHead` sets ``num_classes``
    from the classifier it passes (background last, mmdet's convention).

    Losses as F-VLM's ``MaskRCNNLoss``: softmax cross-entropy averaged over the sampled RoIs
    with background RoIs weighted by ``background_loss_weight`` (0.9), and the box loss
    averaged over the positive RoIs' coordinates (``loss_bbox`` SmoothL1 with beta 1 = Huber
    with delta 1).

    Args:
        in_channels, roi_feat_size: RoI feature shape ``(in_channels, S, S)``.
        embed_dim: CLIP joint embedding size (1024 for RN50, 640 for RN50x4, 512 for RN101).
        num_convs, conv_out_channels, num_fcs, fc_out_channels: tower sizes (4, 256, 1, 1024).
        norm_cfg: norm after every conv and fc (F-VLM: BN, Flax momentum 0.997, eps 1e-4).
        temperature_scale: the fixed factor of the temperature (F-VLM ``TEMP`` 0.01).
        background_loss_weight: weight of background RoIs in the classification loss.
    """

    def __init__(self, in_channels: int = 256, roi_feat_size: int = 7, embed_dim: int = 1024,
                 num_convs: int = 4, conv_out_channels: int = 256, num_fcs: int = 1,
                 fc_out_channels: int = 1024, norm_cfg: dict = FVLM_NORM_CFG,
                 temperature_scale: float = 0.01, background_loss_weight: float = 0.9,
                 num_classes: int = 1, loss_cls: dict = dict(type='CrossEntropyLoss',
                                                             use_sigmoid=False, loss_weight=1.0),
                 loss_bbox: dict = dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
                 init_cfg=None, **kwargs):
        if kwargs.pop('reg_class_agnostic', True) is not True:
            raise ValueError('FVLMBBoxHead regresses class-agnostic boxes (F-VLM '
                             'CLS_BOX_REG=False); reg_class_agnostic must be True')
        if loss_cls.get('use_sigmoid', False):
            raise ValueError('FVLMBBoxHead classifies with a softmax over [classes; background]')
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu',
                     distribution='normal'),
                dict(type='Xavier', layer='Linear', distribution='uniform'),
                dict(type='Normal', std=0.01, override=dict(name='embed_proj')),
                dict(type='Normal', std=0.001, override=dict(name='fc_reg'))
            ]
        super().__init__(with_cls=False, with_reg=True, in_channels=in_channels,
                         roi_feat_size=roi_feat_size, num_classes=num_classes,
                         reg_class_agnostic=True, loss_cls=loss_cls, loss_bbox=loss_bbox,
                         init_cfg=init_cfg, **kwargs)
        self.embed_dim = embed_dim
        self.temperature_scale = temperature_scale
        self.background_loss_weight = background_loss_weight
        self.convs = nn.ModuleList(
            ConvModule(in_channels if i == 0 else conv_out_channels, conv_out_channels, 3,
                       padding=1, norm_cfg=norm_cfg) for i in range(num_convs))
        width = (conv_out_channels if num_convs else in_channels) * self.roi_feat_area
        fcs = []
        for _ in range(num_fcs):
            fcs += [nn.Linear(width, fc_out_channels),
                    build_norm_layer(_norm1d_cfg(norm_cfg), fc_out_channels)[1],
                    nn.ReLU(inplace=True)]
            width = fc_out_channels
        self.fcs = nn.Sequential(*fcs)
        self.embed_proj = nn.Linear(width, embed_dim, bias=False)
        self.fc_reg = nn.Linear(width, self.bbox_coder.encode_size)
        self.temperature = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """RoI features ``(N, C, S, S)`` -> region embeddings ``(N, E)`` (not normalised) and
        box deltas ``(N, 4)``."""
        for conv in self.convs:
            x = conv(x)
        x = self.fcs(x.flatten(1))
        return self.embed_proj(x), self.fc_reg(x)

    @property
    def logit_temperature(self) -> Tensor:
        """The divisor of the cosine logits: ``temperature_scale * temperature``."""
        return self.temperature_scale * self.temperature

    def classify(self, region_embeddings: Tensor, classifier: Tensor,
                 batch_index: Tensor) -> Tensor:
        """``(N, E)`` regions vs ``(B, C + 1, E)`` per-image classifiers -> ``(N, C + 1)``."""
        return text_logits(region_embeddings, classifier, batch_index, self.logit_temperature)

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor,
             label_weights: Tensor, bbox_targets: Tensor, bbox_weights: Tensor,
             reduction_override: Optional[str] = None) -> dict:
        """F-VLM's Fast R-CNN losses (see the class docstring); the accuracy is logged too."""
        background = labels == self.num_classes
        label_weights = torch.where(background & (label_weights > 0),
                                    label_weights * self.background_loss_weight, label_weights)
        num_rois = max(float((label_weights > 0).sum()), 1.0)
        losses = dict(loss_cls=self.loss_cls(cls_score, labels, label_weights,
                                             avg_factor=num_rois,
                                             reduction_override=reduction_override),
                      acc=accuracy(cls_score, labels))
        positive = (labels >= 0) & ~background
        if positive.any():
            weights = bbox_weights[positive]
            losses['loss_bbox'] = self.loss_bbox(
                bbox_pred[positive], bbox_targets[positive], weights,
                avg_factor=max(float((weights > 0).sum()), 1.0),
                reduction_override=reduction_override)
        else:
            losses['loss_bbox'] = bbox_pred.sum() * 0
        return losses

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                                img_meta: dict, rescale: bool = False,
                                rcnn_test_cfg=None) -> InstanceData:
        """mmdet's post-processing (decode, rescale, per-class NMS, top ``max_per_img``) of one
        image, except that ``cls_score`` holds the final probabilities ``(N, C + 1)`` (the
        ensemble, background last), which are used as they are (no softmax)."""
        if roi.shape[0] == 0:
            return empty_instances([img_meta], roi.device, task_type='bbox',
                                   instance_results=[InstanceData()], use_box_type=False,
                                   num_classes=cls_score.shape[1] - 1,
                                   score_per_cls=rcnn_test_cfg is None)[0]
        bboxes = self.bbox_coder.decode(roi[:, 1:], bbox_pred, max_shape=img_meta['img_shape'])
        if rescale:
            bboxes = scale_boxes(bboxes, [1 / s for s in img_meta['scale_factor']])
        bboxes = get_box_tensor(bboxes)
        results = InstanceData()
        if rcnn_test_cfg is None:  # raw outputs (test-time augmentation merges them)
            results.bboxes, results.scores = bboxes, cls_score
            return results
        det_bboxes, det_labels = multiclass_nms(bboxes, cls_score, rcnn_test_cfg.score_thr,
                                                rcnn_test_cfg.nms, rcnn_test_cfg.max_per_img)
        results.bboxes, results.scores = det_bboxes[:, :-1], det_bboxes[:, -1]
        results.labels = det_labels
        return results

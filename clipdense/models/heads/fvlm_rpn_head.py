"""F-VLM's region proposal head: shared 3x3 convs with a BatchNorm per pyramid level."""
from typing import List, Tuple

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from torch import Tensor, nn

from ..necks.fvlm_fpn import FVLM_NORM_CFG


@MODELS.register_module()
class FVLMRPNHead(RPNHead):
    """RPN head of F-VLM (the Cloud TPU detection ``RpnHead``).

    ``num_convs`` 3x3 convs (with bias) whose weights are shared by all levels, each followed by
    a norm layer of its own per level and a ReLU; then 1x1 objectness and box convs (shared).

    The box loss is normalised per level by the number of positive target coordinates and summed
    over levels (the original's ``RpnBoxLoss``); use ``loss_bbox=dict(type='SmoothL1Loss',
    beta=1 / 9, loss_weight=1 / 9)`` for its Huber loss with delta 1/9. The objectness loss keeps
    mmdet's normalisation by the number of sampled anchors (the original divides by
    ``batch * 256``, the same number when an image has enough anchors to sample).

    Args:
        num_convs: number of 3x3 convs (F-VLM: 2).
        norm_cfg: the per-level norm (F-VLM: BN with Flax momentum 0.997, eps 1e-4).
        Other arguments are mmdet ``RPNHead``'s.
    """

    def __init__(self, *args, num_convs: int = 2, norm_cfg: dict = FVLM_NORM_CFG, **kwargs):
        self.norm_cfg = norm_cfg
        super().__init__(*args, num_convs=num_convs, **kwargs)
        if self.reg_decoded_bbox:
            raise ValueError('FVLMRPNHead regresses encoded deltas (reg_decoded_bbox=False)')

    def _init_layers(self) -> None:
        num_levels = self.prior_generator.num_levels
        self.rpn_convs = nn.ModuleList(
            nn.Conv2d(self.in_channels if i == 0 else self.feat_channels, self.feat_channels, 3,
                      padding=1) for i in range(self.num_convs))
        self.rpn_norms = nn.ModuleList(
            nn.ModuleList(build_norm_layer(self.norm_cfg, self.feat_channels)[1]
                          for _ in range(self.num_convs)) for _ in range(num_levels))
        self.rpn_cls = nn.Conv2d(self.feat_channels,
                                 self.num_base_priors * self.cls_out_channels, 1)
        self.rpn_reg = nn.Conv2d(self.feat_channels,
                                 self.num_base_priors * self.bbox_coder.encode_size, 1)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Per level ``(B, C, H, W)`` -> objectness ``(B, A, H, W)`` and deltas ``(B, 4A, H, W)``
        lists."""
        if len(x) != len(self.rpn_norms):
            raise ValueError(f'{type(self).__name__} has norms for {len(self.rpn_norms)} levels, '
                             f'got {len(x)} feature maps')
        scores, deltas = [], []
        for feat, norms in zip(x, self.rpn_norms):
            for conv, norm in zip(self.rpn_convs, norms):
                feat = F.relu(norm(conv(feat)))
            scores.append(self.rpn_cls(feat))
            deltas.append(self.rpn_reg(feat))
        return scores, deltas

    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor, anchors: Tensor,
                            labels: Tensor, label_weights: Tensor, bbox_targets: Tensor,
                            bbox_weights: Tensor, avg_factor: int) -> tuple:
        """One level's losses; the box loss is averaged over this level's positive
        coordinates (zero when there are none)."""
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        loss_cls = self.loss_cls(cls_score, labels.reshape(-1), label_weights.reshape(-1),
                                 avg_factor=avg_factor)
        bbox_weights = bbox_weights.reshape(-1, 4)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        num_positive_coords = max(int((bbox_weights > 0).sum()), 1)
        loss_bbox = self.loss_bbox(bbox_pred, bbox_targets.reshape(-1, 4), bbox_weights,
                                   avg_factor=num_positive_coords)
        return loss_cls, loss_bbox

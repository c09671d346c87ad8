"""What DenseCLIP adds to an mmdet 3.x detector: score-map fusion and the auxiliary loss."""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from clipdense.registry import DET_MODELS

from ..text.denseclip_prompt import ContextAwarePrompting

# The original builds the auxiliary targets at a hard-coded image stride of 4 (its stage-1 map).
AUX_TARGET_STRIDE = 4


def box_occupancy_targets(boxes: Sequence[Tensor], labels: Sequence[Tensor], num_classes: int,
                          size: Tuple[int, int],
                          stride: int = AUX_TARGET_STRIDE) -> Tuple[Tensor, Tensor]:
    """Per-class box-occupancy targets and their weights, as the original builds them.

    Args:
        boxes: per image ``(N_i, 4)`` x1y1x2y2 in input pixels; labels: per image ``(N_i,)``.
        size: ``(h, w)`` of the target grid (the stride-4 map).

    Returns ``target`` ``(B, K, h, w)``: 1 where a box of class k covers the cell, and ``weight``
    ``(B, K, h, w)``: 1 where any box covers the cell (the union of boxes, for every class).
    A box covers cells ``[y1 // s, y2 // s) x [x1 // s, x2 // s)``, its corners truncated towards
    zero and clamped to ``[0, w - 1]`` / ``[0, h - 1]``, so the last row/column is never covered
    and boxes thinner than a cell may cover nothing (as in the original).
    """
    height, width = size
    target = torch.zeros(len(boxes), num_classes, height, width)
    covered = torch.zeros(len(boxes), 1, height, width)
    for i, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        cells = (image_boxes.detach().cpu() / stride).long()
        cells[:, 0::2] = cells[:, 0::2].clamp(0, width - 1)
        cells[:, 1::2] = cells[:, 1::2].clamp(0, height - 1)
        for (x1, y1, x2, y2), label in zip(cells.tolist(), image_labels.tolist()):
            target[i, label, y1:y2, x1:x2] = 1
            covered[i, :, y1:y2, x1:x2] = 1
    return target, covered.expand(-1, num_classes, -1, -1)


class DenseCLIPDetectorMixin(ContextAwarePrompting):
    """Shared by ``DenseCLIPRetinaNet`` and ``DenseCLIPMaskRCNN`` (mixed in before the mmdet
    detector class).

    ``extract_feat``: backbone -> ``[stage maps, [global, dense]]``; the pixel-text score map
    divided by ``tau`` ``(B, K, h, w)`` is concatenated onto stage ``score_concat_index`` (3 for
    CLIP ResNets, as the original; 2, the stride-16 level, for ViT-B/16); neck. With
    ``seg_loss`` the training loss adds the original's auxiliary loss: ``sigmoid(score_map /
    tau)`` upsampled bilinearly to the stage-0 (stride 4) map vs per-class box-occupancy
    targets, binary cross-entropy summed over the cells inside any GT box (all classes) and
    divided by their count.
    """
    aux_loss_name = 'loss_aux_seg'

    def _init_denseclip(self, text_encoder: dict, context_decoder: dict,
                        class_names: Union[str, Sequence[str]], num_classes: int,
                        context_length: int, tau: float, token_embed_dim: int, text_dim: int,
                        score_concat_index: int, seg_loss: bool, freeze_text_encoder: bool):
        self._check_score_concat_index(score_concat_index)
        self._build_text_modules(text_encoder, context_decoder, DET_MODELS)
        self._init_prompts(class_names, context_length, token_embed_dim, text_dim,
                           freeze_text_encoder)
        if len(self.class_names) != num_classes:
            raise ValueError(f'{len(self.class_names)} class names but the detection head has '
                             f'num_classes={num_classes}')
        self.tau, self.score_concat_index, self.seg_loss = tau, score_concat_index, seg_loss
        self._features_of_this_step = None

    def fused_features(self, inputs: Tensor) -> Tuple[tuple, Tensor, Tuple[int, int]]:
        """Neck outputs with the score map fused in, the fused map ``score_map / tau``
        ``(B, K, h, w)``, and the stage-0 map's size (where the auxiliary loss is computed)."""
        stages, scores = self._backbone_pixel_text(inputs)
        fused = scores.score_map / self.tau
        return self._fuse_score_map(stages, fused), fused, tuple(stages[0].shape[-2:])

    def extract_feat(self, batch_inputs: Tensor) -> tuple:
        """Neck outputs of the backbone maps with ``score_map / tau`` concatenated in."""
        if self._features_of_this_step is not None:  # computed once by loss()
            return self._features_of_this_step
        return self.fused_features(batch_inputs)[0]

    def loss(self, batch_inputs: Tensor, batch_data_samples: list) -> dict:
        feats, fused, stage0_size = self.fused_features(batch_inputs)
        self._features_of_this_step = feats
        try:
            losses = super().loss(batch_inputs, batch_data_samples)
        finally:
            self._features_of_this_step = None
        if self.seg_loss:
            score_map = F.interpolate(fused, size=stage0_size, mode='bilinear',
                                      align_corners=False)
            losses[self.aux_loss_name] = self.aux_seg_loss(score_map, batch_data_samples)
        return losses

    def aux_seg_loss(self, score_map: Tensor, batch_data_samples: list) -> Tensor:
        """The auxiliary loss for ``score_map / tau`` at stride 4 ``(B, K, h, w)``."""
        boxes = [sample.gt_instances.bboxes for sample in batch_data_samples]
        boxes = [b.tensor if hasattr(b, 'tensor') else b for b in boxes]  # mmdet box types
        labels = [sample.gt_instances.labels for sample in batch_data_samples]
        target, weight = box_occupancy_targets(boxes, labels, score_map.shape[1],
                                               tuple(score_map.shape[-2:]))
        target, weight = target.to(score_map.device), weight.to(score_map.device)
        with torch.autocast(score_map.device.type, enabled=False):  # BCE is not autocast-safe
            loss = F.binary_cross_entropy(score_map.float().sigmoid(), target, weight=weight,
                                          reduction='sum')
        # Images whose boxes all vanish at stride 4 give no covered cell: 0, not the original's
        # 0 / 0 = NaN.
        return loss / weight.sum().clamp(min=1)


def check_unused_original_args(**kwargs) -> None:
    """Arguments the original detectors accepted but never used: allowed only when unset."""
    given: List[str] = [name for name, value in kwargs.items() if value is not None]
    if given:
        raise ValueError(f'{given} were accepted but unused by the original DenseCLIP detectors '
                         'and are not supported; remove them from the config')

"""F-VLM's RoI head: text-embedding box classifier, pluggable background, VLM-score ensemble."""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import empty_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import InstanceList
from torch import Tensor, nn

from clipdense.clip import resize_grid_pos_embed
from clipdense.ops import roi_align

from .fvlm_bbox_head import text_logits


def clip_attention_pool(pool: nn.Module, features: Tensor) -> Tensor:
    """CLIP's attention pool (OpenAI ``AttentionPool2d``): the mean token, plus positional
    embedding, attends to all tokens; returns its projected output.

    Args:
        pool: a module with CLIP's ``attnpool`` parameters (``positional_embedding``,
            ``q_proj``, ``k_proj``, ``v_proj``, ``c_proj``) and ``num_heads``, e.g. the
            ``attnpool`` of :class:`~clipdense.models.backbones.CLIPResNetWithAttention`.
        features: ``(N, C, h, w)`` last-stage features. When ``(h, w)`` differs from the pool's
            grid, the pool's own ``positional_embedding_for(h, w)`` fits it (clipdense's
            ``DenseAttentionPool2d``: its ``pos_embed_mode``), else it is resized bilinearly.

    Returns:
        ``(N, E)`` embeddings (not normalised).
    """
    num, channels, height, width = features.shape
    if num == 0:
        return features.new_zeros(0, pool.c_proj.out_features)
    tokens = features.flatten(2).permute(2, 0, 1)  # (hw, N, C)
    tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)
    if hasattr(pool, 'positional_embedding_for'):
        pos = pool.positional_embedding_for(height, width)
    else:
        pos = resize_grid_pos_embed(pool.positional_embedding, (height, width), mode='bilinear')
    tokens = tokens + pos[:, None, :].to(tokens.dtype)
    out, _ = F.multi_head_attention_forward(
        query=tokens[:1], key=tokens, value=tokens, embed_dim_to_check=channels,
        num_heads=pool.num_heads, q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight, v_proj_weight=pool.v_proj.weight, in_proj_weight=None,
        in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.,
        out_proj_weight=pool.c_proj.weight, out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True, training=False, need_weights=False)
    return out[0]


def ensemble_probabilities(det_logits: Tensor, vlm_logits: Tensor, is_base: Tensor,
                           base_alpha: float = 0.35, novel_beta: float = 0.65) -> Tensor:
    """F-VLM's score ensemble (``ClipFasterRCNNHead.ensemble_class_outputs``).

    With ``p = softmax(det_logits)`` and ``q = softmax(vlm_logits)`` over ``[C classes;
    background]``: class ``c`` scores ``p_c^(1 - a_c) * q_c^a_c`` with ``a_c = base_alpha`` for
    base classes and ``novel_beta`` otherwise; the background keeps the detector's ``p_bg``; the
    row is renormalised to sum to 1.

    Args:
        det_logits, vlm_logits: ``(N, C + 1)``, background last.
        is_base: ``(C,)`` bool.

    Returns:
        ``(N, C + 1)`` probabilities, background last.
    """
    num_classes = det_logits.shape[1] - 1
    if vlm_logits.shape != det_logits.shape or is_base.shape != (num_classes, ):
        raise ValueError(f'shapes do not match: det {tuple(det_logits.shape)}, vlm '
                         f'{tuple(vlm_logits.shape)}, is_base {tuple(is_base.shape)}')
    det = det_logits.float().softmax(dim=-1)
    vlm = vlm_logits.float().softmax(dim=-1)
    weight = torch.where(is_base.to(det.device), det.new_tensor(base_alpha),
                         det.new_tensor(novel_beta))
    classes = det[:, :num_classes].pow(1 - weight) * vlm[:, :num_classes].pow(weight)
    probs = torch.cat([classes, det[:, num_classes:]], dim=1)
    return probs / probs.sum(dim=-1, keepdim=True)


@dataclass
class RegionClassifier:
    """What the RoI head classifies against, for one batch (built by the detector).

    Attributes:
        classifier: ``(B, C + 1, E)`` L2-normalised rows: C class texts, then the background.
        is_base: ``(C,)`` bool, classes seen in training (ensemble weight ``base_alpha``).
        clip_features: ``(B, C5, h, w)`` frozen CLIP last-stage maps (test time; None in
            training).
        clip_pool: the frozen CLIP attention pool (test time).
    """
    classifier: Tensor
    is_base: Optional[Tensor] = None
    clip_features: Optional[Tensor] = None
    clip_pool: Optional[nn.Module] = None


@MODELS.register_module()
class FVLMRoIHead(StandardRoIHead):
    """RoI head of F-VLM (``ClipFasterRCNNHead``'s second stage) on mmdet's StandardRoIHead.

    Training: the box head's region embeddings are scored by ``cos / T`` against
    ``[base class texts; background]``. Test: the same detection scores, and VLM scores
    ``softmax(cos / vlm_temperature)`` of the frozen CLIP's own region embeddings (RoIAlign with
    :func:`clipdense.ops.roi_align` on the last CLIP stage, then CLIP's attention pool) against
    ``[vocabulary texts; background]``, combined by :func:`ensemble_probabilities`; the
    background module's ``rescore`` runs on each image's scores before NMS.

    Args:
        background: config of the background column (a
            :class:`~clipdense.models.layers.BaseBackgroundEmbedding`); ``embed_dim`` is filled
            in from the box head.
        vlm_roi_output_size: RoIAlign output of the VLM branch (the CLIP pool's grid: 7 for
            RN50/RN101 at 224, 9 for RN50x4 at 288).
        vlm_feature_stride: stride of the CLIP last stage (32).
        vlm_sampling_ratio, vlm_aligned: RoIAlign sampling; the defaults (1, False) sample each
            bin at its centre with box corners on feature-index coordinates, as F-VLM's
            ``multilevel_crop_and_resize``.
        vlm_temperature: temperature of the VLM scores (F-VLM ``clip_sim_temp`` 0.01).
        base_alpha, novel_beta: VLM-score exponents for base / novel classes (0.35 / 0.65).
        Other arguments are mmdet ``StandardRoIHead``'s.
    """

    def __init__(self, *args, background: dict = dict(type='LearnedBackgroundEmbedding'),
                 vlm_roi_output_size: int = 7, vlm_feature_stride: int = 32,
                 vlm_sampling_ratio: int = 1, vlm_aligned: bool = False,
                 vlm_temperature: float = 0.01, base_alpha: float = 0.35,
                 novel_beta: float = 0.65, **kwargs):
        super().__init__(*args, **kwargs)
        if not hasattr(self.bbox_head, 'classify'):
            raise TypeError(f'FVLMRoIHead needs a text-classifier box head such as FVLMBBoxHead, '
                            f'got {type(self.bbox_head).__name__}')
        self.background = MODELS.build(dict(dict(embed_dim=self.bbox_head.embed_dim),
                                            **background))
        self.vlm_roi_output_size = vlm_roi_output_size
        self.vlm_feature_stride = vlm_feature_stride
        self.vlm_sampling_ratio = vlm_sampling_ratio
        self.vlm_aligned = vlm_aligned
        self.vlm_temperature = vlm_temperature
        self.base_alpha, self.novel_beta = base_alpha, novel_beta
        self._regions: Optional[RegionClassifier] = None

    @property
    def regions(self) -> Optional[RegionClassifier]:
        """What the current batch is classified against; set by the detector before each
        ``loss``/``predict``/``forward`` (and cleared after)."""
        return self._regions

    @regions.setter
    def regions(self, regions: Optional[RegionClassifier]) -> None:
        if regions is not None:
            classifier = regions.classifier
            if classifier.dim() != 3 or classifier.shape[-1] != self.bbox_head.embed_dim:
                raise ValueError(f'classifier must be (B, C + 1, {self.bbox_head.embed_dim}), '
                                 f'got {tuple(classifier.shape)}')
            # the background label (mmdet: num_classes) follows the vocabulary
            self.bbox_head.num_classes = classifier.shape[1] - 1
        self._regions = regions

    def _require_regions(self) -> RegionClassifier:
        if self._regions is None:
            raise RuntimeError('FVLMRoIHead.regions is not set: the detector (FVLM) sets the '
                               'text classifier of the batch before calling the RoI head')
        return self._regions

    def _bbox_forward(self, x: Tuple[Tensor], rois: Tensor) -> dict:
        bbox_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        embeddings, bbox_pred = self.bbox_head(bbox_feats)
        cls_score = self.bbox_head.classify(embeddings, self._require_regions().classifier,
                                             rois[:, 0])
        return dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats,
                    region_embeddings=embeddings)

    def vlm_region_embeddings(self, clip_features: Tensor, rois: Tensor,
                              clip_pool: nn.Module) -> Tensor:
        """The frozen CLIP's embeddings ``(N, E)`` of ``rois`` ``(N, 5)``: RoIAlign on the last
        stage ``(B, C5, h, w)``, then CLIP's attention pool (not normalised)."""
        region_feats = roi_align(clip_features, rois.to(clip_features.dtype),
                                 self.vlm_roi_output_size, 1.0 / self.vlm_feature_stride,
                                 self.vlm_sampling_ratio, self.vlm_aligned)
        return clip_attention_pool(clip_pool, region_feats)

    def region_probabilities(self, cls_score: Tensor, rois: Tensor,
                             regions: RegionClassifier) -> Tensor:
        """Final ``(N, C + 1)`` probabilities of ``rois`` given their detection logits: the
        ensemble with the VLM scores (just the softmax when no CLIP features are given)."""
        if regions.clip_features is None:
            return cls_score.float().softmax(dim=-1)
        vlm_embeddings = self.vlm_region_embeddings(regions.clip_features, rois,
                                                    regions.clip_pool)
        vlm_logits = text_logits(vlm_embeddings, regions.classifier, rois[:, 0],
                                 self.vlm_temperature)
        return ensemble_probabilities(cls_score, vlm_logits, regions.is_base, self.base_alpha,
                                      self.novel_beta)

    def predict_bbox(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                     rpn_results_list: InstanceList, rcnn_test_cfg,
                     rescale: bool = False) -> InstanceList:
        proposals = [res.bboxes for res in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return empty_instances(batch_img_metas, rois.device, task_type='bbox')
        results = self._bbox_forward(x, rois)
        probs = self.region_probabilities(results['cls_score'], rois, self._require_regions())
        counts = tuple(len(p) for p in proposals)
        per_image = []
        for image_probs in probs.split(counts, 0):
            scores = self.background.rescore(image_probs[:, :-1], image_probs[:, -1])
            per_image.append(torch.cat([scores, image_probs[:, -1:]], dim=1))
        return self.bbox_head.predict_by_feat(
            rois=rois.split(counts, 0), cls_scores=tuple(per_image),
            bbox_preds=results['bbox_pred'].split(counts, 0), batch_img_metas=batch_img_metas,
            rcnn_test_cfg=rcnn_test_cfg, rescale=rescale)

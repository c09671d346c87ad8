"""OVSeg's proposal network: mmseg's MaskFormer head with an open-vocabulary class head.

Everything but the class head is mmseg's ``MaskFormerHead`` (mmdet's pixel decoder, DETR
transformer decoder, Hungarian assigner and losses, deep supervision); ``cls_embed`` becomes
:class:`OVSegClassHead`, whose logits are ``100 * cos`` against the current vocabulary's text
embeddings plus a learnt no-object embedding.
"""
from typing import List, Tuple

import torch
from mmseg.models.decode_heads import MaskFormerHead
from mmseg.structures import SegDataSample

from clipdense.registry import SEG_MODELS
from .ovseg_class_head import OVSegClassHead


@SEG_MODELS.register_module()
class OVSegMaskFormerHead(MaskFormerHead):
    """MaskFormer proposals for any vocabulary.

    Args:
        class_head: :class:`OVSegClassHead` options (``embed_dims`` = CLIP's E,
            ``hidden_channels``, ``num_layers``, ``logit_scale``); ``in_channels`` is
            ``feat_channels``.
        num_classes: size of the TRAINING vocabulary (the no-object label is ``num_classes``;
            ``loss_cls.class_weight`` has ``num_classes + 1`` entries). Inference takes any
            vocabulary.
        **kwargs: mmseg ``MaskFormerHead`` arguments (pixel decoder, transformer decoder,
            losses, ``train_cfg`` with the assigner).
    """

    def __init__(self, class_head: dict = None, **kwargs):
        super().__init__(**kwargs)
        class_head = dict(class_head or {})
        class_head.setdefault('in_channels', kwargs['feat_channels'])
        self.cls_embed = OVSegClassHead(**class_head)

    def set_text_embeddings(self, text_embeddings: torch.Tensor) -> None:
        """Class texts ``(C, E)`` the class head scores against."""
        self.cls_embed.set_text_embeddings(text_embeddings)

    def proposals(self, x: Tuple[torch.Tensor],
                  batch_img_metas: List[dict]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Last decoder layer's ``class logits (B, Q, C + 1)`` and ``mask logits (B, Q, h, w)``
        (stride-4 resolution). No padding mask, as mmseg's and the original's inference."""
        samples = [SegDataSample(metainfo=dict(img_shape=meta['img_shape'],
                                               batch_input_shape=meta['img_shape']))
                   for meta in batch_img_metas]
        all_cls_scores, all_mask_preds = self(x, samples)
        return all_cls_scores[-1], all_mask_preds[-1]

    def loss(self, x, batch_data_samples, train_cfg) -> dict:
        vocabulary_size = self.cls_embed.num_classes
        if vocabulary_size != self.num_classes:
            raise ValueError(
                f'the training vocabulary has {vocabulary_size} classes but the head was built '
                f'for num_classes={self.num_classes} (loss_cls.class_weight needs '
                'num_classes + 1 entries): make model.train_class_names and '
                'decode_head.num_classes agree')
        return super().loss(x, batch_data_samples, train_cfg)

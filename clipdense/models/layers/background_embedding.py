"""The background column of an open-vocabulary box classifier, as a pluggable module.

A CLIP-based two-stage detector (F-VLM, :mod:`clipdense.models.detectors.fvlm`) classifies each
region embedding against ``[class text embeddings (C, E); background (E)]``. The background entry
is what methods such as BIRDet replace, so it is a module chosen in the RoI head config::

    roi_head=dict(..., background=dict(type='LearnedBackgroundEmbedding'))

The detector fills in ``embed_dim`` and calls, once per batch, :meth:`forward` with the batch's
CLIP image embeddings (or None when the module sets ``uses_image_embeds = False``), the
preprocessed images and the detector's one frozen CLIP text tower; at test time it calls
:meth:`rescore` on every image's final class scores before NMS and score thresholding.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


class BaseBackgroundEmbedding(BaseModule):
    """Interface of the background column (subclass it; register the subclass in mmdet MODELS).

    Args:
        embed_dim: the CLIP joint embedding size ``E`` (set by the detector).

    Attributes:
        uses_image_embeds: whether :meth:`forward` reads ``image_embeds``. When False the
            detector skips the whole-image attention pool and passes None.
    """
    uses_image_embeds = True

    def __init__(self, embed_dim: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if embed_dim <= 0:
            raise ValueError(f'embed_dim must be positive, got {embed_dim}')
        self.embed_dim = embed_dim

    def forward(self, image_embeds: Optional[Tensor], inputs: Tensor,
                text_encoder: nn.Module) -> Tensor:
        """Background embedding per image.

        Args:
            image_embeds: ``(B, E)`` L2-normalised CLIP embeddings of the whole images (the
                frozen CLIP attention pool), or None if ``uses_image_embeds`` is False.
            inputs: ``(B, 3, H, W)`` the preprocessed (normalised, padded) images.
            text_encoder: the detector's frozen CLIP text tower
                (:class:`clipdense.models.text.CLIPTextEncoder`; ``token_embedding`` and
                ``encode_embeddings(x, eot_index)`` let a module feed learnable context vectors).

        Returns:
            ``(B, E)`` L2-normalised background embeddings.
        """
        raise NotImplementedError(f'{type(self).__name__} must implement forward()')

    def rescore(self, scores: Tensor, bg_probs: Tensor) -> Tensor:
        """Adjusts one image's final per-class scores ``(N, C)`` given the background
        probability ``(N,)`` of the same detections; the identity by default."""
        return scores


@MODELS.register_module()
class LearnedBackgroundEmbedding(BaseBackgroundEmbedding):
    """One learned vector shared by all images (F-VLM's background embedding ``t_bg``).

    The parameter is stored unnormalised and L2-normalised on use, so the cosine logits only see
    its direction (a zero vector gives a zero column, as the original's safe division does).

    Args:
        embed_dim: the CLIP joint embedding size ``E``.
        init_std: standard deviation of the normal initialisation (default ``E ** -0.5``, i.e.
            a vector of about unit norm).
    """
    uses_image_embeds = False

    def __init__(self, embed_dim: int, init_std: Optional[float] = None, init_cfg=None):
        super().__init__(embed_dim, init_cfg=init_cfg)
        self.init_std = embed_dim ** -0.5 if init_std is None else init_std
        self.embedding = nn.Parameter(torch.empty(embed_dim))
        nn.init.normal_(self.embedding, std=self.init_std)

    def forward(self, image_embeds: Optional[Tensor], inputs: Tensor,
                text_encoder: nn.Module) -> Tensor:
        del image_embeds, text_encoder  # one embedding for every image
        return F.normalize(self.embedding, dim=-1).expand(inputs.shape[0], -1)

"""OVSeg's open-vocabulary mask classifier: query features -> cosine logits against class texts.

    query (..., 256) -> MLP (256 -> 1024 -> E, ReLU between) -> L2-normalise
                     -> logit_scale * cos against [text embeddings (C, E); no-object (1, E)]
                     -> logits (..., C + 1), the no-object column last

The text embeddings come from the CLIP text tower (14 ViLD templates) and change with the
vocabulary; the no-object embedding is learnt (the original keeps it as
``clip_adapter.non_object_embedding``).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from clipdense.registry import register_model


@register_model()
class OVSegClassHead(BaseModule):
    """Maps decoder queries to ``C + 1`` logits for any vocabulary.

    Args:
        in_channels: query width (256).
        embed_dims: CLIP embedding size E (512 for ViT-B/16, 768 for ViT-L/14).
        hidden_channels: width of the hidden MLP layers (1024).
        num_layers: linear layers of the MLP (2).
        logit_scale: multiplies the cosines (100, CLIP's temperature).
        no_object_init_std: std of the no-object embedding's normal init; None: ``E ** -0.5``
            (the original's ``text_width ** -0.5``, equal to E for ViT-B/16 and ViT-L/14).
    """

    def __init__(self, in_channels: int = 256, embed_dims: int = 512,
                 hidden_channels: int = 1024, num_layers: int = 2,
                 logit_scale: float = 100.0, no_object_init_std: Optional[float] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [embed_dims]
        self.layers = nn.ModuleList(
            nn.Linear(n_in, n_out) for n_in, n_out in zip(widths[:-1], widths[1:]))
        self.embed_dims = embed_dims
        self.logit_scale = logit_scale
        self.no_object_embedding = nn.Parameter(torch.empty(1, embed_dims))
        std = embed_dims ** -0.5 if no_object_init_std is None else no_object_init_std
        nn.init.normal_(self.no_object_embedding, std=std)
        self.text_embeddings: Optional[torch.Tensor] = None  # (C, E), set per vocabulary

    def set_text_embeddings(self, text_embeddings: torch.Tensor) -> None:
        """Uses ``text_embeddings (C, E)`` (L2-normalised class texts) as the classifier."""
        if text_embeddings.ndim != 2 or text_embeddings.shape[1] != self.embed_dims:
            raise ValueError(f'text embeddings must be (C, {self.embed_dims}), got '
                             f'{tuple(text_embeddings.shape)}')
        self.text_embeddings = text_embeddings.detach()

    @property
    def num_classes(self) -> int:
        return 0 if self.text_embeddings is None else len(self.text_embeddings)

    def embed(self, queries: torch.Tensor) -> torch.Tensor:
        """``(..., in_channels)`` -> L2-normalised query embeddings ``(..., E)``."""
        x = queries
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return F.normalize(x, dim=-1)

    def classifier(self) -> torch.Tensor:
        """``[text embeddings; normalised no-object embedding]`` ``(C + 1, E)``."""
        if self.text_embeddings is None:
            raise RuntimeError('OVSegClassHead has no text embeddings: call '
                               'set_text_embeddings() (the segmentor does, per vocabulary)')
        no_object = F.normalize(self.no_object_embedding, dim=-1)
        text = self.text_embeddings.to(device=no_object.device, dtype=no_object.dtype)
        return torch.cat([text, no_object])

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        """``(..., in_channels)`` -> logits ``(..., C + 1)``, no-object last."""
        embeddings = self.embed(queries)
        classifier = self.classifier().to(embeddings.dtype)
        return self.logit_scale * embeddings @ classifier.t()

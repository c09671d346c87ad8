"""CLIP's text tower on its own (OpenAI parameter names, local weights)."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from ..clip_tower import CLIPWeightsMixin, build_clip_transformer
from .registry import TEXT_ENCODERS

_TEXT_KEYS = ('token_embedding.weight', 'positional_embedding', 'ln_final.weight',
              'ln_final.bias', 'text_projection')


@TEXT_ENCODERS.register_module()
class CLIPTextEncoder(CLIPWeightsMixin, BaseModule):
    """Token ids ``(N, context_length)`` -> text embeddings ``(N, embed_dim)``.

    The transformer is causal; the embedding is read at the end-of-text token (the largest id)
    and projected by ``text_projection``. ``pretrained`` takes a local CLIP file; its 77-row
    positional embedding is cut to ``context_length`` rows.

    Registered in clipdense's ``TEXT_ENCODERS`` (not mmseg's ``MODELS``, where SAN's
    ``CLIPTextEncoder`` keeps its name); see :mod:`clipdense.models.text.registry`.
    """
    clip_weight_prefix = ''

    def __init__(self, context_length: int = 77, vocab_size: int = 49408,
                 transformer_width: int = 512, transformer_heads: int = 8,
                 transformer_layers: int = 12, embed_dim: int = 1024, out_dim: int = None,
                 pretrained: Optional[str] = None, quick_gelu: bool = True,
                 style: str = 'pytorch', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        del out_dim, style  # accepted for configs of the original DenseCLIP; unused there too
        self.pretrained = pretrained
        self.context_length, self.embed_dim = context_length, embed_dim
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.transformer = build_clip_transformer(transformer_width, transformer_layers,
                                                  transformer_heads, quick_gelu)
        self.ln_final = nn.LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        causal = torch.full((context_length, context_length), float('-inf')).triu_(1)
        self.register_buffer('attn_mask', causal, persistent=False)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=transformer_width ** -0.5)

    def _select_weights(self, weights: dict) -> dict:
        return {k: v for k, v in weights.items()
                if k in _TEXT_KEYS or k.startswith('transformer.')}

    def encode_embeddings(self, x: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
        """Token embeddings ``(N, context_length, width)`` -> ``(N, embed_dim)``, read at
        ``eot_index`` ``(N,)``."""
        if x.shape[1] != self.context_length:
            raise ValueError(f'{type(self).__name__} expects sequences of context_length='
                             f'{self.context_length} tokens, got {x.shape[1]}')
        x = self.transformer(x + self.positional_embedding, attn_mask=self.attn_mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0], device=x.device), eot_index] @ self.text_projection

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.encode_embeddings(self.token_embedding(text), text.argmax(dim=-1))

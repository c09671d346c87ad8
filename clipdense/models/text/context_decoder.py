"""DenseCLIP's context decoder: text embeddings attend to the image's visual context."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from clipdense.registry import register_model


class MultiHeadAttention(nn.Module):
    """Attention with bias-free q/k/v projections: query ``(B, N, C)``, key/value ``(B, M, C)``
    -> ``(B, N, C)``; scale ``head_dim ** -0.5``; dropout after the output projection."""

    def __init__(self, dim: int, num_heads: int, proj_drop: float = 0.):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'width {dim} is not divisible by {num_heads} heads')
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)  # (B, heads, N, d)

    def forward(self, query, key, value):
        out = F.scaled_dot_product_attention(self._split_heads(self.q_proj(query)),
                                             self._split_heads(self.k_proj(key)),
                                             self._split_heads(self.v_proj(value)))
        return self.proj_drop(self.proj(out.transpose(1, 2).flatten(2)))


class ContextDecoderLayer(nn.Module):
    """Pre-norm self-attention, cross-attention to the memory, and an MLP (4x, GELU)."""

    def __init__(self, width: int, num_heads: int, dropout: float = 0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(width, num_heads, proj_drop=dropout)
        self.cross_attn = MultiHeadAttention(width, num_heads, proj_drop=dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(width) for _ in range(3))
        self.dropout = nn.Dropout(dropout)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(width * 4, width))

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        x = x + self.self_attn(normed, normed, normed)
        x = x + self.cross_attn(self.norm2(x), memory, memory)
        return x + self.dropout(self.mlp(self.norm3(x)))


@register_model()
class ContextDecoder(BaseModule):
    """Text ``(B, K, visual_dim)`` and visual context ``(B, 1 + h*w, visual_dim)`` -> a text
    update ``(B, K, visual_dim)``; both are projected to ``transformer_width`` first.

    Linear weights are initialised trunc-normal (std 0.02) with zero biases.
    """

    def __init__(self, transformer_width: int = 256, transformer_heads: int = 4,
                 transformer_layers: int = 6, visual_dim: int = 1024, dropout: float = 0.1,
                 outdim: int = None, style: str = 'pytorch', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if outdim is not None and outdim != visual_dim:
            raise ValueError(f'outdim={outdim} must equal visual_dim={visual_dim} (the update is '
                             'added to the text embeddings)')
        self.memory_proj = nn.Sequential(nn.LayerNorm(visual_dim),
                                         nn.Linear(visual_dim, transformer_width),
                                         nn.LayerNorm(transformer_width))
        self.text_proj = nn.Sequential(nn.LayerNorm(visual_dim),
                                       nn.Linear(visual_dim, transformer_width))
        self.decoder = nn.ModuleList(
            ContextDecoderLayer(transformer_width, transformer_heads, dropout)
            for _ in range(transformer_layers))
        self.out_proj = nn.Sequential(nn.LayerNorm(transformer_width),
                                      nn.Linear(transformer_width, visual_dim))
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, text: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        memory = self.memory_proj(visual)
        x = self.text_proj(text)
        for layer in self.decoder:
            x = layer(x, memory)
        return self.out_proj(x)

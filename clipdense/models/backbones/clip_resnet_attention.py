"""CLIP ResNet with its attention pool kept for dense features (DenseCLIP's image tower)."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from clipdense.clip import resize_grid_pos_embed
from clipdense.registry import register_model

from .clip_resnet import CLIPResNet


class DenseAttentionPool2d(nn.Module):
    """CLIP's attention pool over every position, not only the global token.

    ``(B, C, H, W)`` -> global ``(B, D)`` and dense ``(B, D, H, W)``. The spatial part of the
    positional embedding is resized bilinearly (``align_corners=False``) to ``(H, W)`` each call.
    Parameter names are those of CLIP's ``attnpool`` (not subclassed from open_clip's, so that
    importing clipdense does not import open_clip).
    """

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int = None):
        super().__init__()
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads
        self.spacial_dim = spacial_dim

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).permute(2, 0, 1)  # (HW, B, C)
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)
        pos = resize_grid_pos_embed(self.positional_embedding, (height, width), mode='bilinear')
        tokens = tokens + pos[:, None, :].to(tokens.dtype)
        out, _ = F.multi_head_attention_forward(
            query=tokens, key=tokens, value=tokens, embed_dim_to_check=channels,
            num_heads=self.num_heads, q_proj_weight=self.q_proj.weight,
            k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        out = out.permute(1, 2, 0)  # (B, D, 1 + HW)
        return out[:, :, 0], out[:, :, 1:].reshape(batch, -1, height, width)


@register_model()
class CLIPResNetWithAttention(CLIPResNet):
    """:class:`CLIPResNet` plus the attention pool: returns the selected stage maps and, last,
    ``[global (B, output_dim), dense (B, output_dim, H/32, W/32)]``.

    The pool's positional grid is ``input_resolution // 32``; a checkpoint's grid (7x7 for 224)
    is resized bilinearly at load time, and again to the actual feature size at run time.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        embed_dim = self.width * 32
        if embed_dim % self.heads:
            raise ValueError(f'attention-pool width {embed_dim} is not divisible by '
                             f'heads={self.heads}')
        self.attnpool = DenseAttentionPool2d(self.input_resolution // 32, embed_dim, self.heads,
                                             self.output_dim)

    def _select_weights(self, visual: dict) -> dict:
        return visual

    def forward(self, x: torch.Tensor) -> tuple:
        outs = self.forward_stages(x)
        global_feat, dense_feat = self.attnpool(outs[-1])
        return tuple(outs[i] for i in self.out_indices) + ([global_feat, dense_feat], )

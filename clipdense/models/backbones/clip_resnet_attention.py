"""CLIP ResNet with its attention pool kept for dense features (DenseCLIP's image tower)."""
import inspect
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from clipdense.clip import resize_grid_pos_embed
from clipdense.registry import register_model

from .clip_resnet import CLIPResNet


class DenseAttentionPool2d(nn.Module):
    """CLIP's attention pool over every position, not only the global token.

    ``(B, C, H, W)`` -> global ``(B, D)`` and dense ``(B, D, H, W)``. Parameter names are those of
    CLIP's ``attnpool`` (not subclassed from open_clip's, so that importing clipdense does not
    import open_clip).

    ``pos_embed_mode`` says how the ``spacial_dim x spacial_dim`` positional grid meets an
    ``H x W`` map at run time:

    * ``'interpolate'`` (DenseCLIP segmentation): resized bilinearly (``align_corners=False``) to
      ``(H, W)`` on every call.
    * ``'crop'`` (DenseCLIP detection): the top-left ``H x W`` cells of the grid, no
      interpolation, so a position keeps its embedding whatever the image size (the grid is
      ``input_resolution / 32``, 42 for COCO's 1344). The original failed with a shape error on
      maps larger than the grid; here rows/columns past the grid repeat the grid's last
      row/column (edge replication), so every position inside the grid still gets exactly the
      cropped embedding.
    """
    POS_EMBED_MODES = ('interpolate', 'crop')

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int = None,
                 pos_embed_mode: str = 'interpolate'):
        super().__init__()
        if pos_embed_mode not in self.POS_EMBED_MODES:
            raise ValueError(f'pos_embed_mode must be one of {self.POS_EMBED_MODES}, got '
                             f'{pos_embed_mode!r}')
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim or embed_dim)
        self.num_heads = num_heads
        self.spacial_dim = spacial_dim
        self.pos_embed_mode = pos_embed_mode

    def positional_embedding_for(self, height: int, width: int) -> torch.Tensor:
        """The ``(1 + height * width, C)`` positional embedding used for an ``height x width``
        map (global token first), following ``pos_embed_mode``."""
        pos = self.positional_embedding
        if self.pos_embed_mode == 'interpolate':
            return resize_grid_pos_embed(pos, (height, width), mode='bilinear')
        side = self.spacial_dim
        grid = pos[1:].reshape(side, side, -1)
        if height <= side and width <= side:
            grid = grid[:height, :width]  # the original's top-left crop
        else:  # past the grid: repeat its last row/column
            rows = torch.arange(height, device=pos.device).clamp_(max=side - 1)
            cols = torch.arange(width, device=pos.device).clamp_(max=side - 1)
            grid = grid[rows][:, cols]
        return torch.cat([pos[:1], grid.reshape(height * width, -1)])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).permute(2, 0, 1)  # (HW, B, C)
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)
        pos = self.positional_embedding_for(height, width)
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

    Takes :class:`CLIPResNet`'s arguments and:

    Args:
        heads: attention-pool heads. Default (None): 32 whatever the width, the original
            DenseCLIP's rule (OpenAI's CLIP uses ``width * 32 // 64``, which differs for widths
            other than 64, e.g. 40 for RN50x4; pass it explicitly for OpenAI's pool). An explicit
            value wins, also over ``model_name``.
        pos_embed_mode: ``'interpolate'`` (segmentation, default) or ``'crop'`` (detection), see
            :class:`DenseAttentionPool2d`.

    The pool's positional grid is ``input_resolution // 32``; a checkpoint's grid (7x7 for 224)
    is resized bilinearly at load time, and at run time fitted to the map by ``pos_embed_mode``.
    """
    DEFAULT_HEADS = 32

    def __init__(self, *args, pos_embed_mode: str = 'interpolate', **kwargs):
        heads = inspect.signature(CLIPResNet.__init__).bind(None, *args, **kwargs).arguments.get(
            'heads')
        super().__init__(*args, **kwargs)
        self.heads = self.DEFAULT_HEADS if heads is None else heads
        embed_dim = self.width * 32
        if embed_dim % self.heads:
            raise ValueError(f'attention-pool width {embed_dim} is not divisible by '
                             f'heads={self.heads}')
        self.attnpool = DenseAttentionPool2d(self.input_resolution // 32, embed_dim, self.heads,
                                             self.output_dim, pos_embed_mode)

    def _select_weights(self, visual: dict) -> dict:
        return visual

    def forward(self, x: torch.Tensor) -> tuple:
        outs = self.forward_stages(x)
        global_feat, dense_feat = self.attnpool(outs[-1])
        return tuple(outs[i] for i in self.out_indices) + ([global_feat, dense_feat], )

"""MaskCLIP dense features for open_clip ViTs, with an intermediate block's LN2 output.

One forward pass over an open_clip ``VisionTransformer`` (batch-first or sequence-first):

* blocks ``0 .. L-2`` run as usual; the LN2 output of block ``feats_idx`` is kept
  (CLIP-DINOiser's correlation features);
* the last block runs on its value path only, for patch tokens (no token mixing):
  ``z = x + out_proj(v(LN1(x)))``, ``z = z + MLP(LN2(z))``, then ``ln_post`` and ``proj``;
* the positional embedding is resized (bicubic, ``align_corners=False``) to the input's grid on
  every call, the class position kept.

Everything is computed directly from the block's weights; no forward hooks.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from clipdense.clip import build_clip, resize_grid_pos_embed
from clipdense.registry import register_model


def _layout_is_batch_first(block: nn.Module) -> bool:
    return bool(getattr(block.attn, 'batch_first', False))


def self_attention(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Multi-head self-attention of an open_clip block on batch-first tokens ``(B, N, C)``."""
    if _layout_is_batch_first(block):
        return block.attn(x, x, x, need_weights=False)[0]
    x = x.transpose(0, 1)
    return block.attn(x, x, x, need_weights=False)[0].transpose(0, 1)


def value_projection(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The value slice of the fused in-projection, then the out-projection: ``(B, N, C)``."""
    attn = block.attn
    width = attn.embed_dim
    if attn.in_proj_weight is not None:
        weight = attn.in_proj_weight[2 * width:]
        bias = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
    else:  # separate q/k/v projection weights (kdim/vdim differ from embed_dim)
        weight = attn.v_proj_weight
        bias = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
    return attn.out_proj(F.linear(x, weight, bias))


def run_block(block: nn.Module, x: torch.Tensor, keep_ln2: bool = False):
    """One open_clip residual block on ``(B, N, C)``; returns ``(x, LN2 output or None)``."""
    x = x + block.ls_1(self_attention(block, block.ln_1(x)))
    ln2 = block.ln_2(x)
    x = x + block.ls_2(block.mlp(ln2))
    return x, (ln2 if keep_ln2 else None)


def value_path_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """MaskCLIP's last block: attention replaced by its value path, ``(B, N, C)`` -> same."""
    x = x + block.ls_1(value_projection(block, block.ln_1(x)))
    return x + block.ls_2(block.mlp(block.ln_2(x)))


@register_model()
class MaskCLIPViT(BaseModule):
    """MaskCLIP dense features of an open_clip ViT (any patch size and width).

    Args:
        visual: an open_clip ``VisionTransformer`` (the segmentor passes its CLIP's); or None to
            build one from ``clip`` (``build_clip`` kwargs: ``model_name``/``arch``,
            ``pretrained`` local file, ``quick_gelu``).
        feats_idx: block whose LN2 output is returned as ``feats`` (negative counts from the end;
            ``-3`` is block 10 of 12 in ViT-B/16, CLIP-DINOiser's choice); None for none.
        pos_embed_mode: interpolation of the positional grid (``'bicubic'``).

    ``forward(images (B, 3, H, W))`` returns ``dict(dense=(B, D, h, w), feats=(B, C, h, w))`` with
    ``h, w = H // patch, W // patch``, ``D`` the embedding size (512 for ViT-B/16), ``C`` the ViT
    width (768). ``feats`` is absent when ``feats_idx`` is None.
    """

    def __init__(self, visual: Optional[nn.Module] = None, clip: Optional[dict] = None,
                 feats_idx: Optional[int] = -3, pos_embed_mode: str = 'bicubic',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if (visual is None) == (clip is None):
            raise ValueError('MaskCLIPViT needs exactly one of visual (an open_clip '
                             'VisionTransformer) or clip (build_clip kwargs)')
        if visual is None:
            visual = build_clip(**clip).visual
        for name in ('conv1', 'class_embedding', 'positional_embedding', 'ln_pre', 'transformer',
                     'ln_post', 'proj'):
            if not hasattr(visual, name):
                raise TypeError(f'{type(visual).__name__} is not an open_clip VisionTransformer '
                                f'(no {name!r}); MaskCLIP needs a CLIP ViT')
        if getattr(visual, 'attn_pool', None) is not None:
            raise TypeError('open_clip ViTs with attentional pooling are not supported')
        blocks = visual.transformer.resblocks
        if not all(isinstance(getattr(b, 'attn', None), nn.MultiheadAttention) for b in blocks):
            raise TypeError('MaskCLIP needs open_clip ResidualAttentionBlocks '
                            '(nn.MultiheadAttention)')
        self.visual = visual
        self.num_layers = len(blocks)
        if feats_idx is not None:
            index = feats_idx % self.num_layers if feats_idx < 0 else feats_idx
            if not 0 <= index < self.num_layers - 1:
                raise ValueError(f'feats_idx={feats_idx} must name one of the first '
                                 f'{self.num_layers - 1} blocks of a {self.num_layers}-block ViT')
            feats_idx = index
        self.feats_idx = feats_idx
        self.pos_embed_mode = pos_embed_mode
        self.patch_size = int(visual.conv1.kernel_size[0])
        self.width = int(visual.conv1.out_channels)
        self.embed_dim = int(visual.proj.shape[1])

    def positional_embedding(self, grid) -> torch.Tensor:
        """The ``(1 + gh * gw, C)`` positional embedding resized to ``grid``."""
        return resize_grid_pos_embed(self.visual.positional_embedding, tuple(grid),
                                     mode=self.pos_embed_mode)

    def embed(self, images: torch.Tensor):
        """Patch + class tokens with positions and ln_pre: ``(B, 1 + h*w, C)`` and ``(h, w)``."""
        visual = self.visual
        x = visual.conv1(images.to(visual.conv1.weight.dtype))
        grid = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding(grid).to(x.dtype)
        return visual.ln_pre(x), tuple(grid)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'expected images (B, 3, H, W), got {tuple(images.shape)}')
        if min(images.shape[-2:]) < self.patch_size:
            raise ValueError(f'image {tuple(images.shape[-2:])} is smaller than one '
                             f'{self.patch_size}px patch')
        x, (h, w) = self.embed(images)
        blocks = self.visual.transformer.resblocks
        out = {}
        for index, block in enumerate(blocks[:-1]):
            x, ln2 = run_block(block, x, keep_ln2=index == self.feats_idx)
            if ln2 is not None:
                out['feats'] = ln2[:, 1:].transpose(1, 2).reshape(x.shape[0], -1, h, w)
        patches = value_path_block(blocks[-1], x[:, 1:])  # no mixing: CLS is not needed
        dense = self.visual.ln_post(patches) @ self.visual.proj
        out['dense'] = dense.transpose(1, 2).reshape(x.shape[0], -1, h, w)
        return out

"""CLIP's vision transformer as a multi-scale (FPN-style) dense-prediction backbone."""
from typing import Optional, Sequence

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from clipdense.clip import resize_grid_pos_embed
from clipdense.registry import register_model

from ..clip_tower import CLIPWeightsMixin, build_clip_transformer


@register_model()
class CLIPVisionTransformer(CLIPWeightsMixin, BaseModule):
    """CLIP ViT returning four maps at strides 4, 8, 16, 32 (patch 16) from the token maps after
    blocks ``out_indices``, and with ``get_embeddings`` a last element
    ``[global (B, output_dim), dense (B, output_dim, H/patch, W/patch)]``.

    Parameter names equal the ``visual.*`` names of OpenAI checkpoints. The positional embedding
    (grid ``input_resolution // patch_size``) is resized bilinearly at load time and again to the
    input's token grid at run time.

    Args:
        double_class_embedding: add the class embedding a second time, in the class token's
            positional slot. This is the original DenseCLIP's (author-confirmed) quirk; released
            DenseCLIP checkpoints were trained with it, so it is on by default. Turn it off to
            match plain CLIP.
        drop_path_per_token: stochastic depth masks token positions (shared by the batch), not
            samples. The original applied per-sample DropPath to sequence-first tensors, which
            amounts to this; on by default for parity of training. Off: standard per-sample.
        quick_gelu: OpenAI's activation (True for OpenAI weights).
        norm_cfg: the norm inside ``fpn1`` (SyncBN as in the original; mmengine's Runner turns it
            into BN when not distributed).
    """

    def __init__(self, input_resolution: int = 224, patch_size: int = 32, width: int = 768,
                 layers: int = 12, heads: int = 12, output_dim: int = 512,
                 drop_path_rate: float = 0.0, out_indices: Sequence[int] = (3, 5, 7, 11),
                 pretrained: Optional[str] = None, get_embeddings: bool = False,
                 double_class_embedding: bool = True, drop_path_per_token: bool = True,
                 quick_gelu: bool = True,
                 norm_cfg: dict = dict(type='SyncBN', requires_grad=True), style: str = 'pytorch',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(out_indices) != 4 or max(out_indices) >= layers:
            raise ValueError(f'out_indices must name 4 of the {layers} blocks, got {out_indices}')
        if patch_size not in (8, 16):
            raise ValueError(f'patch_size must be 16 or 8 for the FPN-style outputs, got '
                             f'{patch_size}')
        self.pretrained = pretrained
        self.input_resolution, self.patch_size = input_resolution, patch_size
        self.output_dim, self.out_indices = output_dim, tuple(out_indices)
        self.get_embeddings = get_embeddings
        self.double_class_embedding = double_class_embedding
        self.spatial_size = input_resolution // patch_size

        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(self.spatial_size ** 2 + 1,
                                                                     width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = build_clip_transformer(width, layers, heads, quick_gelu,
                                                  drop_path_rate, drop_path_per_token)
        if get_embeddings:
            self.ln_post = nn.LayerNorm(width)
            self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

        def upsample():
            return nn.ConvTranspose2d(width, width, kernel_size=2, stride=2)

        # Strides 4, 8, 16, 32 from the stride-`patch_size` token map (names as in the original).
        if patch_size == 16:
            self.fpn1 = nn.Sequential(nn.GroupNorm(1, width), upsample(),
                                      build_norm_layer(norm_cfg, width)[1], nn.GELU(), upsample())
            self.fpn2 = nn.Sequential(nn.GroupNorm(1, width), upsample())
            self.fpn3 = nn.GroupNorm(1, width)
            self.fpn4 = nn.Sequential(nn.GroupNorm(1, width), nn.MaxPool2d(2, 2))
        else:
            self.fpn1 = nn.Sequential(nn.GroupNorm(1, width), upsample())
            self.fpn2 = nn.GroupNorm(1, width)
            self.fpn3 = nn.Sequential(nn.GroupNorm(1, width), nn.MaxPool2d(2, 2))
            self.fpn4 = nn.Sequential(nn.GroupNorm(1, width), nn.MaxPool2d(4, 4))
        self.out_channels = [width] * 4

    def _select_weights(self, visual: dict) -> dict:
        if self.get_embeddings:
            return visual
        return {k: v for k, v in visual.items() if not k.startswith(('ln_post.', 'proj'))}

    def tokens(self, x: torch.Tensor) -> tuple:
        """Patch tokens with class token and positional embedding: ``(B, 1 + h*w, C)``, h, w."""
        x = self.conv1(x.to(self.conv1.weight.dtype))
        batch, channels, height, width = x.shape
        x = x.flatten(2).transpose(1, 2)
        cls_token = self.class_embedding.to(x.dtype).expand(batch, 1, channels)
        pos = resize_grid_pos_embed(self.positional_embedding, (height, width), mode='bilinear')
        if self.double_class_embedding:
            pos = torch.cat([pos[:1] + self.class_embedding, pos[1:]])
        return torch.cat([cls_token, x], dim=1) + pos.to(x.dtype), height, width

    def forward(self, x: torch.Tensor) -> tuple:
        tokens, height, width = self.tokens(x)
        x = self.ln_pre(tokens)
        maps = []
        for index, block in enumerate(self.transformer.resblocks):
            x = block(x)
            if index in self.out_indices:
                maps.append(x[:, 1:].transpose(1, 2).reshape(x.shape[0], -1, height, width))
        outs = [fpn(m.contiguous()) for fpn, m in zip(
            (self.fpn1, self.fpn2, self.fpn3, self.fpn4), maps)]
        if self.get_embeddings:
            x = self.ln_post(x) @ self.proj
            dense = x[:, 1:].transpose(1, 2).reshape(x.shape[0], -1, height, width)
            outs.append([x[:, 0], dense])
        return tuple(outs)

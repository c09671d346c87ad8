"""Frozen teachers for training CLIP-DINOiser's light layers (timm ViTs, local weights only).

* :class:`DINOValueTeacher`: DINO ViT-B/16's last-block value features, L2-normalised; target
  correlation ``1[cos >= 0.2]`` between all patch pairs.
* :class:`FOUNDSaliencyTeacher`: FOUND's saliency, a 1x1 conv on DINO ViT-S/8 last-block keys;
  ``sigmoid``, resized to the student grid, binarised at 0.5.

Both take RGB pixels in 0..255 ``(B, 3, H, W)`` and normalise with ImageNet statistics.
"""
import os
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

from clipdense.models.heads.dinoiser_head import patch_correlation, require_weight_file
from clipdense.registry import SEG_MODELS, register_model

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _read_teacher_weights(path: str, what: str) -> Dict[str, torch.Tensor]:
    require_weight_file(path, what, 'the teacher\'s released weights')
    raw = torch.load(os.path.expanduser(path), map_location='cpu', weights_only=True)
    for key in ('teacher', 'state_dict', 'model', 'decoder'):
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
    state = {}
    for key, value in raw.items():
        for prefix in ('module.', 'backbone.'):
            key = key[len(prefix):] if key.startswith(prefix) else key
        state[key] = value
    return state


def build_timm_vit(arch: str, weights: Optional[str], what: str, **kwargs) -> nn.Module:
    """A timm ViT without classifier head, any input size, loaded from a local file."""
    import timm
    model = timm.create_model(arch, pretrained=False, num_classes=0, dynamic_img_size=True,
                              **kwargs)
    if weights is not None:
        state = {k: v for k, v in _read_teacher_weights(weights, what).items()
                 if not k.startswith('head.')}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise KeyError(f'{weights} does not fit timm {arch!r}: missing {missing[:5]}, '
                           f'unexpected {unexpected[:5]}')
        print_log(f'loaded {what} weights from {weights}', 'current')
    return model.eval().requires_grad_(False)


def last_block_qkv(vit: nn.Module, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """q, k, v of a timm ViT's last block for the patch tokens, each ``(B, C, h, w)``."""
    x = vit.patch_embed(images)  # (B, h, w, C) with dynamic_img_size
    grid = x.shape[1:3]
    x = vit._pos_embed(x)
    x = vit.norm_pre(vit.patch_drop(x))
    for block in vit.blocks[:-1]:
        x = block(x)
    last = vit.blocks[-1]
    qkv = last.attn.qkv(last.norm1(x))[:, vit.num_prefix_tokens:]
    batch = qkv.shape[0]
    return tuple(t.transpose(1, 2).reshape(batch, -1, *grid) for t in qkv.chunk(3, dim=-1))


class _PixelTeacher(nn.Module):
    """Normalises 0..255 RGB pixels with the teacher's statistics; always frozen, in eval."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std

    def train(self, mode: bool = True):
        return super().train(False)


@register_model(SEG_MODELS)
class DINOValueTeacher(_PixelTeacher):
    """DINO ViT-B/16 value-feature correlations as binary targets.

    Args:
        arch: timm architecture (``'vit_base_patch16_224'``); ``arch_kwargs`` override its sizes
            (tests use tiny ones).
        weights: local DINO weight file (timm/DINO naming, e.g. dino_vitbase16_pretrain.pth).
        threshold: cosine at or above which two patches count as correlated (0.2).
    """

    def __init__(self, arch: str = 'vit_base_patch16_224', weights: Optional[str] = None,
                 threshold: float = 0.2, arch_kwargs: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.vit = build_timm_vit(arch, weights, 'DINO ViT correlation teacher',
                                  **(arch_kwargs or {}))
        self.threshold = threshold

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """``(B, 3, H, W)`` 0..255 RGB -> ``(B, gh*gw, gh*gw)`` float targets in {0, 1}."""
        values = last_block_qkv(self.vit, self.normalize(pixels))[2]
        if tuple(values.shape[-2:]) != tuple(grid):
            values = F.interpolate(values, size=tuple(grid), mode='bilinear', align_corners=False)
        return (patch_correlation(values) >= self.threshold).float()


@register_model(SEG_MODELS)
class FOUNDSaliencyTeacher(_PixelTeacher):
    """FOUND's background/foreground decoder on DINO ViT-S/8 keys.

    Args:
        arch: timm architecture of the DINO encoder (``'vit_small_patch8_224'``).
        weights: local DINO ViT-S/8 weight file: the 300-epoch release
            (dino_deitsmall8_300ep_pretrain.pth), the encoder FOUND's decoder was trained on.
        decoder_weights: local FOUND decoder file (a 1x1 conv: ``weight (1, C, 1, 1)``, ``bias``,
            optionally under ``decoder``/``decoder.``).
    """

    def __init__(self, arch: str = 'vit_small_patch8_224', weights: Optional[str] = None,
                 decoder_weights: Optional[str] = None, threshold: float = 0.5,
                 arch_kwargs: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self.vit = build_timm_vit(arch, weights, 'DINO ViT-S/8 (FOUND encoder)',
                                  **(arch_kwargs or {}))
        self.decoder = nn.Conv2d(self.vit.embed_dim, 1, 1)
        if decoder_weights is not None:
            state = {k.split('decoder.')[-1]: v for k, v in
                     _read_teacher_weights(decoder_weights, 'FOUND decoder').items()}
            self.decoder.load_state_dict(state)
        self.decoder.requires_grad_(False)
        self.threshold = threshold

    @torch.no_grad()
    def forward(self, pixels: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """``(B, 3, H, W)`` 0..255 RGB -> ``(B, 1, gh, gw)`` float saliency targets in {0, 1}."""
        keys = last_block_qkv(self.vit, self.normalize(pixels))[1]
        saliency = self.decoder(keys).sigmoid()
        saliency = F.interpolate(saliency, size=tuple(grid), mode='bilinear',
                                 align_corners=False)
        return (saliency > self.threshold).float()

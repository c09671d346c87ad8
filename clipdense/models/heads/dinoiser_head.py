"""CLIP-DINOiser's two light layers: correlation pooling and the background (saliency) rule.

* ``obj_proj`` (3x3 conv, replicate padding) maps the ViT's block features to an embedding whose
  patch-to-patch cosines ``C`` imitate DINO's; the MaskCLIP map is pooled with them:
  ``f'_n = sum_m [C_nm >= t] C_nm f_m / (sum_m [C_nm >= t] C_nm + eps)`` over all patches.
* ``bkg_decoder`` (1x1 conv on channel-normalised block features) predicts saliency; a patch
  that is neither salient nor confidently classified becomes background.
"""
import os
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from clipdense.registry import register_model
from clipdense.utils.checkpoint import load_checkpoint_file

LIGHT_LAYER_PREFIXES = ('obj_proj.', 'bkg_decoder.')


def patch_correlation(embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarities between all locations: ``(B, C, h, w)`` -> ``(B, h*w, h*w)``."""
    flat = F.normalize(embeddings.flatten(2), dim=1)
    return flat.transpose(1, 2) @ flat


def correlation_pooling(dense: torch.Tensor, correlation: torch.Tensor, threshold: float = 0.2,
                        eps: float = 1e-6) -> torch.Tensor:
    """Pools ``dense (B, D, h, w)`` with ``correlation (B, h*w, h*w)`` (entries below
    ``threshold`` zeroed, row-normalised); returns ``(B, D, h, w)``."""
    weights = correlation.masked_fill(correlation < threshold, 0)
    flat = dense.flatten(2)  # (B, D, hw)
    pooled = flat @ weights.transpose(1, 2) / (weights.sum(-1).unsqueeze(1) + eps)
    return pooled.reshape(dense.shape)


def apply_background_rule(probs: torch.Tensor, saliency_logits: torch.Tensor,
                          background_index: int, saliency_threshold: float = 0.5,
                          confidence_threshold: float = 0.99) -> torch.Tensor:
    """Sets ``p[background] = 1`` where a location is neither salient
    (``sigmoid(logit) > saliency_threshold``) nor confident (max prob ``>= confidence``).

    ``probs (B, K, h, w)``, ``saliency_logits (B, 1, h, w)``; returns a new tensor, per image.
    """
    if probs.shape[0] != saliency_logits.shape[0] or probs.shape[2:] != saliency_logits.shape[2:]:
        raise ValueError(f'probabilities {tuple(probs.shape)} and saliency '
                         f'{tuple(saliency_logits.shape)} differ in batch or grid')
    if not -probs.shape[1] <= background_index < probs.shape[1]:
        raise IndexError(f'background index {background_index} outside {probs.shape[1]} classes')
    salient = saliency_logits[:, 0].sigmoid() > saliency_threshold
    uncertain = probs.max(dim=1).values < confidence_threshold
    background = probs[:, background_index].masked_fill(uncertain & ~salient, 1.0)
    probs = probs.clone()
    probs[:, background_index] = background
    return probs


def require_weight_file(path: str, what: str, expected: str) -> None:
    """Raises ``FileNotFoundError`` naming the missing file, what belongs there and where to
    read more."""
    if not os.path.isfile(os.path.expanduser(path)):
        raise FileNotFoundError(
            f'{what} weights not found: {path!r}. Put {expected} at that path (relative paths '
            'start at the working directory) or point the config to it; see '
            'docs/clip_dinoiser.md. Nothing is downloaded.')


def read_light_layer_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """``obj_proj.*`` / ``bkg_decoder.*`` tensors from the released checkpoint format
    (``{'epoch', 'model_state_dict': {...}}``) or from a clipdense training checkpoint
    (``state_dict`` with ``decode_head.`` prefixes, plus the training state)."""
    require_weight_file(path, 'CLIP-DINOiser light-layer (model.decode_head.checkpoint)',
                        'the released checkpoint (last.pt, ~7 MB)')
    path = os.path.expanduser(path)
    # weights-only with mmengine's types allowed: a clipdense training checkpoint works too
    raw = load_checkpoint_file(path, map_location='cpu')
    if not isinstance(raw, dict):
        raise ValueError(f'{path}: expected a checkpoint dict, got {type(raw).__name__}')
    return extract_light_layers(raw, source=path)


def extract_light_layers(raw: dict, source: str = '<checkpoint>') -> Dict[str, torch.Tensor]:
    """Finds the light layers in a (possibly nested) checkpoint dict; keys without prefixes."""
    for key in ('model_state_dict', 'state_dict'):
        if isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    found = {}
    for key, value in raw.items():
        for prefix in ('module.', 'decode_head.'):
            key = key[len(prefix):] if key.startswith(prefix) else key
        if key.startswith(LIGHT_LAYER_PREFIXES) and isinstance(value, torch.Tensor):
            found[key] = value
    if not found:
        raise KeyError(f'{source}: no obj_proj.* / bkg_decoder.* weights found '
                       f'(top-level keys: {sorted(raw)[:8]})')
    return found


@register_model()
class DINOiserHead(BaseModule):
    """The light layers of CLIP-DINOiser.

    Args:
        in_channels: ViT width of the block features (768 for ViT-B/16).
        proj_channels: ``obj_proj`` output channels (256).
        correlation_threshold: correlations below it are ignored when pooling (0.2).
        saliency_threshold: sigmoid saliency above it counts as foreground (0.5).
        confidence_threshold: max class probability below it counts as uncertain (0.99).
        checkpoint: optional released light-layer file, loaded at construction.
    """

    def __init__(self, in_channels: int = 768, proj_channels: int = 256,
                 correlation_threshold: float = 0.2, saliency_threshold: float = 0.5,
                 confidence_threshold: float = 0.99, eps: float = 1e-6,
                 checkpoint: Optional[str] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.obj_proj = nn.Conv2d(in_channels, proj_channels, 3, padding=1,
                                  padding_mode='replicate')
        self.bkg_decoder = nn.Conv2d(in_channels, 1, 1)
        self.correlation_threshold = correlation_threshold
        self.saliency_threshold = saliency_threshold
        self.confidence_threshold = confidence_threshold
        self.eps = eps
        self.checkpoint = checkpoint
        if checkpoint is not None:
            self.load_light_layers(checkpoint)

    def load_light_layers(self, path: str) -> None:
        weights = read_light_layer_checkpoint(path)
        missing, unexpected = self.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise KeyError(f'{path}: light layers do not match (missing {missing}, '
                           f'unexpected {unexpected})')
        print_log(f'loaded CLIP-DINOiser light layers from {path}', 'current')

    def init_weights(self):
        """Keeps weights loaded from ``checkpoint``; otherwise the default conv init."""
        if self.checkpoint is None:
            super().init_weights()

    def correlation(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` block features -> ``(B, h*w, h*w)`` cosine correlations."""
        return patch_correlation(self.obj_proj(feats))

    def saliency_logits(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w)`` -> ``(B, 1, h, w)`` foreground logits."""
        return self.bkg_decoder(F.normalize(feats, dim=1))

    def forward(self, dense: torch.Tensor, feats: torch.Tensor) -> Dict[str, torch.Tensor]:
        """MaskCLIP map ``(B, D, h, w)`` + block features ``(B, C, h, w)`` ->
        ``dict(dense=pooled (B, D, h, w), saliency_logits=(B, 1, h, w))``."""
        pooled = correlation_pooling(dense, self.correlation(feats), self.correlation_threshold,
                                     self.eps)
        return dict(dense=pooled, saliency_logits=self.saliency_logits(feats))

    def background_rule(self, probs: torch.Tensor, saliency_logits: torch.Tensor,
                        background_index: int) -> torch.Tensor:
        return apply_background_rule(probs, saliency_logits, background_index,
                                     self.saliency_threshold, self.confidence_threshold)

"""Masked region crops for CLIP (OVSeg's adapter): fill outside the mask, crop, normalise,
resize."""
from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ._ext_loader import FLOAT_TYPES, check_same_device, check_tensor, get_ext

__all__ = ['masked_crops', 'MaskedCrops', 'CLIP_MEAN', 'CLIP_STD']

# OpenAI CLIP pixel statistics on the 0-255 scale
CLIP_MEAN = (122.7709383, 116.7460125, 104.09373615)
CLIP_STD = (68.5005327, 66.6321579, 70.32316305)
_MODES = ('bilinear', 'bicubic')
_MAX_CHANNELS = 8

Values = Union[Number, Sequence[Number]]


def _per_channel(value, name: str, channels: int):
    if isinstance(value, torch.Tensor):
        value = value.flatten().tolist()
    if isinstance(value, Number) and not isinstance(value, bool):
        value = [value] * channels
    try:
        value = [float(v) for v in value]
    except (TypeError, ValueError):
        raise TypeError(f'masked_crops: {name} must be a number or {channels} numbers, '
                        f'got {value!r}') from None
    if len(value) != channels:
        raise ValueError(f'masked_crops: {name} must have one value per channel ({channels}), '
                         f'got {len(value)}')
    return value


def masked_crops(image: torch.Tensor, masks: torch.Tensor, size: int, mean: Values,
                 std: Values, fill: Optional[Values] = None, boxes: Optional[torch.Tensor] = None,
                 expand_ratio: float = 1.0,
                 mode: str = 'bicubic') -> Tuple[torch.Tensor, torch.Tensor]:
    """Crops one normalised ``size x size`` region per mask, all regions at once.

    No per-region loop: one box-reduction kernel over all masks, then one crop kernel.

    Semantics (those of OVSeg's ``crop_with_mask`` + ``F.interpolate``), per region q:

    1. box: ``boxes[q]`` if given, else the tight box of the mask, ``(x_min, y_min, x_max + 1,
       y_max + 1)`` over its on pixels; scaled by ``expand_ratio`` around its centre; each
       coordinate floored and clamped to ``[0, W]`` / ``[0, H]`` -> integer crop ``[t:b, l:r]``.
    2. filled image: pixels where the mask is off take ``fill`` (per channel, 0-255 scale).
    3. the crop box region of the filled image, normalised ``(v - mean) / std``, is sampled at
       the ``size x size`` output pixel centres with the interpolation kernel on the source grid,
       i.e. exactly ``F.interpolate(crop[None], (size, size), mode=mode, align_corners=False)``
       (aspect ratio squashed, no padding; bicubic uses a = -0.75 with clamped borders).

    A region is valid when its mask has an on pixel and its crop is non-empty; invalid regions
    (e.g. empty masks) come out filled with the normalised fill value and flagged False.
    Not differentiable.

    Args:
        image: (C, H, W) RGB image on the 0-255 scale, uint8 or floating, C <= 8.
        masks: (Q, H, W) masks; bool/uint8 are on when nonzero, floating when > 0.5.
        size: output side S.
        mean, std: per-channel normalisation (a number or C numbers), e.g. ``CLIP_MEAN``.
        fill: per-channel fill value outside the mask; default ``mean`` (zero once normalised).
        boxes: optional (Q, 4) x1y1x2y2 boxes replacing the tight mask boxes.
        expand_ratio: box scale around its centre (1.0 keeps the box).
        mode: 'bicubic' (OVSeg) or 'bilinear'.

    Returns:
        crops (Q, C, S, S) in image's dtype (float32 for uint8 images) and valid (Q,) bool.
    """
    op = 'masked_crops'
    check_tensor(image, 'image', op, 3, '(C, H, W)', (torch.uint8,) + FLOAT_TYPES)
    check_tensor(masks, 'masks', op, 3, '(Q, H, W)', (torch.bool, torch.uint8) + FLOAT_TYPES)
    check_same_device(op, 'image', image, masks=masks, boxes=boxes)
    C, H, W = image.shape
    if masks.shape[1:] != image.shape[1:]:
        raise ValueError(f'{op}: masks (Q, H, W) = {tuple(masks.shape)} must match image '
                         f'(C, H, W) = {tuple(image.shape)} in H and W')
    if not 1 <= C <= _MAX_CHANNELS:
        raise ValueError(f'{op}: image must have 1 to {_MAX_CHANNELS} channels, got shape '
                         f'{tuple(image.shape)}')
    if boxes is not None:
        check_tensor(boxes, 'boxes', op, 2, '(Q, 4)')
        if boxes.shape != (masks.size(0), 4):
            raise ValueError(f'{op}: boxes must have shape (Q, 4) = ({masks.size(0)}, 4), got '
                             f'{tuple(boxes.shape)}')
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f'{op}: size must be a positive int, got {size!r}')
    if mode not in _MODES:
        raise ValueError(f'{op}: mode must be one of {_MODES}, got {mode!r}')
    if not isinstance(expand_ratio, Number) or not expand_ratio > 0:
        raise ValueError(f'{op}: expand_ratio must be a positive number, got {expand_ratio!r}')
    mean = _per_channel(mean, 'mean', C)
    std = _per_channel(std, 'std', C)
    if any(s == 0 for s in std):
        raise ValueError(f'{op}: std must be nonzero, got {std}')
    fill = mean if fill is None else _per_channel(fill, 'fill', C)
    if masks.dtype not in (torch.bool, torch.uint8, torch.float32):
        masks = masks > 0.5
    ext = get_ext(op, image)
    with torch.no_grad():
        return tuple(ext.masked_crops(image.detach(), masks.detach(), boxes, size, mean, std, fill,
                                      float(expand_ratio), mode == 'bicubic'))


class MaskedCrops(nn.Module):
    """``masked_crops`` as a layer: forward(image, masks, boxes=None) -> (crops, valid)."""

    def __init__(self, size: int = 224, mean: Values = CLIP_MEAN, std: Values = CLIP_STD,
                 fill: Optional[Values] = None, expand_ratio: float = 1.0,
                 mode: str = 'bicubic'):
        super().__init__()
        self.size, self.mean, self.std, self.fill = size, mean, std, fill
        self.expand_ratio, self.mode = expand_ratio, mode

    def forward(self, image: torch.Tensor, masks: torch.Tensor,
                boxes: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        return masked_crops(image, masks, self.size, self.mean, self.std, self.fill, boxes,
                            self.expand_ratio, self.mode)

    def extra_repr(self) -> str:
        return (f'size={self.size}, expand_ratio={self.expand_ratio}, mode={self.mode!r}, '
                f'fill={"mean" if self.fill is None else self.fill}')

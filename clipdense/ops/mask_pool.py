"""Mask pooling: area-weighted average of dense features under (resized) masks."""
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._ext_loader import FLOAT_TYPES, check_same_device, check_tensor, get_ext, is_channels_last

__all__ = ['mask_pool', 'MaskPool']

_MASK_TYPES = (torch.bool, torch.uint8) + FLOAT_TYPES


def _kernel_masks(masks: torch.Tensor) -> torch.Tensor:
    """Masks in a dtype the kernels read directly (bool/uint8/float32/float64), contiguous."""
    if masks.dtype in (torch.float16, torch.bfloat16):
        masks = masks.float()
    return masks.contiguous()


class _MaskPool(torch.autograd.Function):

    @staticmethod
    def forward(ctx, features, masks, eps):
        ext = get_ext('mask_pool', features)
        kmasks = _kernel_masks(masks.detach())
        out, _ = ext.mask_pool_forward(features, kmasks, eps)
        ctx.eps = eps
        ctx.hw = tuple(features.shape[2:])
        ctx.channels_last = is_channels_last(features)
        ctx.save_for_backward(kmasks, masks, features if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        kmasks, masks, features = ctx.saved_tensors
        grad_features = grad_masks = None
        if ctx.needs_input_grad[0]:
            grad_features = get_ext('mask_pool', grad).mask_pool_backward(
                grad.contiguous(), kmasks, ctx.eps, ctx.hw[0], ctx.hw[1], ctx.channels_last)
        if ctx.needs_input_grad[1]:
            # rare (soft masks produced by a trained head): differentiate the reference instead
            from .reference import mask_pool_ref
            with torch.enable_grad():
                m = masks.detach().requires_grad_()
                out = mask_pool_ref(features.detach(), m, ctx.eps)
                grad_masks, = torch.autograd.grad(out, m, grad)
        return grad_features, grad_masks, None


def mask_pool(features: torch.Tensor, masks: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Averages ``features`` under each mask, the masks resized to the feature grid.

    ``out[b, q] = sum_hw(M[b, q] * features[b]) / (sum_hw(M[b, q]) + eps)`` where ``M`` is
    ``F.interpolate(masks, (h, w), mode='bilinear', align_corners=False)``, computed on the fly
    (the resized masks are never stored beyond the size of the inputs). Empty masks give zeros.

    Args:
        features: (B, C, h, w) float16/bfloat16/float32/float64, NCHW or channels-last.
        masks: (B, Q, H, W) at any resolution; bool/uint8 masks count as 0/1 (nonzero is on),
            floating masks are used as soft weights.
        eps: added to the mask area (default 1e-6).

    Returns:
        (B, Q, C) in features' dtype; differentiable w.r.t. ``features`` (and, through the
        PyTorch reference, w.r.t. floating ``masks`` that require grad).
    """
    op = 'mask_pool'
    check_tensor(features, 'features', op, 4, '(B, C, h, w)')
    check_tensor(masks, 'masks', op, 4, '(B, Q, H, W)', _MASK_TYPES)
    check_same_device(op, 'features', features, masks=masks)
    if masks.size(0) != features.size(0):
        raise ValueError(f'{op}: masks (B, Q, H, W) = {tuple(masks.shape)} and features '
                         f'(B, C, h, w) = {tuple(features.shape)} disagree on B')
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps < 0:
        raise ValueError(f'{op}: eps must be a non-negative number, got {eps!r}')
    B, C, h, w = features.shape
    Q, H, W = masks.shape[1:]
    if min(B, C, Q, h, w) == 0 or H == 0 or W == 0:
        return features.new_zeros((B, Q, C)) + 0 * features.sum()
    return _MaskPool.apply(features, masks, float(eps))


class MaskPool(nn.Module):
    """``mask_pool`` as a layer: forward(features (B, C, h, w), masks (B, Q, H, W)) -> (B, Q, C)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return mask_pool(features, masks, self.eps)

    def extra_repr(self) -> str:
        return f'eps={self.eps}'

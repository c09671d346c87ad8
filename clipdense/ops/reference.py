"""Plain-PyTorch references of the ops (slow, loop over regions); the tests compare against them.

They define the semantics: the kernels must agree with these up to floating-point rounding.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['roi_align_ref', 'masked_crops_ref', 'mask_pool_ref']


def _roi_axis_weights(lo, hi, scale, pooled: int, sampling_ratio: int, aligned: bool,
                      size: int) -> Tuple[torch.Tensor, int]:
    """(pooled, size) bilinear weights of one RoI axis averaged over each bin's samples.

    Coordinates follow torchvision's formulas in the dtype of ``lo`` (float32, or float64).
    Returns the weights and the per-bin grid (<= 0: no samples).
    """
    offset = 0.5 if aligned else 0.0
    start = lo * scale - offset
    length = (hi * scale - offset) - start
    if not aligned:
        length = torch.clamp(length, min=1.0)
    bin_size = length / pooled
    grid = sampling_ratio if sampling_ratio > 0 else int(math.ceil(float(length / pooled)))
    weights = lo.new_zeros((pooled, size))
    if grid <= 0 or size <= 0:
        return weights, grid
    p = torch.arange(pooled, dtype=lo.dtype)
    i = torch.arange(grid, dtype=lo.dtype)
    v = (start + p[:, None] * bin_size) + ((i[None, :] + 0.5) * bin_size) / grid  # (pooled, grid)
    valid = (v >= -1) & (v <= size)
    v = v.clamp(min=0)
    low = v.floor().long()
    clamped = low >= size - 1
    low = torch.where(clamped, torch.full_like(low, size - 1), low)
    frac = torch.where(clamped, torch.zeros_like(v), v - low.to(v.dtype))
    high = (low + 1).clamp(max=size - 1)
    w = weights.new_zeros((pooled, grid, size))
    w.scatter_add_(2, low[..., None], ((1 - frac) * valid)[..., None])
    w.scatter_add_(2, high[..., None], (frac * valid)[..., None])
    return w.sum(1) / grid, grid


def roi_align_ref(input: torch.Tensor, rois: torch.Tensor, output_size, spatial_scale=1.0,
                  sampling_ratio: int = 0, aligned: bool = True) -> torch.Tensor:
    """Reference of :func:`clipdense.ops.roi_align`: per RoI, ``out[c] = Ay @ x[c] @ Ax^T``.

    input (N, C, H, W), rois (K, 5) -> (K, C, PH, PW); differentiable w.r.t. input.
    """
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    N, C, H, W = input.shape
    cdtype = torch.float64 if input.dtype == torch.float64 else torch.float32
    x = input.to(cdtype)
    r = rois.detach().to('cpu', cdtype)
    scale = torch.tensor(spatial_scale, dtype=cdtype)
    outs = []
    for k in range(r.size(0)):
        b = int(r[k, 0])
        if not 0 <= b < N:
            outs.append(x.new_zeros((C, ph, pw)))
            continue
        ay, _ = _roi_axis_weights(r[k, 2], r[k, 4], scale, ph, sampling_ratio, aligned, H)
        ax, _ = _roi_axis_weights(r[k, 1], r[k, 3], scale, pw, sampling_ratio, aligned, W)
        # only the rows/columns with nonzero weight matter: slice them before the products
        rows, cols = ay.any(0).nonzero(), ax.any(0).nonzero()
        if rows.numel() == 0 or cols.numel() == 0:
            outs.append(x.new_zeros((C, ph, pw)))
            continue
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        ay, ax = ay[:, y0:y1].to(x.device), ax[:, x0:x1].to(x.device)
        outs.append(torch.matmul(torch.matmul(ay, x[b, :, y0:y1, x0:x1]), ax.t()))
    out = torch.stack(outs) if outs else x.new_zeros((0, C, ph, pw))
    return out.to(input.dtype)


def mask_pool_ref(features: torch.Tensor, masks: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Reference of :func:`clipdense.ops.mask_pool` (materialises the resized masks).

    features (B, C, h, w), masks (B, Q, H, W) -> (B, Q, C).
    """
    cdtype = torch.float64 if features.dtype == torch.float64 else torch.float32
    m = (masks != 0) if not masks.is_floating_point() else masks
    m = m.to(cdtype)
    B, C, h, w = features.shape
    if m.numel() and h and w:
        m = F.interpolate(m, size=(h, w), mode='bilinear', align_corners=False)
    else:
        m = m.new_zeros((B, m.size(1), h, w))
    f = features.to(cdtype)
    num = torch.einsum('bqhw,bchw->bqc', m, f)
    den = m.sum((2, 3))[..., None]
    return (num / (den + eps)).to(features.dtype)


def _mask_on(masks: torch.Tensor) -> torch.Tensor:
    return masks > 0.5 if masks.is_floating_point() else masks != 0


def masked_crops_ref(image: torch.Tensor, masks: torch.Tensor, size: int, mean, std,
                     fill=None, boxes: Optional[torch.Tensor] = None, expand_ratio: float = 1.0,
                     mode: str = 'bicubic') -> Tuple[torch.Tensor, torch.Tensor]:
    """Reference of :func:`clipdense.ops.masked_crops`, OVSeg's per-region loop.

    image (C, H, W), masks (Q, H, W) -> crops (Q, C, S, S), valid (Q,).
    """
    C, H, W = image.shape
    as_list = lambda v: [float(v)] * C if isinstance(v, (int, float)) else [float(t) for t in v]
    mean_t = torch.tensor(as_list(mean), dtype=torch.float64)
    std_t = torch.tensor(as_list(std), dtype=torch.float64)
    fill_t = mean_t if fill is None else torch.tensor(as_list(fill), dtype=torch.float64)
    cdtype = torch.float64 if image.dtype == torch.float64 else torch.float32
    img = image.detach().cpu().to(cdtype)
    on = _mask_on(masks.detach().cpu())
    mean_c, std_c, fill_c = (t.to(cdtype)[:, None, None] for t in (mean_t, std_t, fill_t))
    out_dtype = image.dtype if image.is_floating_point() else torch.float32
    crops, valid = [], []
    for q in range(on.size(0)):
        ys, xs = torch.nonzero(on[q], as_tuple=True)
        ok = ys.numel() > 0
        if ok:
            if boxes is None:
                x1, y1 = float(xs.min()), float(ys.min())
                x2, y2 = float(xs.max()) + 1, float(ys.max()) + 1
            else:
                x1, y1, x2, y2 = (float(v) for v in boxes[q].double())
            cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
            hw, hh = 0.5 * (x2 - x1) * expand_ratio, 0.5 * (y2 - y1) * expand_ratio
            lim = (W, H, W, H)
            box = [min(max(math.floor(v), 0), m) for v, m in
                   zip((cx - hw, cy - hh, cx + hw, cy + hh), lim)]
            l, t, r, b = box
            ok = r > l and b > t
        if not ok:
            crops.append(((fill_c - mean_c) / std_c).expand(C, size, size))
        else:
            region = torch.where(on[q, t:b, l:r], img[:, t:b, l:r], fill_c)
            region = (region - mean_c) / std_c
            crops.append(F.interpolate(region[None], size=(size, size), mode=mode,
                                       align_corners=False)[0])
        valid.append(ok)
    out = torch.stack(crops) if crops else img.new_zeros((0, C, size, size))
    return out.to(out_dtype).to(image.device), torch.tensor(valid, dtype=torch.bool,
                                                            device=image.device)

"""RoIAlign with CPU and CUDA kernels (torchvision/mmcv semantics, half types, channels-last)."""
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._ext_loader import check_same_device, check_tensor, get_ext, is_channels_last, pair

__all__ = ['roi_align', 'RoIAlignFast']


def _check_roi_args(input, rois, output_size, spatial_scale, sampling_ratio, aligned):
    op = 'roi_align'
    check_tensor(input, 'input', op, 4, '(N, C, H, W)')
    if not isinstance(rois, torch.Tensor):
        raise TypeError(f'{op}: rois must be a torch.Tensor of shape (N, 5), got '
                        f'{type(rois).__name__}')
    if rois.dim() != 2 or rois.size(1) != 5:
        raise ValueError(f'{op}: rois must have shape (N, 5) as (batch_index, x1, y1, x2, y2), '
                         f'got {tuple(rois.shape)}')
    if not rois.is_floating_point():
        raise TypeError(f'{op}: rois must be a floating tensor, got {rois.dtype}')
    check_same_device(op, 'input', input, rois=rois)
    size = pair(output_size, 'output_size', op)
    if not isinstance(sampling_ratio, int) or isinstance(sampling_ratio, bool):
        raise TypeError(f'{op}: sampling_ratio must be an int, got {sampling_ratio!r}')
    if not isinstance(spatial_scale, (int, float)) or isinstance(spatial_scale, bool):
        raise TypeError(f'{op}: spatial_scale must be a number, got {spatial_scale!r}')
    if not isinstance(aligned, bool):
        raise TypeError(f'{op}: aligned must be a bool, got {aligned!r}')
    return size


class _RoIAlign(torch.autograd.Function):

    @staticmethod
    def forward(ctx, input, rois, size, spatial_scale, sampling_ratio, aligned):
        ext = get_ext('roi_align', input)
        ctx.args = (float(spatial_scale), size[0], size[1], int(sampling_ratio), bool(aligned))
        ctx.input_shape = tuple(input.shape)
        ctx.channels_last = is_channels_last(input)
        ctx.save_for_backward(rois)
        return ext.roi_align_forward(input, rois, *ctx.args)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        rois, = ctx.saved_tensors
        n, _, h, w = ctx.input_shape
        grad_input = get_ext('roi_align', grad).roi_align_backward(
            grad, rois, *ctx.args, n, h, w, ctx.channels_last)
        return grad_input, None, None, None, None, None


def roi_align(input: torch.Tensor, rois: torch.Tensor, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = 0, aligned: bool = True) -> torch.Tensor:
    """Average RoIAlign of ``rois`` over ``input``; same semantics as torchvision/mmcv.

    Args:
        input: (N, C, H, W) float16/bfloat16/float32/float64 features, NCHW or channels-last.
        rois: (K, 5) boxes as (batch_index, x1, y1, x2, y2) in input-image coordinates; any
            floating dtype (coordinates are computed in float32, float64 for float64 input).
            RoIs whose batch index is outside [0, N) pool to zeros.
        output_size: int or (PH, PW).
        spatial_scale: feature size / image size (e.g. 1/16).
        sampling_ratio: samples per bin side; <= 0 uses ceil(roi size / output size).
        aligned: shift box corners by -0.5 pixel (pixel-centre model, as Detectron2).

    Returns:
        (K, C, PH, PW) in input's dtype and memory format; differentiable w.r.t. ``input``
        (accumulated in float32 for half types).
    """
    size = _check_roi_args(input, rois, output_size, spatial_scale, sampling_ratio, aligned)
    return _RoIAlign.apply(input, rois, size, spatial_scale, sampling_ratio, aligned)


class RoIAlignFast(nn.Module):
    """``roi_align`` as a layer, a drop-in for mmcv's ``RoIAlign`` in mmdet RoI extractors.

    Usable as ``roi_layer=dict(type='RoIAlignFast', output_size=7, sampling_ratio=0)`` once
    ``clipdense.ops`` is imported. ``pool_mode`` must be 'avg'; ``use_torchvision`` is accepted
    for config compatibility and ignored.
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, sampling_ratio: int = 0,
                 aligned: bool = True, pool_mode: str = 'avg', use_torchvision: bool = False):
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(f"RoIAlignFast: only pool_mode='avg' is supported, got {pool_mode!r}")
        self.output_size = pair(output_size, 'output_size', 'RoIAlignFast')
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """input (N, C, H, W), rois (K, 5) -> (K, C, PH, PW)."""
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}')

"""F-VLM's feature pyramid (the Cloud TPU detection FPN, BatchNorm on every output level)."""
from typing import List, Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

# Flax BatchNorm(momentum=0.997, epsilon=1e-4) in PyTorch terms (momentum = 1 - decay).
FVLM_NORM_CFG = dict(type='BN', momentum=0.003, eps=1e-4)


@MODELS.register_module()
class FVLMFPN(BaseModule):
    """Lateral 1x1 convs, nearest-upsampled top-down sums, 3x3 output convs, stride-2 3x3 convs
    for the levels above the backbone (ReLU before all but the first), then a norm per level.

    Differs from mmdet's ``FPN(norm_cfg=...)``, which normalises after every lateral and
    output conv; here only the outputs are normalised and the convs have no bias, as in
    F-VLM's ``Fpn``.

    Args:
        in_channels: channels of the backbone maps, finest first (C2..C5: 256..2048 for RN50).
        out_channels: pyramid width (256).
        num_outs: number of output levels (5: P2..P6).
        norm_cfg: the output norm (F-VLM: BN, momentum 0.997 in Flax terms, eps 1e-4; use
            ``SyncBN`` for multi-GPU training as the original syncs BN over the batch).

    Input: a sequence of ``(B, in_channels[i], H_i, W_i)``; output: ``num_outs`` maps
    ``(B, out_channels, H_i, W_i)``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256, num_outs: int = 5,
                 norm_cfg: dict = FVLM_NORM_CFG,
                 init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_in',
                               nonlinearity='linear', distribution='normal')):
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(in_channels):
            raise ValueError(f'num_outs={num_outs} < {len(in_channels)} input levels')
        self.in_channels = list(in_channels)
        self.out_channels, self.num_outs = out_channels, num_outs
        self.lateral_convs = nn.ModuleList(
            nn.Conv2d(c, out_channels, 1, bias=False) for c in in_channels)
        self.fpn_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False) for _ in in_channels)
        self.extra_convs = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1, bias=False)
            for _ in range(num_outs - len(in_channels)))
        self.norms = nn.ModuleList(
            build_norm_layer(norm_cfg, out_channels)[1] for _ in range(num_outs))

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'{type(self).__name__} expects {len(self.in_channels)} maps, got '
                             f'{len(inputs)}')
        merged: List[Tensor] = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for level in range(len(merged) - 2, -1, -1):
            merged[level] = merged[level] + F.interpolate(
                merged[level + 1], size=merged[level].shape[-2:], mode='nearest')
        outs = [conv(x) for conv, x in zip(self.fpn_convs, merged)]
        for index, conv in enumerate(self.extra_convs):
            outs.append(conv(F.relu(outs[-1]) if index > 0 else outs[-1]))
        return tuple(norm(x) for norm, x in zip(self.norms, outs))

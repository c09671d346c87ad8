"""A small CNN scene classifier (BIRDet's image-level scene scorer)."""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from clipdense.registry import DET_MODELS


@DET_MODELS.register_module()
class SceneCNN(BaseModule):
    """Images ``(B, 3, H, W)`` (normalised) -> scene logits ``(B, num_classes)``.

    The image is resized to ``input_size`` (H, W), then passes stride-2 3x3 conv-BN-ReLU stages
    of ``channels`` widths, global average pooling, dropout and a linear classifier.
    """

    def __init__(self, num_classes: int, channels: Sequence[int] = (16, 32, 64, 128),
                 input_size: Tuple[int, int] = (64, 64), dropout: float = 0.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'SceneCNN needs num_classes >= 1, got {num_classes}')
        self.num_classes, self.input_size = num_classes, tuple(input_size)
        layers, in_channels = [], 3
        for width in channels:
            layers += [nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'SceneCNN expects images (B, 3, H, W), got {tuple(images.shape)}')
        if tuple(images.shape[-2:]) != self.input_size:
            images = F.interpolate(images, size=self.input_size, mode='bilinear',
                                   align_corners=False)
        pooled = self.features(images).mean(dim=(2, 3))
        return self.classifier(self.dropout(pooled))

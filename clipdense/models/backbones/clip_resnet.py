"""OpenAI's modified ResNet as a dense-prediction backbone (four stage maps)."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from clipdense.clip import get_clip_config
from clipdense.registry import register_model

from ..clip_tower import CLIPWeightsMixin


def resnet_kwargs_from_name(model_name: str) -> dict:
    """``layers``, ``width``, ``output_dim``, ``input_resolution``, ``heads`` of an open_clip RN."""
    config = get_clip_config(model_name)
    vision = config['vision_cfg']
    if not isinstance(vision.get('layers'), (list, tuple)):
        raise ValueError(f'{model_name!r} is not a CLIP ResNet (vision layers: {vision["layers"]})')
    return dict(layers=list(vision['layers']), width=vision['width'],
                output_dim=config['embed_dim'], input_resolution=vision['image_size'],
                heads=vision['width'] * 32 // 64)


@register_model()
class CLIPResNet(CLIPWeightsMixin, BaseModule):
    """CLIP's ResNet (3-conv stem, anti-aliased strided bottlenecks) returning stage maps.

    Parameter names equal the ``visual.*`` names of OpenAI/open_clip checkpoints, so weights map
    one to one. Input ``(B, 3, H, W)`` -> maps at strides 4, 8, 16, 32 with ``4 * width * 2**i``
    channels (256..2048 for RN50).

    Args:
        layers: bottleneck count per stage; width: stem width (64 for RN50/RN101).
        model_name: take ``layers``/``width`` (and the attention-pool sizes used by subclasses)
            from an open_clip name such as ``'RN50'`` instead.
        output_dim, input_resolution, heads: attention-pool sizes, used by subclasses; accepted
            here so configs of the original DenseCLIP build unchanged.
        pretrained: local CLIP weight file (OpenAI archive, state dict, open_clip, safetensors).
        out_indices: which stage maps to return; frozen_stages: stages (0 = stem) to freeze.
        norm_eval: keep BatchNorm statistics frozen while training.
    """

    def __init__(self, layers: Sequence[int] = (3, 4, 6, 3), width: int = 64,
                 output_dim: int = 1024, input_resolution: int = 224,
                 heads: Optional[int] = None, model_name: Optional[str] = None,
                 pretrained: Optional[str] = None, out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1, norm_eval: bool = False, style: str = 'pytorch',
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        from open_clip.modified_resnet import Bottleneck
        if model_name is not None:
            named = resnet_kwargs_from_name(model_name)
            layers, width = named['layers'], named['width']
            output_dim, input_resolution, heads = (named['output_dim'],
                                                   named['input_resolution'], named['heads'])
        if len(layers) != 4:
            raise ValueError(f'layers must list 4 stage depths, got {layers}')
        self.layers, self.width = list(layers), width
        self.output_dim, self.input_resolution = output_dim, input_resolution
        self.heads = heads if heads is not None else width * 32 // 64
        self.pretrained = pretrained
        self.out_indices = tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval

        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self.relu = nn.ReLU(inplace=True)

        inplanes = width
        for stage, depth in enumerate(self.layers):
            planes = width * 2 ** stage
            blocks = [Bottleneck(inplanes, planes, stride=1 if stage == 0 else 2)]
            inplanes = planes * Bottleneck.expansion
            blocks += [Bottleneck(inplanes, planes) for _ in range(1, depth)]
            self.add_module(f'layer{stage + 1}', nn.Sequential(*blocks))
        self.out_channels = [width * 4 * 2 ** i for i in range(4)]
        self._freeze_stages()

    def _select_weights(self, visual: dict) -> dict:
        """The checkpoint entries this module loads (the plain ResNet has no attention pool)."""
        return {k: v for k, v in visual.items() if not k.startswith('attnpool.')}

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.bn3(self.conv3(x)))
        return self.avgpool(x)

    def forward_stages(self, x: torch.Tensor) -> list:
        """All four stage maps of ``x`` (B, 3, H, W)."""
        x = self.stem(x.to(self.conv1.weight.dtype))
        outs = []
        for stage in range(4):
            x = getattr(self, f'layer{stage + 1}')(x)
            outs.append(x)
        return outs

    def forward(self, x: torch.Tensor) -> tuple:
        outs = self.forward_stages(x)
        return tuple(outs[i] for i in self.out_indices)

    def _freeze_stages(self):
        modules = []
        if self.frozen_stages >= 0:
            modules += [self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3]
        modules += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        for module in modules:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

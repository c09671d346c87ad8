"""Build open_clip CLIP models from names or explicit kwargs, with local weights only."""
import os
from typing import Optional, Union

from mmengine.logging import print_log
from torch import nn

from .architectures import get_clip_config
from .torchscript import is_torchscript_archive
from .weights import CLIPWeightsError, load_state_dict_into, read_weight_file


def build_clip(model_name: Optional[str] = None, arch: Optional[dict] = None,
               pretrained: Optional[str] = None, *, quick_gelu: Optional[bool] = None,
               image_size: Optional[int] = None, allow_download: bool = False,
               strict: bool = True) -> nn.Module:
    """Builds an open_clip ``CLIP`` (image + text towers).

    Args:
        model_name: open_clip architecture name (``'RN50'``, ``'ViT-B-16'``, ...).
        arch: explicit ``dict(embed_dim=..., vision_cfg=..., text_cfg=...)`` instead of a name
            (tests use tiny ones).
        pretrained: path of a local weight file (any format :func:`read_weight_file` reads).
            An open_clip hub tag (e.g. ``'laion2b_s34b_b88k'``) is only accepted together with
            ``allow_download=True``.
        quick_gelu: activation of the transformers; None means True for OpenAI TorchScript
            archives (OpenAI trained with QuickGELU) and the config's value otherwise.
        image_size: overrides the vision tower's input size (positional grids are resized).
    """
    import open_clip
    if (model_name is None) == (arch is None):
        raise ValueError('pass exactly one of model_name (e.g. "RN50") or arch (a config dict)')
    config = get_clip_config(model_name) if model_name else dict(arch)
    config.pop('custom_text', None)
    if image_size is not None:
        config['vision_cfg'] = dict(config['vision_cfg'], image_size=image_size)
    weights_path = None
    if pretrained is not None:
        if os.path.isfile(pretrained):
            weights_path = pretrained
        elif is_hub_tag(pretrained):
            if not allow_download:
                raise CLIPWeightsError(
                    f'pretrained={pretrained!r} is an open_clip hub tag and would need a '
                    'download, which is disabled. Pass the path of a local weight file instead, '
                    'or allow_download=True to opt in to open_clip\'s hub download.')
            return open_clip.create_model(model_name, pretrained=pretrained)
        else:
            read_weight_file(pretrained)  # raises the file-not-found error
    if quick_gelu is None:
        quick_gelu = bool(config.pop('quick_gelu', False)) or (
            weights_path is not None and is_torchscript_archive(weights_path))
    else:
        config.pop('quick_gelu', None)
    model = open_clip.model.CLIP(**config, quick_gelu=quick_gelu)
    if weights_path is not None:
        report = load_state_dict_into(model, read_weight_file(weights_path), source=weights_path)
        missing = [k for k in report.missing if k != 'logit_bias']
        if strict and (missing or report.unexpected):
            raise CLIPWeightsError(f'{weights_path} does not match {model_name or "the arch"}: '
                                   f'{report.summary()}')
        print_log(f'loaded CLIP weights from {weights_path}: {report.summary()}', 'current')
    return model


def is_hub_tag(value: str) -> bool:
    """True for an open_clip hub tag such as ``'laion2b_s34b_b88k'`` (no directory, no suffix)."""
    return os.sep not in value and '.' not in os.path.basename(value)

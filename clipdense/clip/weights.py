"""Local CLIP weight files -> OpenAI-named state dicts -> a module, with a report.

Every format is normalised to OpenAI/open_clip naming (``visual.*``, ``transformer.*``,
``token_embedding.weight``, ``positional_embedding``, ``ln_final.*``, ``text_projection``,
``logit_scale``) before it reaches a model, so one mapping serves every tower of every method.
"""
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from clipdense.utils.checkpoint import CheckpointError, load_checkpoint_file

from .torchscript import is_torchscript_archive, read_torchscript_state_dict

StateDict = Dict[str, torch.Tensor]

# Keys OpenAI archives carry as tensors that are architecture metadata, not weights.
_METADATA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
# Wrappers used by training scripts (open_clip, mmengine, DDP) around the actual state dict.
_NESTING_KEYS = ('state_dict', 'model', 'model_state_dict', 'module')


class CLIPWeightsError(ValueError):
    """A weight file is missing, unreadable, or does not fit the model it is loaded into."""


@dataclass
class LoadReport:
    """What happened when a state dict was loaded into a module."""
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f'missing keys ({len(self.missing)}): {self.missing}' if self.missing else '',
                 f'unexpected keys ({len(self.unexpected)}): {self.unexpected}'
                 if self.unexpected else '',
                 'resized: ' + ', '.join(f'{k} {tuple(a)}->{tuple(b)}' for k, a, b in self.resized)
                 if self.resized else '']
        return '; '.join(p for p in parts if p) or 'all keys matched'


def read_weight_file(path: str) -> StateDict:
    """Reads a local CLIP weight file of any supported format into an OpenAI-named state dict.

    Formats: OpenAI TorchScript archives (read without executing them), plain ``torch.save``
    state dicts (optionally nested under ``state_dict``/``model``; loaded with
    ``weights_only=True``), open_clip training checkpoints (``module.`` prefixes), and
    ``.safetensors`` files.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CLIPWeightsError(
            f'CLIP weight file not found: {path!r}. Pass the path of a local file (an OpenAI '
            'archive such as RN50.pt / ViT-B-16.pt, an open_clip checkpoint, or a .safetensors '
            'file); nothing is downloaded.')
    if os.path.getsize(path) == 0:
        raise CLIPWeightsError(f'CLIP weight file {path!r} is empty (0 bytes)')
    if path.endswith('.safetensors') or _looks_like_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            raw = load_file(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise CLIPWeightsError(f'{path!r} is not a readable .safetensors file (truncated or '
                                   f'corrupt: {err})') from err
    elif is_torchscript_archive(path):
        raw = read_torchscript_state_dict(path)
    else:
        try:
            raw = load_checkpoint_file(path, map_location='cpu')
        except CheckpointError as err:  # unsafe types, text files, truncated archives
            raise CLIPWeightsError(f'CLIP weights: {err}') from err
    return normalize_state_dict(raw, source=path)


def _looks_like_safetensors(path: str) -> bool:
    """A safetensors file starts with an 8-byte little-endian header length, then ``{``."""
    with open(path, 'rb') as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b'{' and \
        int.from_bytes(head[:8], 'little') < os.path.getsize(path)


def normalize_state_dict(raw, source: str = '<state dict>') -> StateDict:
    """Unwraps nesting, strips ``module.`` prefixes, maps open_clip custom-text names to OpenAI
    names, and drops OpenAI's architecture metadata tensors."""
    while isinstance(raw, dict) and not _looks_like_weights(raw):
        nested = [k for k in _NESTING_KEYS if isinstance(raw.get(k), dict)]
        if not nested:
            raise CLIPWeightsError(
                f'{source}: no state dict found; top-level keys are {sorted(raw)[:10]}')
        raw = raw[nested[0]]
    if not isinstance(raw, dict):
        raise CLIPWeightsError(f'{source}: expected a state dict, got {type(raw).__name__}')
    state_dict = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor) or key in _METADATA_KEYS:
            continue
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith('text.'):  # open_clip CustomTextCLIP layout
            key = key[len('text.'):]
        state_dict[key] = value
    return state_dict


def _looks_like_weights(d: dict) -> bool:
    return any(isinstance(v, torch.Tensor) for v in d.values())


def sub_state_dict(state_dict: StateDict, prefix: str) -> StateDict:
    """Entries under ``prefix`` (e.g. ``'visual.'``) with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def resize_grid_pos_embed(pos_embed: torch.Tensor, grid: Tuple[int, int], mode: str = 'bicubic',
                          num_prefix_tokens: int = 1, antialias: bool = False) -> torch.Tensor:
    """Resizes a ``(P + gh*gw, C)`` positional embedding with a square source grid to ``grid``.

    The first ``num_prefix_tokens`` rows (the class/global token) are kept as they are.
    """
    prefix, spatial = pos_embed[:num_prefix_tokens], pos_embed[num_prefix_tokens:]
    side = math.isqrt(spatial.shape[0])
    if side * side != spatial.shape[0]:
        raise CLIPWeightsError(
            f'positional embedding with {spatial.shape[0]} spatial rows is not a square grid')
    if (side, side) == tuple(grid):
        return pos_embed
    dtype = pos_embed.dtype
    spatial = spatial.float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
    kwargs = dict(align_corners=False) if mode in ('bilinear', 'bicubic') else {}
    if antialias:
        kwargs['antialias'] = True
    spatial = F.interpolate(spatial, size=tuple(grid), mode=mode, **kwargs)
    spatial = spatial.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1).to(dtype)
    return torch.cat([prefix, spatial], dim=0)


def _fit_positional_embedding(key: str, value: torch.Tensor, target: torch.Tensor,
                              grid_mode: str) -> Optional[torch.Tensor]:
    """Adapts a positional embedding to ``target``'s shape, or None when it cannot."""
    if value.ndim != 2 or target.ndim != 2 or value.shape[1] != target.shape[1]:
        return None
    src_side, dst_side = math.isqrt(value.shape[0] - 1), math.isqrt(target.shape[0] - 1)
    if src_side ** 2 == value.shape[0] - 1 and dst_side ** 2 == target.shape[0] - 1:
        return resize_grid_pos_embed(value, (dst_side, dst_side), mode=grid_mode)
    if target.shape[0] < value.shape[0]:  # text context shortened (e.g. DenseCLIP's 13 tokens)
        return value[:target.shape[0]]
    return None


def load_state_dict_into(module: nn.Module, state_dict: StateDict, *, strict: bool = False,
                         grid_mode: str = 'bicubic', source: str = '<state dict>') -> LoadReport:
    """Loads an already-prefixed state dict, resizing positional embeddings where grids differ.

    Any other shape mismatch raises :class:`CLIPWeightsError` listing the offending keys, so a
    wrong architecture never loads half-silently. ``grid_mode`` is the interpolation for 2D
    position grids (``'bicubic'`` for ViTs, ``'bilinear'`` for the ResNet attention pool).
    """
    own = module.state_dict()
    report = LoadReport()
    fitted, mismatched = {}, []
    for key, value in state_dict.items():
        if key not in own:
            report.unexpected.append(key)
            continue
        target = own[key]
        if value.shape != target.shape:
            resized = None
            if key.endswith('positional_embedding'):
                resized = _fit_positional_embedding(key, value, target, grid_mode)
            if resized is None:
                mismatched.append(
                    f'{key}: file {tuple(value.shape)} vs model {tuple(target.shape)}')
                continue
            report.resized.append((key, tuple(value.shape), tuple(resized.shape)))
            value = resized
        fitted[key] = value.to(target.dtype)
    if mismatched:
        raise CLIPWeightsError(
            f'{source} does not fit {type(module).__name__}: {len(mismatched)} shape mismatches, '
            f'e.g. {mismatched[:5]}. The file was probably made for another architecture; '
            f'{describe_state_dict_hint(state_dict)}')
    report.missing = sorted(k for k in own if k not in fitted)
    if strict and (report.missing or report.unexpected):
        raise CLIPWeightsError(f'{source}: strict loading into {type(module).__name__} failed: '
                               f'{report.summary()}')
    module.load_state_dict(fitted, strict=False)
    return report


def describe_state_dict_hint(state_dict: StateDict) -> str:
    """A sentence naming the architecture the weights look like, for error messages. Works on
    the weights of one tower too, with or without their ``visual.`` prefix."""
    from .architectures import guess_model_names, infer_partial_clip_config
    config = infer_partial_clip_config(state_dict)
    if not config:
        return 'its architecture could not be inferred.'
    parts = []
    vision, text = config.get('vision_cfg'), config.get('text_cfg')
    if vision is not None:
        parts.append(f"ViT width {vision['width']}, patch {vision['patch_size']}, "
                     f"{vision['layers']} layers" if vision.get('patch_size') else
                     f"ResNet layers {vision['layers']}, width {vision['width']}")
    if text is not None:
        parts.append(f"text transformer width {text['width']}, {text['layers']} layers")
    arch = '; '.join(parts)
    names = guess_model_names(config)
    if len(names) == 1:
        return (f'the weights look like {names[0]!r} ({arch}); build the model with '
                f'model_name={names[0]!r}.')
    if names:
        return f'the weights look like {arch} (as in {", ".join(names)}).'
    return f'the weights look like {arch}.'

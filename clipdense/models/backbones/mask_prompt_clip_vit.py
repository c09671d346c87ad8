"""OVSeg's mask-adapted CLIP ViT: mask prompt tuning on any open_clip / OpenAI CLIP ViT.

A learnable ``mask_embedding`` of shape ``(depth, grid*grid, width)`` replaces the patch tokens a
region mask leaves out (the "background" patches):

* the mask ``(S, S)`` is pooled per patch (kernel = stride = patch size); a patch is kept when
  any of its pixels is foreground (OVSeg: average pool, then ``ceil``);
* ``mask_embedding[0]`` replaces the background patch tokens right after the patch embedding,
  before the class token and the positional embedding are added; ``mask_embedding[d]`` replaces
  them again after block ``d`` (1-based) for ``d < depth``. The class token is never replaced;
* output: class token -> ``ln_post`` -> ``proj`` (not normalised).

Without masks the tower is exactly open_clip's image tower (the same call). Weights: any file the
CLIP core reads (OpenAI archives, state dicts, open_clip checkpoints, safetensors) and OVSeg's
released checkpoints, whose CLIP lives under ``clip_adapter.clip_model.`` with OpenAI naming and
``visual.mask_embedding``.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from clipdense.clip import (CLIPWeightsError, LoadReport, build_clip, get_clip_config,
                            is_torchscript_archive, load_state_dict_into, read_weight_file,
                            sub_state_dict)
from clipdense.registry import register_model

OVSEG_CLIP_PREFIX = 'clip_adapter.clip_model.'
MASK_EMBEDDING_KEY = 'visual.mask_embedding'
StateDict = Dict[str, torch.Tensor]


def read_mask_adapted_clip_weights(path: str) -> StateDict:
    """Reads a CLIP weight file into OpenAI naming, ``visual.mask_embedding`` included.

    Accepts everything :func:`clipdense.clip.read_weight_file` reads and OVSeg's released
    detectron2 checkpoints (``{'model': {'clip_adapter.clip_model.visual.conv1.weight': ...}}``),
    whose other entries (MaskFormer, ``non_object_embedding``) are dropped.
    """
    return _read_weights(path)[0]


def _read_weights(path: str) -> Tuple[StateDict, bool]:
    """The state dict and whether the file is an OVSeg release."""
    state_dict = read_weight_file(path)
    released = any(key.startswith(OVSEG_CLIP_PREFIX) for key in state_dict)
    if released:
        state_dict = sub_state_dict(state_dict, OVSEG_CLIP_PREFIX)
    return state_dict, released


def build_mask_adapted_clip(model_name: Optional[str] = None, arch: Optional[dict] = None,
                            pretrained: Optional[str] = None, quick_gelu: Optional[bool] = None,
                            image_size: Optional[int] = None
                            ) -> Tuple[nn.Module, Optional[StateDict]]:
    """Builds an open_clip CLIP (random init) and reads ``pretrained`` once.

    Returns the model and the file's state dict (None without a file); the caller loads the
    towers it keeps. ``quick_gelu=None`` chooses QuickGELU for OpenAI archives and for
    mask-adapted weights (OVSeg releases and files with ``visual.mask_embedding``: OVSeg adapts
    OpenAI CLIP), and the architecture config's activation otherwise. Set it explicitly for a
    mask-adapted CLIP of another family (e.g. ``False`` for an open_clip LAION ViT).
    """
    state_dict, released = _read_weights(pretrained) if pretrained else (None, False)
    if quick_gelu is None:
        config = get_clip_config(model_name) if model_name else dict(arch or {})
        mask_adapted = released or (state_dict is not None and MASK_EMBEDDING_KEY in state_dict)
        quick_gelu = bool(config.get('quick_gelu', False)) or mask_adapted or (
            pretrained is not None and is_torchscript_archive(pretrained))
    model = build_clip(model_name, arch, quick_gelu=quick_gelu, image_size=image_size)
    return model, state_dict


def check_clip_vit(visual: nn.Module) -> None:
    """Raises TypeError unless ``visual`` is an open_clip ViT pooled by its class token."""
    for name in ('conv1', 'class_embedding', 'positional_embedding', 'ln_pre', 'transformer',
                 'ln_post', 'proj'):
        if not hasattr(visual, name):
            raise TypeError(f'{type(visual).__name__} is not an open_clip VisionTransformer (no '
                            f'{name!r}); mask prompt tuning needs a CLIP ViT, not a ResNet')
    if getattr(visual, 'attn_pool', None) is not None or \
            getattr(visual, 'pool_type', 'tok') != 'tok':
        raise TypeError('mask prompt tuning reads the class token; this open_clip ViT pools with '
                        f'{getattr(visual, "pool_type", "an attention pooler")!r}')


@register_model()
class MaskPromptCLIPViT(BaseModule):
    """CLIP image tower with OVSeg's mask prompts.

    ``forward(images (N, 3, S, S) normalised, masks (N, S, S) | (N, 1, S, S) | None)`` returns
    the projected class-token embeddings ``(N, E)`` (not normalised). ``S`` is the tower's input
    size (224 for ViT-B/16 and ViT-L/14).

    Args:
        model_name / arch / pretrained / quick_gelu / image_size: as
            :func:`build_mask_adapted_clip` (a local file only; nothing is downloaded).
        mask_prompt_depth: number of prompt sets (3 in OVSeg); 0 builds the plain tower.
        shared_prompt: one prompt token per depth for all patches, ``(depth, 1, width)`` (the
            original code accepts this shape too); default one per patch.
        visual: an open_clip ``VisionTransformer`` to wrap instead of building one (the region
            classifier passes its CLIP's); ``pretrained`` then loads into it.
    """

    def __init__(self, model_name: Optional[str] = None, arch: Optional[dict] = None,
                 pretrained: Optional[str] = None, quick_gelu: Optional[bool] = None,
                 image_size: Optional[int] = None, mask_prompt_depth: int = 3,
                 shared_prompt: bool = False, visual: Optional[nn.Module] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        state_dict = None
        if visual is None:
            if (model_name is None) == (arch is None):
                raise ValueError('MaskPromptCLIPViT needs model_name (e.g. "ViT-B-16"), arch '
                                 '(a config dict) or visual (an open_clip VisionTransformer)')
            clip_model, state_dict = build_mask_adapted_clip(model_name, arch, pretrained,
                                                             quick_gelu, image_size)
            visual = clip_model.visual
        elif pretrained:
            state_dict = read_mask_adapted_clip_weights(pretrained)
        check_clip_vit(visual)
        self.visual = visual
        self.patch_size = int(visual.conv1.kernel_size[0])
        self.image_size = _pair(getattr(visual, 'image_size', None) or
                                _grid_side(visual) * self.patch_size)
        self.grid_size = (self.image_size[0] // self.patch_size,
                          self.image_size[1] // self.patch_size)
        self.width = int(visual.conv1.out_channels)
        self.embed_dim = int(visual.proj.shape[1])
        self.num_layers = len(visual.transformer.resblocks)
        if not 0 <= mask_prompt_depth <= self.num_layers:
            raise ValueError(f'mask_prompt_depth must be in [0, {self.num_layers}] for a '
                             f'{self.num_layers}-block ViT, got {mask_prompt_depth}')
        self.mask_prompt_depth = mask_prompt_depth
        if mask_prompt_depth:
            tokens = 1 if shared_prompt else self.grid_size[0] * self.grid_size[1]
            self.mask_embedding = nn.Parameter(
                torch.empty(mask_prompt_depth, tokens, self.width,
                            device=visual.conv1.weight.device, dtype=visual.conv1.weight.dtype))
            nn.init.normal_(self.mask_embedding, std=0.02)  # OVSeg's (MAE-style) init
        else:
            self.register_parameter('mask_embedding', None)
        if state_dict is not None:
            self.load_weights(state_dict, source=pretrained)

    # ------------------------------------------------------------------------------ weights
    def load_weights(self, state_dict: StateDict, source: str = '<state dict>') -> LoadReport:
        """Loads the ``visual.*`` entries of an OpenAI-named state dict (``visual.mask_embedding``
        into the prompts). Missing prompts keep their initialisation; prompts in a file loaded
        into a tower without them are reported and ignored."""
        visual = {k: v for k, v in state_dict.items()
                  if k.startswith('visual.') and k != MASK_EMBEDDING_KEY}
        if not visual:
            raise CLIPWeightsError(f'{source} has no visual.* weights (is it a CLIP checkpoint?)')
        if MASK_EMBEDDING_KEY in state_dict and self.mask_embedding is not None:
            visual['mask_embedding'] = state_dict[MASK_EMBEDDING_KEY]
        report = load_state_dict_into(self, visual, source=source)
        if report.missing:
            missing = [k for k in report.missing if k != 'mask_embedding']
            if missing:
                raise CLIPWeightsError(f'{source} lacks image-tower weights: {missing[:8]}')
        notes = []
        if 'mask_embedding' in report.missing:
            notes.append('no mask prompts in the file: mask_embedding keeps its N(0, 0.02) init')
        if MASK_EMBEDDING_KEY in state_dict and self.mask_embedding is None:
            notes.append(f'the file has mask prompts {tuple(state_dict[MASK_EMBEDDING_KEY].shape)}'
                         ' but mask_prompt_depth=0: ignored')
        print_log(f'MaskPromptCLIPViT: loaded {source}: {report.summary()}'
                  + ''.join(f'; {n}' for n in notes), 'current')
        return report

    # ------------------------------------------------------------------------------ forward
    def patch_keep(self, masks: torch.Tensor) -> torch.Tensor:
        """Region masks ``(N, S, S)`` or ``(N, 1, S, S)`` (bool, or 0/1 numbers) -> ``(N, L)``
        bool, True where a patch has at least one foreground pixel (``L = grid * grid``)."""
        if masks.ndim == 4:
            if masks.shape[1] != 1:
                raise ValueError(f'masks (N, 1, S, S) must have one channel, got '
                                 f'{tuple(masks.shape)}')
            masks = masks[:, 0]
        if masks.ndim != 3:
            raise ValueError(f'masks must be (N, S, S) or (N, 1, S, S), got {tuple(masks.shape)}')
        if tuple(masks.shape[-2:]) != self.image_size:
            raise ValueError(f'masks {tuple(masks.shape)} must match the tower input size '
                             f'{self.image_size}')
        if masks.dtype != torch.bool:
            if masks.is_floating_point() or masks.dtype == torch.uint8:
                if not ((masks == 0) | (masks == 1)).all():
                    raise ValueError('mask prompts need binary masks (bool or 0/1 values); '
                                     'threshold soft masks first (OVSeg: mask > mask_thr)')
            else:
                raise TypeError(f'masks must be bool, uint8 or floating, got {masks.dtype}')
        pooled = F.max_pool2d(masks[:, None].float(), self.patch_size, self.patch_size)
        return pooled.flatten(1) > 0

    def forward(self, images: torch.Tensor, masks: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        self._check_images(images)
        if masks is None:
            return self.visual(images)
        if self.mask_embedding is None:
            raise ValueError('masks were given but this tower has no mask prompts '
                             '(mask_prompt_depth=0); pass masks=None for plain CLIP')
        if masks.shape[0] != images.shape[0]:
            raise ValueError(f'{masks.shape[0]} masks for {images.shape[0]} images')
        return self.prompted_forward(images, self.patch_keep(masks))

    def prompted_forward(self, images: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """The tower with background patches (``keep (N, L)`` False) replaced by the prompts."""
        visual = self.visual
        if not isinstance(visual.patch_dropout, nn.Identity) and self.training:
            raise ValueError('patch dropout changes the token set; it cannot be combined with '
                             'mask prompts while training')
        x = visual.conv1(images.to(visual.conv1.weight.dtype))  # (N, C, g, g)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)  # (N, L, C)
        prompts = self.mask_embedding.to(x.dtype)
        keep = keep.unsqueeze(-1)
        x = torch.where(keep, x, prompts[0])
        cls = visual.class_embedding.view(1, 1, -1).expand(x.shape[0], -1, -1).to(x.dtype)
        x = torch.cat([cls, x], dim=1) + visual.positional_embedding.to(x.dtype)
        x = visual.ln_pre(visual.patch_dropout(x))
        batch_first = getattr(visual.transformer, 'batch_first', True)
        if not batch_first:
            x = x.transpose(0, 1)
        for index, block in enumerate(visual.transformer.resblocks):
            x = block(x)
            if index + 1 < self.mask_prompt_depth:
                x = self._replace_patches(x, keep, prompts[index + 1], batch_first)
        if not batch_first:
            x = x.transpose(0, 1)
        return self.project(x)

    def project(self, tokens: torch.Tensor) -> torch.Tensor:
        """Final tokens ``(N, 1 + L, C)`` -> class-token embeddings ``(N, E)``, in open_clip's
        order of pooling and ``ln_post``."""
        visual = self.visual
        if getattr(visual, 'final_ln_after_pool', False):
            pooled = visual.ln_post(tokens[:, 0])
        else:
            pooled = visual.ln_post(tokens)[:, 0]
        return pooled @ visual.proj if visual.proj is not None else pooled

    @staticmethod
    def _replace_patches(x: torch.Tensor, keep: torch.Tensor, prompt: torch.Tensor,
                         batch_first: bool) -> torch.Tensor:
        if batch_first:
            return torch.cat([x[:, :1], torch.where(keep, x[:, 1:], prompt)], dim=1)
        patches = torch.where(keep.transpose(0, 1), x[1:], prompt.unsqueeze(1))
        return torch.cat([x[:1], patches], dim=0)

    def _check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'images must be (N, 3, S, S), got {tuple(images.shape)}')
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(f'images {tuple(images.shape)} must have the tower input size '
                             f'{self.image_size} (resize region crops to it)')

    def extra_repr(self) -> str:
        return (f'image_size={self.image_size}, patch_size={self.patch_size}, '
                f'mask_prompt_depth={self.mask_prompt_depth}')


def _pair(value) -> Tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _grid_side(visual: nn.Module) -> int:
    return int(round((visual.positional_embedding.shape[0] - 1) ** 0.5))

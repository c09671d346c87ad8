"""OVSeg's CLIP adapter: classify binary region masks of an image with a (mask-adapted) CLIP.

    image (3, H, W) 0-255 + masks (Q, H, W)
      -> boxes: tight box of each mask (x_min, y_min, x_max + 1, y_max + 1), scaled by
         expand_ratio around its centre (float32, as the original), truncated, clamped
      -> ONE masked_crops call: outside-mask pixels = CLIP mean, crop, normalise, bicubic
         squash to the tower's input size S (aspect not kept); crop masks resized nearest
      -> non-empty regions through the tower in chunks of chunk_size (mask prompts optional)
      -> L2-normalised embeddings; probs = softmax(100 * cos) against the text classifier
         (14 ViLD templates, cached in memory and on disk)

Empty masks are flagged and skip the tower; OVSeg's ensemble gives them p_clip = 1.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from clipdense.clip import (CLIPWeightsError, TextClassifierCache, build_text_classifier,
                            load_state_dict_into, module_fingerprint, parse_class_names)
from clipdense.ops import CLIP_MEAN, CLIP_STD, masked_crops
from clipdense.registry import SEG_MODELS, register_model

from ..backbones.mask_prompt_clip_vit import MaskPromptCLIPViT, build_mask_adapted_clip

Vocabulary = Sequence[Union[str, Sequence[str]]]


def mask_crop_boxes(masks: torch.Tensor, expand_ratio: float = 1.0) -> torch.Tensor:
    """Integer crop boxes ``(Q, 4)`` = ``(left, top, right, bottom)`` of masks ``(Q, H, W)``
    (``H, W > 0``).

    OVSeg's rule: the tight box ``(x_min, y_min, x_max + 1, y_max + 1)`` in float32, scaled by
    ``expand_ratio`` around its centre, each side truncated to an integer and clamped to the
    image. Empty masks get ``(0, 0, 0, 0)``.
    """
    _, height, width = masks.shape
    on = masks.bool().view(torch.uint8)  # uint8 max-reductions are much faster than bool any()
    rows, cols = on.amax(dim=2), on.amax(dim=1)  # (Q, H), (Q, W)
    nonempty = rows.amax(dim=1).bool()

    def extent(hits: torch.Tensor, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
        first = hits.argmax(dim=1)
        last = size - 1 - hits.flip(1).argmax(dim=1)
        return first, last + 1

    (x1, x2), (y1, y2) = extent(cols, width), extent(rows, height)
    x1, y1, x2, y2 = (v.float() for v in (x1, y1, x2, y2))
    centre_x, centre_y = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    half_w, half_h = 0.5 * ((x2 - x1) * expand_ratio), 0.5 * ((y2 - y1) * expand_ratio)
    box = torch.stack([centre_x - half_w, centre_y - half_h, centre_x + half_w,
                       centre_y + half_h], dim=1).trunc().long()
    box[:, 0::2] = box[:, 0::2].clamp(0, width)
    box[:, 1::2] = box[:, 1::2].clamp(0, height)
    return box * nonempty[:, None]


def crop_masks_nearest(masks: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each mask's box crop resized to ``size x size`` like ``F.interpolate(mode='nearest')``:
    ``(Q, H, W)`` + integer boxes ``(Q, 4)`` -> ``(Q, size, size)`` bool (all False for an
    empty box)."""
    num, height, width = masks.shape
    left, top, right, bottom = boxes.unbind(dim=1)
    crop_h, crop_w = bottom - top, right - left
    steps = torch.arange(size, device=masks.device, dtype=torch.float32)

    def source_index(length: torch.Tensor) -> torch.Tensor:
        scale = length.float() / size  # float32, as PyTorch's nearest kernel
        index = (steps[None] * scale[:, None]).floor().long()
        return torch.minimum(index, (length - 1).clamp(min=0)[:, None])

    rows = (top[:, None] + source_index(crop_h)).clamp(0, max(height - 1, 0))
    cols = (left[:, None] + source_index(crop_w)).clamp(0, max(width - 1, 0))
    index = torch.arange(num, device=masks.device)[:, None, None]
    out = masks.bool()[index, rows[:, :, None], cols[:, None, :]]
    return out & ((crop_h > 0) & (crop_w > 0))[:, None, None]


def check_region_inputs(image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Validates ``image (3, H, W)`` and binary ``masks (Q, H, W)``; returns bool masks."""
    if image.ndim != 3 or image.shape[0] != 3 or not image.shape[1] or not image.shape[2]:
        raise ValueError(f'image must be (3, H, W) RGB on the 0-255 scale with H, W > 0, got '
                         f'{tuple(image.shape)}')
    if masks.ndim != 3:
        raise ValueError(f'masks must be (Q, H, W), got {tuple(masks.shape)}')
    if masks.shape[1:] != image.shape[1:]:
        raise ValueError(f'masks (Q, H, W) = {tuple(masks.shape)} do not match the image size '
                         f'{tuple(image.shape[1:])}')
    if masks.dtype != torch.bool:
        if not (masks.is_floating_point() or masks.dtype == torch.uint8):
            raise TypeError(f'masks must be bool (or 0/1 uint8/float), got {masks.dtype}')
        if masks.numel() and not ((masks == 0) | (masks == 1)).all():
            raise ValueError('masks must be binary (bool or 0/1); threshold soft masks first '
                             '(OVSeg: sigmoid(mask_logits) > mask_thr)')
        masks = masks.bool()
    return masks


@register_model(SEG_MODELS)
class RegionCLIPClassifier(BaseModule):
    """OVSeg's CLIP side: region crops -> mask-prompted CLIP -> probabilities over any words.

    Args:
        clip: the tower: :class:`MaskPromptCLIPViT` kwargs (``model_name``/``arch``,
            ``pretrained`` local file, ``quick_gelu``, ``image_size``, ``mask_prompt_depth``);
            ``type`` may be given. The text tower comes from the same file.
        templates: prompt templates of the text classifier (``'vild14'`` as OVSeg).
        expand_ratio: crop box scale around its centre (1.0 in OVSeg).
        chunk_size: regions per tower forward (memory bound).
        cache_dir: on-disk text classifier cache; None keeps it in memory only.
        mask_prompt_fwd: pass the crop masks to the tower (OVSeg's ``MASK_PROMPT_FWD``; needs
            ``mask_prompt_depth > 0``).
        logit_scale: temperature of the softmax (100 in OVSeg).
        pixel_mean / pixel_std: CLIP's normalisation on the 0-255 scale; the fill is the mean.
        interpolation: crop resize mode, ``'bicubic'`` (OVSeg) or ``'bilinear'``.
    """

    def __init__(self, clip: dict, templates='vild14', expand_ratio: float = 1.0,
                 chunk_size: int = 32, cache_dir: Optional[str] = None,
                 mask_prompt_fwd: bool = True, logit_scale: float = 100.0,
                 pixel_mean: Sequence[float] = CLIP_MEAN, pixel_std: Sequence[float] = CLIP_STD,
                 interpolation: str = 'bicubic', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        cfg = dict(clip)
        kind = cfg.pop('type', 'MaskPromptCLIPViT')
        if kind not in ('MaskPromptCLIPViT', MaskPromptCLIPViT):
            raise ValueError(f'clip.type must be MaskPromptCLIPViT, got {kind!r}')
        pretrained = cfg.pop('pretrained', None)
        clip_model, state_dict = build_mask_adapted_clip(
            cfg.pop('model_name', None), cfg.pop('arch', None), pretrained,
            cfg.pop('quick_gelu', None), cfg.pop('image_size', None))
        visual = clip_model.visual
        del clip_model.visual  # the text tower stays; the image tower moves into `visual`
        self.visual = MaskPromptCLIPViT(visual=visual, **cfg)
        self.text_encoder = clip_model
        self.text_encoder.requires_grad_(False)
        if state_dict is not None:
            self.visual.load_weights(state_dict, source=pretrained)
            self._load_text_weights(state_dict, pretrained)
        if mask_prompt_fwd and self.visual.mask_embedding is None:
            raise ValueError('mask_prompt_fwd=True needs mask prompts: set '
                             'clip.mask_prompt_depth > 0 (3 in OVSeg) or mask_prompt_fwd=False')
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        self.templates = templates
        self.expand_ratio = float(expand_ratio)
        self.chunk_size = int(chunk_size)
        self.mask_prompt_fwd = mask_prompt_fwd
        self.logit_scale = float(logit_scale)
        self.pixel_mean, self.pixel_std = tuple(pixel_mean), tuple(pixel_std)
        self.interpolation = interpolation
        self.crop_size = self.visual.image_size[0]
        if self.visual.image_size[0] != self.visual.image_size[1]:
            raise ValueError(f'region crops are square; the tower input is '
                             f'{self.visual.image_size}')
        self.text_cache = TextClassifierCache(cache_dir) if cache_dir else None
        self._classifiers: Dict[tuple, torch.Tensor] = {}
        self._text_fingerprint: Optional[str] = None

    def _load_text_weights(self, state_dict: dict, source: str) -> None:
        text = {k: v for k, v in state_dict.items() if not k.startswith('visual.')}
        report = load_state_dict_into(self.text_encoder, text, source=source)
        missing = [k for k in report.missing if k != 'logit_bias']
        if missing:
            raise CLIPWeightsError(f'{source} lacks text-tower weights (the region classifier '
                                   f'reads both towers from one file): {missing[:8]}')
        print_log(f'RegionCLIPClassifier: text tower from {source}: {report.summary()}',
                  'current')

    # ------------------------------------------------------------------------------- text
    @property
    def device(self) -> torch.device:
        return self.text_encoder.token_embedding.weight.device

    def encode_vocabulary(self, vocabulary: Vocabulary,
                          templates: Union[None, str, Sequence[str]] = None) -> torch.Tensor:
        """L2-normalised class embeddings ``(C, E)`` (per-prompt normalised, averaged over
        templates and synonyms, renormalised), cached per vocabulary in memory and on disk."""
        names = parse_class_names(vocabulary)
        templates = self.templates if templates is None else templates
        if self._text_fingerprint is None:
            self._text_fingerprint = module_fingerprint(self.text_encoder)
        key = (self._text_fingerprint, str(templates), tuple(tuple(n) for n in names))
        if key not in self._classifiers:
            self._classifiers[key] = build_text_classifier(
                self.text_encoder.encode_text, names, templates,
                encoder_id=self._text_fingerprint, cache=self.text_cache, device=self.device)
        return self._classifiers[key].to(self.device)

    # ----------------------------------------------------------------------------- regions
    def region_crops(self, image: torch.Tensor, masks: torch.Tensor
                     ) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """``image (3, H, W)`` 0-255 + binary ``masks (Q, H, W)`` -> normalised crops
        ``(Q, 3, S, S)``, crop masks ``(Q, S, S)`` bool (None without mask prompts) and valid
        ``(Q,)`` bool, all regions in one ``masked_crops`` call."""
        masks = check_region_inputs(image, masks)
        boxes = mask_crop_boxes(masks, self.expand_ratio)
        crops, valid = masked_crops(image, masks, self.crop_size, self.pixel_mean,
                                    self.pixel_std, boxes=boxes.to(torch.float32),
                                    mode=self.interpolation)
        crop_masks = crop_masks_nearest(masks, boxes, self.crop_size) \
            if self.mask_prompt_fwd else None
        return crops, crop_masks, valid

    def embed_crops(self, crops: torch.Tensor,
                    crop_masks: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Normalised crops ``(N, 3, S, S)`` (+ masks) -> L2-normalised embeddings ``(N, E)``,
        ``chunk_size`` crops per forward."""
        outputs = []
        crops = crops.to(self.visual.visual.conv1.weight.dtype)
        for start in range(0, crops.shape[0], self.chunk_size):
            stop = start + self.chunk_size
            chunk_masks = crop_masks[start:stop] if crop_masks is not None else None
            outputs.append(self.visual(crops[start:stop], chunk_masks))
        if not outputs:
            return crops.new_zeros((0, self.visual.embed_dim))
        return F.normalize(torch.cat(outputs).float(), dim=-1)

    def region_embeddings(self, image: torch.Tensor, masks: torch.Tensor
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``image (3, H, W)`` float RGB 0-255 (unnormalised) + ``masks (Q, H, W)`` bool ->
        ``(embeds (Q, E) L2-normalised, empty (Q,) bool)``; empty regions get zero vectors."""
        crops, crop_masks, valid = self.region_crops(image, masks)
        embeds = crops.new_zeros((crops.shape[0], self.visual.embed_dim), dtype=torch.float32)
        keep = valid.nonzero().flatten()
        if keep.numel():
            embeds[keep] = self.embed_crops(
                crops[keep], crop_masks[keep] if crop_masks is not None else None)
        return embeds, ~valid

    def classify(self, image: torch.Tensor, masks: torch.Tensor,
                 text_embeddings: torch.Tensor, empty_value: float = 1.0
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``probs (Q, C) = softmax(logit_scale * cos)`` against ``text_embeddings (C, E)``
        (L2-normalised, e.g. :meth:`encode_vocabulary`) and ``empty (Q,)``. Rows of empty masks
        are set to ``empty_value`` (1: OVSeg's ensemble then keeps the proposal's own score)."""
        embeds, empty = self.region_embeddings(image, masks)
        probs = self.probabilities(embeds, text_embeddings)
        return probs.masked_fill(empty[:, None], empty_value), empty

    def probabilities(self, embeds: torch.Tensor, text_embeddings: torch.Tensor
                      ) -> torch.Tensor:
        """``softmax(logit_scale * embeds @ text.T)``: ``(Q, E)`` + ``(C, E)`` -> ``(Q, C)``."""
        if text_embeddings.ndim != 2 or text_embeddings.shape[1] != embeds.shape[1]:
            raise ValueError(f'text_embeddings must be (C, {embeds.shape[1]}), got '
                             f'{tuple(text_embeddings.shape)}')
        logits = self.logit_scale * embeds @ text_embeddings.to(embeds).T
        return logits.softmax(dim=-1)

    @torch.no_grad()
    def region_crops_loop(self, image: torch.Tensor, masks: torch.Tensor
                          ) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """The original adapter's crops, for checks and benchmarks: a Python loop of box, fill,
        crop, normalise, resize (and nearest mask resize) per region. Returns the valid regions'
        crops ``(V, 3, S, S)``, crop masks ``(V, S, S)`` (None without mask prompts) and valid
        ``(Q,)``, like :meth:`region_crops` restricted to valid regions."""
        masks = check_region_inputs(image, masks)
        image = image.float()
        mean = torch.tensor(self.pixel_mean, device=image.device).view(3, 1, 1)
        std = torch.tensor(self.pixel_std, device=image.device).view(3, 1, 1)
        size = (self.crop_size, self.crop_size)
        crops, crop_masks, valid = [], [], []
        for mask in masks:
            ys, xs = torch.where(mask)
            valid.append(ys.numel() > 0)
            if not valid[-1]:
                continue
            box = torch.stack([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
            left, top, right, bottom = _expand_box(box, self.expand_ratio)
            right, bottom = min(right, image.shape[2]), min(bottom, image.shape[1])
            left, top = max(left, 0), max(top, 0)
            piece = mask[None, top:bottom, left:right].float()
            filled = image[:, top:bottom, left:right] * piece + (1 - piece) * mean
            crops.append(F.interpolate(((filled - mean) / std)[None], size=size,
                                       mode=self.interpolation))
            crop_masks.append(F.interpolate(piece[None], size=size, mode='nearest')[0, 0] > 0)
        valid = torch.tensor(valid, dtype=torch.bool, device=image.device)
        if not crops:
            return image.new_zeros((0, 3) + size), None, valid
        crop_masks = torch.stack(crop_masks) if self.mask_prompt_fwd else None
        return torch.cat(crops), crop_masks, valid

    @torch.no_grad()
    def region_embeddings_loop(self, image: torch.Tensor, masks: torch.Tensor,
                               batched_forward: bool = True
                               ) -> Tuple[torch.Tensor, torch.Tensor]:
        """:meth:`region_crops_loop`, then one tower forward for all valid regions
        (``batched_forward``, as OVSeg) or one forward per region. Same outputs as
        :meth:`region_embeddings`."""
        crops, crop_masks, valid = self.region_crops_loop(image, masks)
        embeds = crops.new_zeros((masks.shape[0], self.visual.embed_dim))
        crops = crops.to(self.visual.visual.conv1.weight.dtype)
        if crops.shape[0]:
            if batched_forward:
                outputs = self.visual(crops, crop_masks)
            else:
                outputs = torch.cat([
                    self.visual(crops[i:i + 1],
                                crop_masks[i:i + 1] if crop_masks is not None else None)
                    for i in range(crops.shape[0])])
            embeds[valid] = F.normalize(outputs.float(), dim=-1)
        return embeds, ~valid

    # --------------------------------------------------------------------------- checkpoints
    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if any(k.startswith(prefix + 'text_encoder.') for k in state_dict):
            self._text_fingerprint = None
            self._classifiers.clear()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _expand_box(box: torch.Tensor, ratio: float) -> List[int]:
    """OVSeg's ``expand_box`` on a float32 ``(x1, y1, x2, y2)`` box, truncated to ints."""
    x1, y1, x2, y2 = box
    centre_x, centre_y = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    width, height = (x2 - x1) * ratio, (y2 - y1) * ratio
    return [int(v) for v in (centre_x - 0.5 * width, centre_y - 0.5 * height,
                             centre_x + 0.5 * width, centre_y + 0.5 * height)]

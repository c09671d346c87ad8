"""Pipeline steps for region-text pairs: decode the RLE mask, crop the masked region as OVSeg's
CLIP adapter does (one ``masked_crops`` call), pack crop + crop mask + text."""
import math
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement
from mmseg.registry import TRANSFORMS

from clipdense.ops import CLIP_MEAN, CLIP_STD, masked_crops

from .ovseg_transforms import decode_rle


@TRANSFORMS.register_module()
class LoadRegionMask(BaseTransform):
    """Decodes ``results['mask_rle']`` (COCO RLE) into ``results['region_mask']`` (H, W) bool."""

    def transform(self, results: dict) -> dict:
        mask = decode_rle(results['mask_rle'], f'{results.get("img_path")} pair '
                          f'{results.get("pair_id")}')
        if 'img' in results and mask.shape != results['img'].shape[:2]:
            raise ValueError(f'region mask {mask.shape} of {results.get("img_path")} does not '
                             f'match the image {results["img"].shape[:2]}')
        results['region_mask'] = mask
        return results


@TRANSFORMS.register_module()
class RegionCrop(BaseTransform):
    """The region crop of OVSeg's adapter: mask box (scaled by ``expand_ratio``), pixels outside
    the mask set to the CLIP mean, normalised, squashed to ``size x size`` (bicubic); the crop's
    mask is resized nearest. Writes ``img`` (3, S, S) float32 and ``region_mask`` (S, S) bool.

    Args:
        scale: optional ``(min, max)`` area fraction of a random sub-box of the mask box
            (torchvision's RandomResizedCrop rule with aspect ``ratio``; OVSeg trained on crops
            with ``RandomResizedCrop(scale=(0.9, 1.0))``). None: the whole box.
        to_rgb: the loaded image is BGR (mmcv's default) and is flipped to RGB.
    """

    def __init__(self, size: int = 224, expand_ratio: float = 1.0,
                 scale: Optional[Tuple[float, float]] = None,
                 ratio: Tuple[float, float] = (3 / 4, 4 / 3),
                 mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD,
                 interpolation: str = 'bicubic', to_rgb: bool = True):
        if scale is not None and not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got {scale}')
        self.size, self.expand_ratio, self.scale, self.ratio = size, expand_ratio, scale, ratio
        self.mean, self.std, self.interpolation, self.to_rgb = mean, std, interpolation, to_rgb

    def random_sub_box(self, box: torch.Tensor) -> torch.Tensor:
        """A random ``(l, t, r, b)`` inside ``box`` covering a ``scale`` fraction of its area."""
        left, top, right, bottom = box.tolist()
        width, height = right - left, bottom - top
        area = width * height
        for _ in range(10):
            target = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            sub_w = int(round(math.sqrt(target * aspect)))
            sub_h = int(round(math.sqrt(target / aspect)))
            if 0 < sub_w <= width and 0 < sub_h <= height:
                x = left + np.random.randint(0, width - sub_w + 1)
                y = top + np.random.randint(0, height - sub_h + 1)
                return torch.tensor([x, y, x + sub_w, y + sub_h])
        return box

    def transform(self, results: dict) -> dict:
        from clipdense.models.heads.region_clip_classifier import (crop_masks_nearest,
                                                                   mask_crop_boxes)
        image = results['img']
        if self.to_rgb:
            image = image[..., ::-1]
        image = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
        mask = torch.from_numpy(results['region_mask'])[None]
        box = mask_crop_boxes(mask, self.expand_ratio)
        if not mask.any() or (box[0, 2] <= box[0, 0]) or (box[0, 3] <= box[0, 1]):
            raise ValueError(f'empty region mask for {results.get("img_path")} '
                             f'(pair {results.get("pair_id")})')
        if self.scale is not None:
            box = self.random_sub_box(box[0])[None]
        crop, _ = masked_crops(image, mask, self.size, self.mean, self.std,
                               boxes=box.float(), mode=self.interpolation)
        results['img'] = crop[0]
        results['region_mask'] = crop_masks_nearest(mask, box, self.size)[0]
        results['img_shape'] = (self.size, self.size)
        return results


@TRANSFORMS.register_module()
class PackRegionTextInputs(BaseTransform):
    """-> ``dict(inputs=crop (3, S, S), data_samples=BaseDataElement)`` whose metainfo holds
    ``text``, ``gt_label``, ``img_path``, ``pair_id`` and whose data field is ``region_mask``."""
    META_KEYS = ('text', 'gt_label', 'img_path', 'pair_id', 'ori_shape', 'img_shape')

    def transform(self, results: dict) -> dict:
        sample = BaseDataElement(metainfo={k: results[k] for k in self.META_KEYS
                                           if k in results})
        sample.region_mask = results['region_mask']
        return dict(inputs=results['img'], data_samples=sample)

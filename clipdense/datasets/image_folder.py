"""Unlabeled image folders (ImageNet-style class sub-folders allowed) for light-layer training,
and the brightness jitter of CLIP-DINOiser's recipe."""
import os
import os.path as osp
import random
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS, TRANSFORMS

from clipdense.apis.inference import IMAGE_SUFFIXES



@DATASETS.register_module()
class UnlabeledImageFolder(BaseDataset):
    """All images under ``data_root/data_prefix['img_path']`` (recursive, sorted, suffixes in any
    case), optionally a seeded sample of ``num_samples`` of them (CLIP-DINOiser: 1000 ImageNet
    train images).

    Each item is ``dict(img_path=...)``; pipelines load and augment it (no labels).
    """

    def __init__(self, data_root: str = '', data_prefix: Optional[dict] = None,
                 num_samples: Optional[int] = None, seed: int = 0,
                 suffixes: Sequence[str] = IMAGE_SUFFIXES, **kwargs):
        self.num_samples, self.seed, self.suffixes = num_samples, seed, tuple(suffixes)
        super().__init__(data_root=data_root, data_prefix=data_prefix or dict(img_path=''),
                         **kwargs)

    def load_data_list(self):
        folder = self.data_prefix['img_path']
        if not osp.isdir(folder):
            raise FileNotFoundError(f'image folder not found: {folder!r}')
        paths = sorted(osp.join(root, name) for root, _, names in os.walk(folder)
                       for name in names if name.lower().endswith(self.suffixes))
        if not paths:
            raise FileNotFoundError(f'no images ({", ".join(self.suffixes)}) under {folder!r}')
        if self.num_samples is not None:
            if self.num_samples > len(paths):
                raise ValueError(f'num_samples={self.num_samples} but {folder!r} holds only '
                                 f'{len(paths)} images')
            paths = sorted(random.Random(self.seed).sample(paths, self.num_samples))
        return [dict(img_path=path, seg_fields=[]) for path in paths]


@TRANSFORMS.register_module()
class BrightnessJitter(BaseTransform):
    """Multiplies the image by a factor drawn uniformly from ``[1 - delta, 1 + delta]``
    (torchvision's ``ColorJitter(brightness=delta)``); uint8 in and out."""

    def __init__(self, delta: float = 0.5, prob: float = 1.0):
        if not 0 <= delta < 1:
            raise ValueError(f'delta must be in [0, 1), got {delta}')
        self.delta, self.prob = delta, prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            factor = np.random.uniform(1 - self.delta, 1 + self.delta)
            image = results['img'].astype(np.float32) * factor
            results['img'] = np.clip(image, 0, 255).astype(np.uint8)
        return results

"""mmseg / mmdet dataset classes for the synthetic toy scenes of :mod:`.toy_scenes`."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS as MMSEG_DATASETS

from .toy_scenes import TOY_CLASSES, TOY_PALETTE, TOY_THING_CLASSES, TOY_THING_PALETTE


@MMSEG_DATASETS.register_module()
class ToyADEDataset(BaseSegDataset):
    """Toy scenes in ADE20K layout: ``img_path/*.jpg`` with ``seg_map_path/*.png`` label maps.

    Label PNGs store class ``TOY_CLASSES[i]`` as ``i + 1`` and 0 as unlabelled; with the default
    ``reduce_zero_label=True`` the loaded maps hold 0..5 and 255 (ignore).
    """
    METAINFO = dict(classes=TOY_CLASSES, palette=TOY_PALETTE)

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True,
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@MMDET_DATASETS.register_module()
class ToyCocoDataset(CocoDataset):
    """Toy scenes in COCO instance layout; the four thing classes with category ids 1, 3, 5, 7."""
    METAINFO = dict(classes=TOY_THING_CLASSES, palette=[tuple(c) for c in TOY_THING_PALETTE])

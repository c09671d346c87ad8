from .toy import ToyADEDataset, ToyCocoDataset
from .toy_scenes import (TOY_CLASSES, TOY_COCO_CATEGORY_IDS, TOY_PALETTE, TOY_STUFF_CLASSES,
                         TOY_THING_CLASSES, TOY_THING_PALETTE, make_toy_ade, make_toy_coco)

__all__ = [
    'ToyADEDataset', 'ToyCocoDataset', 'TOY_CLASSES', 'TOY_PALETTE', 'TOY_STUFF_CLASSES',
    'TOY_THING_CLASSES', 'TOY_THING_PALETTE', 'TOY_COCO_CATEGORY_IDS', 'make_toy_ade',
    'make_toy_coco'
]
from .coco_object import COCO_OBJECT_CLASSES, COCOObjectDataset  # noqa: F401,E402
from .image_folder import BrightnessJitter, UnlabeledImageFolder  # noqa: F401,E402
from .voc20 import PascalVOC20Dataset  # noqa: F401,E402

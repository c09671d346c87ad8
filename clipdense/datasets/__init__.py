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
from .region_text import RegionTextDataset  # noqa: F401,E402  (OVSeg CLIP adaptation)
from .region_text_transforms import (LoadRegionMask, PackRegionTextInputs,  # noqa: F401,E402
                                     RegionCrop)
from .ade847 import ADE20K847Dataset  # noqa: F401,E402  (OVSeg)
from .pascal_context459 import PascalContext459Dataset  # noqa: F401,E402  (OVSeg)
from .ovseg_transforms import (LoadMaskProposals,  # noqa: F401,E402  (OVSeg)
                               LoadWideLabelAnnotations)
from .ov_coco import (OV_COCO_BASE_CLASSES, OV_COCO_CLASSES,  # noqa: F401,E402  (F-VLM)
                      OV_COCO_NOVEL_CLASSES, TOY_OV_BASE_CLASSES, TOY_OV_NOVEL_CLASSES,
                      OVCocoDataset, ToyOVCocoDataset)
from .scene_labels import SceneAccuracy, SceneLabelDataset  # noqa: F401,E402  (BIRDet)

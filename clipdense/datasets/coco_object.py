"""COCO-Object: COCO's 80 thing classes plus background, as semantic label maps.

Label maps come from ``tools/dataset_converters/coco_object.py`` (COCO instance annotations ->
``<stem>_instanceTrainIds.png``): 0 is background (stuff and unlabelled pixels), ``i`` the ``i``-th
thing category in ascending category-id order.
"""
from mmdet.datasets import CocoDataset
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

COCO_OBJECT_CLASSES = ('background', ) + tuple(CocoDataset.METAINFO['classes'])
COCO_OBJECT_PALETTE = [(0, 0, 0)] + [tuple(c) for c in CocoDataset.METAINFO['palette']]
COCO_OBJECT_SEG_SUFFIX = '_instanceTrainIds.png'


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """81 classes (background first); images ``*.jpg``, labels ``*_instanceTrainIds.png``."""
    METAINFO = dict(classes=COCO_OBJECT_CLASSES, palette=COCO_OBJECT_PALETTE)

    def __init__(self, img_suffix='.jpg', seg_map_suffix=COCO_OBJECT_SEG_SUFFIX,
                 reduce_zero_label=False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

"""Pascal VOC 2012 without its background class (VOC20), the zero-shot protocol's variant."""
from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class PascalVOC20Dataset(PascalVOCDataset):
    """VOC's files and split lists; label 0 (background) is ignored and 1..20 become 0..19.

    Layout as mmseg's VOC: ``VOCdevkit/VOC2012/{JPEGImages,SegmentationClass}`` and
    ``ImageSets/Segmentation/val.txt``.
    """
    METAINFO = dict(classes=PascalVOCDataset.METAINFO['classes'][1:],
                    palette=PascalVOCDataset.METAINFO['palette'][1:])

    def __init__(self, ann_file, reduce_zero_label=True, **kwargs) -> None:
        if not reduce_zero_label:
            raise ValueError('PascalVOC20Dataset ignores the background label: keep '
                             'reduce_zero_label=True (use PascalVOCDataset for 21 classes)')
        super().__init__(ann_file=ann_file, reduce_zero_label=True, **kwargs)

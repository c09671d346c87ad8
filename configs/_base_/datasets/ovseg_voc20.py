# OVSeg evaluation on PASCAL VOC 2012 val without background (VOC-20), mmseg's VOC layout:
#   data/VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation/val.txt}
# Background pixels are ignored.
_base_ = ['./ovseg_common.py']
ensemble_weight = 0.45  # lambda for VOC
class_names = None  # the dataset's names verbatim ('diningtable', 'pottedplant', 'tvmonitor')
test_dataloader = dict(
    dataset=dict(
        type='PascalVOC20Dataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt'))
val_dataloader = test_dataloader

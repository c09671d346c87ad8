# OVSeg evaluation on Pascal Context 59 val (5105 images, background ignored), mmseg's layout:
#   data/VOCdevkit/VOC2010/{JPEGImages,SegmentationClassContext,
#                           ImageSets/SegmentationContext/val.txt}
# The same pixels as the original's pc59_val (both come from the 459-class annotations), in
# mmseg's class order.
_base_ = ['./ovseg_common.py']
ensemble_weight = 0.6  # lambda for Pascal Context
class_names = None  # the dataset's names verbatim: the original's words ('pottedplant', ...)
test_dataloader = dict(
    dataset=dict(
        type='PascalContextDataset59',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt'))
val_dataloader = test_dataloader

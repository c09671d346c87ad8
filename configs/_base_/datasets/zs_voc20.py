# Pascal VOC 2012 val without background (VOC20): background pixels are ignored.
_base_ = ['./zs_common.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalVOC20Dataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt'))
val_dataloader = test_dataloader
# Prompts, in the dataset's class order (renamed for readability: 'dining table', ...).
class_names = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa',
    'train', 'tv monitor',
]

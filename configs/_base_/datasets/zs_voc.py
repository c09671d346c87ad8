# Pascal VOC 2012 val, 21 classes with background (1449 images).
_base_ = ['./zs_common.py']
test_dataloader = dict(
    dataset=dict(
        type='PascalVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt'))
val_dataloader = test_dataloader
# Prompts, in the dataset's class order, as the reference code words them ('dining table',
# 'potted plant' split; 'tvmonitor' kept as one word).
class_names = [
    'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
    'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep',
    'sofa', 'train', 'tvmonitor',
]

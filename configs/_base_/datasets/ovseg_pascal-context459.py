# OVSeg evaluation on PC-459 (Pascal Context val, 5105 images, 459 classes), prepared with
# tools/dataset_converters/pascal_context459.py from the PASCAL-Context release:
#   data/VOCdevkit/VOC2010/JPEGImages, data/VOCdevkit/VOC2010/annotations_detectron2/pc459_val
# 16-bit label maps (65535 = unlabelled); the label folder defines the split.
_base_ = ['./ovseg_common.py']
ensemble_weight = 0.6  # lambda for Pascal Context
class_names = None  # the dataset's names verbatim, as the original
test_dataloader = dict(
    dataset=dict(
        type='PascalContext459Dataset',
        data_root='data/VOCdevkit/VOC2010',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val')))
val_dataloader = test_dataloader
test_evaluator = dict(ignore_index=65535)
val_evaluator = test_evaluator

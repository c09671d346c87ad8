# OVSeg evaluation on ADE-847 (ADE20K-Full val, 2000 images, 847 classes), prepared with
# tools/dataset_converters/ade847.py from ADE20K_2021_17_01:
#   data/ADE20K_2021_17_01/{images_detectron2,annotations_detectron2}/validation
# 16-bit label maps (65535 = unlabelled).
_base_ = ['./ovseg_common.py']
ensemble_weight = 0.7
class_names = None  # the dataset's names verbatim, as the original
test_dataloader = dict(
    dataset=dict(
        type='ADE20K847Dataset',
        data_root='data/ADE20K_2021_17_01',
        data_prefix=dict(img_path='images_detectron2/validation',
                         seg_map_path='annotations_detectron2/validation')))
val_dataloader = test_dataloader
test_evaluator = dict(ignore_index=65535)
val_evaluator = test_evaluator

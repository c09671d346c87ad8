# OV-COCO (48 base / 17 novel classes): train on the base annotations of COCO train2017, evaluate
# box AP50 on novel / base / all 65 classes of val2017. Annotation files from
# `python tools/dataset_converters/ov_coco.py data/coco/annotations` (the official JSONs work
# too: OVCocoDataset drops the annotations of classes outside its vocabulary).
# F-VLM's input: large-scale jitter (scale 0.1-2.0, random 1024x1024 crop, flip), test images
# resized to fit 1024x1024; the model's preprocessor pads to 1024x1024.
_base_ = './coco_detection.py'
dataset_type = 'OVCocoDataset'
image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute', crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        ann_file='annotations/instances_train2017_ovd_base.json',
        vocabulary='base',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        ann_file='annotations/instances_val2017_ovd_all.json',
        vocabulary='all',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='OVCocoAP50Metric', ann_file='data/coco/annotations/instances_val2017_ovd_all.json')
test_evaluator = val_evaluator

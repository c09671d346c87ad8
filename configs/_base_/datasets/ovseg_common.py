# OVSeg's evaluation protocol, shared by its five benchmarks: RGB, short side 512 with the long
# side <= 2048 (test_pipeline; the Swin-B model's 640 / 2560: test_pipeline_640), resized with PIL
# bilinear as detectron2, whole image, batch 1, no flip; mIoU. The label loader keeps 16-bit maps
# (ADE-847, PC-459) and treats 8-bit ones as mmseg's LoadAnnotations.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True, backend='pillow'),
    dict(type='LoadWideLabelAnnotations'),
    dict(type='PackSegInputs'),
]
test_pipeline_640 = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2560, 640), keep_ratio=True, backend='pillow'),
    dict(type='LoadWideLabelAnnotations'),
    dict(type='PackSegInputs'),
]
# each benchmark's file fills in test_dataloader.dataset (type, data_root, data_prefix, ...)
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# a model without class_names takes the dataset's
custom_hooks = [dict(type='DatasetVocabularyHook')]

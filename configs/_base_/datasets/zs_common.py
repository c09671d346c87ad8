# The zero-shot evaluation protocol shared by the eight benchmarks: RGB, short side 448 (long side
# at most 2048), batch 1, no flip; mIoU. The model's slide inference does the 448/224 windows.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
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
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    visualization=dict(type='SegVisualizationHook'))
# a model without class_names takes the dataset's
custom_hooks = [dict(type='DatasetVocabularyHook')]
class_names = None

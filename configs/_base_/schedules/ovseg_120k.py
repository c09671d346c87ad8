# OVSeg's segmentation recipe: 120k iterations at batch 32 (8 GPUs x 4), AdamW, detectron2's
# WarmupPolyLR (linear warm-up from 1e-6 over 1500 iterations multiplied with poly 0.9 decay over
# the whole run), gradient norm clipped to 0.01 over the full model, no weight decay on norms and
# on the query embeddings. R101c: lr 2e-4, wd 1e-4, backbone lr x0.1 (the Swin-B config: lr 6e-5,
# wd 1e-2, backbone x1.0). The validation and test loops come with the dataset configs.
optimizer = dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'query_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=120000, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=120000, val_interval=5000)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))

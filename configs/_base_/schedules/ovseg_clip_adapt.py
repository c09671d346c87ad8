# OVSeg's CLIP fine-tuning (its open_clip training): AdamW lr 5e-6, betas (0.9, 0.98), eps 1e-6,
# weight decay 0.2 except 1-D parameters (norms, biases, class embedding), 100 iterations of
# linear warm-up, cosine decay to 0 over 5 epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-6, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=5, eta_min=0.0, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
randomness = dict(seed=0)

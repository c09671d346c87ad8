# CLIP-DINOiser light layers: AdamW (weight decay 0.01), lr 5e-5 for obj_proj and 1e-2 for
# bkg_decoder, both x0.1 at iteration 5000; 100 epochs of 1000 images at batch 16 (~6300 iters).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'decode_head.bkg_decoder': dict(lr_mult=200.0)}))
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[5000], gamma=0.1)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1000)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'))
randomness = dict(seed=0)

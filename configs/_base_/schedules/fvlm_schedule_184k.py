# F-VLM's COCO recipe (fvlm_train_and_eval.gin + optim defaults): batch 256, 46.1k steps
# (~100 epochs of COCO), SGD momentum 0.9, lr 0.36 with linear warmup from 0.0067 over 500 steps,
# x0.1 at 80 / 90 / 95 % of training, weight decay 1e-4 except on norms and the temperature.
# Scaled linearly to 8 GPUs x 8 images = 64: lr 0.09, 184.4k iterations, warmup 2000 iterations.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=184400, val_interval=184400)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.0067 / 0.36, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', begin=0, end=184400, by_epoch=False,
         milestones=[147520, 165960, 175180], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.09, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, custom_keys={'temperature': dict(decay_mult=0.0)}))
auto_scale_lr = dict(enable=False, base_batch_size=64)

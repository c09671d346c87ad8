# Mechanics of OVSeg's mask prompt tuning on the toy ADE region pairs: the tiny CLIP of the
# fine-tuning config, crop masks fed as prompts, only mask_embedding (3 x 64 x 64) learns with
# OVSeg's lr 0.05 / weight decay 0, 10 epochs. Start it from the fine-tuned weights:
#   python tools/train.py THIS_CONFIG --load-from FT_WORK_DIR/epoch_20.pth
_base_ = './ovseg-clip-adapt_vit-tiny_1xb16-20e_toy-ade-pairs-64x64.py'
model = dict(train_mode='mask_prompt', classifier=dict(mask_prompt_fwd=True))
optim_wrapper = dict(
    optimizer=dict(lr=0.05, weight_decay=0.0), paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=10, eta_min=0.0, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))

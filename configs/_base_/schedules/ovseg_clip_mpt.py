# OVSeg's mask prompt tuning: only mask_embedding learns; AdamW lr 0.05, weight decay 0, same
# warm-up (100 iterations) and cosine decay over 5 epochs as the fine-tuning.
_base_ = './ovseg_clip_adapt.py'
optim_wrapper = dict(
    optimizer=dict(lr=0.05, weight_decay=0.0), paramwise_cfg=dict(_delete_=True))

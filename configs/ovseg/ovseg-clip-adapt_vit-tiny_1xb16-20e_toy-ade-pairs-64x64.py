# Mechanics of OVSeg's CLIP fine-tuning on the toy ADE region pairs (see the dataset base for how
# to make them): a tiny randomly initialised CLIP (ViT on 64px crops with 8px patches, i.e. an
# 8x8 grid, 3 blocks of width 64; frozen random text tower), the image tower learns, 20 epochs
# of 17 iterations at batch 16, CPU minutes.
# Checkpoints keep every weight (save_frozen_weights) so the mask-prompt config can start from
# them: tools/train.py configs/ovseg/ovseg-clip-mpt_vit-tiny_1xb16-10e_toy-ade-pairs-64x64.py
# --load-from WORK_DIR/epoch_20.pth
_base_ = [
    '../_base_/models/ovseg_clip_vit-b16.py', '../_base_/datasets/ovseg_clip_toy-ade-pairs.py',
    '../_base_/schedules/ovseg_clip_adapt.py', '../_base_/default_runtime.py'
]
tiny_vit = dict(
    embed_dim=32,
    vision_cfg=dict(layers=3, width=64, patch_size=8, image_size=64, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    train_mode='full',
    classifier=dict(
        # GELU: the tiny CLIP is not OpenAI's, also when read back from a converted file
        clip=dict(_delete_=True, arch=tiny_vit, quick_gelu=False, mask_prompt_depth=3),
        mask_prompt_fwd=False),
    logit_scale=100.0,
    save_frozen_weights=True)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=20, eta_min=0.0, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20, val_interval=20)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=20, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)

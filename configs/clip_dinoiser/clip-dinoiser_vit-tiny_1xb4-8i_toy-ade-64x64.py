# Light-layer training mechanics on the toy ADE images (labels unused): tiny CLIP ViT, tiny
# random timm teachers, 64px crops, 8 iterations. Runs on CPU in seconds.
_base_ = [
    '../_base_/models/clip-dinoiser_vit-b16.py', '../_base_/datasets/zs_imagenet-unlabeled.py',
    '../_base_/schedules/schedule_clip-dinoiser_light-layers.py', '../_base_/default_runtime.py'
]
tiny_vit = dict(
    embed_dim=24,
    vision_cfg=dict(layers=2, width=32, patch_size=16, image_size=64, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
tiny_teacher = dict(embed_dim=32, depth=2, num_heads=2)
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    clip=dict(model_name=None, arch=tiny_vit, pretrained=None),
    backbone=dict(feats_idx=0),
    decode_head=dict(in_channels=32, proj_channels=16, checkpoint=None),
    text_cache_dir=None,
    teachers=dict(
        correlation=dict(type='DINOValueTeacher', arch_kwargs=tiny_teacher),
        saliency=dict(type='FOUNDSaliencyTeacher', arch_kwargs=tiny_teacher)),
    train_cfg=dict())
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 64), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 64)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='BrightnessJitter', delta=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root='data/toy_ade', data_prefix=dict(img_path='images/training'),
                 num_samples=16, pipeline=train_pipeline))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=8, val_interval=1000)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[6], gamma=0.1)]
default_hooks = dict(
    logger=dict(interval=2),
    checkpoint=dict(by_epoch=False, interval=8, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)

# Unlabeled images for training CLIP-DINOiser's light layers: a seeded sample of 1000 ImageNet
# train images (any ImageFolder-style tree works: data_root/train/<class>/<image>).
# Resize short side 448, random 448 crop, flip, brightness jitter 0.5.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 448), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(448, 448)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='BrightnessJitter', delta=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='UnlabeledImageFolder',
        data_root='data/imagenet',
        data_prefix=dict(img_path='train'),
        num_samples=1000,
        seed=0,
        pipeline=train_pipeline))

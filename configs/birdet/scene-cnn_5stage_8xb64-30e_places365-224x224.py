# BIRDet's scene classifier on Places365-Standard (365 scene labels, the descriptor order of
# clipdense/data/places365_scenes.txt); its checkpoint feeds BIM's SceneCNNScorer in the OV-COCO
# config. 8 GPUs x 64 images, 30 epochs.
_base_ = [
    '../_base_/models/birdet_scene-cnn.py', '../_base_/datasets/places365_scene_labels.py',
    '../_base_/default_runtime_det.py'
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=5e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-4, by_epoch=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
default_hooks = dict(logger=dict(interval=100), checkpoint=dict(interval=5, max_keep_ckpts=2))

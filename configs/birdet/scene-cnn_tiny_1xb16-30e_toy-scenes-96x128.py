# BIRDet's scene classifier on the typed toy scenes (5 scene types; CPU-sized: 30 epochs of 4
# iterations). `python tools/make_toy_data.py coco-scenes` first; its checkpoint feeds BIM's
# SceneCNNScorer in configs/birdet/*toy-scenes*.py.
_base_ = [
    '../_base_/models/birdet_scene-cnn.py', '../_base_/datasets/toy_scene_labels.py',
    '../_base_/default_runtime_det.py'
]
model = dict(network=dict(num_classes=5, channels=(16, 32, 64, 128), input_size=(64, 64),
                          dropout=0.0))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-5, by_epoch=True)]
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=30))
randomness = dict(seed=0)

# OVSeg on the generated toy ADE scenes (CPU minutes): the tiny model of
# _base_/models/ovseg_tiny_toy.py, random initialisation, the proposal network trained with
# tools/train.py; CLIP frozen (random, or the adapted tiny CLIP of the toy CLIP adaptation run:
# --cfg-options model.clip_classifier.clip.pretrained=FILE; docs/ovseg.md).
# Evaluate the variants of the same checkpoint with tools/test.py --cfg-options
# model.ensemble_weight=0 (MaskFormer alone) / 1 (CLIP alone).
_base_ = [
    '../_base_/models/ovseg_tiny_toy.py', '../_base_/datasets/toy_ade.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_toy.py'
]
toy_classes = ['sky', 'grass', 'ball', 'box', 'tent', 'kite']
model = dict(train_class_names=toy_classes, class_names=toy_classes)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(_delete_=True, max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, begin=0, end=600, by_epoch=False),
]
train_cfg = dict(max_iters=600, val_interval=600)
default_hooks = dict(checkpoint=dict(interval=600))
env_cfg = dict(cudnn_benchmark=False)

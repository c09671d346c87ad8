# RetinaNet on a tiny CLIP ResNet over the generated toy COCO data (detection path of the tools;
# `python tools/make_toy_data.py coco` first). CPU-sized: 20 epochs of 8 iterations.
_base_ = [
    '../_base_/models/retinanet_clip_r50_fpn.py', '../_base_/datasets/toy_coco.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x.py'
]
model = dict(
    backbone=dict(
        layers=[1, 1, 1, 1], width=16, output_dim=128, input_resolution=128, pretrained=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32, start_level=1),
    bbox_head=dict(num_classes=4, in_channels=32, stacked_convs=1, feat_channels=32))
train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[16], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=2e-3), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=20))
randomness = dict(seed=0)

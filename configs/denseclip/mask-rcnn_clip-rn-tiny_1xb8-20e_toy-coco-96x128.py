# Mask R-CNN on a tiny random-init CLIP ResNet over the generated toy COCO data (boxes and
# masks), CPU-sized: 20 epochs of 8 iterations, as the toy RetinaNet. Small anchors and few
# proposals for the 128x96 scenes. `python tools/make_toy_data.py coco` first.
_base_ = [
    '../_base_/models/mask_rcnn_clip_r50_fpn.py', '../_base_/datasets/toy_coco_instance.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x.py'
]
num_classes = 4
channels = 32
model = dict(
    backbone=dict(
        layers=[1, 1, 1, 1], width=16, output_dim=128, input_resolution=128, pretrained=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    rpn_head=dict(
        in_channels=channels, feat_channels=channels, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(in_channels=channels, fc_out_channels=128, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            num_convs=2, in_channels=channels, conv_out_channels=channels,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))
train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[16], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=2e-3), clip_grad=dict(max_norm=10))
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=20))
randomness = dict(seed=0)

# Plain-CLIP baseline: Semantic FPN on CLIP ViT-B/16, ADE20K 640x640, 80k (reference: 49.4 mIoU).
_base_ = [
    '../_base_/models/fpn_clip_r50.py', '../_base_/models/denseclip_clip-vit-b16.py',
    '../_base_/datasets/ade20k_640x640.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_80k_clip.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    backbone={{_base_.clip_vit_b16_baseline}},  # no drop path, as in the original
    neck=dict(in_channels=[768, 768, 768, 768]),
    test_cfg=dict(mode='slide', crop_size={{_base_.crop_size}}, stride=(426, 426)))

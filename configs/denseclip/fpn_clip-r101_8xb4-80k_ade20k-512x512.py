# Plain-CLIP baseline: Semantic FPN on CLIP RN101, ADE20K 512x512, 80k (reference: 42.7 mIoU).
_base_ = './fpn_clip-r50_8xb4-80k_ade20k-512x512.py'
model = dict(
    backbone=dict(layers=[3, 4, 23, 3], output_dim=512, pretrained='pretrained/RN101.pt'))

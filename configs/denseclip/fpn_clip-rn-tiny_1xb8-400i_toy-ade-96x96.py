# Semantic FPN on a tiny CLIP ResNet, trained from scratch on the generated toy ADE data.
# The demo and the integration tests run it on CPU: `python tools/make_toy_data.py ade` first.
_base_ = [
    '../_base_/models/fpn_clip_r50.py', '../_base_/datasets/toy_ade.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_toy.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        layers=[1, 1, 1, 1], width=16, output_dim=128, input_resolution=96, pretrained=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, num_classes=6,
                     norm_cfg=norm_cfg))
env_cfg = dict(cudnn_benchmark=False)

# DenseCLIP on a tiny random-init CLIP ResNet and text tower, trained from scratch on the toy ADE
# data (6 classes) on CPU: the demo's config. `python tools/make_toy_data.py ade` first.
# Same backbone, data and schedule as fpn_clip-rn-tiny_1xb8-400i_toy-ade-96x96.py (the baseline).
_base_ = [
    '../_base_/models/denseclip_r50.py', '../_base_/datasets/toy_ade.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_toy.py'
]
num_classes = 6
embed_dim = 64
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    class_names='ToyADEDataset',
    token_embed_dim=32,
    text_dim=embed_dim,
    backbone=dict(
        layers=[1, 1, 1, 1], width=16, output_dim=embed_dim, input_resolution=96, heads=8,
        pretrained=None),
    text_encoder=dict(
        embed_dim=embed_dim, transformer_width=32, transformer_heads=2, transformer_layers=2,
        pretrained=None),
    context_decoder=dict(
        transformer_width=32, transformer_heads=2, transformer_layers=3, visual_dim=embed_dim),
    neck=dict(in_channels=[64, 128, 256, 512 + num_classes], out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, num_classes=num_classes,
                     norm_cfg=norm_cfg),
    identity_head=dict(num_classes=num_classes),
    test_cfg=dict(crop_size=(96, 96), stride=(64, 64)))
env_cfg = dict(cudnn_benchmark=False)

# DenseCLIP, CLIP RN101, ADE20K 512x512, 80k iterations (target: 45.1 mIoU single-scale).
_base_ = './denseclip_r50_8xb4-80k_ade20k-512x512.py'
model = dict(
    text_dim=512,
    backbone=dict(layers=[3, 4, 23, 3], output_dim=512, pretrained='pretrained/RN101.pt'),
    text_encoder=dict(embed_dim=512, pretrained='pretrained/RN101.pt'),
    context_decoder=dict(visual_dim=512))

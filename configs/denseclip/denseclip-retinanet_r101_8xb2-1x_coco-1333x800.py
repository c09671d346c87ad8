# DenseCLIP RetinaNet, CLIP RN101, COCO 1x (target: 41.1 box AP; plain-CLIP RetinaNet 40.5).
_base_ = './denseclip-retinanet_r50_8xb2-1x_coco-1333x800.py'
model = dict(
    text_dim=512,
    backbone=dict(layers=[3, 4, 23, 3], output_dim=512, pretrained='pretrained/RN101.pt'),
    text_encoder=dict(embed_dim=512, pretrained='pretrained/RN101.pt'),
    context_decoder=dict(visual_dim=512))

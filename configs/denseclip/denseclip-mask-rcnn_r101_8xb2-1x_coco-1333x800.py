# DenseCLIP Mask R-CNN, CLIP RN101, COCO 1x (target: 42.6 box AP / 39.6 mask AP; plain-CLIP
# Mask R-CNN 42.2 / 38.9).
_base_ = './denseclip-mask-rcnn_r50_8xb2-1x_coco-1333x800.py'
model = dict(
    text_dim=512,
    backbone=dict(layers=[3, 4, 23, 3], output_dim=512, pretrained='pretrained/RN101.pt'),
    text_encoder=dict(embed_dim=512, pretrained='pretrained/RN101.pt'),
    context_decoder=dict(visual_dim=512))

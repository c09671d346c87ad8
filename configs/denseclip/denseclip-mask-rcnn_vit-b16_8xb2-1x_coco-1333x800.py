# DenseCLIP Mask R-CNN on CLIP ViT-B/16, COCO 1x (this project's extension; no reference number).
# Score map / tau (stride 16) joins level 2.
_base_ = [
    './denseclip-mask-rcnn_r50_8xb2-1x_coco-1333x800.py',
    '../_base_/models/denseclip_clip-vit-b16.py'
]
model = dict(
    text_dim=512,
    score_concat_index=2,
    backbone={{_base_.clip_vit_b16_det}},
    text_encoder=dict(embed_dim=512, pretrained='pretrained/ViT-B-16.pt'),
    context_decoder=dict(visual_dim=512),
    neck=dict(in_channels=[768, 768, 768 + 80, 768]))

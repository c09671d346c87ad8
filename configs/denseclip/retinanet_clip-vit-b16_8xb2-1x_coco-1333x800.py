# Plain-CLIP baseline: RetinaNet on the multi-scale CLIP ViT-B/16, COCO 1x (this project's
# extension; no reference number).
_base_ = [
    './retinanet_clip-r50_8xb2-1x_coco-1333x800.py', '../_base_/models/denseclip_clip-vit-b16.py'
]
model = dict(
    backbone={{_base_.clip_vit_b16_det_baseline}}, neck=dict(in_channels=[768, 768, 768, 768]))

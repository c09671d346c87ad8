# Plain-CLIP baseline: RetinaNet on CLIP RN101, COCO 1x (reference: 40.5 AP).
_base_ = './retinanet_clip-r50_8xb2-1x_coco-1333x800.py'
model = dict(backbone=dict(layers=[3, 4, 23, 3], output_dim=512,
                           pretrained='pretrained/RN101.pt'))

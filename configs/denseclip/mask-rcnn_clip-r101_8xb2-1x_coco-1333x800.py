# Plain-CLIP baseline: Mask R-CNN on CLIP RN101, COCO 1x (reference: 42.2 box AP / 38.9 mask AP).
_base_ = './mask-rcnn_clip-r50_8xb2-1x_coco-1333x800.py'
model = dict(backbone=dict(layers=[3, 4, 23, 3], output_dim=512,
                           pretrained='pretrained/RN101.pt'))

# DenseCLIP Mask R-CNN on tiny random-init CLIP towers over the toy COCO data: everything as the
# plain-CLIP toy Mask R-CNN (mask-rcnn_clip-rn-tiny_1xb8-20e_toy-coco-96x128.py), plus DenseCLIP's
# text side (see denseclip-retinanet_rn-tiny_1xb8-20e_toy-coco-96x128.py).
_base_ = [
    './mask-rcnn_clip-rn-tiny_1xb8-20e_toy-coco-96x128.py',
    '../_base_/models/denseclip_text_tiny.py'
]
num_classes = 4
embed_dim = 64
model = dict(
    type='DenseCLIPMaskRCNN',
    class_names='ToyCocoDataset',
    context_length=5,
    token_embed_dim=32,
    text_dim=embed_dim,
    tau=0.07,
    seg_loss=True,
    score_concat_index=3,
    backbone=dict(
        type='CLIPResNetWithAttention', output_dim=embed_dim, heads=8, pos_embed_mode='crop'),
    text_encoder={{_base_.denseclip_text_encoder}},
    context_decoder={{_base_.denseclip_context_decoder}},
    neck=dict(in_channels=[64, 128, 256, 512 + num_classes]))

# DenseCLIP Mask R-CNN on CLIP RN50, as the original's mask_rcnn_denseclip_r50_fpn_1x_coco (see
# denseclip_retinanet_r50_fpn.py for the DenseCLIP parts).
_base_ = ['./mask_rcnn_clip_r50_fpn.py', './denseclip_text_rn50.py']
num_classes = 80
model = dict(
    type='DenseCLIPMaskRCNN',
    class_names='CocoDataset',
    context_length=5,
    token_embed_dim=512,
    text_dim=1024,
    tau=0.07,
    seg_loss=True,
    score_concat_index=3,
    backbone=dict(type='CLIPResNetWithAttention', pos_embed_mode='crop'),
    text_encoder={{_base_.denseclip_text_encoder}},
    context_decoder={{_base_.denseclip_context_decoder}},
    neck=dict(in_channels=[256, 512, 1024, 2048 + num_classes]),
    roi_head=dict(bbox_head=dict(num_classes=num_classes), mask_head=dict(num_classes=num_classes)))

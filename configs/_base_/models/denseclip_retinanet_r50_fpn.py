# DenseCLIP RetinaNet on CLIP RN50, as the original's retinanet_denseclip_r50_fpn_1x_coco: the
# attention pool's positional grid is resized at load time to 1344 / 32 = 42 and cropped
# top-left at run time; score map / tau (80 channels) joins backbone level 3; auxiliary
# box-occupancy loss on.
_base_ = ['./retinanet_clip_r50_fpn.py', './denseclip_text_rn50.py']
num_classes = 80
model = dict(
    type='DenseCLIPRetinaNet',
    class_names='CocoDataset',  # or an explicit list of names
    context_length=5,  # tokens per class name incl. start/end; 13 - 5 = 8 learnable contexts
    token_embed_dim=512,
    text_dim=1024,
    tau=0.07,
    seg_loss=True,
    score_concat_index=3,
    backbone=dict(type='CLIPResNetWithAttention', pos_embed_mode='crop'),
    text_encoder={{_base_.denseclip_text_encoder}},
    context_decoder={{_base_.denseclip_context_decoder}},
    neck=dict(in_channels=[256, 512, 1024, 2048 + num_classes]),
    bbox_head=dict(num_classes=num_classes))

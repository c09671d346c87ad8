# DenseCLIP on CLIP RN50 (Semantic FPN), as in the original's ADE20K configs: the pixel-text
# score map (150 channels) joins backbone level 3; identity-head loss on score_map / tau.
_base_ = ['./fpn_clip_r50.py', './denseclip_text_rn50.py']
num_classes = 150
model = dict(
    type='DenseCLIP',
    class_names='ADE20KDataset',  # or an explicit list of names
    context_length=5,  # tokens per class name incl. start/end; 13 - 5 = 8 learnable contexts
    token_embed_dim=512,
    text_dim=1024,
    score_concat_index=3,
    tau=0.07,
    backbone=dict(type='CLIPResNetWithAttention', heads=32),
    text_encoder={{_base_.denseclip_text_encoder}},
    context_decoder={{_base_.denseclip_context_decoder}},
    neck=dict(in_channels=[256, 512, 1024, 2048 + num_classes]),
    identity_head=dict(
        type='IdentityHead',
        num_classes=num_classes,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))

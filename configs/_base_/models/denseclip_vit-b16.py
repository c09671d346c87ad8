# DenseCLIP on CLIP ViT-B/16 at 640x640; the score map (stride 16) joins level 2. The config
# using it turns on backbone.get_embeddings (a substituted base variable takes no extra keys).
_base_ = ['./denseclip_r50.py', './denseclip_clip-vit-b16.py']
model = dict(
    text_dim=512,
    score_concat_index=2,
    backbone={{_base_.clip_vit_b16}},
    text_encoder=dict(embed_dim=512, pretrained='pretrained/ViT-B-16.pt'),
    context_decoder=dict(visual_dim=512),
    neck=dict(in_channels=[768, 768, 768 + 150, 768]),
    test_cfg=dict(crop_size=(640, 640), stride=(426, 426)))

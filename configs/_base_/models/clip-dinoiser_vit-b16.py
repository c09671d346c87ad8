# CLIP-DINOiser: MaskCLIP + the two light layers (correlation pooling on block-10 LN2 features,
# saliency-based background). Light layers: the released checkpoint as a local file.
_base_ = ['./maskclip_vit-b16.py']
model = dict(
    backbone=dict(feats_idx=-3),  # LN2 output of block 10 of 12
    decode_head=dict(
        type='DINOiserHead',
        in_channels=768,
        proj_channels=256,
        correlation_threshold=0.2,
        saliency_threshold=0.5,
        confidence_threshold=0.99,
        checkpoint='pretrained/clip_dinoiser_last.pt'),
    saliency_background=True)

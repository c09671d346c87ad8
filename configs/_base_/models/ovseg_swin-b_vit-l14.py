# OVSeg, Swin-B + CLIP ViT-L/14 (the original's configs/ovseg_swinB_vitL_bs32_120k.yaml): the
# R101c model with a Swin-B backbone (window 12, 384 pre-training, drop path 0.3), a 768-d class
# head (CLIP ViT-L/14's embedding), the mask-adapted ViT-L/14 and mask threshold 0.4.
# Weights: tools/model_converters/ovseg.py on the released ovseg_swinbase_vitL14_ft_mpt.pth.
_base_ = ['./ovseg_r101c_vit-b16.py']
model = dict(
    data_preprocessor=dict(size=(640, 640)),
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        pretrain_img_size=384,
        embed_dims=128,
        patch_size=4,
        window_size=12,
        mlp_ratio=4,
        depths=[2, 2, 18, 2],
        num_heads=[4, 8, 16, 32],
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.3,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        # the official swin_base_patch4_window12_384_22k weights, converted (docs/ovseg.md);
        # only used for training
        init_cfg=None),
    decode_head=dict(in_channels=[128, 256, 512, 1024], class_head=dict(embed_dims=768)),
    clip_classifier=dict(
        clip=dict(model_name='ViT-L-14', pretrained='pretrained/ovseg_swin-b_vit-l14_clip.pth')),
    mask_threshold=0.4)

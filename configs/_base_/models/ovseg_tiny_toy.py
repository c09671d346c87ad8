# A tiny OVSeg for the toy ADE scenes and the tests (CPU seconds): the R101c model's head and
# losses at toy size: ResNetV1c-18 at 1/4 width, a 2-layer 32-d MaskFormer decoder with 8 queries,
# and the tiny ViT CLIP of the toy CLIP adaptation configs (64 px, patch 8, embedding 32). Random
# initialisation everywhere unless clip_classifier.clip.pretrained names an adapted CLIP file.
_base_ = ['./ovseg_r101c_vit-b16.py']
num_classes = 6
tiny_clip = dict(
    embed_dim=32,
    vision_cfg=dict(layers=3, width=64, patch_size=8, image_size=64, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
tiny_attention = dict(embed_dims=32, num_heads=4, attn_drop=0.0, proj_drop=0.0)
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        base_channels=16,
        stem_channels=16,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    decode_head=dict(
        in_channels=[16, 32, 64, 128],
        feat_channels=32,
        out_channels=32,
        num_classes=num_classes,
        num_queries=8,
        pixel_decoder=dict(norm_cfg=dict(type='GN', num_groups=8)),
        positional_encoding=dict(num_feats=16),
        transformer_decoder=dict(
            num_layers=2,
            layer_cfg=dict(
                self_attn_cfg=tiny_attention,
                cross_attn_cfg=tiny_attention,
                ffn_cfg=dict(embed_dims=32, feedforward_channels=64, ffn_drop=0.0))),
        class_head=dict(embed_dims=32, hidden_channels=64),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    clip_classifier=dict(
        clip=dict(_delete_=True, arch=tiny_clip, pretrained=None, mask_prompt_depth=3),
        cache_dir=None,
        mask_prompt_fwd=False))

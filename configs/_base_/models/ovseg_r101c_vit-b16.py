# OVSeg, R101c + CLIP ViT-B/16 (the original's configs/ovseg_R101c_vitB_bs32_120k.yaml).
# Stage 1: ResNet-101 with the DeepLab stem (3 convs, 128 channels; FrozenBN, stem + res2 frozen,
# multi-grid 1/2/4 dilations in res5) -> MaskFormer head (FPN-style GN pixel decoder, 6-layer DETR
# decoder on res5, 100 queries, hidden 256, 8 heads, FFN 2048) whose class head is the 2-layer
# MLP 256 -> 1024 -> 512 scored by 100 * cos against the class texts + a no-object embedding.
# Stage 2: the mask-adapted CLIP ViT-B/16 (mask prompts at depth 3) classifies every binarised
# proposal; lambda and the vocabulary come from the dataset configs.
# Weights: tools/model_converters/ovseg.py turns the released ovseg_R101c_vitB16_ft_mpt.pth into
# the checkpoint for tools/test.py and pretrained/ovseg_r101c_vit-b16_clip.pth (docs/ovseg.md).
num_classes = 171  # the training vocabulary (COCO-Stuff)
norm_cfg = dict(type='BN', requires_grad=False)  # detectron2's FrozenBN
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512),
    test_cfg=dict(size_divisor=32))
model = dict(
    type='OVSeg',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        stem_channels=128,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        multi_grid=(1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=True,
        frozen_stages=1,
        style='pytorch',
        # detectron2's DeepLab R-103.pkl, converted (docs/ovseg.md); only used for training
        init_cfg=None),
    decode_head=dict(
        type='OVSegMaskFormerHead',
        in_channels=[256, 512, 1024, 2048],
        feat_channels=256,
        out_channels=256,
        in_index=[0, 1, 2, 3],
        num_classes=num_classes,
        num_queries=100,
        pixel_decoder=dict(
            type='mmdet.PixelDecoder',
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU')),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=128, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,  # deep supervision
            num_layers=6,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=256, num_heads=8, attn_drop=0.1, proj_drop=0.1,
                                   dropout_layer=None, batch_first=True),
                cross_attn_cfg=dict(embed_dims=256, num_heads=8, attn_drop=0.1, proj_drop=0.1,
                                    dropout_layer=None, batch_first=True),
                ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, num_fcs=2,
                             act_cfg=dict(type='ReLU', inplace=True), ffn_drop=0.1,
                             dropout_layer=None, add_identity=True)),
            init_cfg=None),
        class_head=dict(embed_dims=512, hidden_channels=1024, num_layers=2, logit_scale=100.0),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                      reduction='mean', class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='mmdet.FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                       reduction='mean', loss_weight=20.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                       naive_dice=True, eps=1.0, loss_weight=1.0),
        train_cfg=dict(
            assigner=dict(
                type='mmdet.HungarianAssigner',
                match_costs=[
                    dict(type='mmdet.ClassificationCost', weight=1.0),
                    dict(type='mmdet.FocalLossCost', weight=20.0, binary_input=True),
                    dict(type='mmdet.DiceCost', weight=1.0, pred_act=True, eps=1.0)
                ]),
            sampler=dict(type='mmdet.MaskPseudoSampler')),
        align_corners=False,
        ignore_index=255),
    clip_classifier=dict(
        type='RegionCLIPClassifier',
        clip=dict(model_name='ViT-B-16', pretrained='pretrained/ovseg_r101c_vit-b16_clip.pth',
                  mask_prompt_depth=3),
        templates='vild14',
        expand_ratio=1.0,
        chunk_size=32,
        mask_prompt_fwd=True,
        cache_dir='~/.cache/clipdense/text_classifiers'),
    mask_threshold=0.5,
    ensemble_weight=0.7,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

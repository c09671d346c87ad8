# F-VLM (Kuo et al., ICLR 2023) with a frozen CLIP RN50: the released JAX recipe
# (google-research fvlm/configs/{model,fvlm_train_and_eval}.gin); sources in docs/fvlm.md.
# Final configs set base_class_names (training vocabulary) and class_names (test vocabulary).
clip_pretrained = 'pretrained/RN50.pt'  # OpenAI archive or open_clip checkpoint, local file
norm_cfg = dict(type='SyncBN', momentum=0.003, eps=1e-4)  # Flax BN(momentum=0.997), sync'd
model = dict(
    type='FVLM',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP's, in 0-255 RGB
        std=[68.5005327, 66.6321579, 70.32316305],
        bgr_to_rgb=True,
        pad_size_divisor=1024),  # F-VLM pads every image to 1024x1024
    backbone=dict(
        type='CLIPResNetWithAttention',
        model_name='RN50',
        heads=32,  # OpenAI's attention-pool heads (width * 32 // 64)
        pretrained=clip_pretrained,
        out_indices=(0, 1, 2, 3),
        frozen_stages=4,
        norm_eval=True),
    text_encoder=dict(
        type='CLIPTextEncoder',
        context_length=77,
        vocab_size=49408,
        transformer_width=512,
        transformer_heads=8,
        transformer_layers=12,
        embed_dim=1024,
        pretrained=clip_pretrained),
    templates='imagenet80',
    base_class_names=None,
    class_names=None,
    neck=dict(
        type='FVLMFPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(
        type='FVLMRPNHead',
        in_channels=256,
        feat_channels=256,
        num_convs=2,
        norm_cfg=norm_cfg,
        anchor_generator=dict(
            type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        # Huber(delta=1/9) = SmoothL1(beta=1/9) / 9
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0 / 9.0)),
    roi_head=dict(
        type='FVLMRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            # one bilinear sample per bin centre, corners on feature indices (TF crop_and_resize)
            roi_layer=dict(type='RoIAlignFast', output_size=7, sampling_ratio=1, aligned=False),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='FVLMBBoxHead',
            in_channels=256,
            roi_feat_size=7,
            embed_dim=1024,
            num_convs=4,
            conv_out_channels=256,
            num_fcs=1,
            fc_out_channels=1024,
            norm_cfg=norm_cfg,
            temperature_scale=0.01,
            background_loss_weight=0.9,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
        background=dict(type='LearnedBackgroundEmbedding'),
        vlm_roi_output_size=7,  # the RN50 attention pool's 7x7 grid
        vlm_temperature=0.01,
        base_alpha=0.35,
        novel_beta=0.65),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.0,
                match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(
            nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(
            nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
            min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))

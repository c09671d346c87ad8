# F-VLM on a tiny randomly initialised CLIP (ResNet [1,1,1,1] x8, 1-layer text tower) over the
# toy open-vocabulary COCO scenes (`python tools/make_toy_data.py coco` first): trained on ball /
# box / tent, evaluated on those and the novel 'kite'. CPU-sized (300 iterations of 8 images).
# With random CLIP towers the text embeddings carry no meaning, so novel AP50 stays near zero;
# the run checks the training / evaluation machinery, not open-vocabulary transfer.
_base_ = [
    '../_base_/models/fvlm_r50_fpn.py', '../_base_/datasets/ov_coco_toy.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/fvlm_schedule_184k.py'
]
# plain BN with a fast running average: a 300-iteration run cannot wait for momentum 0.003
toy_norm_cfg = dict(type='BN', momentum=0.1, eps=1e-4)
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        model_name=None, layers=[1, 1, 1, 1], width=8, output_dim=32, input_resolution=224,
        heads=4, pretrained=None),
    text_encoder=dict(
        transformer_width=32, transformer_heads=2, transformer_layers=1, embed_dim=32,
        pretrained=None),
    base_class_names='toy_ov_base',
    class_names='toy_coco',
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=32, norm_cfg=toy_norm_cfg),
    rpn_head=dict(in_channels=32, feat_channels=32, norm_cfg=toy_norm_cfg),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(
            in_channels=32, embed_dim=32, conv_out_channels=32, fc_out_channels=128,
            norm_cfg=toy_norm_cfg)),
    # 128x96 scenes with 1-4 objects: fewer proposals and sampled RoIs than COCO's 1000 / 512
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300), rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=300)))
train_cfg = dict(max_iters=300, val_interval=300)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='MultiStepLR', begin=0, end=300, by_epoch=False, milestones=[240], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=300))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)

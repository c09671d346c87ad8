# OVSeg Swin-B + ViT-L/14 trained on COCO-Stuff-171 (the original's ovseg_swinB_vitL_bs32_120k):
# as the R101c recipe with lr 6e-5, wd 1e-2, backbone x1.0 (no decay on the relative position
# tables), 640 crops from shortest edges 320..1280, ViT-L/14 text embeddings (768-d class head).
# The backbone starts from the official swin_base_patch4_window12_384_22k weights, converted with
#   python tools/model_converters/ovseg.py swin_base_patch4_window12_384_22k.pth \
#       pretrained/swin_base_patch4_window12_384_22k_mmseg.pth --backbone-only
_base_ = [
    '../_base_/models/ovseg_swin-b_vit-l14.py', '../_base_/datasets/ovseg_coco-stuff171.py',
    '../_base_/default_runtime.py', '../_base_/schedules/ovseg_120k.py'
]
model = dict(
    backbone=dict(init_cfg=dict(
        _delete_=True, type='Pretrained',
        checkpoint='pretrained/swin_base_patch4_window12_384_22k_mmseg.pth')),
    train_class_names={{_base_.train_class_names}},
    class_names={{_base_.class_names}},
    ensemble_weight={{_base_.ensemble_weight}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline_640}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_640}}))
test_dataloader = val_dataloader
optim_wrapper = dict(
    optimizer=dict(lr=6e-5, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'backbone': dict(lr_mult=1.0),
        'query_embed': dict(decay_mult=0.0),
        'relative_position_bias_table': dict(decay_mult=0.0),
        'absolute_pos_embed': dict(decay_mult=0.0),
    }))

# DenseCLIP, CLIP ViT-B/16, ADE20K 640x640, 80k iterations (target: 50.6 mIoU single-scale).
_base_ = [
    '../_base_/models/denseclip_vit-b16.py', '../_base_/datasets/ade20k_640x640.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_clip.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}), backbone=dict(get_embeddings=True))

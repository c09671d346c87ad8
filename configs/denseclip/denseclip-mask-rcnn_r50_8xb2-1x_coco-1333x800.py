# DenseCLIP Mask R-CNN, CLIP RN50, COCO 1x at 8 GPUs x 2 images, 1333x800 (target: 40.2 box AP /
# 37.6 mask AP; plain-CLIP Mask R-CNN 39.3 / 36.8). Needs pretrained/RN50.pt and data/coco.
_base_ = [
    '../_base_/models/denseclip_mask_rcnn_r50_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x_clip.py'
]
optim_wrapper = dict(optimizer=dict(lr=2e-4))
sync_bn = 'torch'  # as the original: SyncBN backbone when distributed

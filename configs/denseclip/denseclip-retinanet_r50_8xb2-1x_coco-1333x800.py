# DenseCLIP RetinaNet, CLIP RN50, COCO 1x at 8 GPUs x 2 images, 1333x800 (target: 37.8 box AP;
# plain-CLIP RetinaNet 36.9). Needs pretrained/RN50.pt (OpenAI) and data/coco.
_base_ = [
    '../_base_/models/denseclip_retinanet_r50_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x_clip.py'
]
# The original trains the CLIP backbone with SyncBN (global batch statistics); mmengine converts
# every BN when the run is distributed and keeps plain BN otherwise.
sync_bn = 'torch'

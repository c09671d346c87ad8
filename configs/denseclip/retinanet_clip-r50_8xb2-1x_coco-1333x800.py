# Plain-CLIP baseline: RetinaNet on CLIP RN50, COCO 1x, 8 GPUs x 2 images (reference: 36.9 AP).
_base_ = [
    '../_base_/models/retinanet_clip_r50_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x_clip.py'
]
sync_bn = 'torch'  # as the original: SyncBN backbone when distributed

# Plain-CLIP baseline: Mask R-CNN on CLIP RN50, COCO 1x (reference: 39.3 box AP / 36.8 mask AP).
_base_ = [
    '../_base_/models/mask_rcnn_clip_r50_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_1x_clip.py'
]
optim_wrapper = dict(optimizer=dict(lr=2e-4))
sync_bn = 'torch'  # as the original: SyncBN backbone when distributed

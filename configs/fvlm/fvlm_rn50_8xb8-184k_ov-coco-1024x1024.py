# F-VLM, frozen CLIP RN50, OV-COCO (48 base classes for training, 65 for evaluation).
# 8 GPUs x 8 images; the paper's recipe (batch 256, 46.1k iterations) scaled to batch 64.
# Target (paper, Table 3): novel box AP50 28.0. Weights: pretrained/RN50.pt (OpenAI).
_base_ = [
    '../_base_/models/fvlm_r50_fpn.py', '../_base_/datasets/ov_coco_detection.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/fvlm_schedule_184k.py'
]
model = dict(base_class_names='ov_coco_base', class_names='ov_coco')
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)

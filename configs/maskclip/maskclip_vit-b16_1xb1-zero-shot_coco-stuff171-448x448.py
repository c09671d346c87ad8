# MaskCLIP (training-free) zero-shot on coco-stuff171
# (short side 448, slide 448/224, probabilities averaged).
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/zs_coco-stuff171.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names={{_base_.class_names}})

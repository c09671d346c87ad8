# CLIP-DINOiser zero-shot on voc20
# (short side 448, slide 448/224, probabilities averaged).
_base_ = [
    '../_base_/models/clip-dinoiser_vit-b16.py', '../_base_/datasets/zs_voc20.py',
    '../_base_/default_runtime.py'
]
model = dict(class_names={{_base_.class_names}})

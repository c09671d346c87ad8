# CLIP-DINOiser zero-shot on pascal-context60
# (short side 448, slide 448/224, probabilities averaged).
_base_ = [
    '../_base_/models/clip-dinoiser_vit-b16.py', '../_base_/datasets/zs_pascal-context60.py',
    '../_base_/default_runtime.py'
]
# the saliency background rule is used only on VOC and COCO-Object
model = dict(class_names={{_base_.class_names}}, saliency_background=False)

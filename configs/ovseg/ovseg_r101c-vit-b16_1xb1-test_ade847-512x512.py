# OVSeg R101c + ViT-B/16 (trained on COCO-Stuff-171) evaluated on ade847: short side 512, whole
# image, lambda and prompts from the dataset config. Checkpoint: the released
# ovseg_R101c_vitB16_ft_mpt.pth converted with tools/model_converters/ovseg.py (docs/ovseg.md).
_base_ = [
    '../_base_/models/ovseg_r101c_vit-b16.py', '../_base_/datasets/ovseg_ade847.py',
    '../_base_/default_runtime.py'
]
model = dict(
    class_names={{_base_.class_names}}, ensemble_weight={{_base_.ensemble_weight}})

# OVSeg Swin-B + ViT-L/14 (trained on COCO-Stuff-171) evaluated on ade20k: short side 640, whole
# image, lambda and prompts from the dataset config. Checkpoint: the released
# ovseg_swinbase_vitL14_ft_mpt.pth converted with tools/model_converters/ovseg.py.
_base_ = [
    '../_base_/models/ovseg_swin-b_vit-l14.py', '../_base_/datasets/ovseg_ade20k.py',
    '../_base_/default_runtime.py'
]
model = dict(
    class_names={{_base_.class_names}}, ensemble_weight={{_base_.ensemble_weight}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_640}}))
val_dataloader = test_dataloader

# OVSeg R101c + ViT-B/16 trained on COCO-Stuff-171 (the original's ovseg_R101c_vitB_bs32_120k):
# 120k iterations at 8 GPUs x 4 images, AdamW lr 2e-4 wd 1e-4, backbone x0.1, WarmupPolyLR,
# gradient clipping 0.01, 512 crops; validated on ADE20K-150. The CLIP (frozen; text embeddings
# for the class head, and the stage-2 classifier at validation) is the mask-adapted ViT-B/16
# (pretrained/ovseg_r101c_vit-b16_clip.pth; the original trains with it too). The backbone
# starts from detectron2's DeepLab R-103.pkl, converted with
#   python tools/model_converters/ovseg.py R-103.pkl pretrained/R-103_mmseg.pth --backbone-only
_base_ = [
    '../_base_/models/ovseg_r101c_vit-b16.py', '../_base_/datasets/ovseg_coco-stuff171.py',
    '../_base_/default_runtime.py', '../_base_/schedules/ovseg_120k.py'
]
model = dict(
    backbone=dict(init_cfg=dict(
        _delete_=True, type='Pretrained', checkpoint='pretrained/R-103_mmseg.pth')),
    train_class_names={{_base_.train_class_names}},
    class_names={{_base_.class_names}},
    ensemble_weight={{_base_.ensemble_weight}})

# OVSeg step 1 of the CLIP adaptation, ViT-B/16: fine-tune the whole image tower on masked
# region crops (text tower locked), 4 GPUs x 128 pairs, 5 epochs, lr 5e-6 cosine (OVSeg's
# coco_proposal_1cap_finetune_VitB.sh). Export the result for the segmentor with
#   python tools/model_converters/ovseg_clip.py WORK_DIR/epoch_5.pth \
#       pretrained/ovseg_clip_vit-b16_adapted.pth --base pretrained/ViT-B-16.pt
_base_ = [
    '../_base_/models/ovseg_clip_vit-b16.py', '../_base_/datasets/ovseg_clip_coco-region-pairs.py',
    '../_base_/schedules/ovseg_clip_adapt.py', '../_base_/default_runtime.py'
]
model = dict(train_mode='full', classifier=dict(mask_prompt_fwd=False))
train_dataloader = dict(batch_size=128)
auto_scale_lr = dict(enable=False, base_batch_size=512)

# OVSeg step 2, ViT-L/14: mask prompt tuning on top of the fine-tuned CLIP (exported with
# tools/model_converters/ovseg_clip.py); only mask_embedding (3 x 256 x 1024, N(0, 0.02) init)
# learns, lr 0.05, weight decay 0, cosine, 4 GPUs x 32, 5 epochs
# (coco_proposal_1cap_mask_prompt_tuning_VitL.sh). Crop masks are fed as prompts.
_base_ = [
    '../_base_/models/ovseg_clip_vit-b16.py', '../_base_/datasets/ovseg_clip_coco-region-pairs.py',
    '../_base_/schedules/ovseg_clip_mpt.py', '../_base_/default_runtime.py'
]
model = dict(
    train_mode='mask_prompt',
    classifier=dict(
        clip=dict(model_name='ViT-L-14', pretrained='pretrained/ovseg_clip_vit-l14_adapted.pth'),
        mask_prompt_fwd=True))
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(enable=False, base_batch_size=128)

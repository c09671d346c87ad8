# OVSeg step 2, ViT-B/16: mask prompt tuning (3 x 196 x 768 prompts) on the fine-tuned ViT-B/16
# CLIP, lr 0.05, weight decay 0, cosine, 4 GPUs x 32, 5 epochs.
_base_ = './ovseg-clip-mpt_vit-l14_4xb32-5e_coco-proposal-pairs-224x224.py'
model = dict(
    classifier=dict(
        clip=dict(model_name='ViT-B-16', pretrained='pretrained/ovseg_clip_vit-b16_adapted.pth')))

# DenseCLIP, CLIP RN50, ADE20K 512x512, 80k iterations at 8 GPUs x 4 images (target: 43.5 mIoU
# single-scale). Needs pretrained/RN50.pt (OpenAI) and data/ade/ADEChallengeData2016.
_base_ = [
    '../_base_/models/denseclip_r50.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_clip.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    backbone=dict(input_resolution=512, pretrained='pretrained/RN50.pt'))
# The original trains the CLIP backbone with SyncBN (its train_denseclip.py converts it), so BN
# statistics cover the global batch of 32. mmengine converts every BN when the run is distributed
# and reverts SyncBN to BN otherwise (single GPU, CPU).
sync_bn = 'torch'

# Plain-CLIP baseline: Semantic FPN on CLIP RN50, ADE20K 512x512, 80k (reference: 39.6 mIoU).
_base_ = [
    '../_base_/models/fpn_clip_r50.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k_clip.py'
]
model = dict(
    data_preprocessor=dict(size={{_base_.crop_size}}),
    test_cfg=dict(mode='slide', crop_size={{_base_.crop_size}}, stride=(341, 341)))
# The original trains the CLIP backbone with SyncBN (its train_denseclip.py converts it), so BN
# statistics cover the global batch of 32. mmengine converts every BN when the run is distributed
# and reverts SyncBN to BN otherwise (single GPU, CPU).
sync_bn = 'torch'

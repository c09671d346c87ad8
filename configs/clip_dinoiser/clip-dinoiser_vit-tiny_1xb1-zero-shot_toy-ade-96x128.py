# CLIP-DINOiser mechanics on the generated toy ADE data (`python tools/make_toy_data.py ade`):
# a tiny random open_clip ViT built from arch kwargs, randomly initialised light layers, the
# dataset's class names as prompts, 64px windows with stride 32. Runs on CPU in seconds.
_base_ = [
    '../_base_/models/clip-dinoiser_vit-b16.py', '../_base_/datasets/toy_ade.py',
    '../_base_/default_runtime.py'
]
tiny_vit = dict(
    embed_dim=24,
    vision_cfg=dict(layers=2, width=32, patch_size=16, image_size=64, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    clip=dict(model_name=None, arch=tiny_vit, pretrained=None),
    backbone=dict(feats_idx=0),
    decode_head=dict(in_channels=32, proj_channels=16, checkpoint=None),
    templates='single',
    text_cache_dir=None,
    test_cfg=dict(crop_size=(64, 64), stride=(32, 32)))
custom_hooks = [dict(type='DatasetVocabularyHook')]
train_dataloader = None  # zero-shot: nothing to train here
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
env_cfg = dict(cudnn_benchmark=False)

# MaskCLIP (training-free): open_clip ViT-B/16 value-path dense features + the 80-template text
# classifier, slide inference (448 crop, 224 stride) averaging probabilities.
# CLIP weights: open_clip ViT-B-16 tag laion2b_s34b_b88k as a local file (docs/clip_dinoiser.md).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='ZeroShotSegmentor',
    data_preprocessor=data_preprocessor,
    clip=dict(model_name='ViT-B-16', pretrained='pretrained/ViT-B-16_laion2b_s34b_b88k.bin'),
    backbone=dict(type='MaskCLIPViT', feats_idx=None),
    # decode_head: none for MaskCLIP (CLIP-DINOiser adds its light layers)
    class_names=None,  # None: the dataset's class names (DatasetVocabularyHook)
    templates='imagenet80',
    logit_scale=100.0,
    background_class='background',
    prob_threshold=None,
    text_cache_dir='~/.cache/clipdense/text_classifiers',
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224), window_batch_size=8))

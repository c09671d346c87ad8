# OVSeg's CLIP side trained on region crops: MaskAdaptedCLIP around a RegionCLIPClassifier
# (OpenAI ViT-B/16 from a local file, mask prompts of depth 3, ViLD-14 templates, crops 224,
# expand ratio 1.0, softmax(100 * cos) at evaluation). The recipe configs choose train_mode
# ('full': image tower; 'mask_prompt': mask_embedding only) and mask_prompt_fwd.
model = dict(
    type='MaskAdaptedCLIP',
    classifier=dict(
        type='RegionCLIPClassifier',
        # OpenAI CLIP (QuickGELU), also after conversion by tools/model_converters/ovseg_clip.py
        clip=dict(model_name='ViT-B-16', pretrained='pretrained/ViT-B-16.pt', quick_gelu=True,
                  mask_prompt_depth=3),
        templates='vild14',
        expand_ratio=1.0,
        chunk_size=64,
        cache_dir=None,
        mask_prompt_fwd=False,
        logit_scale=100.0),
    train_mode='full',
    train_templates=['{}'],  # OVSeg's training encoded the bare noun
    loss_type='batch_classes',
    logit_scale=None,  # the CLIP's own temperature (100 for OpenAI weights)
    train_logit_scale=False,
    class_names=None,  # evaluation vocabulary: the dataset's (DatasetVocabularyHook)
    save_frozen_weights=False)
custom_hooks = [dict(type='DatasetVocabularyHook')]

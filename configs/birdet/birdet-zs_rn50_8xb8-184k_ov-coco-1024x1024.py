# BIRDet on F-VLM (frozen CLIP RN50), OV-COCO, with the zero-shot scene scorer: the top-5 of the
# 365 Places365 descriptors by the cosine of the frozen CLIP's whole-image embedding with their
# text embeddings (CLIP's 80 ImageNet templates, encoded once and cached), so no scene classifier
# has to be trained. Otherwise as birdet_rn50_8xb8-184k_ov-coco-1024x1024.py (BIM + POS).
_base_ = '../fvlm/fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py'
model = dict(
    type='PostProcessedDetector',
    detector_type='FVLM',
    roi_head=dict(
        background=dict(
            type='BackgroundInformationModelling',
            context_width=512,  # CLIP RN50's text transformer width
            scene_vocabulary='places365',
            scene_scorer=dict(type='ZeroShotSceneScorer', logit_scale=100.0),
            descriptor_templates='imagenet80',
            top_k=5,
            num_context=8,
            alpha=0.5)),
    test_cfg=dict(post_processing=[dict(type='PartialObjectSuppression', theta=0.8)]))

# BIRDet on F-VLM (frozen CLIP RN50), OV-COCO (48 base classes for training, 65 for evaluation):
# F-VLM's recipe (configs/fvlm/fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py) with
# - BIM: the background column is t_bg(I) from the top-5 of the 365 Places365 scene descriptors
#   scored by the small scene CNN (train configs/birdet/scene-cnn_5stage_8xb64-30e_places365-
#   224x224.py first), 8 learnable context vectors through CLIP's frozen text tower, re-scoring
#   alpha 0.5;
# - POS after NMS (OAR threshold 0.8, hard).
# Paper claim: consistent novel AP50 gains over the F-VLM baseline (28.0); not reproduced here.
_base_ = '../fvlm/fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py'
scene_cnn_checkpoint = 'work_dirs/scene-cnn_5stage_8xb64-30e_places365-224x224/epoch_30.pth'
model = dict(
    type='PostProcessedDetector',
    detector_type='FVLM',
    roi_head=dict(
        background=dict(
            type='BackgroundInformationModelling',
            context_width=512,  # CLIP RN50's text transformer width
            scene_vocabulary='places365',
            scene_scorer=dict(
                type='SceneCNNScorer',
                network=dict(type='SceneCNN', num_classes=365, channels=(32, 64, 128, 256, 512),
                             input_size=(224, 224)),
                checkpoint=scene_cnn_checkpoint),
            top_k=5,
            num_context=8,
            alpha=0.5)),
    test_cfg=dict(post_processing=[dict(type='PartialObjectSuppression', theta=0.8)]))

# F-VLM (frozen CLIP RN50) on OV-COCO with BIRDet's Partial Object Suppression only (OAR > 0.8,
# hard, after NMS). POS is test-time only: evaluate any F-VLM OV-COCO checkpoint with it.
_base_ = '../fvlm/fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py'
model = dict(
    type='PostProcessedDetector',
    detector_type='FVLM',
    test_cfg=dict(post_processing=[dict(type='PartialObjectSuppression', theta=0.8)]))

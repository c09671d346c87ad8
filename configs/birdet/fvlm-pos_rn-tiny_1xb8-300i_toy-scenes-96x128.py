# BIRDet ablation "+POS": the toy-scenes F-VLM baseline with Partial Object Suppression after
# NMS (theta 0.8, hard). POS is test-time only: evaluate the baseline's checkpoint with this
# config (tools/test.py), or train with it (identical training).
_base_ = '../fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py'
data_root = 'data/toy_coco_scenes/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(
    type='PostProcessedDetector',
    detector_type='FVLM',
    test_cfg=dict(
        rcnn=dict(score_thr=0.001),  # as the baseline row
        post_processing=[dict(type='PartialObjectSuppression', theta=0.8)]))

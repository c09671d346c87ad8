# BIRDet (BIM + POS) on the typed toy scenes: the F-VLM toy baseline
# (fvlm_rn-tiny_1xb8-300i_toy-scenes-96x128.py) whose single learned background embedding is
# replaced by Background Information Modelling, followed at test time by Partial Object
# Suppression (theta 0.8, hard). The scene scorer is the small scene CNN trained on the toy scene
# labels (train configs/birdet/scene-cnn_tiny_1xb16-30e_toy-scenes-96x128.py first; its
# checkpoint is read below), the scene vocabulary the five toy scene names; top-2 descriptors,
# 4 learnable context vectors through the frozen (tiny, random) text tower, alpha 0.5.
# Ablation rows: "+BIM + POS" as is; "+BIM" with --cfg-options model.test_cfg.post_processing=[]
_base_ = '../fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py'
data_root = 'data/toy_coco_scenes/'
scene_cnn_checkpoint = 'work_dirs/scene-cnn_tiny_1xb16-30e_toy-scenes-96x128/epoch_30.pth'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(
    type='PostProcessedDetector',
    detector_type='FVLM',
    roi_head=dict(
        background=dict(
            type='BackgroundInformationModelling',
            context_width=32,  # the tiny text tower's width
            scene_vocabulary=data_root + 'scene_classes.txt',
            scene_scorer=dict(
                type='SceneCNNScorer',
                network=dict(type='SceneCNN', num_classes=5, channels=(16, 32, 64, 128),
                             input_size=(64, 64)),
                checkpoint=scene_cnn_checkpoint),
            top_k=2,
            num_context=4,
            alpha=0.5)),
    test_cfg=dict(
        rcnn=dict(score_thr=0.001),  # as the baseline row
        post_processing=[dict(type='PartialObjectSuppression', theta=0.8)]))

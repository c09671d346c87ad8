# BIRDet ablation baseline on the typed toy scenes: F-VLM with its single learned background
# embedding, configs/fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py (tiny random CLIP, 300
# iterations of 8 images, seed 0) on data/toy_coco_scenes (meadow / beach / snow / night /
# room scenes with border-cut and occluder-split things; `python tools/make_toy_data.py
# coco-scenes` first). Toy open-vocabulary split: 'kite' novel, ball / box / tent base.
_base_ = '../fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py'
data_root = 'data/toy_coco_scenes/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
# AP needs the ranking: the toy detectors' scores are low (0.01-0.07), so every ablation row
# keeps detections down to 0.001 instead of F-VLM's 0.05.
model = dict(test_cfg=dict(rcnn=dict(score_thr=0.001)))

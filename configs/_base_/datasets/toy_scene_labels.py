# Image-level scene labels of the typed toy scenes (meadow / beach / snow / night / room;
# generate with `python tools/make_toy_data.py coco-scenes`), for BIRDet's scene classifier.
# Annotation lists in the Places365 format: "<file name> <scene index>" per line.
dataset_type = 'SceneLabelDataset'
data_root = 'data/toy_coco_scenes/'
backend_args = None
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scene_label')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys + ('flip', 'flip_direction'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/scenes_train.txt',
        data_prefix=dict(img='train/'),
        scene_classes='scene_classes.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/scenes_val.txt',
        data_prefix=dict(img='val/'),
        scene_classes='scene_classes.txt',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SceneAccuracy', topk=(1, 2))
test_evaluator = val_evaluator

# Places365-Standard scene labels (365 classes) for BIRDet's scene classifier on OV-COCO.
# Layout of the official release (places2.csail.mit.edu, 256x256 "small images"):
#   data/places365/data_256/a/airfield/00000001.jpg ...   data/places365/val_256/*.jpg
#   data/places365/places365_train_standard.txt           data/places365/places365_val.txt
# Class i is line i of clipdense/data/places365_scenes.txt (scene_classes='places365').
dataset_type = 'SceneLabelDataset'
data_root = 'data/places365/'
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scene_label')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=(224, 224), ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(224, 224), allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys + ('flip', 'flip_direction'))
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='places365_train_standard.txt',
                 data_prefix=dict(img='data_256/'), scene_classes='places365',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='places365_val.txt',
                 data_prefix=dict(img='val_256/'), scene_classes='places365', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='SceneAccuracy', topk=(1, 5))
test_evaluator = val_evaluator

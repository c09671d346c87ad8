# Region-text pairs for adapting CLIP (clipdense/datasets/region_text.py). Training: pairs mined
# from COCO Captions (nouns matched to MaskFormer proposals by CLIP, OVSeg's 442k
# "coco_proposal_1cap"; tools/dataset_converters/ovseg_mine_pairs.py) or COCO-Stuff GT pairs
# (ovseg_region_pairs.py); evaluation: ADE20K-150 ground-truth region pairs (OVSeg's
# ade_gt_150cls_val), region accuracy over the 150 class names.
dataset_type = 'RegionTextDataset'
crop_size = 224
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadRegionMask'),
    dict(type='RegionCrop', size=crop_size, expand_ratio=1.0, scale=(0.9, 1.0)),
    dict(type='PackRegionTextInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadRegionMask'),
    dict(type='RegionCrop', size=crop_size, expand_ratio=1.0),
    dict(type='PackRegionTextInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root='data/coco',
        ann_file='ovseg/coco_proposal_1cap_train.json',
        data_prefix=dict(img_path='train2017'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root='data/ade/ADEChallengeData2016',
        ann_file='ovseg_region_pairs_val.json',
        data_prefix=dict(img_path='images/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='RegionAccuracy')
test_evaluator = val_evaluator

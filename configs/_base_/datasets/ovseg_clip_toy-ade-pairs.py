# Region-text pairs of the toy ADE scenes (one pair per class present in an image), made by
#   python tools/make_toy_data.py ade --out data/toy_ade
#   python tools/dataset_converters/ovseg_region_pairs.py semantic --dataset ToyADEDataset \
#       --reduce-zero-label --img-dir data/toy_ade/images/training \
#       --ann-dir data/toy_ade/annotations/training --out data/toy_ade/region_pairs_train.json
#   (and the same for validation -> region_pairs_val.json). Crops of 64x64 for the tiny towers.
_base_ = './ovseg_clip_coco-region-pairs.py'
crop_size = 64
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
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root='data/toy_ade',
        ann_file='region_pairs_train.json',
        data_prefix=dict(img_path='images/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root='data/toy_ade',
        ann_file='region_pairs_val.json',
        data_prefix=dict(img_path='images/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

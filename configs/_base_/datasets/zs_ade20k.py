# ADE20K val (2000 images), 150 classes.
_base_ = ['./zs_common.py']
test_dataloader = dict(
    dataset=dict(
        type='ADE20KDataset',
        data_root='data/ade/ADEChallengeData2016',
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation')))
val_dataloader = test_dataloader
# Prompts: the dataset's class names verbatim.
class_names = None

# COCO-Stuff 164k val2017, 171 classes (mmseg's *_labelTrainIds.png).
_base_ = ['./zs_common.py']
test_dataloader = dict(
    dataset=dict(
        type='COCOStuffDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017')))
val_dataloader = test_dataloader
# Prompts: the dataset's class names verbatim.
class_names = None

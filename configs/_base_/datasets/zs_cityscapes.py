# Cityscapes val (500 images), 19 classes (mmseg's *_labelTrainIds.png).
_base_ = ['./zs_common.py']
test_dataloader = dict(
    dataset=dict(
        type='CityscapesDataset',
        data_root='data/cityscapes',
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
val_dataloader = test_dataloader
# Prompts: the dataset's class names verbatim.
class_names = None

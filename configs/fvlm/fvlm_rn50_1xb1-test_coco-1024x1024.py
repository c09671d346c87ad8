# Plain COCO evaluation of an OV-COCO F-VLM RN50 (trained on the 48 base classes): all 80 COCO
# classes of val2017 (the 32 non-base ones, including the 17 OV-COCO novel classes, are scored
# with the novel-class ensemble weight), standard COCO box AP from the official annotations.
#   python tools/test.py configs/fvlm/fvlm_rn50_1xb1-test_coco-1024x1024.py CHECKPOINT
_base_ = './fvlm_rn50_8xb8-184k_ov-coco-1024x1024.py'
model = dict(class_names='coco')
test_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root='data/coco/',
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args=None))
test_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file='data/coco/annotations/instances_val2017.json',
    metric='bbox',
    classwise=True)

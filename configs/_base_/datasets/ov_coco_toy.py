# The toy COCO scenes (`python tools/make_toy_data.py coco`) as a toy open-vocabulary benchmark:
# ToyOVCocoDataset's split makes 'kite' novel (never annotated in training) and ball / box / tent
# base; evaluation reports box AP50 on novel / base / all (OVCocoAP50Metric). Pipelines:
# toy_coco's.
_base_ = './toy_coco.py'
dataset_type = 'ToyOVCocoDataset'
train_dataloader = dict(dataset=dict(type=dataset_type, vocabulary='base'))
val_dataloader = dict(dataset=dict(type=dataset_type, vocabulary='all'))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVCocoAP50Metric')
test_evaluator = val_evaluator

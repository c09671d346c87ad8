# The toy COCO scenes (toy_coco.py, which loads masks already) evaluated for boxes and masks.
_base_ = './toy_coco.py'
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator

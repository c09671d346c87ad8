# DenseCLIP's COCO 1x recipe (RetinaNet; Mask R-CNN configs raise the lr to 2e-4): AdamW lr 1e-4
# wd 1e-4, grad clip 0.1, backbone lr x0.1, no decay on norms, linear warm-up over 500
# iterations from 0.001, steps at epochs 8 and 11, 12 epochs. The text encoder is frozen by the
# model (requires_grad=False); lr_mult 0 mirrors the original.
_base_ = './schedule_1x.py'
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'text_encoder': dict(lr_mult=0.0),
            'norm': dict(decay_mult=0.0)
        }))

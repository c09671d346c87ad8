# The DenseCLIP ADE20K recipe: AdamW lr 1e-4 wd 1e-4, backbone lr x0.1, no decay on norms,
# linear warm-up 1500 iterations then poly (min lr 1e-6), 80k iterations.
# The text encoder is frozen by DenseCLIP itself (requires_grad=False, so AdamW never updates or
# decays it); lr_mult 0 mirrors the original. PolyLR's eta_min lifts that group's lr from 0 towards
# 1e-6 (the original's leak, which did train its "frozen" encoder); here it has no effect.
_base_ = './schedule_80k.py'
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1),
            'text_encoder': dict(lr_mult=0.0),
            'norm': dict(decay_mult=0.0)
        }))

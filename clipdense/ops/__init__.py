"""Region ops with C++/CUDA kernels: ``roi_align``, ``masked_crops`` and ``mask_pool``.

Importing this package never needs the compiled extension; calling an op without it raises a
RuntimeError telling how to build it. The layers (``RoIAlignFast``, ``MaskPool``,
``MaskedCrops``) are registered into mmengine's and mmdet's ``MODELS`` when those are installed,
and ``RoIAlignFast`` is also exposed as ``mmcv.ops.RoIAlignFast``, which is where mmdet's RoI
extractors look up ``roi_layer=dict(type=...)``.
"""
from . import reference
from ._ext_loader import cuda_kernels_available, extension_available
from .mask_pool import MaskPool, mask_pool
from .masked_crops import CLIP_MEAN, CLIP_STD, MaskedCrops, masked_crops
from .reference import mask_pool_ref, masked_crops_ref, roi_align_ref
from .roi_align import RoIAlignFast, roi_align

__all__ = [
    'roi_align', 'masked_crops', 'mask_pool', 'RoIAlignFast', 'MaskPool', 'MaskedCrops',
    'roi_align_ref', 'masked_crops_ref', 'mask_pool_ref', 'reference', 'extension_available',
    'cuda_kernels_available', 'register_openmmlab_modules', 'CLIP_MEAN', 'CLIP_STD'
]

_LAYERS = (RoIAlignFast, MaskPool, MaskedCrops)


def register_openmmlab_modules() -> bool:
    """Registers the layers into the OpenMMLab registries; returns False if mmengine is missing.

    Idempotent; called on import. Failures of optional packages (mmdet, mmcv.ops) are ignored.
    """
    try:
        from mmengine.registry import MODELS as ROOT_MODELS
    except Exception:  # mmengine not installed (or broken): plain-PyTorch use only
        return False
    registries = [ROOT_MODELS]
    try:
        from mmdet.registry import MODELS as DET_MODELS
        registries.append(DET_MODELS)
    except Exception:
        pass
    for registry in registries:
        for cls in _LAYERS:
            if registry.get(cls.__name__) is not cls:
                registry.register_module(module=cls, force=True)
    try:
        import mmcv.ops as mmcv_ops
        if getattr(mmcv_ops, RoIAlignFast.__name__, None) is not RoIAlignFast:
            setattr(mmcv_ops, RoIAlignFast.__name__, RoIAlignFast)
    except Exception:
        pass
    return True


register_openmmlab_modules()

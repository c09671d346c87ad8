"""Registration into the upstream OpenMMLab registries.

Models that serve both segmentation and detection (backbones, text encoders) are registered into
mmseg's and mmdet's ``MODELS`` so configs of either scope can name them without a prefix.
"""
from mmdet.registry import DATASETS as DET_DATASETS
from mmdet.registry import MODELS as DET_MODELS
from mmseg.registry import DATASETS as SEG_DATASETS
from mmseg.registry import MODELS as SEG_MODELS

__all__ = ['SEG_MODELS', 'DET_MODELS', 'SEG_DATASETS', 'DET_DATASETS', 'register_model']


def register_model(*registries):
    """Class decorator registering a module into several registries (default: mmseg + mmdet)."""
    registries = registries or (SEG_MODELS, DET_MODELS)

    def decorate(cls):
        for registry in registries:
            registry.register_module(module=cls)
        return cls

    return decorate

"""Registration into the upstream OpenMMLab registries.

Models that serve both segmentation and detection (backbones, text encoders) are registered into
mmseg's and mmdet's ``MODELS`` so configs of either scope can name them without a prefix.
"""
from mmdet.registry import DATASETS as DET_DATASETS
from mmdet.registry import MODELS as DET_MODELS
from mmseg.registry import DATASETS as SEG_DATASETS
from mmseg.registry import MODELS as SEG_MODELS

__all__ = ['SEG_MODELS', 'DET_MODELS', 'SEG_DATASETS', 'DET_DATASETS', 'register_model',
           'build_in_own_scope']


def register_model(*registries):
    """Class decorator registering a module into several registries (default: mmseg + mmdet)."""
    registries = registries or (SEG_MODELS, DET_MODELS)

    def decorate(cls):
        for registry in registries:
            registry.register_module(module=cls)
        return cls

    return decorate


def build_in_own_scope(registry, cfg: dict, **kwargs):
    """Builds ``cfg`` from ``registry`` looked up in the registry's own scope.

    mmengine resolves an unprefixed ``type`` in the process-wide default scope when one is set,
    so a sub-module registered only in mmdet's ``MODELS`` would not be found while an mmseg run
    (or a test) has set ``'mmseg'``. Modules that build their parts from a fixed registry use
    this to be independent of that global state; ``'mmseg.X'`` / ``'mmdet.X'`` still work.
    """
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(registry.scope):
        return registry.build(cfg, **kwargs)

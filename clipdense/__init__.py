"""clipdense: CLIP for dense prediction on MMSegmentation 1.x / MMDetection 3.x.

Importing the package registers its models, datasets and runtime helpers into the upstream
OpenMMLab registries; heavy dependencies (open_clip) are imported only when a model is built.
"""
from . import datasets, models, ops, utils  # noqa: F401  (registration)
from . import evaluation  # noqa: F401,E402  (metrics)
from .version import __version__

__all__ = ['__version__']

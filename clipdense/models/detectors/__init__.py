"""Detectors (registered in mmdet's MODELS)."""
from .denseclip_mask_rcnn import DenseCLIPMaskRCNN
from .denseclip_retinanet import DenseCLIPRetinaNet
from .fvlm import FVLM  # noqa: F401  (F-VLM)

__all__ = ['DenseCLIPMaskRCNN', 'DenseCLIPRetinaNet']

"""Registered heads."""
from .dinoiser_head import DINOiserHead  # noqa: F401,E402
from .identity_head import IdentityHead  # noqa: F401,E402  (DenseCLIP)
from .region_clip_classifier import RegionCLIPClassifier  # noqa: F401,E402  (OVSeg)
from .fvlm_bbox_head import FVLMBBoxHead  # noqa: F401,E402  (F-VLM)
from .fvlm_roi_head import FVLMRoIHead  # noqa: F401,E402  (F-VLM)
from .fvlm_rpn_head import FVLMRPNHead  # noqa: F401,E402  (F-VLM)
from .ovseg_class_head import OVSegClassHead  # noqa: F401,E402  (OVSeg)
from .ovseg_maskformer_head import OVSegMaskFormerHead  # noqa: F401,E402  (OVSeg)

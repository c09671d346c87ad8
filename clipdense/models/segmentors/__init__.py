"""Registered segmentors (one import line per module)."""
from .denseclip import DenseCLIP  # noqa: F401
from .zero_shot import ZeroShotSegmentor  # noqa: F401
from .ovseg import OVSeg  # noqa: F401

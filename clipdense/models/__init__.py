"""Registered model components, one role per sub-package."""
from . import backbones  # noqa: F401
from . import heads, segmentors, teachers  # noqa: F401,E402  (CLIP-DINOiser / MaskCLIP)
from . import text  # noqa: F401,E402  (DenseCLIP text encoders, context decoder)

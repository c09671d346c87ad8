"""Registered model components, one role per sub-package."""
from . import backbones  # noqa: F401
from . import heads, segmentors, teachers  # noqa: F401,E402  (CLIP-DINOiser / MaskCLIP)
from . import text  # noqa: F401,E402  (DenseCLIP text encoders, context decoder)
from . import classifiers  # noqa: F401,E402  (OVSeg CLIP adaptation)
from . import layers  # noqa: F401,E402  (open-vocabulary detection pieces: background column)
from . import necks  # noqa: F401,E402  (F-VLM's FPN)
from . import detectors  # noqa: F401,E402  (DenseCLIP detection, F-VLM)

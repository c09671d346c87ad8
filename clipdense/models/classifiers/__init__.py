"""Image-level classifiers: OVSeg's mask-adapted CLIP, BIRDet's scene classifier."""
from .mask_adapted_clip import MaskAdaptedCLIP  # noqa: F401
from .scene_classifier import SceneClassifier  # noqa: F401,E402  (BIRDet)
from .scene_cnn import SceneCNN  # noqa: F401,E402  (BIRDet)

"""Small shared pieces of detectors and segmentors."""
from .background_embedding import (BaseBackgroundEmbedding,  # noqa: F401
                                   LearnedBackgroundEmbedding)
from .bim import BackgroundInformationModelling  # noqa: F401,E402  (BIRDet)
from .detection_post_processing import (  # noqa: F401,E402  (any mmdet detector)
    DetectionPostProcessingMixin, build_post_processed_detector)
from .partial_object_suppression import PartialObjectSuppression  # noqa: F401,E402  (BIRDet)

"""Registered evaluation metrics."""
from .ov_coco_metric import OVCocoAP50Metric  # noqa: F401
from .region_accuracy import RegionAccuracy  # noqa: F401  (OVSeg CLIP adaptation)

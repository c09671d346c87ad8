"""Frozen teachers for training light layers (CLIP-DINOiser)."""
from .dino_teachers import DINOValueTeacher, FOUNDSaliencyTeacher  # noqa: F401

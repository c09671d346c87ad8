"""Registered necks."""
from .fvlm_fpn import FVLM_NORM_CFG, FVLMFPN  # noqa: F401  (F-VLM)

"""Registered heads."""
from .dinoiser_head import DINOiserHead  # noqa: F401,E402
from .identity_head import IdentityHead  # noqa: F401,E402  (DenseCLIP)

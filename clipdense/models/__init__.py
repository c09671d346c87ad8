"""Registered model components, one role per sub-package."""
from . import backbones  # noqa: F401

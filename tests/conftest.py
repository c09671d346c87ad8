"""Shared fixtures: tiny CLIP architectures and weight files in every supported format."""
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TEXT_CFG = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)
TINY_RN = dict(embed_dim=24, vision_cfg=dict(layers=[1, 1, 1, 1], width=8, image_size=64),
               text_cfg=TEXT_CFG)
TINY_VIT = dict(embed_dim=24, vision_cfg=dict(layers=2, width=32, patch_size=16, image_size=64,
                                              head_width=16), text_cfg=TEXT_CFG)


@pytest.fixture
def tiny_rn_clip():
    from clipdense.clip import build_clip
    torch.manual_seed(0)
    return build_clip(arch=TINY_RN)


@pytest.fixture
def tiny_vit_clip():
    from clipdense.clip import build_clip
    torch.manual_seed(0)
    return build_clip(arch=TINY_VIT)

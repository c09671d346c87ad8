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


@pytest.fixture(scope='session')
def toy_ade_root(tmp_path_factory):
    """A small generated toy ADE set (16 train, 4 val images)."""
    from clipdense.datasets import make_toy_ade
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=16, num_val=4, seed=3)
    return str(root)


@pytest.fixture(scope='session')
def toy_coco_root(tmp_path_factory):
    """The default generated toy COCO set (64 train, 16 val images, seed 0)."""
    from clipdense.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=64, num_val=16, seed=0)
    return str(root)

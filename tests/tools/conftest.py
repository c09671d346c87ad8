import pytest

from clipdense.datasets import make_toy_ade, make_toy_coco


@pytest.fixture(scope='session')
def toy_ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(str(root), num_train=16, num_val=4, seed=3)
    return str(root)


@pytest.fixture(scope='session')
def toy_coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=64, num_val=16, seed=0)
    return str(root)

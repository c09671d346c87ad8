"""train -> test -> resume through the command-line tools (dropout on), and loading a training
checkpoint named by a config's load_from."""
import os

import pytest
import torch

from clipdense.utils import load_checkpoint_file
from tests.tools.helpers import SEG_CONFIG, last_metric, run_tool, seg_data_options


@pytest.fixture(scope='module')
def six_iteration_run(toy_ade_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('straight'))
    run_tool(['tools/train.py', SEG_CONFIG, '--work-dir', work_dir, '--cfg-options',
              *seg_data_options(toy_ade_root, 6), 'default_hooks.checkpoint.interval=3'])
    return work_dir


def _load(path):
    return load_checkpoint_file(path, map_location='cpu')  # weights-only + mmengine's types


def test_train_then_test(six_iteration_run, toy_ade_root):
    checkpoint = os.path.join(six_iteration_run, 'iter_6.pth')
    assert os.path.isfile(os.path.join(six_iteration_run, 'iter_3.pth'))
    result = run_tool(['tools/test.py', SEG_CONFIG, checkpoint, '--work-dir',
                       six_iteration_run, '--cfg-options', *seg_data_options(toy_ade_root, 6)])
    miou = last_metric(result.stdout + result.stderr, 'mIoU')
    assert 0.0 <= miou <= 100.0


def test_resume_continues_with_identical_state(six_iteration_run, toy_ade_root, tmp_path):
    resumed_dir = str(tmp_path / 'resumed')
    result = run_tool(['tools/train.py', SEG_CONFIG, '--work-dir', resumed_dir, '--resume',
                       os.path.join(six_iteration_run, 'iter_3.pth'), '--cfg-options',
                       *seg_data_options(toy_ade_root, 6), 'default_hooks.checkpoint.interval=3'])
    assert 'resumed epoch: 0, iter: 3' in result.stdout + result.stderr
    straight = _load(os.path.join(six_iteration_run, 'iter_6.pth'))
    resumed = _load(os.path.join(resumed_dir, 'iter_6.pth'))
    assert resumed['meta']['iter'] == straight['meta']['iter'] == 6
    for key, value in straight['state_dict'].items():
        assert torch.allclose(resumed['state_dict'][key].float(), value.float(), atol=1e-6), key
    assert resumed['param_schedulers'] == straight['param_schedulers']
    straight_opt, resumed_opt = straight['optimizer'], resumed['optimizer']
    assert resumed_opt['param_groups'] == straight_opt['param_groups']
    for index, state in straight_opt['state'].items():
        assert float(resumed_opt['state'][index]['step']) == float(state['step']) == 6
        assert torch.allclose(resumed_opt['state'][index]['exp_avg_sq'], state['exp_avg_sq'],
                              rtol=1e-5, atol=1e-10)


def test_config_load_from_a_training_checkpoint(six_iteration_run, toy_ade_root, tmp_path):
    """A training checkpoint (HistoryBuffer, numpy scalars) loads weights-only from anywhere,
    e.g. a config's load_from; no trust rule is involved."""
    checkpoint = os.path.join(six_iteration_run, 'iter_3.pth')
    result = run_tool(['tools/train.py', SEG_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                       *seg_data_options(toy_ade_root, 1), f'load_from={checkpoint}'])
    assert f'Load checkpoint from {checkpoint}' in result.stdout + result.stderr
    assert os.path.isfile(tmp_path / 'iter_1.pth')

"""Checkpoints through the tools: kill -9 during saves then resume exactly (dropout on), no code
execution from any checkpoint path, strict and required trained weights in tools/test.py."""
import os

import pytest
import torch

from clipdense.utils import load_checkpoint_file
from tests.tools.helpers import ROOT, SEG_CONFIG, run_tool, run_tool_mains, seg_data_options

DENSECLIP = 'configs/denseclip/denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py'
KILLER = os.path.join('tests', 'tools', 'kill_during_save.py')
ITERS = 6


def _train_options(data_root):
    """DenseCLIP toy (its context decoder keeps dropout 0.1), batch 2, a checkpoint every
    iteration, only the newest kept."""
    return [*seg_data_options(data_root, ITERS), 'train_dataloader.batch_size=2',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=1']


def _tensors(value, prefix=''):
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _tensors(item, f'{prefix}.{key}')
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _tensors(item, f'{prefix}.{index}')


def _training_tensors(path):
    checkpoint = load_checkpoint_file(path)
    return dict(_tensors({k: checkpoint[k] for k in ('state_dict', 'optimizer')}))


@pytest.fixture(scope='module')
def uninterrupted(toy_ade_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    run_tool(['tools/train.py', DENSECLIP, '--work-dir', str(work_dir), '--cfg-options',
              *_train_options(toy_ade_root)])
    return work_dir


def test_killed_during_saves_then_resumed_equals_uninterrupted(uninterrupted, toy_ade_root,
                                                               tmp_path):
    """Each run dies at another point of its 2nd save; the next one resumes (--resume, no
    path) from the newest intact checkpoint; the last one finishes. Every tensor of the final
    checkpoint equals the uninterrupted run's (dropout and augmentation streams included)."""
    options = ['--work-dir', str(tmp_path), '--cfg-options', *_train_options(toy_ade_root)]
    # (kill point, checkpoint the run resumes from: None for the first run)
    chain = [('mid-write', None), ('after-write', 'iter_1.pth'),
             ('last-checkpoint', 'iter_2.pth'), ('removal', 'iter_3.pth'), (None, 'iter_5.pth')]
    for point, resume_from in chain:
        args = ['tools/train.py', DENSECLIP] + (['--resume'] if resume_from else []) + options
        result = run_tool([KILLER, point, '2', *args] if point else args, check=point is None)
        output = result.stdout + result.stderr
        if point:
            assert result.returncode == -9, (point, output[-3000:])
        if resume_from:
            assert f'resume: from {tmp_path / resume_from}' in output, (point, output[-3000:])
            assert 'restored the random states of the checkpoint' in output
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [f'iter_{ITERS}.pth']
    assert not list(tmp_path.glob('.*.tmp'))  # stale temporary files were cleaned up
    straight = _training_tensors(uninterrupted / f'iter_{ITERS}.pth')
    resumed = _training_tensors(tmp_path / f'iter_{ITERS}.pth')
    assert straight.keys() == resumed.keys() and len(straight) > 800
    assert [k for k in straight if not torch.equal(straight[k], resumed[k])] == []


def test_resume_skips_an_incomplete_checkpoint_and_says_so(uninterrupted, toy_ade_root,
                                                           tmp_path):
    """A truncated newest checkpoint (as an older version left on a kill) is skipped."""
    payload = (uninterrupted / f'iter_{ITERS}.pth').read_bytes()
    (tmp_path / 'iter_4.pth').write_bytes(payload)  # intact, but named 4
    (tmp_path / 'iter_5.pth').write_bytes(payload[:len(payload) // 2])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_7.pth'))  # missing
    from clipdense.utils import find_resume_checkpoint
    found, notes = find_resume_checkpoint(str(tmp_path))
    assert found == str(tmp_path / 'iter_4.pth')
    assert any('iter_7.pth, which is missing' in n for n in notes)
    assert any(n == f'{tmp_path / "iter_5.pth"} is incomplete' for n in notes)
    (tmp_path / 'last_checkpoint').write_text('')
    assert find_resume_checkpoint(str(tmp_path))[1][0].endswith('last_checkpoint is empty')


class _Payload:
    """Unpickling runs ``os.system('touch MARKER')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture(scope='module')
def tool_calls(uninterrupted, toy_ade_root, tmp_path_factory):
    """The failing (and one working) tool calls of the two tests below, run in one process
    (start-up paid once); returns ``(tmp dir, {name: None | [error type, message]})``."""
    tmp_path = tmp_path_factory.mktemp('tool_calls')
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Payload(tmp_path / 'MARKER')}, evil)
    auto_dir = tmp_path / 'auto'
    auto_dir.mkdir()
    torch.save({'state_dict': {}, 'meta': _Payload(tmp_path / 'MARKER')}, auto_dir / 'iter_1.pth')
    (auto_dir / 'last_checkpoint').write_text(str(auto_dir / 'iter_1.pth'))
    (tmp_path / 'a_file').write_text('x')
    config, denseclip = os.path.join(ROOT, SEG_CONFIG), os.path.join(ROOT, DENSECLIP)
    data = seg_data_options(toy_ade_root, 1)
    image = os.path.join(toy_ade_root, 'images', 'validation', 'toy_val_000000.jpg')
    other_model = str(uninterrupted / f'iter_{ITERS}.pth')  # DenseCLIP, not the FPN

    def work(name):
        return ['--work-dir', str(tmp_path / name), '--cfg-options', *data]

    calls = {
        'evil --load-from': ('train', [config, '--load-from', str(evil), *work('a')]),
        'evil --resume': ('train', [config, '--resume', str(evil), *work('b')]),
        'evil auto --resume': ('train', [config, '--resume', '--work-dir', str(auto_dir),
                                         '--cfg-options', *data]),
        'evil train load_from': ('train', [config, *work('c'), f'load_from={evil}']),
        'evil test CHECKPOINT': ('test', [config, str(evil), *work('d')]),
        'evil test load_from': ('test', [config, *work('e'), f'load_from={evil}']),
        'evil infer': ('infer', [config, image, '--checkpoint', str(evil),
                                 '--out-dir', str(tmp_path / 'f')]),
        'no checkpoint': ('test', [config, *work('g')]),
        'other model': ('test', [config, other_model, *work('h')]),
        'bad --out': ('test', [config, other_model, '--out', str(tmp_path / 'a_file' / 'p.pkl'),
                               *work('i')]),
        'config load_from': ('test', [denseclip, *work('j'), f'load_from={other_model}']),
    }
    results = run_tool_mains(list(calls.values()))
    return tmp_path, dict(zip(calls, results))


def test_no_checkpoint_path_executes_code(tool_calls):
    """A planted pickle through --load-from, --resume (explicit and from the work dir), a
    config's load_from (train and test), tools/test.py CHECKPOINT and infer.py --checkpoint."""
    tmp_path, results = tool_calls
    assert not (tmp_path / 'MARKER').exists()
    for name, result in results.items():
        if name.startswith('evil'):
            assert result is not None and result[0] == 'UnsafeCheckpointError', (name, result)
            assert 'evil.pth holds posix.system, which is not allowed' in result[1] or \
                'iter_1.pth holds posix.system, which is not allowed' in result[1], result
    assert not (tmp_path / 'f').exists()  # infer wrote nothing


def test_tools_test_needs_fitting_trained_weights(tool_calls):
    """No silent random model: a missing checkpoint or one of another model stops tools/test.py
    naming the problem; a config's load_from is used when CHECKPOINT is omitted; a bad --out
    fails before anything runs."""
    tmp_path, results = tool_calls
    missing, mismatch = results['no checkpoint'], results['other model']
    assert missing[0] == 'TrainedWeightsError'
    assert 'needs trained weights, and no checkpoint was given' in missing[1]
    assert mismatch[0] == 'TrainedWeightsError' and 'does not fit' in mismatch[1]
    assert 'unexpected keys' in mismatch[1] and 'text_encoder.' in mismatch[1]
    assert 'shape mismatches (1: neck.lateral_convs.3.conv.weight' in mismatch[1]
    assert results['bad --out'] == [
        'NotADirectoryError', f'folder of the --out {tmp_path / "a_file"} exists and is not a '
        'folder']
    assert not (tmp_path / 'i').exists()  # refused before the runner (and evaluation) started
    assert results['config load_from'] is None  # DenseCLIP needs weights: load_from was used

"""Weights-only checkpoint loading with mmengine's types, atomic writes, output-path checks,
random-state capture."""
import os
import pickle
import random

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from clipdense.utils import (CheckpointError, UnsafeCheckpointError, atomic_save, atomic_write,
                             check_writable_dir, check_writable_file, checkpoint_is_intact,
                             load_checkpoint_file)
from clipdense.utils.random_state import capture_random_state, restore_random_state


def _training_like_checkpoint():
    buffer = HistoryBuffer()
    for value in (0.5, 0.25, np.float64(0.125)):
        buffer.update(value)
    return dict(state_dict={'w': torch.arange(4.)},
                message_hub=dict(log_scalars={'train/loss': buffer},
                                 runtime_info=dict(eta=np.float64(3.5), iter=np.int64(7))),
                meta=dict(dataset_meta=dict(classes=('a', 'b')), array=np.arange(3)),
                random_states=[capture_random_state()])


def test_mmengine_types_load_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(_training_like_checkpoint(), path)
    loaded = load_checkpoint_file(str(path))
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(0.875 / 3) and buffer.current() == 0.125
    assert loaded['message_hub']['runtime_info']['eta'] == 3.5
    np.testing.assert_array_equal(loaded['meta']['array'], [0, 1, 2])
    assert torch.equal(loaded['state_dict']['w'], torch.arange(4.))


class _System:
    def __reduce__(self):
        return os.system, ('echo never',)


class _GetattrEscape:
    """getattr is allowed for HistoryBuffer statistics only; anything else is refused."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


@pytest.mark.parametrize('payload, named', [
    (_System(), 'posix.system'),
    (_GetattrEscape(HistoryBuffer, 'update'), "getattr(HistoryBuffer, 'update')"),
    (_GetattrEscape(np.ndarray, 'tofile'), "getattr(ndarray, 'tofile')"),
    (pickle.Pickler, 'pickle.Pickler'),
])
def test_other_types_are_refused_by_name(tmp_path, payload, named):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': payload}, path)
    with pytest.raises(UnsafeCheckpointError, match='not allowed in a checkpoint') as error:
        load_checkpoint_file(str(path))
    assert named in str(error.value) and str(path) in str(error.value)


def test_unreadable_files_are_named(tmp_path):
    empty, text, truncated = tmp_path / 'empty.pth', tmp_path / 'text.pth', tmp_path / 'cut.pth'
    empty.write_bytes(b'')
    text.write_text('model weights here\n')
    torch.save({'w': torch.randn(1000)}, truncated)
    complete = truncated.read_bytes()
    assert checkpoint_is_intact(str(truncated))
    truncated.write_bytes(complete[:len(complete) // 2])
    assert not checkpoint_is_intact(str(truncated))
    for path, message in ((empty, 'is empty'), (text, "is a text file .*'model weights here"),
                          (truncated, 'truncated or corrupt')):
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint_file(str(path))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_checkpoint_file(str(tmp_path / 'absent.pth'))


def test_atomic_write_leaves_old_content_on_failure(tmp_path):
    path = tmp_path / 'out' / 'file.bin'
    atomic_write(path, b'first')
    assert path.read_bytes() == b'first'

    with pytest.raises(TypeError):
        atomic_write(path, object())
    assert path.read_bytes() == b'first'
    assert sorted(os.listdir(path.parent)) == ['file.bin']  # no temporary file left
    atomic_write(path, 'second text')
    assert path.read_text() == 'second text'


def test_atomic_save_serialises_in_memory_and_keeps_old_content_on_failure(tmp_path):
    path = tmp_path / 'weights.pth'
    atomic_save(path, lambda f: torch.save({'w': torch.arange(3)}, f))
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.arange(3))

    def failing_writer(f):
        f.write(b'partial')
        raise RuntimeError('serialiser failed')

    with pytest.raises(RuntimeError, match='serialiser failed'):
        atomic_save(path, failing_writer)
    assert torch.equal(load_checkpoint_file(str(path))['w'], torch.arange(3))
    assert sorted(os.listdir(tmp_path)) == ['weights.pth']


def test_mmengine_local_writes_become_atomic(tmp_path, monkeypatch):
    from mmengine.fileio import get_file_backend
    from mmengine.fileio.backends import registry_utils

    from clipdense.utils import AtomicLocalBackend, install_atomic_file_backend
    monkeypatch.setitem(registry_utils.backends, 'local', registry_utils.backends['local'])
    monkeypatch.setitem(registry_utils.prefix_to_backends, '',
                        registry_utils.prefix_to_backends[''])
    install_atomic_file_backend()
    backend = get_file_backend(str(tmp_path))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'abc', str(tmp_path / 'x.pth'))
    backend.put_text('text', str(tmp_path / 'last_checkpoint'))
    assert (tmp_path / 'x.pth').read_bytes() == b'abc'
    assert (tmp_path / 'last_checkpoint').read_text() == 'text'


def test_output_path_checks(tmp_path):
    a_file = tmp_path / 'file'
    a_file.write_text('x')
    check_writable_dir(str(tmp_path / 'new' / 'deeper'))  # creatable
    with pytest.raises(NotADirectoryError, match='exists and is not a folder'):
        check_writable_dir(str(a_file))
    with pytest.raises(NotADirectoryError, match='file is a file'):
        check_writable_dir(str(a_file / 'sub'))
    with pytest.raises(IsADirectoryError, match='is a folder'):
        check_writable_file(str(tmp_path), '--out', suffixes=('.pkl', ))
    with pytest.raises(ValueError, match=r'must end with \.pkl or \.pickle'):
        check_writable_file(str(tmp_path / 'preds.json'), '--out', suffixes=('.pkl', '.pickle'))
    with pytest.raises(NotADirectoryError, match='folder of the --out .*file exists and is not'):
        check_writable_file(str(a_file / 'preds.pkl'), '--out', suffixes=('.pkl', ))
    check_writable_file(str(tmp_path / 'a' / 'preds.pkl'), '--out', suffixes=('.pkl', ))


def test_random_state_round_trip(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = capture_random_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    torch.save(state, tmp_path / 'state.pth')
    assert restore_random_state(load_checkpoint_file(str(tmp_path / 'state.pth'))) is None
    assert torch.equal(torch.rand(3), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


def test_every_config_gets_the_safe_checkpoint_hook():
    from mmengine.config import Config
    from mmengine.hooks import CheckpointHook

    from clipdense.apis.runner import prepare_runtime
    cases = [({}, dict(type='SafeCheckpointHook', interval=1)),  # mmengine's default hook
             (dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2)),
              dict(type='SafeCheckpointHook', interval=5, max_keep_ckpts=2)),
             (dict(checkpoint=dict(type=CheckpointHook, by_epoch=False)),
              dict(type='SafeCheckpointHook', by_epoch=False)),
             (dict(checkpoint=None), None)]  # switched off stays off
    for hooks, expected in cases:
        cfg = Config(dict(launcher='none', env_cfg=dict(), default_hooks=hooks))
        prepare_runtime(cfg)
        assert cfg.default_hooks.get('checkpoint') == expected


def test_previous_best_checkpoint_is_removed_after_the_new_one_is_saved(tmp_path):
    from types import SimpleNamespace

    from mmengine.fileio.backends import LocalBackend
    from mmengine.logging import MessageHub, MMLogger

    from clipdense.utils import SafeCheckpointHook
    hook = SafeCheckpointHook(interval=1, by_epoch=False, save_best='mIoU', rule='greater')
    hook.out_dir, hook.file_backend = str(tmp_path), LocalBackend()
    present_while_saving = []

    def save_checkpoint(out_dir, filename, *args, **kwargs):
        present_while_saving.append(sorted(os.listdir(out_dir)))
        torch.save({'state_dict': {}}, os.path.join(out_dir, filename))

    runner = SimpleNamespace(epoch=0, iter=2, save_checkpoint=save_checkpoint,
                             message_hub=MessageHub.get_instance('best_ckpt_test'),
                             logger=MMLogger.get_instance('best_ckpt_test'))
    hook._save_best_checkpoint(runner, dict(mIoU=10.0))
    runner.iter = 4
    hook._save_best_checkpoint(runner, dict(mIoU=20.0))
    assert present_while_saving == [[], ['best_mIoU_iter_2.pth']]
    assert os.listdir(tmp_path) == ['best_mIoU_iter_4.pth']

"""mmengine's ``CheckpointHook``, safe to kill at any moment and exact to resume.

* Saves are atomic: checkpoints go through the local file backend, which writes a temporary file,
  fsyncs and renames it (:mod:`clipdense.utils.atomic_io`); ``last_checkpoint`` likewise.
* Old checkpoints (beyond ``max_keep_ckpts``, or a replaced best checkpoint) are removed only
  after the new checkpoint and ``last_checkpoint`` are complete. mmengine removes them first, so a
  kill during the save could leave no intact checkpoint at all.
* Every checkpoint carries the random states of all ranks (torch CPU/CUDA, numpy, Python;
  ``random_states``). On resume they are restored right before the first batch after the resume
  point is fetched (after mmengine has skipped the batches already trained on), and validation
  during training leaves the training random streams untouched, so dropout masks and data
  augmentation of a resumed run equal those of an uninterrupted one.

``tools/train.py`` and ``tools/test.py`` put this hook in place of ``CheckpointHook`` for every
config (:func:`clipdense.apis.runner.prepare_runtime`).
"""
import contextlib
import os
import os.path as osp
from typing import List, Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

from .atomic_io import atomic_write, is_temporary_path
from .random_state import capture_random_state, restore_random_state

OUTDATED_KEY = 'outdated_ckpts'  # message hub: checkpoints to remove once the new one is saved


class _RestoreBeforeFetch:
    """Wraps a train loop's data iterator: before fetch number ``skip`` (0-based), restores the
    random state and puts the plain iterator back."""

    def __init__(self, loop, skip: int, state: dict):
        self.loop, self.skip, self.state = loop, skip, state
        self.iterator = loop.dataloader_iterator
        self.fetched = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.fetched == self.skip:
            self.loop.dataloader_iterator = self.iterator
            _restore(self.state)
        self.fetched += 1
        return next(self.iterator)

    def __getattr__(self, name):
        return getattr(self.iterator, name)


def _restore(state: dict) -> None:
    note = restore_random_state(state)
    print_log('restored the random states of the checkpoint' + (f' ({note})' if note else ''),
              'current')


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic saves, late removal of old checkpoints and saved random
    states (see the module docstring). Takes ``CheckpointHook``'s arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._gathered_states: Optional[List[dict]] = None
        self._state_before_val: Optional[dict] = None
        self._resumed_states: Optional[List[dict]] = None
        self._restore_at_epoch: Optional[dict] = None

    # ------------------------------------------------------------------------------- saving
    def _save_checkpoint_with_step(self, runner, step, meta):
        """mmengine's version, reordered: save, then ``last_checkpoint``, then remove."""
        self._gathered_states = self._gather_random_states()
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(self.keep_ckpt_ids.popleft())))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # recorded in the checkpoint: a run resumed after a kill before the removal finishes it
        runner.message_hub.update_info(OUTDATED_KEY, outdated)
        try:
            runner.save_checkpoint(
                self.out_dir, ckpt_filename, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        finally:
            self._gathered_states = None
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for path in outdated:
            self._remove(self.file_backend, path)
        runner.message_hub.update_info(OUTDATED_KEY, [])

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's version; the previous best checkpoint is removed after the new one is
        saved."""
        backend, deferred = self.file_backend, []
        self.file_backend = _DeferredRemovals(backend, deferred)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        for path in deferred:
            self._remove(backend, path)

    @staticmethod
    def _remove(backend, path: str) -> None:
        if backend.isfile(path):
            backend.remove(path)
        elif backend.isdir(path):  # checkpoints saved by deepspeed are directories
            backend.rmtree(path)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._gathered_states
        if states is None:  # a best checkpoint, saved during validation: the pre-val state
            states = [self._state_before_val or capture_random_state()]
        checkpoint['random_states'] = states

    @staticmethod
    def _gather_random_states() -> List[dict]:
        """Every rank's random state, in rank order (a collective call on all ranks)."""
        state = capture_random_state()
        return all_gather_object(state) if get_world_size() > 1 else [state]

    # ------------------------------------------------------------------------------ resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False):
            self._resumed_states = checkpoint.get('random_states')
            if self._resumed_states is None:
                print_log('the checkpoint has no random states (saved by an older version): '
                          'the resumed run will not repeat the uninterrupted one exactly',
                          'current')

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process():
            # removals a killed run did not get to (their checkpoints are older than this one)
            resumed_from = getattr(runner, '_load_from', None)
            for path in runner.message_hub.get_info(OUTDATED_KEY) or []:
                if path != resumed_from:
                    self._remove(self.file_backend, path)
            if isinstance(self.file_backend, LocalBackend):
                self._remove_stale_temporary_files()
        runner.message_hub.update_info(OUTDATED_KEY, [])
        states, self._resumed_states = self._resumed_states, None
        if not states:
            return
        if len(states) != get_world_size():
            print_log(f'the checkpoint holds the random states of {len(states)} ranks, this run '
                      f'has {get_world_size()}: random states not restored', 'current')
            return
        state, loop = states[get_rank()], runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and type(loop).run is IterBasedTrainLoop.run:
            # run() skips loop.iter batches (re-running their data pipeline) before training
            loop.dataloader_iterator = _RestoreBeforeFetch(loop, loop.iter, state)
        else:  # epoch-based: each epoch starts a fresh data iterator
            self._restore_at_epoch = state

    def before_train_epoch(self, runner) -> None:
        if self._restore_at_epoch is not None:
            _restore(self._restore_at_epoch)
            self._restore_at_epoch = None

    def _remove_stale_temporary_files(self) -> None:
        """Temporary files of saves killed half-way (by this hook or an earlier run)."""
        if not osp.isdir(self.out_dir):
            return
        for name in os.listdir(self.out_dir):
            path = osp.join(self.out_dir, name)
            if is_temporary_path(path) and ('.pth.' in name or 'last_checkpoint' in name):
                with contextlib.suppress(OSError):
                    os.remove(path)

    # ---------------------------------------------------------------------------- validation
    def before_val(self, runner) -> None:
        self._state_before_val = capture_random_state()

    def after_val(self, runner) -> None:
        if self._state_before_val is not None:
            restore_random_state(self._state_before_val)
            self._state_before_val = None


class _DeferredRemovals:
    """A file backend proxy that records ``remove``/``rmtree`` calls instead of running them."""

    def __init__(self, backend, deferred: list):
        self._backend, self._deferred = backend, deferred

    def remove(self, path) -> None:
        self._deferred.append(path)

    def rmtree(self, path) -> None:
        self._deferred.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)

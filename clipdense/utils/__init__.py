from .atomic_io import (AtomicLocalBackend, atomic_save, atomic_write, check_writable_dir,
                        check_writable_file, install_atomic_file_backend)
from .checkpoint import (CheckpointError, UnsafeCheckpointError, checkpoint_is_intact,
                         find_resume_checkpoint, install_checkpoint_loader, load_checkpoint_file)
from .checkpoint_hook import SafeCheckpointHook
from .distributed import MMDistributedDataParallelCPU, finish_distributed, prepare_distributed
from .json_file import read_json

__all__ = ['AtomicLocalBackend', 'atomic_save', 'atomic_write', 'check_writable_dir',
           'check_writable_file', 'install_atomic_file_backend', 'CheckpointError',
           'UnsafeCheckpointError', 'checkpoint_is_intact', 'find_resume_checkpoint',
           'install_checkpoint_loader', 'load_checkpoint_file', 'SafeCheckpointHook',
           'MMDistributedDataParallelCPU',
           'finish_distributed', 'prepare_distributed', 'read_json']

# Every checkpoint read in a process that imports clipdense is weights-only (see checkpoint.py).
install_checkpoint_loader()

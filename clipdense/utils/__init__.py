from .checkpoint import install_checkpoint_loader, load_local_checkpoint, trust_checkpoints
from .distributed import MMDistributedDataParallelCPU, finish_distributed, prepare_distributed

__all__ = ['install_checkpoint_loader', 'load_local_checkpoint', 'trust_checkpoints',
           'MMDistributedDataParallelCPU', 'finish_distributed', 'prepare_distributed']

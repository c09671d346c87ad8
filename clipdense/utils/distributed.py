"""Distributed launch helpers so the same tools run on GPUs (NCCL) and CPU-only hosts (gloo)."""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class MMDistributedDataParallelCPU(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for modules on CPU, where DDP forbids ``device_ids``."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def prepare_distributed(cfg, launcher: str) -> None:
    """Adapts ``cfg`` for a launch without CUDA: gloo process group, CPU DDP wrapper.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, so on a CPU-only
    host the process group is created here, before the Runner looks for one.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs CUDA; on CPU use --launcher pytorch '
                           '(torchrun) with the gloo backend')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper['type'] = 'MMDistributedDataParallelCPU'
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        dist.init_process_group('gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))


def finish_distributed() -> None:
    """Waits for every rank, then destroys the process group.

    mmengine leaves the group alive until interpreter exit, where gloo's threads can abort a rank
    ('terminate called without an active exception') after the work is done.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

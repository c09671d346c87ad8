"""Distributed launch helpers so the same tools run on GPUs (NCCL) and CPU-only hosts (gloo)."""
import logging
import os

import torch
import torch.distributed as dist
from mmengine.logging import print_log
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
    host the process group is created here, before the Runner looks for one. A config's
    ``sync_bn`` is dropped there (with a warning): DDP refuses SyncBatchNorm on CPU, so the
    multi-GPU recipes (e.g. DenseCLIP's SyncBN backbone) run with per-process BatchNorm.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs CUDA; on CPU use --launcher pytorch '
                           '(torchrun) with the gloo backend')
    cfg.env_cfg['dist_cfg'] = dict(cfg.env_cfg.get('dist_cfg') or {}, backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper['type'] = 'MMDistributedDataParallelCPU'
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn'):
        print_log(f'sync_bn={cfg.sync_bn!r} is dropped: SyncBatchNorm needs CUDA (DDP refuses it '
                  'on CPU), so each CPU process keeps its own BatchNorm statistics', 'current',
                  logging.WARNING)
        cfg.sync_bn = None
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

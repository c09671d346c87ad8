"""Config handling shared by ``tools/train.py`` and ``tools/test.py`` (seg and det)."""
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.hooks import CheckpointHook

from clipdense.utils import (find_resume_checkpoint, install_atomic_file_backend,
                             prepare_distributed)

CHECKPOINT_HOOK_TYPES = ('CheckpointHook', 'mmengine.CheckpointHook')


def add_runner_arguments(parser) -> None:
    """Adds ``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser, argv=None):
    """Parses and exports ``LOCAL_RANK`` for launchers that pass it as an argument."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(config_path: str, cfg_options=None, work_dir=None, launcher='none') -> Config:
    """Reads a config, applies ``--cfg-options``, and sets ``launcher`` and ``work_dir``."""
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'config file not found: {config_path}')
    cfg = Config.fromfile(config_path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    return cfg


WEIGHT_FILE_KEYS = ('pretrained', 'checkpoint')


def drop_weight_files(cfg):
    """Sets every weight-file entry (``pretrained``, ``checkpoint``, e.g. CLIP-DINOiser's light
    layers) of a (nested) model config to None, in place, so it builds with random weights and
    no files (analysis tools); returns ``cfg``."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key in WEIGHT_FILE_KEYS:
                cfg[key] = None
            else:
                drop_weight_files(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            drop_weight_files(item)
    return cfg


def prepare_runtime(cfg: Config) -> None:
    """Safe checkpointing for every config (atomic local writes, :class:`SafeCheckpointHook` in
    place of mmengine's ``CheckpointHook``) and CPU-compatible distributed set-up."""
    install_atomic_file_backend()
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('checkpoint', dict(type='CheckpointHook', interval=1))  # mmengine's default
    if hook is not None and (hook.get('type') in CHECKPOINT_HOOK_TYPES or
                             hook.get('type') is CheckpointHook):
        hooks['checkpoint'] = dict(hook, type='SafeCheckpointHook')
    prepare_distributed(cfg, cfg.launcher)


def resolve_auto_resume(cfg: Config) -> None:
    """``--resume`` without a path: the newest intact checkpoint of the work dir, saying which
    ones were skipped (a run killed during a save); from scratch when there is none."""
    from mmengine.logging import print_log
    checkpoint, notes = find_resume_checkpoint(cfg.work_dir)
    for note in notes:
        print_log(f'resume: {note}, skipped', 'current')
    if checkpoint is None:
        print_log(f'resume: no intact checkpoint in {cfg.work_dir}; training from scratch',
                  'current')
        cfg.resume, cfg.load_from = False, None
    else:
        print_log(f'resume: from {checkpoint}', 'current')
        cfg.resume, cfg.load_from = True, checkpoint


def enable_visualization(cfg: Config, show: bool, show_dir, wait_time: float) -> None:
    """Turns on the config's visualization hook (mmseg's or mmdet's) for test-time drawing."""
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise KeyError('--show/--show-dir need default_hooks.visualization in the config')
    hook = hooks['visualization']
    hook['draw'] = True
    hook['interval'] = 1  # mmseg's hook would otherwise paint only every 50th image
    if show:
        hook['show'] = True
        hook['wait_time'] = wait_time
    if show_dir:
        show_dir = osp.abspath(show_dir)
        if 'Det' in str(hook.get('type', '')):
            hook['test_out_dir'] = show_dir
        else:
            cfg.visualizer['save_dir'] = show_dir
        os.makedirs(show_dir, exist_ok=True)

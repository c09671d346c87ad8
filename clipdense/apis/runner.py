"""Config handling shared by ``tools/train.py`` and ``tools/test.py`` (seg and det)."""
import os
import os.path as osp

from mmengine.config import Config, DictAction

from clipdense.utils import install_checkpoint_loader, prepare_distributed, trust_checkpoints


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


def prepare_runtime(cfg: Config, *trusted_checkpoints: str) -> None:
    """Checkpoint trust (own work dir + named files) and CPU-compatible distributed set-up."""
    install_checkpoint_loader()
    trust_checkpoints(cfg.work_dir, *trusted_checkpoints)
    prepare_distributed(cfg, cfg.launcher)


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

"""Train a clipdense (or any mmseg/mmdet) config with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT] | --load-from CKPT] [--amp]
        [--cfg-options k=v ...]
    torchrun --nproc_per_node N tools/train.py CONFIG --launcher pytorch
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from clipdense.apis.runner import (add_runner_arguments, load_config,  # noqa: E402
                                   parse_runner_args, prepare_runtime, resolve_auto_resume)
from clipdense.utils import finish_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor or detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the newest intact checkpoint in the work '
                        'dir when no path is given')
    parser.add_argument('--load-from', help='initialise from this checkpoint\'s weights')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    add_runner_arguments(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA device (mmengine\'s AmpOptimWrapper); none is '
                             'available here: drop --amp to train in float32')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper != 'AmpOptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.load_from:
        cfg.load_from = args.load_from
    if args.resume == 'auto' or (args.resume is None and cfg.get('resume') and
                                 cfg.get('load_from') is None):
        resolve_auto_resume(cfg)
    elif args.resume is not None:
        if not os.path.isfile(args.resume):
            raise FileNotFoundError(f'--resume: checkpoint not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    prepare_runtime(cfg)

    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()

"""Evaluate a checkpoint with mmengine's Runner (segmentation or detection configs).

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--show-dir DIR] [--cfg-options k=v]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from clipdense.apis.runner import (add_runner_arguments, enable_visualization,  # noqa: E402
                                   load_config, parse_runner_args, prepare_runtime)
from clipdense.utils import finish_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file; omit it for zero-shot configs whose weights all '
                        'come from the config (e.g. MaskCLIP)')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--show', action='store_true', help='show results in a window')
    parser.add_argument('--show-dir', help='directory to write painted predictions to')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds between shown images')
    add_runner_arguments(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time)
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    prepare_runtime(cfg, args.checkpoint)

    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    finish_distributed()
    return metrics


if __name__ == '__main__':
    main()

"""Evaluate a checkpoint with mmengine's Runner (segmentation or detection configs).

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--show-dir DIR] [--cfg-options k=v]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from clipdense.apis.runner import (add_runner_arguments, enable_visualization,  # noqa: E402
                                   load_config, parse_runner_args, prepare_runtime)
from clipdense.utils import check_writable_file, finish_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint file (default: the config\'s load_from); omit it only '
                        'for zero-shot configs whose weights all come from the config (e.g. '
                        'MaskCLIP)')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show results in a window')
    parser.add_argument('--show-dir', help='directory to write painted predictions to')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds between shown images')
    parser.add_argument('--tta', action='store_true',
                        help='test-time augmentation: the config\'s tta_pipeline and tta_model '
                        '(e.g. DenseCLIP\'s multi-scale + flip test)')
    add_runner_arguments(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if args.out:  # fail now, not after the whole evaluation
        check_writable_file(args.out, '--out', suffixes=('.pkl', '.pickle'))
    checkpoint = args.checkpoint or cfg.get('load_from')
    cfg.load_from = None  # loaded strictly below
    if args.show or args.show_dir:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time)
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    if args.tta:  # as mmseg's / mmdet's tools/test.py
        missing = [key for key in ('tta_pipeline', 'tta_model') if key not in cfg]
        if missing:
            raise KeyError(f'--tta needs {missing} in {args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    prepare_runtime(cfg)

    from mmengine.logging import print_log
    from mmengine.runner import Runner

    from clipdense.apis.trained_weights import load_trained_checkpoint, require_trained_weights
    runner = Runner.from_cfg(cfg)
    require_trained_weights(runner.model, checkpoint, args.config)
    if checkpoint:
        load_trained_checkpoint(runner.model, checkpoint)
        print_log(f'Loaded checkpoint {checkpoint} (strict: every key matched)', 'current')
    metrics = runner.test()
    finish_distributed()
    return metrics

if __name__ == '__main__':
    main()

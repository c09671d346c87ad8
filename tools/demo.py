"""The `make demo` job: toy data -> train -> evaluate -> overlays, each through the public tools.

    python tools/demo.py [--out demo_out] [--config CONFIG] [--iters N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = 'configs/denseclip/denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py'


def run(cmd):
    """Runs a tool, streaming its output, and returns the output text."""
    print('+', ' '.join(cmd), flush=True)
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f'demo step failed ({process.returncode}): {" ".join(cmd)}')
    return ''.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='demo_out')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--iters', type=int, default=400)
    args = parser.parse_args()
    python, start = sys.executable, time.time()
    work_dir = os.path.join(args.out, 'work')
    run([python, 'tools/make_toy_data.py', 'ade', '--out', 'data/toy_ade'])
    run([python, 'tools/train.py', args.config, '--work-dir', work_dir, '--cfg-options',
         f'train_cfg.max_iters={args.iters}', f'train_cfg.val_interval={args.iters}',
         f'default_hooks.checkpoint.interval={args.iters}',
         f'param_scheduler.1.end={args.iters}'])
    checkpoint = os.path.join(work_dir, f'iter_{args.iters}.pth')
    log = run([python, 'tools/test.py', args.config, checkpoint, '--work-dir', work_dir])
    miou = re.findall(r'mIoU: ([0-9.]+)', log)
    run([python, 'tools/infer.py', args.config, 'data/toy_ade/images/validation',
         '--checkpoint', checkpoint, '--out-dir', os.path.join(args.out, 'overlays')])
    summary = dict(config=args.config, iters=args.iters, checkpoint=checkpoint,
                   val_mIoU=float(miou[-1]) if miou else None,
                   chance_mIoU_note='6 classes: a constant prediction scores at most ~1/6 IoU '
                                    'on one class, about 5 mIoU',
                   overlays=os.path.join(args.out, 'overlays'),
                   minutes=round((time.time() - start) / 60, 1))
    with open(os.path.join(args.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print('demo summary:', json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()

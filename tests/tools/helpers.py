"""Runs the command-line tools the way users do (subprocesses) on generated toy data."""
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEG_CONFIG = 'configs/denseclip/fpn_clip-rn-tiny_1xb8-400i_toy-ade-96x96.py'
DET_CONFIG = 'configs/denseclip/retinanet_clip-rn-tiny_1xb8-20e_toy-coco-96x128.py'


def run_tool(args, check=True, timeout=600):
    """``python tools/<args>`` from the repo root; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable] + list(args), cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f'{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n'
                             f'{result.stderr[-5000:]}')
    return result


def seg_data_options(data_root, iters):
    """--cfg-options for a short, deterministic single-process toy run."""
    options = [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
               'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
               f'param_scheduler.1.end={max(iters, 2)}', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def last_metric(output: str, name: str) -> float:
    values = re.findall(rf'{name}: ([0-9.]+)', output)
    if not values:
        raise AssertionError(f'no {name} in the output:\n{output[-3000:]}')
    return float(values[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


_MAINS_DRIVER = '''
import json, sys, importlib
sys.path.insert(0, '.')
results = []
for module, argv in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module).main(argv)
        results.append(None)
    except BaseException as err:  # noqa: B036  (SystemExit too)
        results.append([type(err).__name__, str(err)])
print('MAINS-RESULTS ' + json.dumps(results))
'''


def run_tool_mains(calls, timeout=600):
    """Runs ``tools.<name>.main(argv)`` for each ``(name, argv)`` one after another in one fresh
    process (the start-up is paid once); returns per call None or ``[error type, message]``."""
    import json
    result = run_tool(['-c', _MAINS_DRIVER, json.dumps([(f'tools.{name}', list(argv))
                                                        for name, argv in calls])],
                      check=False, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith('MAINS-RESULTS ')]
    if not lines:
        raise AssertionError(f'driver failed ({result.returncode}):\n{result.stdout[-3000:]}\n'
                             f'{result.stderr[-5000:]}')
    return json.loads(lines[-1][len('MAINS-RESULTS '):])

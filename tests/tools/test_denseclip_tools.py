"""tools/train.py -> tools/test.py on the DenseCLIP toy config (subprocesses), and get_flops."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = 'configs/denseclip/denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py'
SMALL_LOADERS = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
                 'train_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
                 'test_dataloader.persistent_workers=False']


def _run(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    return output


def test_train_then_test_on_toy_data_with_syncbn_config(toy_ade_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    data = [f'{loader}.dataset.data_root={toy_ade_root}' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    # SyncBN in the head: a single-process run must turn it into BN instead of crashing.
    log = _run(['tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
                'train_cfg.max_iters=3', 'train_cfg.val_interval=1000',
                'default_hooks.checkpoint.interval=3', 'default_hooks.logger.interval=1',
                'model.decode_head.norm_cfg.type=SyncBN'] + SMALL_LOADERS + data)
    assert 'SyncBatchNorm (SyncBN) layers in the model will be automatically reverted' in log
    losses = [float(v) for v in re.findall(r'identity\.loss_ce: ([0-9.]+)', log)]
    assert len(losses) == 3 and all(0 < v < 5 for v in losses)
    checkpoint = os.path.join(work_dir, 'iter_3.pth')
    assert os.path.isfile(checkpoint)
    log = _run(['tools/test.py', CONFIG, checkpoint, '--work-dir', work_dir, '--cfg-options',
                'model.decode_head.norm_cfg.type=SyncBN', 'test_dataloader.dataset.indices=4']
               + SMALL_LOADERS + data)
    miou = re.findall(r'mIoU: ([0-9.]+)', log)
    assert miou and 0.0 <= float(miou[-1]) <= 100.0


def test_get_flops_counts_the_toy_model(capsys):
    sys.path.insert(0, ROOT)
    from tools.analysis_tools.get_flops import main
    result = main([CONFIG, '--shape', '96', '128'])
    printed = capsys.readouterr().out
    assert 'params without the text encoder' in printed
    # tiny RN (width 16) + attention pool + FPN + context decoder; frozen text tower separately
    assert result['params'] - result['text_encoder_params'] == 1_858_430
    assert result['text_encoder_params'] == 1_608_992
    assert 0.1e9 < result['flops'] < 0.3e9 and result['text_encoder_flops'] > 0

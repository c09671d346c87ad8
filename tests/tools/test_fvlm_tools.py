"""F-VLM through the command-line tools: train + OV evaluation, then inference with new words."""
import json
import os

import pytest

from tests.tools.helpers import ROOT, run_tool

TOY_FVLM = 'configs/fvlm/fvlm_rn-tiny_1xb8-300i_toy-ov-coco-96x128.py'


@pytest.fixture(scope='module')
def small_toy_coco(tmp_path_factory):
    from clipdense.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('toy_ov')
    make_toy_coco(str(root), num_train=8, num_val=2, seed=0)
    return str(root)


def test_fvlm_train_evaluate_and_infer_new_words(small_toy_coco, tmp_path):
    ann = f'{small_toy_coco}/annotations/instances_val.json'
    options = [f'{loader}.dataset.data_root={small_toy_coco}/' for loader in
               ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}',
                'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    work_dir = str(tmp_path / 'work')
    result = run_tool(['tools/train.py', TOY_FVLM, '--work-dir', work_dir,
                       '--cfg-options', *options])
    log = result.stdout + result.stderr
    for subset in ('novel', 'base', 'all'):
        assert f'ov_coco/bbox_AP50_{subset}' in log
    checkpoint = os.path.join(work_dir, 'iter_2.pth')
    # after two iterations class probabilities underflow next to the background (cosine / 0.01
    # logits): keep every box, zero scores included
    config = tmp_path / 'fvlm_keep_all.py'
    config.write_text(f"_base_ = ['{os.path.join(ROOT, TOY_FVLM)}']\n"
                      "model = dict(test_cfg=dict(rcnn=dict(score_thr=-1.0)))\n")
    out_dir = tmp_path / 'infer'
    # 'unicorn' was never a class: the text tower embeds it and the VLM ensemble scores it
    run_tool(['tools/infer.py', str(config), f'{small_toy_coco}/val', '--checkpoint',
              checkpoint, '--out-dir', str(out_dir), '--texts', 'ball, unicorn; pegasus',
              '--score-thr', '0'])
    summary = json.loads((out_dir / 'results.json').read_text())
    assert summary['task'] == 'det' and summary['classes'] == ['ball', 'unicorn']
    detections = [d for entry in summary['images']
                  for d in json.loads(open(entry['detections']).read())]
    names = {d['class_name'] for d in detections}
    assert 'unicorn' in names and names <= {'ball', 'unicorn'}

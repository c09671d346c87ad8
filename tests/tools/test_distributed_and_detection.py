"""A 2-process gloo run through tools/train.py --launcher pytorch, and the detection path."""
import json
import os

import torch

from tests.tools.helpers import (DET_CONFIG, SEG_CONFIG, free_port, last_metric, run_tool,
                                 seg_data_options)


def test_two_process_gloo_training(toy_ade_root, tmp_path):
    result = run_tool(['-m', 'torch.distributed.run', '--nproc_per_node=2',
                       f'--master_port={free_port()}', 'tools/train.py', SEG_CONFIG,
                       '--launcher', 'pytorch', '--work-dir', str(tmp_path), '--cfg-options',
                       *seg_data_options(toy_ade_root, 4)])
    output = result.stdout + result.stderr
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # mmengine's name for the world size
    checkpoint = torch.load(tmp_path / 'iter_4.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['iter'] == 4
    assert not any(k.startswith('module.') for k in checkpoint['state_dict'])


def test_detection_train_test_infer(toy_coco_root, tmp_path):
    data = [f'{loader}.dataset.data_root={toy_coco_root}/' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    data += [f'val_evaluator.ann_file={toy_coco_root}/annotations/instances_val.json',
             f'test_evaluator.ann_file={toy_coco_root}/annotations/instances_val.json']
    work_dir = str(tmp_path / 'work')
    run_tool(['tools/train.py', DET_CONFIG, '--work-dir', work_dir, '--cfg-options', *data])
    checkpoint = os.path.join(work_dir, 'epoch_20.pth')
    result = run_tool(['tools/test.py', DET_CONFIG, checkpoint, '--work-dir', work_dir,
                       '--cfg-options', *data])
    # 20 CPU epochs on the toy scenes: the detector really learns (about 0.48 mAP seen).
    assert last_metric(result.stdout + result.stderr, 'coco/bbox_mAP') > 0.3
    out_dir = tmp_path / 'infer'
    run_tool(['tools/infer.py', DET_CONFIG, f'{toy_coco_root}/val', '--checkpoint', checkpoint,
              '--out-dir', str(out_dir), '--texts', 'ball, kite'])
    summary = json.loads((out_dir / 'results.json').read_text())
    assert summary['task'] == 'det' and summary['classes'] == ['ball', 'kite']
    assert len(summary['images']) == 16
    detections = [d for entry in summary['images']
                  for d in json.loads(open(entry['detections']).read())]
    assert detections and {d['class_name'] for d in detections} <= {'ball', 'kite'}
    assert all(d['score'] >= 0.3 for d in detections)
    assert all((out_dir / f'toy_val_{i:06d}_overlay.png').is_file() for i in range(16))

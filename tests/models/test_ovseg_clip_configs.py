"""The OVSeg CLIP-adaptation configs: they parse, their recipes are OVSeg's, and the toy config
trains and evaluates through tools/train.py."""
import glob
import json
import math
import os
import sys

import pytest
import torch
from mmengine.config import Config

from tests.conftest import ROOT
from tests.tools.helpers import run_tool

CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'ovseg', 'ovseg-clip-*.py')))
TOY_ADAPT = 'configs/ovseg/ovseg-clip-adapt_vit-tiny_1xb16-20e_toy-ade-pairs-64x64.py'


def test_every_clip_config_parses_with_the_recipe():
    assert len(CONFIGS) >= 6
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        model = cfg.model
        assert model.type == 'MaskAdaptedCLIP' and cfg.custom_imports.imports == ['clipdense']
        mpt = 'clip-mpt' in os.path.basename(path)
        assert model.train_mode == ('mask_prompt' if mpt else 'full')
        assert model.classifier.mask_prompt_fwd == mpt
        optimizer = cfg.optim_wrapper.optimizer
        if 'vit-tiny' in path:
            continue
        assert optimizer.type == 'AdamW' and cfg.train_cfg.max_epochs == 5
        if mpt:
            assert optimizer.lr == 0.05 and optimizer.weight_decay == 0.0
        else:
            assert optimizer.lr == 5e-6 and cfg.optim_wrapper.paramwise_cfg.flat_decay_mult == 0
        assert model.classifier.templates == 'vild14'
        assert model.classifier.clip.mask_prompt_depth == 3


@pytest.mark.parametrize('name, prompts', [('vit-b16', (3, 196, 768)), ('vit-l14', (3, 256, 1024))])
def test_released_architectures_build_shape_only(name, prompts):
    from clipdense.models.backbones import MaskPromptCLIPViT
    path = next(p for p in CONFIGS if f'clip-mpt_{name}' in p)
    clip = dict(Config.fromfile(path).model.classifier.clip)
    clip.pop('pretrained')
    with torch.device('meta'):
        tower = MaskPromptCLIPViT(**clip)
    assert tuple(tower.mask_embedding.shape) == prompts and tower.image_size == (224, 224)


def test_toy_adaptation_trains_and_evaluates_through_the_tools(toy_ade_root, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, 'tools', 'dataset_converters'))
    import ovseg_region_pairs
    for split, folder in (('train', 'training'), ('val', 'validation')):
        ovseg_region_pairs.main([
            'semantic', '--dataset', 'ToyADEDataset', '--reduce-zero-label', '--img-dir',
            f'{toy_ade_root}/images/{folder}', '--ann-dir', f'{toy_ade_root}/annotations/{folder}',
            '--out', f'{tmp_path}/region_pairs_{split}.json'])
    options = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
               'param_scheduler.0.end=2', 'param_scheduler.1.T_max=1', 'param_scheduler.1.end=1',
               'default_hooks.checkpoint.interval=1']
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options += [f'{loader}.dataset.data_root={toy_ade_root}',
                    f'{loader}.dataset.ann_file={tmp_path}/region_pairs_{split}.json']
    work_dir = tmp_path / 'work'
    result = run_tool(['tools/train.py', TOY_ADAPT, '--work-dir', str(work_dir),
                       '--cfg-options', *options])
    assert 'region/aAcc' in result.stdout + result.stderr
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    scalars = sorted(glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json')))
    losses = [json.loads(line) for line in open(scalars[-1])]
    values = [entry['loss_region_text'] for entry in losses if 'loss_region_text' in entry]
    assert values and all(math.isfinite(v) for v in values)
    test = run_tool(['tools/test.py', TOY_ADAPT, str(checkpoint), '--work-dir',
                     str(tmp_path / 'test'), '--cfg-options', *options])
    assert 'region/aAcc' in test.stdout + test.stderr

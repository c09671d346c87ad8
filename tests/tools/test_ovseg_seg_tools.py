"""OVSeg through the tools: every config resolves (and one per model pair builds), the toy config
trains and tests, tools/infer.py takes any words and external mask proposals."""
import glob
import json
import os

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from tests.tools.helpers import last_metric, run_tool
from tests.tools.test_infer import _infer_module

TOY_CONFIG = 'configs/ovseg/ovseg_r18-tiny-vit-tiny_1xb8-600i_toy-ade-96x96.py'
EVAL_DATASETS = {'ade20k': ('ADE20KDataset', 0.7, 150), 'ade847': ('ADE20K847Dataset', 0.7, 847),
                 'pascal-context59': ('PascalContextDataset59', 0.6, 59),
                 'pascal-context459': ('PascalContext459Dataset', 0.6, 459),
                 'voc20': ('PascalVOC20Dataset', 0.45, 20)}


def _ovseg_configs():
    paths = sorted(glob.glob(os.path.join(ROOT, 'configs/ovseg/ovseg_*.py')))
    return [os.path.relpath(p, ROOT) for p in paths
            if not any(word in os.path.basename(p) for word in ('adapt', 'mpt', 'region'))]


def _classes(dataset_type):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    return DATASETS.get(dataset_type).METAINFO['classes']


@pytest.mark.parametrize('config', _ovseg_configs())
def test_every_config_resolves(config):
    from mmengine.config import Config
    cfg = Config.fromfile(os.path.join(ROOT, config))
    assert cfg.model.type == 'OVSeg' and cfg.custom_imports.imports == ['clipdense']
    name = os.path.basename(config)
    if '-test_' in name:
        dataset = name.split('-test_')[1].rsplit('-', 1)[0]
        dataset_type, weight, num_classes = EVAL_DATASETS[dataset]
        assert cfg.test_dataloader.dataset.type == dataset_type
        assert cfg.model.ensemble_weight == weight
        names = cfg.model.class_names or _classes(dataset_type)
        assert len(names) == num_classes
        resize = cfg.test_dataloader.dataset.pipeline[1]
        swin = 'swin-b' in name
        assert resize.scale == ((2560, 640) if swin else (2048, 512))
        assert resize.backend == 'pillow'
        assert cfg.model.mask_threshold == (0.4 if swin else 0.5)
        assert cfg.model.clip_classifier.clip.model_name == ('ViT-L-14' if swin else 'ViT-B-16')
        assert cfg.model.decode_head.class_head.embed_dims == (768 if swin else 512)
        if num_classes > 255:
            assert cfg.test_evaluator.ignore_index == 65535
    elif '120k_coco-stuff171' in name:
        assert len(cfg.model.train_class_names) == cfg.model.decode_head.num_classes == 171
        assert cfg.model.train_class_names == list(_classes(cfg.train_dataloader.dataset.type))
        assert cfg.train_cfg.max_iters == 120000 and cfg.optim_wrapper.clip_grad.max_norm == 0.01
        assert cfg.train_dataloader.batch_size * 8 == 32
        swin = 'swin-b' in name
        assert cfg.optim_wrapper.optimizer.lr == (6e-5 if swin else 2e-4)
        assert cfg.optim_wrapper.optimizer.weight_decay == (0.01 if swin else 1e-4)
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == (1.0 if swin
                                                                                 else 0.1)
        assert cfg.model.data_preprocessor.size == ((640, 640) if swin else (512, 512))


@pytest.mark.parametrize('config', [
    'configs/ovseg/ovseg_r101c-vit-b16_1xb1-test_ade847-512x512.py',
    'configs/ovseg/ovseg_swin-b-vit-l14_1xb1-test_pascal-context459-640x640.py'])
def test_one_config_per_model_pair_builds(config):
    """The full-size models (random weights: no files are read; the CLIP tower on the meta
    device, the proposal network for real)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    import clipdense  # noqa: F401
    init_default_scope('mmseg')
    cfg = Config.fromfile(os.path.join(ROOT, config))
    clip_cfg = cfg.model.clip_classifier
    clip_cfg.clip.pretrained, clip_cfg.cache_dir = None, None
    with torch.device('meta'):
        classifier = MODELS.build(clip_cfg)
    swin = 'swin' in config
    assert classifier.visual.mask_prompt_depth == 3
    assert classifier.visual.patch_size == (14 if swin else 16)
    assert classifier.visual.embed_dim == (768 if swin else 512)
    cfg.model.clip_classifier.clip = dict(
        arch=dict(embed_dim=8, vision_cfg=dict(layers=3, width=16, patch_size=8, image_size=16,
                                               head_width=8),
                  text_cfg=dict(width=8, heads=2, layers=1)), mask_prompt_depth=3)
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == ('SwinTransformer' if swin else 'ResNetV1c')
    assert model.decode_head.num_queries == 100
    assert len(model.decode_head.transformer_decoder.layers) == 6
    assert model.decode_head.cls_embed.layers[1].weight.shape == ((768, 1024) if swin
                                                                   else (512, 1024))
    assert model.mask_threshold == (0.4 if swin else 0.5)


def _options(data_root, iters):
    options = [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
               'param_scheduler.0.end=1', f'param_scheduler.1.end={iters}',
               'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={data_root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def test_toy_train_test_and_infer_with_words_and_proposals(toy_ade_root, tmp_path):
    work_dir = tmp_path / 'work'
    run_tool(['tools/train.py', TOY_CONFIG, '--work-dir', str(work_dir), '--cfg-options',
              *_options(toy_ade_root, 2)])
    checkpoint = str(work_dir / 'iter_2.pth')
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert not any(k.startswith('clip_classifier.') for k in saved)
    result = run_tool(['tools/test.py', TOY_CONFIG, checkpoint, '--work-dir',
                       str(tmp_path / 'test'), '--cfg-options', *_options(toy_ade_root, 2),
                       'model.ensemble_weight=1.0'])
    assert 0 <= last_metric(result.stdout + result.stderr, 'mIoU') <= 100

    infer = _infer_module()
    images = os.path.join(toy_ade_root, 'images', 'validation')
    out = tmp_path / 'words'
    summary = infer.main([os.path.join(ROOT, TOY_CONFIG), images, '--checkpoint', checkpoint,
                          '--out-dir', str(out), '--texts', 'sky, grass; lawn, red ball'])
    assert summary['classes'] == ['sky', 'grass', 'red ball']
    labels = cv2.imread(summary['images'][0]['labels'], cv2.IMREAD_UNCHANGED)
    assert labels.max() < 3

    proposals = tmp_path / 'sam'
    proposals.mkdir()
    from clipdense.apis.visualize import encode_mask_rle
    for path in sorted(os.listdir(images)):
        height, width = cv2.imread(os.path.join(images, path)).shape[:2]
        top = np.zeros((height, width), bool)
        top[:height // 2] = True
        records = [dict(segmentation=encode_mask_rle(mask)) for mask in (top, ~top)]
        (proposals / (os.path.splitext(path)[0] + '.json')).write_text(json.dumps(records))
    out = tmp_path / 'proposals'
    summary = infer.main([os.path.join(ROOT, TOY_CONFIG), images, '--checkpoint', checkpoint,
                          '--out-dir', str(out), '--texts', 'sky, grass, ball',
                          '--proposals', str(proposals)])
    for entry in summary['images']:
        labels = cv2.imread(entry['labels'], cv2.IMREAD_UNCHANGED)
        half = labels.shape[0] // 2
        # one class per proposal: each half of the image is uniform
        assert len(np.unique(labels[:half])) == 1 and len(np.unique(labels[half:])) == 1
    (proposals / 'toy_val_000000.json').unlink()
    with pytest.raises(FileNotFoundError, match='toy_val_000000'):
        infer.main([os.path.join(ROOT, TOY_CONFIG), images, '--checkpoint', checkpoint,
                    '--out-dir', str(tmp_path / 'none'), '--proposals', str(proposals)])
    assert not (tmp_path / 'none').exists() or not os.listdir(tmp_path / 'none')

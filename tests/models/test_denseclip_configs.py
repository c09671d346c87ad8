"""Every DenseCLIP config resolves (at most 3 levels of _base_) and the toy ones build and run."""
import ast
import copy
import glob
import os

import pytest
import torch
from mmengine.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'denseclip', '*.py')))
DENSECLIP_BASES = sorted(glob.glob(os.path.join(ROOT, 'configs', '_base_', '*', 'denseclip_*.py'))
                         + [os.path.join(ROOT, 'configs', '_base_', 'datasets',
                                         'ade20k_640x640.py'),
                            os.path.join(ROOT, 'configs', '_base_', 'schedules',
                                         'schedule_80k_clip.py')])


def _bases(path):
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == '_base_':
            value = ast.literal_eval(node.value)
            names = [value] if isinstance(value, str) else value
            return [os.path.normpath(os.path.join(os.path.dirname(path), n)) for n in names]
    return []


def inheritance_depth(path):
    return max([1 + inheritance_depth(base) for base in _bases(path)], default=0)


@pytest.mark.parametrize('path', CONFIGS + DENSECLIP_BASES, ids=os.path.basename)
def test_config_resolves_within_three_levels(path):
    cfg = Config.fromfile(path)
    assert inheritance_depth(path) <= 3
    if 'model' in cfg and os.path.dirname(path).endswith('denseclip'):
        assert cfg.model.type in ('DenseCLIP', 'EncoderDecoder', 'RetinaNet')
        assert cfg.get('custom_imports', {}).get('imports') == ['clipdense']


ADE = [p for p in CONFIGS if 'ade20k' in p]


@pytest.mark.parametrize('path', ADE, ids=os.path.basename)
def test_ade_recipe(path):
    cfg = Config.fromfile(path)
    crop = 640 if 'vit' in path else 512
    assert cfg.train_dataloader.batch_size == 4 and '8xb4' in path
    assert cfg.model.test_cfg.mode == 'slide' and cfg.model.test_cfg.crop_size == (crop, crop)
    assert cfg.model.data_preprocessor.size == (crop, crop)
    # the original's resize scales: (2048, 512) and (2048, 640), train and test
    assert cfg.train_pipeline[2].scale == cfg.test_pipeline[1].scale == (2048, crop)
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=1e-4, weight_decay=1e-4)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys.backbone.lr_mult == 0.1 and keys.text_encoder.lr_mult == 0.0
    assert cfg.param_scheduler[0].end == 1500 and cfg.train_cfg.max_iters == 80000
    backbone = cfg.model.backbone
    if 'vit' in path:  # drop path 0.1 for DenseCLIP, none for the plain-CLIP baseline
        assert backbone.drop_path_rate == (0.1 if cfg.model.type == 'DenseCLIP' else 0.0)
        assert backbone.drop_path_per_token and backbone.double_class_embedding
    assert backbone.pretrained == 'pretrained/' + (
        'ViT-B-16.pt' if 'vit' in path else 'RN101.pt' if 'r101' in path else 'RN50.pt')
    if cfg.model.type == 'DenseCLIP':
        assert cfg.model.text_encoder.pretrained == backbone.pretrained
        assert cfg.model.identity_head.loss_decode.loss_weight == 0.4 and cfg.model.tau == 0.07
        assert cfg.model.class_names == 'ADE20KDataset'
        index = cfg.model.score_concat_index
        assert index == (2 if 'vit' in path else 3)
        assert cfg.model.neck.in_channels[index] - 150 in (768, 2048)
        assert cfg.model.text_dim == cfg.model.context_decoder.visual_dim == \
            cfg.model.text_encoder.embed_dim == (1024 if 'r50' in path else 512)


@pytest.mark.parametrize('name', ['denseclip_rn-tiny_1xb8-400i_toy-ade-96x96.py',
                                  'fpn_clip-rn-tiny_1xb8-400i_toy-ade-96x96.py'])
def test_toy_configs_build_and_predict(name):
    import clipdense  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'denseclip', name))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model)).eval()
    meta = dict(img_shape=(96, 128), ori_shape=(96, 128))
    with torch.no_grad():
        result = model.predict(torch.randn(1, 3, 96, 128), [SegDataSample(metainfo=meta)])
    assert result[0].seg_logits.data.shape == (6, 96, 128)

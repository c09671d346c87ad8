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
DENSECLIP_BASES = sorted(
    glob.glob(os.path.join(ROOT, 'configs', '_base_', '*', 'denseclip_*.py'))
    + [os.path.join(ROOT, 'configs', '_base_', *name.split('/')) for name in (
        'datasets/ade20k_640x640.py', 'schedules/schedule_80k_clip.py',
        'schedules/schedule_1x_clip.py', 'datasets/coco_instance.py',
        'datasets/toy_coco_instance.py', 'models/mask_rcnn_clip_r50_fpn.py')])


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
        assert cfg.model.type in ('DenseCLIP', 'EncoderDecoder', 'RetinaNet', 'MaskRCNN',
                                  'DenseCLIPRetinaNet', 'DenseCLIPMaskRCNN')
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


SYNC_BN = [p for p in ADE if 'vit' not in p] + [p for p in CONFIGS if 'coco-1333' in p]


@pytest.mark.parametrize('path', SYNC_BN, ids=os.path.basename)
def test_multi_gpu_recipes_sync_the_backbone_batchnorm(path):
    """The original converts the CLIP ResNet backbone to SyncBN (train_denseclip.py, detection
    train.py); mmengine does it for every BN of the model when distributed."""
    assert Config.fromfile(path).sync_bn == 'torch'


@pytest.mark.parametrize('path', ADE, ids=os.path.basename)
def test_multi_scale_flip_test_matches_the_originals_aug_test(path):
    cfg = Config.fromfile(path)
    crop = 640 if 'vit' in path else 512
    assert cfg.tta_model.type == 'SegTTAModel'
    resize, flip, load, pack = cfg.tta_pipeline[1].transforms
    # mmseg 0.x MultiScaleFlipAug(img_scale=(2048, crop), img_ratios=[0.5 .. 1.75], flip=True)
    assert [t.scale for t in resize] == [(int(2048 * r), int(crop * r))
                                         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)]
    assert all(t.keep_ratio for t in resize) and [t.prob for t in flip] == [0.0, 1.0]
    assert load[0].reduce_zero_label and pack[0].type == 'PackSegInputs'


COCO = [p for p in CONFIGS if 'coco-1333' in p]


@pytest.mark.parametrize('path', COCO, ids=os.path.basename)
def test_coco_1x_recipe(path):
    cfg = Config.fromfile(path)
    mask_rcnn = 'mask-rcnn' in path
    assert '8xb2-1x' in path and cfg.train_dataloader.batch_size == 2
    assert cfg.train_pipeline[2].scale == cfg.test_pipeline[1].scale == (1333, 800)
    assert cfg.optim_wrapper.optimizer == dict(type='AdamW', lr=2e-4 if mask_rcnn else 1e-4,
                                               weight_decay=1e-4)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.1, norm_type=2)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys.backbone.lr_mult == 0.1 and keys.text_encoder.lr_mult == 0.0
    assert keys.norm.decay_mult == 0.0
    warmup, steps = cfg.param_scheduler
    assert (warmup.start_factor, warmup.end) == (0.001, 500) and steps.milestones == [8, 11]
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.val_evaluator.metric == (['bbox', 'segm'] if mask_rcnn else 'bbox')
    model, backbone = cfg.model, cfg.model.backbone
    vit = 'vit' in path
    assert backbone.pretrained == 'pretrained/' + (
        'ViT-B-16.pt' if vit else 'RN101.pt' if 'r101' in path else 'RN50.pt')
    assert backbone.input_resolution == 1344
    if not model.type.startswith('DenseCLIP'):
        return
    assert model.class_names == 'CocoDataset' and model.tau == 0.07 and model.seg_loss
    assert model.text_encoder.pretrained == backbone.pretrained
    assert model.text_dim == model.context_decoder.visual_dim == \
        model.text_encoder.embed_dim == (1024 if 'r50' in path else 512)
    index = model.score_concat_index
    assert index == (2 if vit else 3)
    assert model.neck.in_channels[index] == (768 if vit else 2048) + 80
    if not vit:  # the detection attention pool: grid 42 cropped at run time, 32 heads
        assert backbone.type == 'CLIPResNetWithAttention' and backbone.pos_embed_mode == 'crop'


@pytest.mark.parametrize('path', COCO, ids=os.path.basename)
def test_coco_configs_build(path):
    """Shape-only builds (meta device): every COCO config builds its mmdet 3.x model."""
    import clipdense  # noqa: F401
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    with torch.device('meta'):
        model = MODELS.build(copy.deepcopy(Config.fromfile(path).model))
    if 'denseclip' in os.path.basename(path):
        assert len(model.class_names) == 80 and model.contexts.shape == (1, 8, 512)
        assert model.backbone.attnpool.num_heads == 32 if 'vit' not in path else True


@pytest.mark.parametrize('detector', ['retinanet', 'mask-rcnn'])
def test_toy_detection_configs_match_their_baselines(detector):
    """The DenseCLIP toy detectors differ from the plain-CLIP toy ones only by DenseCLIP's parts
    (same data, schedule, budget), so their results compare."""
    folder = os.path.join(ROOT, 'configs', 'denseclip')
    toy = Config.fromfile(f'{folder}/denseclip-{detector}_rn-tiny_1xb8-20e_toy-coco-96x128.py')
    other = Config.fromfile(f'{folder}/{detector}_clip-rn-tiny_1xb8-20e_toy-coco-96x128.py')
    for key in ('train_dataloader', 'val_evaluator', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'randomness'):
        assert toy[key] == other[key], key
    for key in ('bbox_head', 'rpn_head', 'roi_head', 'train_cfg', 'test_cfg'):
        assert toy.model.get(key) == other.model.get(key), key

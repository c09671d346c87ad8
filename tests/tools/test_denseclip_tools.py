"""tools/train.py -> tools/test.py on the DenseCLIP toy config (subprocesses), get_flops, SyncBN,
multi-scale test, score maps, and the detection tools and checkpoint converter."""
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

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


# --- issue 16: SyncBN, multi-scale test, score maps; issue 10: detection tools and converter ---

DET_CONFIG = 'configs/denseclip/denseclip-mask-rcnn_rn-tiny_1xb8-20e_toy-coco-96x128.py'
RETINA_CONFIG = 'configs/denseclip/denseclip-retinanet_rn-tiny_1xb8-20e_toy-coco-96x128.py'


def _build(config, scope, seed=0):
    import torch
    from mmengine.config import Config
    from mmengine.registry import MODELS, init_default_scope

    import clipdense  # noqa: F401
    init_default_scope(scope)
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(os.path.join(ROOT, config)).model)
    model.init_weights()
    return model


def _save_checkpoint(model, path, meta=None):
    import torch
    torch.save(dict(state_dict=model.state_dict(), meta=meta or {}), path)
    return str(path)


def test_syncbn_in_the_distributed_training_model_and_reverted_otherwise(tmp_path):
    import torch
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.model import BaseModel
    from mmengine.registry import MODEL_WRAPPERS
    from mmengine.runner import Runner

    # stands in for DDP, which refuses SyncBN modules on CPU
    @MODEL_WRAPPERS.register_module(name='DenseCLIPTestRecordingWrapper', force=True)
    class RecordingWrapper(BaseModel):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, *args, **kwargs):
            return self.module(*args, **kwargs)

    def build_runner(work_dir, launcher):
        cfg = Config.fromfile(os.path.join(ROOT, CONFIG))  # BN backbone, BN decode head
        cfg.merge_from_dict(dict(sync_bn='torch', launcher=launcher, work_dir=str(work_dir),
                                 model_wrapper_cfg=dict(type='DenseCLIPTestRecordingWrapper')))
        return Runner.from_cfg(cfg)

    def norm_types(model):
        return {type(m).__name__ for m in model.modules()
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}

    assert norm_types(build_runner(tmp_path / 'single', 'none').model) == {'BatchNorm2d'}
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    try:
        model = build_runner(tmp_path / 'dist', 'pytorch').model
    finally:
        dist.destroy_process_group()
    assert norm_types(model) == {'SyncBatchNorm'}
    assert isinstance(model.module.backbone.layer4[0].bn3, torch.nn.SyncBatchNorm)


def test_multi_scale_flip_test_runs_through_tools_test(toy_ade_root, tmp_path):
    model = _build(CONFIG, 'mmseg')
    checkpoint = _save_checkpoint(model, tmp_path / 'toy.pth')
    work_dir = tmp_path / 'work'
    log = _run(['tools/test.py', CONFIG, checkpoint, '--tta', '--work-dir', str(work_dir),
                '--cfg-options', 'test_dataloader.dataset.indices=1',
                f'test_dataloader.dataset.data_root={toy_ade_root}'] + SMALL_LOADERS)
    assert re.findall(r'mIoU: ([0-9.]+)', log)
    dumped = open(next(work_dir.glob('*.py'))).read()  # the config the runner used
    assert "type='SegTTAModel'" in dumped and "type='TestTimeAug'" in dumped


def test_score_maps_from_tools_infer(toy_ade_root, tmp_path):
    import torch

    from tests.tools.test_infer import _infer_module
    model = _build(CONFIG, 'mmseg').eval()
    checkpoint = _save_checkpoint(model, tmp_path / 'toy.pth')
    images = os.path.join(toy_ade_root, 'images', 'validation')
    summary = _infer_module().main([os.path.join(ROOT, CONFIG), images, '--checkpoint',
                                    checkpoint, '--out-dir', str(tmp_path / 'out'),
                                    '--texts', 'kite, sky', '--score-maps'])
    entry = summary['images'][0]
    saved = np.load(entry['score_map'])
    assert list(saved['classes']) == ['kite', 'sky'] and int(saved['stride']) == 32
    assert saved['score_map'].shape == (2, 3, 4) and tuple(saved['img_shape']) == (96, 128)
    image = torch.from_numpy(cv2.imread(entry['image'])).permute(2, 0, 1)  # BGR, as loaded
    data = model.data_preprocessor(dict(inputs=[image], data_samples=None), False)
    with torch.no_grad():
        _, score_map = model.pixel_text_scores(data['inputs'])
    names = model.class_names
    expected = score_map[0, [names.index('kite'), names.index('sky')]].numpy()
    assert np.allclose(saved['score_map'], expected, atol=1e-5)


def test_detection_boxes_and_masks_through_tools_test_and_infer(toy_coco_root, tmp_path):
    import json

    from pycocotools import mask as mask_utils

    from tests.tools.test_infer import _infer_module
    model = _build(DET_CONFIG, 'mmdet')
    checkpoint = _save_checkpoint(model, tmp_path / 'det.pth')
    data = [f'{loader}.dataset.data_root={toy_coco_root}/' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    data += [f'test_evaluator.ann_file={toy_coco_root}/annotations/instances_val.json',
             'test_dataloader.dataset.indices=4']
    log = _run(['tools/test.py', DET_CONFIG, checkpoint, '--work-dir', str(tmp_path / 'work'),
                '--cfg-options'] + data + SMALL_LOADERS)
    for metric in ('coco/bbox_mAP', 'coco/segm_mAP'):  # random weights: the metric runs
        assert 0.0 <= float(re.findall(rf'{metric}: ([0-9.]+)', log)[-1]) <= 1.0
    out = tmp_path / 'infer'
    summary = _infer_module().main([os.path.join(ROOT, DET_CONFIG),
                                    f'{toy_coco_root}/val/toy_val_000000.jpg', '--checkpoint',
                                    checkpoint, '--out-dir', str(out), '--texts', 'kite, ball',
                                    '--score-thr', '0', '--score-maps'])
    assert summary['classes'] == ['kite', 'ball']
    detections = json.loads(open(summary['images'][0]['detections']).read())
    assert detections and {d['class_name'] for d in detections} <= {'kite', 'ball'}
    masks = mask_utils.decode([dict(d['mask_rle'], counts=d['mask_rle']['counts'].encode())
                               for d in detections])
    assert masks.shape == (96, 128, len(detections)) and masks.any()
    overlay = cv2.imread(summary['images'][0]['overlay'])
    assert overlay.shape[0] == 96 and overlay.shape[1] > 128  # image + legend
    assert np.load(summary['images'][0]['score_map'])['score_map'].shape == (2, 3, 4)


def _state_dict_2x(config):
    """A DenseCLIP detection checkpoint as the original (mmcv 1.x / mmdet 2.x) saved it."""
    import torch
    model = _build(config, 'mmdet', seed=1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = dict(state={0: dict(step=10, exp_avg=torch.zeros(2), exp_avg_sq=torch.zeros(2))},
                     param_groups=[dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4,
                                        amsgrad=False, initial_lr=1e-4, params=[0])])
    meta = dict(mmdet_version='2.17.0', mmcv_version='1.3.17', epoch=12, iter=88000,
                CLASSES=tuple(model.class_names), config='model = dict(...)',
                time='Thu Dec  9 10:00:00 2021')
    return model, dict(meta=meta, state_dict=state, optimizer=optimizer)


# Parameter names of the mmdet 2.x heads (mmdet v2.17 RetinaHead, RPNHead, Shared2FCBBoxHead,
# FCNMaskHead, FPN); the mmdet 3.x modules must use the same ones.
MMDET2_KEYS = {
    RETINA_CONFIG: ['bbox_head.cls_convs.0.conv.weight', 'bbox_head.reg_convs.0.conv.bias',
                    'bbox_head.retina_cls.weight', 'bbox_head.retina_reg.bias',
                    'neck.lateral_convs.0.conv.weight', 'neck.fpn_convs.4.conv.weight'],
    DET_CONFIG: ['rpn_head.rpn_conv.weight', 'rpn_head.rpn_cls.weight', 'rpn_head.rpn_reg.bias',
                 'roi_head.bbox_head.shared_fcs.0.weight', 'roi_head.bbox_head.shared_fcs.1.bias',
                 'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_reg.bias',
                 'roi_head.mask_head.convs.0.conv.weight', 'roi_head.mask_head.upsample.weight',
                 'roi_head.mask_head.conv_logits.bias', 'neck.fpn_convs.3.conv.weight'],
}


@pytest.mark.parametrize('config', [RETINA_CONFIG, DET_CONFIG], ids=['retinanet', 'mask-rcnn'])
def test_original_detection_checkpoints_load_directly_and_convert(config, tmp_path):
    import torch

    from clipdense.apis.trained_weights import load_trained_checkpoint
    from tools.model_converters.denseclip_mmdet2_to_mmdet3 import main as convert
    original, checkpoint = _state_dict_2x(config)
    assert set(MMDET2_KEYS[config]) <= set(checkpoint['state_dict'])
    assert {'contexts', 'gamma', 'text_encoder.text_projection'} <= set(checkpoint['state_dict'])
    src = tmp_path / 'denseclip_det_2x.pth'
    torch.save(checkpoint, src)
    model = _build(config, 'mmdet', seed=2)
    load_trained_checkpoint(model, str(src))  # directly: strict, weights-only
    assert torch.equal(model.contexts, original.contexts)
    dst = tmp_path / 'converted.pth'
    convert([str(src), str(dst), '--config', os.path.join(ROOT, config)])
    converted = torch.load(dst, weights_only=True)
    assert 'optimizer' not in converted
    assert converted['meta']['dataset_meta']['classes'] == tuple(original.class_names)
    assert converted['meta']['detector'] == ('RetinaNet' if config == RETINA_CONFIG
                                             else 'MaskRCNN')
    for key, value in original.state_dict().items():
        assert torch.equal(converted['state_dict'][key], value), key


def test_converter_names_what_is_wrong(tmp_path):
    import torch

    from tools.model_converters.denseclip_mmdet2_to_mmdet3 import main as convert
    _, checkpoint = _state_dict_2x(RETINA_CONFIG)
    checkpoint['meta']['CLASSES'] = ('ball', 'box', 'tent')  # 3 names for 4 score-map channels
    torch.save(checkpoint, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='512 backbone \\+ 3 score-map channels'):
        convert([str(tmp_path / 'bad.pth'), str(tmp_path / 'out.pth')])
    torch.save(dict(state_dict={'decode_head.conv_seg.weight': torch.zeros(1)}),
               tmp_path / 'seg.pth')
    with pytest.raises(ValueError, match='neither a RetinaNet'):
        convert([str(tmp_path / 'seg.pth'), str(tmp_path / 'out.pth')])
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        convert([str(tmp_path / 'missing.pth'), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()

"""BIRDet's scene classifier: the network, the training wrapper, and its toy config through
tools/train.py and tools/test.py."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

from clipdense.datasets.toy_scenes import make_toy_coco_scenes

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / 'configs' / 'birdet' / 'scene-cnn_tiny_1xb16-30e_toy-scenes-96x128.py'


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scene_cnn_shapes_and_classifier_modes():
    torch.manual_seed(0)
    classifier = MODELS.build(dict(type='SceneClassifier', network=dict(
        type='SceneCNN', num_classes=5, channels=(4, 8), input_size=(16, 16))))
    images = torch.randn(3, 3, 40, 30)
    assert classifier(images).shape == (3, 5)
    samples = [DetDataSample(metainfo=dict(scene_label=label)) for label in (0, 4, 2)]
    losses = classifier(images, samples, mode='loss')
    logits = classifier(images)
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 4, 2]))
    torch.testing.assert_close(losses['loss_scene'], expected)
    classifier.eval()
    predicted = classifier(images, samples, mode='predict')
    scores = predicted[0].pred_scene_scores
    assert scores.shape == (5, ) and torch.isclose(scores.sum(), torch.tensor(1.0))
    assert predicted[0].pred_scene_label == int(scores.argmax())
    with pytest.raises(KeyError, match='scene_label'):
        classifier(images, [DetDataSample(), *samples[1:]], mode='loss')
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        classifier(torch.randn(2, 1, 8, 8))


def test_toy_scene_classifier_trains_and_tests_through_the_tools(tmp_path):
    data = tmp_path / 'scenes'
    make_toy_coco_scenes(data, num_train=16, num_val=5, size=(48, 64), seed=1)
    options = [f'{loader}.dataset.data_root={data}/' for loader in
               ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    options += ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                'default_hooks.checkpoint.interval=2', 'param_scheduler.0.T_max=2']
    options += [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader',
                                                 'test_dataloader')
                for key in ('num_workers=0', 'persistent_workers=False')]
    work_dir = tmp_path / 'work'
    load_tool('train').main([str(CONFIG), '--work-dir', str(work_dir), '--cfg-options',
                             *options])
    checkpoint = work_dir / 'epoch_2.pth'
    assert checkpoint.is_file()
    load_tool('test').main([str(CONFIG), str(checkpoint), '--work-dir', str(work_dir / 'test'),
                            '--cfg-options', *options])
    logs = sorted((work_dir / 'test').rglob('*.json'))
    metrics = json.loads(logs[-1].read_text().splitlines()[-1])
    assert 0.0 <= metrics['scene/top1'] <= metrics['scene/top2'] <= 100.0
    # the checkpoint feeds BIM's scene scorer (keys network.*)
    scorer = MODELS.build(dict(type='SceneCNNScorer', checkpoint=str(checkpoint), network=dict(
        type='SceneCNN', num_classes=5, channels=(16, 32, 64, 128), input_size=(64, 64))))
    scorer.init_weights()
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    torch.testing.assert_close(scorer.network.classifier.weight,
                               state['network.classifier.weight'])

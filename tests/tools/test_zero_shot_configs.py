"""The MaskCLIP / CLIP-DINOiser benchmark configs follow the zero-shot protocol."""
import ast
import glob
import os

import pytest

from tests.tools.helpers import ROOT

BENCHMARKS = {'voc': 21, 'voc20': 20, 'pascal-context60': 60, 'pascal-context59': 59,
              'coco-object': 81, 'coco-stuff171': 171, 'cityscapes': 19, 'ade20k': 150}


def _config_path(algorithm, folder, dataset):
    return os.path.join(ROOT, 'configs', folder,
                        f'{algorithm}_vit-b16_1xb1-zero-shot_{dataset}-448x448.py')


@pytest.mark.parametrize('algorithm,folder', [('maskclip', 'maskclip'),
                                              ('clip-dinoiser', 'clip_dinoiser')])
def test_benchmark_configs_follow_the_protocol(algorithm, folder):
    import clipdense  # noqa: F401  (registration)
    from mmengine.config import Config
    from mmseg.registry import DATASETS
    for dataset, num_classes in BENCHMARKS.items():
        cfg = Config.fromfile(_config_path(algorithm, folder, dataset))
        model, loader = cfg.model, cfg.test_dataloader
        classes = DATASETS.get(loader.dataset.type).METAINFO['classes']
        assert len(classes) == num_classes, dataset
        assert model.class_names is None or len(model.class_names) == num_classes, dataset
        assert model.test_cfg.crop_size == (448, 448) and model.test_cfg.stride == (224, 224)
        assert model.test_cfg.mode == 'slide' and loader.batch_size == 1
        resize = [t for t in loader.dataset.pipeline if t['type'] == 'Resize'][0]
        assert resize['scale'] == (2048, 448) and resize['keep_ratio']
        assert not any('Flip' in t['type'] for t in loader.dataset.pipeline)
        assert model.clip.model_name == 'ViT-B-16' and model.templates == 'imagenet80'
        if algorithm == 'clip-dinoiser':
            assert model.backbone.feats_idx == -3
            assert model.decode_head.checkpoint == 'pretrained/clip_dinoiser_last.pt'
            uses_rule = model.saliency_background and 'background' in classes
            assert uses_rule == (dataset in ('voc', 'coco-object')), dataset
        else:
            assert model.get('decode_head') is None


def test_every_config_has_at_most_three_inheritance_levels():
    def depth(path):
        tree = ast.parse(open(path).read())
        bases = next((ast.literal_eval(node.value) for node in tree.body
                      if isinstance(node, ast.Assign) and node.targets[0].id == '_base_'), [])
        bases = [bases] if isinstance(bases, str) else bases
        folder = os.path.dirname(path)
        return 1 + max([depth(os.path.normpath(os.path.join(folder, b))) for b in bases],
                       default=0)
    configs = glob.glob(os.path.join(ROOT, 'configs', 'maskclip', '*.py')) + \
        glob.glob(os.path.join(ROOT, 'configs', 'clip_dinoiser', '*.py'))
    assert len(configs) == 19
    assert max(depth(path) for path in configs) <= 3

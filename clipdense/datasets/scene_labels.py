"""Image-level scene labels (BIRDet's scene classifier): a dataset and its accuracy metric.

The annotation file uses the format of the Places365 release lists
(``places365_train_standard.txt``): one ``<image path relative to data_prefix.img> <class index>``
line per image. The class names come from ``scene_classes`` (a text file, one name a line, or a
list; blank lines and lines starting with ``#`` are skipped), e.g. clipdense's
``data/places365_scenes.txt`` or a toy set's ``scene_classes.txt``.
"""
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.registry import DATASETS, METRICS
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric

PACKAGE_DATA_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
PLACES365_SCENES_FILE = osp.join(PACKAGE_DATA_DIR, 'places365_scenes.txt')


def read_name_list(path: str) -> List[str]:
    """Names of a one-per-line text file (``#`` comments and blank lines skipped)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'name list not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    names = [name for name in names if name and not name.startswith('#')]
    if not names:
        raise ValueError(f'{path} holds no names (one name per line expected)')
    return names


def resolve_scene_vocabulary(scene_vocabulary: Union[str, Sequence[str], None]) -> List[str]:
    """A file path, a list of names, or None / ``'places365'`` (clipdense's Places365 list) ->
    the list of scene descriptors (duplicates refused)."""
    if scene_vocabulary is None or scene_vocabulary == 'places365':
        names = read_name_list(PLACES365_SCENES_FILE)
    elif isinstance(scene_vocabulary, str):
        names = read_name_list(scene_vocabulary)
    else:
        names = [str(name).strip() for name in scene_vocabulary]
        if not names or not all(names):
            raise ValueError(f'scene vocabulary has empty names or is empty: {scene_vocabulary}')
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'scene vocabulary lists {duplicates} more than once')
    return names


@DATASETS.register_module()
class SceneLabelDataset(BaseDataset):
    """Images with one scene label each; ``data_info`` = ``img_path``, ``img_id``,
    ``scene_label`` (int). Pack with ``PackDetInputs(meta_keys=(..., 'scene_label'))``.

    Args:
        scene_classes: file (relative to ``data_root`` unless absolute) or list of the class
            names (index i = label i); ``'places365'``: clipdense's Places365 list.
    """

    def __init__(self, scene_classes: Union[str, Sequence[str]] = 'places365', **kwargs):
        data_root = kwargs.get('data_root') or ''
        if (isinstance(scene_classes, str) and scene_classes != 'places365'
                and not osp.isabs(scene_classes)):
            scene_classes = osp.join(data_root, scene_classes)  # relative to data_root
        names = resolve_scene_vocabulary(scene_classes)
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=tuple(names))
        super().__init__(metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'scene label file not found: {self.ann_file}')
        num_classes = len(self.metainfo['classes'])
        image_root = self.data_prefix.get('img', '')
        data_list = []
        with open(self.ann_file, encoding='utf-8') as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(f'{self.ann_file}:{line_no}: expected "<image> <class '
                                     f'index>", got {line.strip()!r}')
                label = int(parts[1])
                if not 0 <= label < num_classes:
                    raise ValueError(f'{self.ann_file}:{line_no}: class index {label} outside '
                                     f'the {num_classes} scene classes')
                data_list.append(dict(img_path=osp.join(image_root, parts[0].lstrip('/')),
                                      img_id=len(data_list), scene_label=label))
        if not data_list:
            raise ValueError(f'{self.ann_file} lists no images')
        return data_list


@METRICS.register_module()
class SceneAccuracy(BaseMetric):
    """Top-k accuracy (%) of ``pred_scene_scores`` (C,) against ``metainfo['scene_label']``."""
    default_prefix = 'scene'

    def __init__(self, topk: Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            sample = sample if isinstance(sample, dict) else sample.to_dict()  # flat: meta too
            if 'pred_scene_scores' not in sample:
                raise KeyError('SceneAccuracy needs pred_scene_scores in the predictions '
                               '(a SceneClassifier model)')
            scores = torch.as_tensor(sample['pred_scene_scores']).float().cpu()
            label = sample.get('scene_label')
            if label is None:
                raise KeyError('SceneAccuracy needs scene_label in the data sample metainfo '
                               "(PackDetInputs meta_keys=(..., 'scene_label'))")
            ranks = int((scores > scores[int(label)]).sum())
            self.results.append(ranks)

    def compute_metrics(self, results: list) -> dict:
        ranks = np.asarray(results)
        return {f'top{k}': float((ranks < k).mean() * 100) for k in self.topk}

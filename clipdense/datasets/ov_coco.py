"""OV-COCO: COCO with the 48 base / 17 novel category split of open-vocabulary detection.

The split is the one of OVR-CNN (Zareian et al., CVPR 2021), used by ViLD, Detic, F-VLM, BARON,
CORA, CLIPSelf, ...: detectors train on the annotations of the 48 base categories only and are
evaluated on the 65 categories (base + novel), reporting box AP50 per subset. The 15 remaining
COCO categories are in neither set (no WordNet synset / too rare in the original protocol).

``tools/dataset_converters/ov_coco.py`` writes the standard files from the official COCO 2017
JSONs; :class:`OVCocoDataset` reads either those or the official files directly (annotations of
classes outside the chosen vocabulary are dropped on load).
"""
from typing import List, Sequence

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .toy_scenes import TOY_THING_CLASSES, TOY_THING_PALETTE

# Listed in ascending COCO category id order (the order of the official JSONs' categories).
OV_COCO_NOVEL_CLASSES = ('airplane', 'bus', 'cat', 'dog', 'cow', 'elephant', 'umbrella', 'tie',
                         'snowboard', 'skateboard', 'cup', 'knife', 'cake', 'couch', 'keyboard',
                         'sink', 'scissors')
OV_COCO_BASE_CLASSES = ('person', 'bicycle', 'car', 'motorcycle', 'train', 'truck', 'boat',
                        'bench', 'bird', 'horse', 'sheep', 'bear', 'zebra', 'giraffe', 'backpack',
                        'handbag', 'suitcase', 'frisbee', 'skis', 'kite', 'surfboard', 'bottle',
                        'fork', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
                        'broccoli', 'carrot', 'pizza', 'donut', 'chair', 'bed', 'toilet', 'tv',
                        'laptop', 'mouse', 'remote', 'microwave', 'oven', 'toaster',
                        'refrigerator', 'book', 'clock', 'vase', 'toothbrush')
# COCO 2017 category ids of the 65 OV-COCO classes.
OV_COCO_CATEGORY_IDS = {
    'person': 1, 'bicycle': 2, 'car': 3, 'motorcycle': 4, 'airplane': 5, 'bus': 6, 'train': 7,
    'truck': 8, 'boat': 9, 'bench': 15, 'bird': 16, 'cat': 17, 'dog': 18, 'horse': 19,
    'sheep': 20, 'cow': 21, 'elephant': 22, 'bear': 23, 'zebra': 24, 'giraffe': 25,
    'backpack': 27, 'umbrella': 28, 'handbag': 31, 'tie': 32, 'suitcase': 33, 'frisbee': 34,
    'skis': 35, 'snowboard': 36, 'kite': 38, 'skateboard': 41, 'surfboard': 42, 'bottle': 44,
    'cup': 47, 'fork': 48, 'knife': 49, 'spoon': 50, 'bowl': 51, 'banana': 52, 'apple': 53,
    'sandwich': 54, 'orange': 55, 'broccoli': 56, 'carrot': 57, 'pizza': 59, 'donut': 60,
    'cake': 61, 'chair': 62, 'couch': 63, 'bed': 65, 'toilet': 70, 'tv': 72, 'laptop': 73,
    'mouse': 74, 'remote': 75, 'keyboard': 76, 'microwave': 78, 'oven': 79, 'toaster': 80,
    'sink': 81, 'refrigerator': 82, 'book': 84, 'clock': 85, 'vase': 86, 'scissors': 87,
    'toothbrush': 90
}
OV_COCO_CLASSES = tuple(sorted(OV_COCO_CATEGORY_IDS, key=OV_COCO_CATEGORY_IDS.get))

# The toy open-vocabulary split of the generated toy COCO scenes: 'kite' is never annotated in
# training and must be found from its name alone.
TOY_OV_NOVEL_CLASSES = ('kite', )
TOY_OV_BASE_CLASSES = tuple(c for c in TOY_THING_CLASSES if c not in TOY_OV_NOVEL_CLASSES)

SPLITS = ('all', 'base', 'novel')

# Class lists that configs name instead of repeating them (e.g. FVLM(class_names='ov_coco')).
NAMED_VOCABULARIES = {
    'coco': tuple(CocoDataset.METAINFO['classes']),
    'ov_coco': OV_COCO_CLASSES,
    'ov_coco_base': OV_COCO_BASE_CLASSES,
    'ov_coco_novel': OV_COCO_NOVEL_CLASSES,
    'toy_coco': tuple(TOY_THING_CLASSES),
    'toy_ov_base': TOY_OV_BASE_CLASSES,
}


def named_vocabulary(name: str) -> tuple:
    """The class names registered under ``name`` in :data:`NAMED_VOCABULARIES`."""
    if name not in NAMED_VOCABULARIES:
        raise KeyError(f'unknown vocabulary name {name!r}; known: {sorted(NAMED_VOCABULARIES)} '
                       '(or give the class names as a list)')
    return NAMED_VOCABULARIES[name]


def _coco_palette(classes: Sequence[str]) -> List[tuple]:
    """mmdet's COCO colours of ``classes`` (so visualisations match plain COCO models)."""
    colours = dict(zip(CocoDataset.METAINFO['classes'], CocoDataset.METAINFO['palette']))
    return [tuple(colours.get(name, (220, 20, 60))) for name in classes]


def split_classes(classes: Sequence[str], base_classes: Sequence[str],
                  novel_classes: Sequence[str], vocabulary: str) -> tuple:
    """The subset of ``classes`` (order kept) for ``vocabulary`` in ('all', 'base', 'novel');
    checks that base and novel are disjoint and cover ``classes``."""
    if vocabulary not in SPLITS:
        raise ValueError(f'vocabulary must be one of {SPLITS}, got {vocabulary!r}')
    base, novel = set(base_classes), set(novel_classes)
    if base & novel:
        raise ValueError(f'classes both base and novel: {sorted(base & novel)}')
    unsplit = [c for c in classes if c not in base | novel]
    unknown = sorted((base | novel) - set(classes))
    if unsplit or unknown:
        raise ValueError(f'the base/novel split does not match the classes: not in the split: '
                         f'{unsplit}; not among the classes: {unknown}')
    keep = dict(all=base | novel, base=base, novel=novel)[vocabulary]
    return tuple(c for c in classes if c in keep)


@DATASETS.register_module()
class OVCocoDataset(CocoDataset):
    """COCO-format detection data with a base/novel split (default: OV-COCO 48/17).

    ``metainfo`` carries ``classes`` (all classes, in the annotation file's category order),
    ``base_classes`` and ``novel_classes``; the evaluator and checkpoints get them through
    ``dataset_meta``. ``vocabulary`` selects the classes this instance loads: ``'base'`` for
    training (novel annotations are dropped; with ``filter_empty_gt`` images left without
    annotations are skipped), ``'all'`` for evaluation. Labels index the selected classes.

    Every selected class must be a category of the annotation file, in the same relative order;
    otherwise loading stops with an error naming the class and the file (mmdet would silently
    shift the labels).
    """
    METAINFO = dict(classes=OV_COCO_CLASSES, base_classes=OV_COCO_BASE_CLASSES,
                    novel_classes=OV_COCO_NOVEL_CLASSES, palette=_coco_palette(OV_COCO_CLASSES))

    def __init__(self, *args, vocabulary: str = 'all', metainfo: dict = None, **kwargs):
        meta = dict(self.METAINFO, **(metainfo or {}))
        for key in ('classes', 'base_classes', 'novel_classes'):
            meta[key] = tuple(meta[key])
        selected = split_classes(meta['classes'], meta['base_classes'], meta['novel_classes'],
                                 vocabulary)
        if len(meta.get('palette', ())) != len(meta['classes']):
            meta['palette'] = _coco_palette(meta['classes'])
        colours = dict(zip(meta['classes'], meta['palette']))
        meta.update(classes=selected, palette=[colours[c] for c in selected])
        self.vocabulary = vocabulary
        super().__init__(*args, metainfo=meta, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        self._check_categories()
        return data_list

    def parse_data_info(self, raw_data_info: dict):
        if not hasattr(self, '_file_categories'):  # the COCO api is only alive during loading
            self._file_categories = {c['id']: c['name'] for c in self.coco.cats.values()}
        return super().parse_data_info(raw_data_info)

    def _check_categories(self) -> None:
        classes = self.metainfo['classes']
        names = getattr(self, '_file_categories', {})
        loaded = [names.get(i) for i in self.cat_ids]
        if len(self.cat_ids) != len(classes) or (names and loaded != list(classes)):
            missing = [c for c in classes if c not in names.values()] if names else []
            detail = (f'missing classes {missing}' if missing or not names else
                      f'the file lists them in the order {loaded}')
            raise ValueError(f'{self.ann_file}: categories do not match the dataset classes '
                             f'{list(classes)}: {detail}')


@DATASETS.register_module()
class ToyOVCocoDataset(OVCocoDataset):
    """The generated toy COCO scenes (``tools/make_toy_data.py coco``) with the toy
    open-vocabulary split: ``kite`` novel, ``ball``/``box``/``tent`` base."""
    METAINFO = dict(classes=tuple(TOY_THING_CLASSES), base_classes=TOY_OV_BASE_CLASSES,
                    novel_classes=TOY_OV_NOVEL_CLASSES,
                    palette=[tuple(c) for c in TOY_THING_PALETTE])

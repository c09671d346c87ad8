"""OV-COCO: the 48/17 split and its COCO ids, the converter, the dataset types."""
import importlib.util
import json
from pathlib import Path

import pytest
from mmdet.datasets import CocoDataset

from clipdense.datasets.ov_coco import (NAMED_VOCABULARIES, OV_COCO_BASE_CLASSES,
                                        OV_COCO_CATEGORY_IDS, OV_COCO_CLASSES,
                                        OV_COCO_NOVEL_CLASSES, OVCocoDataset, ToyOVCocoDataset,
                                        named_vocabulary, split_classes)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The official COCO 2017 category ids of the 80 classes, in mmdet's class order (ids 12, 26, 29,
# 30, 45, 66, 68, 69, 71 and 83 are unused).
COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
ISSUE_NOVEL = ('airplane bus cat dog cow elephant umbrella tie snowboard skateboard cup knife '
               'cake couch keyboard sink scissors').split()


def load_converter():
    spec = importlib.util.spec_from_file_location(
        'ov_coco_converter', REPO_ROOT / 'tools' / 'dataset_converters' / 'ov_coco.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_lists_and_ids():
    assert len(OV_COCO_BASE_CLASSES) == 48 and len(OV_COCO_NOVEL_CLASSES) == 17
    assert set(OV_COCO_NOVEL_CLASSES) == set(ISSUE_NOVEL)
    assert not set(OV_COCO_BASE_CLASSES) & set(OV_COCO_NOVEL_CLASSES)
    assert set(OV_COCO_CLASSES) == set(OV_COCO_BASE_CLASSES) | set(OV_COCO_NOVEL_CLASSES)
    coco_ids = dict(zip(CocoDataset.METAINFO['classes'], COCO_IDS))
    assert {name: coco_ids[name] for name in OV_COCO_CLASSES} == OV_COCO_CATEGORY_IDS
    for classes in (OV_COCO_CLASSES, OV_COCO_BASE_CLASSES, OV_COCO_NOVEL_CLASSES):
        ids = [coco_ids[name] for name in classes]
        assert ids == sorted(ids)  # listed in category id order, like the JSON files
    # the 15 COCO classes outside the benchmark
    assert len(set(CocoDataset.METAINFO['classes']) - set(OV_COCO_CLASSES)) == 15
    assert named_vocabulary('ov_coco_base') == OV_COCO_BASE_CLASSES
    assert len(NAMED_VOCABULARIES['coco']) == 80
    with pytest.raises(KeyError, match='unknown vocabulary name'):
        named_vocabulary('lvis')


def test_split_classes_checks():
    assert split_classes(('a', 'b', 'c'), ('c', 'a'), ('b', ), 'base') == ('a', 'c')
    with pytest.raises(ValueError, match='both base and novel'):
        split_classes(('a', 'b'), ('a', ), ('a', 'b'), 'all')
    with pytest.raises(ValueError, match="not in the split: \\['b'\\]"):
        split_classes(('a', 'b'), ('a', ), (), 'all')
    with pytest.raises(ValueError, match='vocabulary must be one of'):
        split_classes(('a', ), ('a', ), (), 'seen')


def coco_json(num_images=3):
    """A small COCO-format dict with all 80 official categories; each image has a person (base),
    a cat (novel) and a traffic light (neither)."""
    categories = [dict(id=i, name=n, supercategory='x')
                  for i, n in zip(COCO_IDS, CocoDataset.METAINFO['classes'])]
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        images.append(dict(id=image_id, file_name=f'{image_id:06d}.jpg', width=64, height=48))
        for k, cat_id in enumerate((1, 17, 10)):
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                    category_id=cat_id, bbox=[4 + 10 * k, 4, 8, 8], area=64,
                                    iscrowd=0))
    return dict(info=dict(description='test'), images=images, annotations=annotations,
                categories=categories)


def test_converter(tmp_path):
    converter = load_converter()
    ann_dir = tmp_path / 'annotations'
    ann_dir.mkdir()
    for name in ('instances_train2017.json', 'instances_val2017.json'):
        (ann_dir / name).write_text(json.dumps(coco_json()))
    report = converter.main([str(ann_dir)])
    train = json.loads((ann_dir / 'instances_train2017_ovd_base.json').read_text())
    val = json.loads((ann_dir / 'instances_val2017_ovd_all.json').read_text())
    assert [c['name'] for c in train['categories']] == list(OV_COCO_BASE_CLASSES)
    assert {c['split'] for c in train['categories']} == {'base'}
    assert [c['name'] for c in val['categories']] == list(OV_COCO_CLASSES)
    assert {c['name'] for c in val['categories'] if c['split'] == 'novel'} == set(ISSUE_NOVEL)
    assert {a['category_id'] for a in train['annotations']} == {1}
    assert {a['category_id'] for a in val['annotations']} == {1, 17}
    assert len(train['images']) == len(val['images']) == 3 and train['info'] == val['info']
    counts = report[str(ann_dir / 'instances_val2017_ovd_all.json')]
    assert counts == dict(images=3, annotations=6, categories=65)


def test_converter_missing_class_writes_nothing(tmp_path):
    converter = load_converter()
    data = coco_json()
    data['categories'] = [c for c in data['categories'] if c['name'] != 'sink']
    for name in ('instances_train2017.json', 'instances_val2017.json'):
        (tmp_path / name).write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"no categories named \['sink'\]"):
        converter.convert(str(tmp_path), str(tmp_path / 'out'))
    assert not (tmp_path / 'out').exists()
    with pytest.raises(FileNotFoundError, match='instances_x2017.json'):
        converter.convert(str(tmp_path), val_file='instances_x2017.json')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    from clipdense.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('toy_ov_coco')
    make_toy_coco(str(root), num_train=12, num_val=4, seed=0)
    return root


def build(dataset_cls, root, split, vocabulary, **kwargs):
    return dataset_cls(data_root=str(root), ann_file=f'annotations/instances_{split}.json',
                       data_prefix=dict(img=f'{split}/'), vocabulary=vocabulary,
                       pipeline=[], **kwargs)


def test_toy_dataset_vocabularies(toy_root):
    everything = build(ToyOVCocoDataset, toy_root, 'train', 'all')
    base = build(ToyOVCocoDataset, toy_root, 'train', 'base')
    assert everything.metainfo['classes'] == ('ball', 'box', 'tent', 'kite')
    assert base.metainfo['classes'] == ('ball', 'box', 'tent')
    assert base.metainfo['novel_classes'] == ('kite', )
    kites = sum(int(i['bbox_label'] == 3) for d in everything for i in d['instances'])
    assert kites > 0
    labels = [i['bbox_label'] for d in base for i in d['instances']]
    assert labels and max(labels) == 2  # the kite annotations are gone
    total = sum(len(d['instances']) for d in everything)
    assert len(labels) == total - kites


def test_dataset_rejects_mismatched_categories(toy_root):
    with pytest.raises(ValueError, match="missing classes \\['zebra'\\]"):
        build(OVCocoDataset, toy_root, 'val', 'all',
              metainfo=dict(classes=('ball', 'zebra'), base_classes=('ball', ),
                            novel_classes=('zebra', )))
    with pytest.raises(ValueError, match='in the order'):
        build(OVCocoDataset, toy_root, 'val', 'all',
              metainfo=dict(classes=('box', 'ball'), base_classes=('ball', ),
                            novel_classes=('box', )))

"""Synthetic toy datasets: determinism, ADE/COCO validity through mmseg/mmdet, and the CLI."""
import importlib.util
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope
from pycocotools.coco import COCO

from clipdense.datasets import toy_scenes
from clipdense.datasets.toy_scenes import (TOY_CLASSES, TOY_COCO_CATEGORY_IDS, TOY_THING_CLASSES,
                                           make_toy_ade, make_toy_coco, polygon_area,
                                           rasterize_polygon)

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = (96, 128)  # the size the base configs are written for
NUM_TRAIN, NUM_VAL = 8, 6


def relative_files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob('*') if p.is_file())


def dataset_cfg(config_name, data_root, loader='val_dataloader'):
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / '_base_' / 'datasets' / config_name))
    dataset = cfg[loader].dataset
    dataset.data_root = str(data_root)
    return dataset


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_ade')
    make_toy_ade(root, num_train=NUM_TRAIN, num_val=NUM_VAL, size=SIZE, seed=0)
    return root


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(root, num_train=NUM_TRAIN, num_val=NUM_VAL, size=SIZE, seed=0)
    return root


@pytest.mark.parametrize('make', [make_toy_ade, make_toy_coco])
def test_same_seed_is_byte_identical_and_other_seed_differs(make, tmp_path):
    options = dict(num_train=3, num_val=2, size=(48, 64))
    make(tmp_path / 'a', seed=7, **options)
    make(tmp_path / 'b', seed=7, **options)
    make(tmp_path / 'c', seed=8, **options)
    files = relative_files(tmp_path / 'a')
    assert files == relative_files(tmp_path / 'b') == relative_files(tmp_path / 'c')
    assert len(files) > 0
    for name in files:
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes(), name
    differing = [name for name in files
                 if (tmp_path / 'a' / name).read_bytes() != (tmp_path / 'c' / name).read_bytes()]
    assert len(differing) == len(files)


def test_regeneration_replaces_stale_files_and_keeps_first_scenes(tmp_path):
    make_toy_ade(tmp_path, num_train=4, num_val=2, size=(48, 64))
    first = (tmp_path / 'images/training/toy_train_000000.jpg').read_bytes()
    make_toy_ade(tmp_path, num_train=2, num_val=1, size=(48, 64))
    assert len(relative_files(tmp_path / 'images')) == 3
    assert len(relative_files(tmp_path / 'annotations')) == 3
    assert (tmp_path / 'images/training/toy_train_000000.jpg').read_bytes() == first


def test_scene_labels_match_painted_instances():
    for index in range(8):
        scene = toy_scenes.generate_scene(seed=3, split='train', index=index, size=SIZE)
        assert scene.image.shape == SIZE + (3, ) and scene.image.dtype == np.uint8
        assert scene.label.shape == SIZE and scene.label.dtype == np.uint8
        assert 1 <= len(scene.instances) <= toy_scenes.MAX_OBJECTS
        assert set(np.unique(scene.label)) <= set(range(len(TOY_CLASSES) + 1))
        assert (scene.label == toy_scenes.UNLABELLED).any()
        for name in TOY_THING_CLASSES:
            covered = np.zeros(SIZE, bool)
            for instance in scene.instances:
                if instance.name == name:
                    covered |= instance.mask
            # a thing class is labelled only inside (the visible part of) its own masks
            assert not ((scene.label == toy_scenes.class_label(name)) & ~covered).any()
        top = scene.instances[-1]
        assert (scene.label[top.mask] == toy_scenes.class_label(top.name)).all()


def test_colour_alone_does_not_separate_the_things():
    """Thing colours overlap: a nearest-class-mean pixel classifier is well above chance (0.25)
    but far from perfect."""
    scenes = [toy_scenes.generate_scene(0, 'train', i, size=(48, 64)) for i in range(40)]
    pixels = np.concatenate([scene.image.reshape(-1, 3) for scene in scenes]).astype(np.float32)
    labels = np.concatenate([scene.label.reshape(-1) for scene in scenes])
    thing_values = [toy_scenes.class_label(name) for name in TOY_THING_CLASSES]
    keep = np.isin(labels, thing_values)
    pixels, labels = pixels[keep], labels[keep]
    means = np.stack([pixels[labels == v].mean(0) for v in thing_values])
    nearest = np.asarray(thing_values)[np.argmin(((pixels[:, None] - means) ** 2).sum(-1), 1)]
    assert 0.6 < (nearest == labels).mean() < 0.95


def test_ade_layout_and_mmseg_loading(ade_root):
    from mmseg.registry import DATASETS
    assert len(relative_files(ade_root / 'images/training')) == NUM_TRAIN
    assert len(relative_files(ade_root / 'annotations/validation')) == NUM_VAL
    init_default_scope('mmseg')

    val_set = DATASETS.build(dataset_cfg('toy_ade.py', ade_root))
    assert type(val_set).__name__ == 'ToyADEDataset'
    assert val_set.metainfo['classes'] == TOY_CLASSES
    assert len(val_set) == NUM_VAL
    seen = set()
    for index in range(len(val_set)):
        item = val_set[index]
        assert tuple(item['inputs'].shape) == (3, ) + SIZE
        seg = item['data_samples'].gt_sem_seg.data.numpy()
        assert seg.shape == (1, ) + SIZE
        values = set(np.unique(seg).tolist())
        assert values <= set(range(len(TOY_CLASSES))) | {255}
        assert 255 in values  # the unlabelled rings around things
        seen |= values
    assert seen == set(range(len(TOY_CLASSES))) | {255}

    train_set = DATASETS.build(dataset_cfg('toy_ade.py', ade_root, 'train_dataloader'))
    assert len(train_set) == NUM_TRAIN
    item = train_set[0]
    assert item['inputs'].shape[0] == 3 and max(item['inputs'].shape[1:]) <= 96


def test_coco_annotations_and_mmdet_loading(coco_root):
    from mmdet.registry import DATASETS, METRICS
    height, width = SIZE
    ann_file = coco_root / 'annotations/instances_val.json'
    coco = COCO(str(ann_file))
    assert sorted(coco.getCatIds()) == sorted(TOY_COCO_CATEGORY_IDS.values()) == [1, 3, 5, 7]
    assert len(coco.getImgIds()) == NUM_VAL
    for ann in coco.loadAnns(coco.getAnnIds()):
        polygon = ann['segmentation'][0]
        xs, ys = polygon[0::2], polygon[1::2]
        x, y, w, h = ann['bbox']
        assert (x, y) == (min(xs), min(ys))
        assert x + w == pytest.approx(max(xs), abs=0.011)
        assert y + h == pytest.approx(max(ys), abs=0.011)
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
        assert ann['area'] == pytest.approx(polygon_area(polygon), abs=0.01)
        assert ann['iscrowd'] == 0

    init_default_scope('mmdet')
    dataset = DATASETS.build(dataset_cfg('toy_coco.py', coco_root))
    assert type(dataset).__name__ == 'ToyCocoDataset'
    assert dataset.metainfo['classes'] == TOY_THING_CLASSES
    assert len(dataset) == NUM_VAL
    labels_seen, predictions = set(), []
    for index in range(len(dataset)):
        item = dataset[index]
        sample = item['data_samples']
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[sample.img_id]))
        instances = sample.gt_instances
        boxes = instances.bboxes.tensor.numpy()
        labels = instances.labels.numpy()
        assert len(boxes) == len(anns) > 0
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= width).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= height).all()
        assert ((labels >= 0) & (labels < len(TOY_THING_CLASSES))).all()
        masks = instances.masks.to_ndarray().astype(bool)
        semantic = cv2.imread(
            str(coco_root / 'semantic/val' / (Path(sample.img_path).stem + '.png')),
            cv2.IMREAD_UNCHANGED)
        for ann, box, label, mask in zip(anns, boxes, labels, masks):
            name = coco.loadCats([ann['category_id']])[0]['name']
            assert TOY_THING_CLASSES[label] == name
            x, y, w, h = ann['bbox']
            np.testing.assert_allclose(box, [x, y, x + w, y + h], atol=1e-3)
            polygon = ann['segmentation'][0]
            assert (mask == rasterize_polygon(polygon, height, width)).all()
            assert abs(int(mask.sum()) - ann['area']) <= 0.1 * ann['area'] + 3
            # the semantic map shows this class only inside masks of this class (occlusion-aware)
            class_masks = masks[[TOY_THING_CLASSES[other] == name for other in labels]]
            assert not ((semantic == toy_scenes.class_label(name)) & ~class_masks.any(0)).any()
        labels_seen |= set(labels.tolist())
        predictions.append(dict(img_id=sample.img_id, ori_shape=sample.ori_shape,
                                pred_instances=dict(bboxes=instances.bboxes.tensor,
                                                    scores=torch.ones(len(labels)),
                                                    labels=instances.labels)))
    assert labels_seen == set(range(len(TOY_THING_CLASSES)))

    # the base config's CocoMetric scores the ground truth itself as perfect (ids map both ways)
    evaluator_cfg = Config.fromfile(
        str(REPO_ROOT / 'configs/_base_/datasets/toy_coco.py')).val_evaluator
    evaluator_cfg.ann_file = str(ann_file)
    metric = METRICS.build(evaluator_cfg)
    metric.dataset_meta = dataset.metainfo
    metric.process({}, predictions)
    assert metric.evaluate(len(dataset))['coco/bbox_mAP'] == pytest.approx(1.0)


def load_cli():
    spec = importlib.util.spec_from_file_location('make_toy_data',
                                                  REPO_ROOT / 'tools' / 'make_toy_data.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_expected_layout(tmp_path, monkeypatch):
    cli = load_cli()
    cli.main(['all', '--out', str(tmp_path / 'out'), '--num-train', '3', '--num-val', '2',
              '--size', '48', '64', '--seed', '1'])
    ade, coco = tmp_path / 'out/toy_ade', tmp_path / 'out/toy_coco'
    stems = {'train': [f'toy_train_{i:06d}' for i in range(3)],
             'val': [f'toy_val_{i:06d}' for i in range(2)]}
    expected_ade = sorted(
        [f'images/{folder}/{s}.jpg' for split, folder in (('train', 'training'),
                                                          ('val', 'validation'))
         for s in stems[split]] +
        [f'annotations/{folder}/{s}.png' for split, folder in (('train', 'training'),
                                                               ('val', 'validation'))
         for s in stems[split]])
    assert relative_files(ade) == expected_ade
    expected_coco = sorted(
        ['annotations/instances_train.json', 'annotations/instances_val.json'] +
        [f'{split}/{s}.jpg' for split in stems for s in stems[split]] +
        [f'semantic/{split}/{s}.png' for split in stems for s in stems[split]])
    assert relative_files(coco) == expected_coco
    assert cv2.imread(str(ade / 'images/training/toy_train_000000.jpg')).shape == (48, 64, 3)

    monkeypatch.chdir(tmp_path)
    cli.main(['ade', '--num-train', '1', '--num-val', '1'])
    assert relative_files(tmp_path / 'data/toy_ade') == [
        'annotations/training/toy_train_000000.png', 'annotations/validation/toy_val_000000.png',
        'images/training/toy_train_000000.jpg', 'images/validation/toy_val_000000.jpg']
    assert os.path.getsize(tmp_path / 'data/toy_ade/images/training/toy_train_000000.jpg') > 0

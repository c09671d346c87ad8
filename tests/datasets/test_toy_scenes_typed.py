"""Typed toy scenes (BIRDet): determinism, scene labels, partial objects, the image-level label
dataset, and unchanged default toy ADE / COCO outputs."""
import hashlib
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from clipdense.datasets import toy_scenes
from clipdense.datasets.toy_scenes import (SCENE_TYPES, TOY_COCO_CATEGORY_IDS, generate_typed_scene,
                                           make_toy_ade, make_toy_coco, make_toy_coco_scenes)

REPO_ROOT = Path(__file__).resolve().parents[2]
SIZE = (96, 128)


def relative_files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob('*') if p.is_file())


def tree_digest(root):
    digest = hashlib.sha256()
    for name in relative_files(root):
        digest.update(name.encode())
        digest.update((Path(root) / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope='module')
def scenes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy_coco_scenes')
    make_toy_coco_scenes(root, num_train=10, num_val=5, size=SIZE, seed=0)
    return root


# sha256 over (relative path, bytes) of every file written with the DEFAULT arguments, recorded
# before the typed scenes existed (numpy 2.x, opencv-python-headless, pycocotools of
# requirements/runtime.txt; JPEG/PNG encoders can change bytes across OpenCV builds, see
# toy_scenes' docstring: then only the JSON / raw-array digests below are compared).
DEFAULT_TREE_SHA256 = {
    'ade': 'e8744992ae9ae506e09e2fc7d9e0c46bc9ee5da356685f77428bab24846e5076',
    'coco': '13fe9b043ed27f9f8b0ebdb761fdbe1398f704354e5b746c194462028f5d2356'}
DEFAULT_RECORDED_WITH = {'cv2': '5.0.0', 'numpy': '2.4.6'}
DEFAULT_COCO_JSON_SHA256 = {
    'train': 'c6974bdda9920bbe09d374b47a7973608c6b5e138b6d7ac6c91df6ed24b3fa7b',
    'val': 'b2677faa666708a4efee66ee7614a8ce4c831531ef8784b3373928c17b12bdd7'}
# images + label maps (raw arrays, before encoding) of generate_scene(0, split, i), i < 16
DEFAULT_RAW_SHA256 = '924aea849f0c6163bbc6644a01b080ec71c2a680e7a2b275f21a032afde26139'


def test_default_toy_ade_and_coco_outputs_are_unchanged(tmp_path):
    make_toy_coco(tmp_path / 'coco')  # defaults: 64 train, 16 val, 96x128, seed 0
    for split, expected in DEFAULT_COCO_JSON_SHA256.items():
        data = (tmp_path / 'coco' / 'annotations' / f'instances_{split}.json').read_bytes()
        assert hashlib.sha256(data).hexdigest() == expected, split
    raw = hashlib.sha256()
    for split in ('train', 'val'):
        for index in range(16):
            scene = toy_scenes.generate_scene(0, split, index)
            raw.update(scene.image.tobytes())
            raw.update(scene.label.tobytes())
    assert raw.hexdigest() == DEFAULT_RAW_SHA256
    if {'cv2': cv2.__version__, 'numpy': np.__version__} == DEFAULT_RECORDED_WITH:
        make_toy_ade(tmp_path / 'ade')
        assert tree_digest(tmp_path / 'ade') == DEFAULT_TREE_SHA256['ade']
        assert tree_digest(tmp_path / 'coco') == DEFAULT_TREE_SHA256['coco']


def test_typed_scenes_are_byte_identical_per_seed(tmp_path):
    options = dict(num_train=3, num_val=2, size=(48, 64))
    make_toy_coco_scenes(tmp_path / 'a', seed=5, **options)
    make_toy_coco_scenes(tmp_path / 'b', seed=5, **options)
    make_toy_coco_scenes(tmp_path / 'c', seed=6, **options)
    files = relative_files(tmp_path / 'a')
    assert files == relative_files(tmp_path / 'b') == relative_files(tmp_path / 'c')
    assert 'scene_classes.txt' in files and 'annotations/scenes_val.txt' in files
    assert tree_digest(tmp_path / 'a') == tree_digest(tmp_path / 'b')
    images = [name for name in files if name.endswith('.jpg')]
    assert all((tmp_path / 'a' / n).read_bytes() != (tmp_path / 'c' / n).read_bytes()
               for n in images)


def test_scene_types_cycle_and_backgrounds_differ():
    scenes = [generate_typed_scene(0, 'train', i, SIZE) for i in range(10)]
    assert [s.scene_type for s in scenes] == list(SCENE_TYPES) * 2
    for scene in scenes:
        assert scene.image.shape == SIZE + (3, ) and scene.image.dtype == np.uint8
        assert 1 <= len(scene.instances) <= toy_scenes.MAX_OBJECTS
    # the ground (bottom rows, outside the things) tells the scene types apart
    ground = {}
    for scene in scenes[:5]:
        rows = scene.image[-8:][scene.label[-8:] == 0].astype(float)
        ground[scene.scene_type] = np.median(rows, axis=0)  # (3,) RGB
    r, g, b = ground['meadow']
    assert g > r + 20 and g > b + 20                               # grass
    assert ground['beach'][0] > ground['beach'][2] + 30           # sand: yellowish
    assert ground['snow'].min() > 200                              # snow: white
    assert ground['night'].max() < 60 and ground['night'].sum() < 100   # night: dark
    assert ground['room'][0] > ground['room'][2] + 40 and ground['room'].max() < 180  # wood
    assert generate_typed_scene(0, 'train', 3, SIZE, scene_types=('room', 'night')).scene_type \
        == 'night'
    with pytest.raises(ValueError, match='scene_types'):
        generate_typed_scene(0, 'train', 0, SIZE, scene_types=('desert', ))
    with pytest.raises(ValueError, match='partial_prob'):
        make_toy_coco_scenes('/nonexistent/never_written', partial_prob=2.0)


def test_partial_objects_border_cut_and_split(scenes_root):
    coco = json.loads((scenes_root / 'annotations' / 'instances_train.json').read_text())
    kinds = [a['partial'] for a in coco['annotations']]
    assert set(kinds) == {None, 'border', 'split'}
    height, width = SIZE
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= width + 1e-6 and y + h <= height + 1e-6
        if ann['partial'] == 'border':  # the visible part touches the image border
            assert min(x, y) < 1e-6 or x + w > width - 1e-6 or y + h > height - 1e-6
    # a split thing: its mask is cut by occluder pixels that are not labelled as the thing
    for index in range(10):
        scene = generate_typed_scene(0, 'train', index, SIZE)
        for instance in scene.instances:
            if instance.partial == 'split':
                hidden = instance.mask & (scene.label == 0)
                assert hidden.sum() > 0
                columns = np.flatnonzero(hidden.any(0))
                assert instance.mask[:, :columns.min()].any() and \
                    instance.mask[:, columns.max() + 1:].any()  # visible on both sides
                return
    pytest.fail('no split case among the first 10 scenes')


def test_scene_label_files_and_coco_json(scenes_root):
    classes = (scenes_root / 'scene_classes.txt').read_text().split('\n')[:-1]
    assert classes == list(SCENE_TYPES)
    coco = json.loads((scenes_root / 'annotations' / 'instances_val.json').read_text())
    lines = (scenes_root / 'annotations' / 'scenes_val.txt').read_text().splitlines()
    assert len(lines) == len(coco['images']) == 5
    for line, image in zip(lines, coco['images']):
        name, label = line.split()
        assert name == image['file_name'] and SCENE_TYPES[int(label)] == image['scene']
        assert (scenes_root / 'val' / name).is_file()
    assert {c['id'] for c in coco['categories']} == set(TOY_COCO_CATEGORY_IDS.values())


def test_scene_label_dataset_and_accuracy(scenes_root, tmp_path):
    import torch
    from mmdet.structures import DetDataSample
    from clipdense.datasets.scene_labels import SceneAccuracy, SceneLabelDataset
    dataset = SceneLabelDataset(data_root=str(scenes_root), ann_file='annotations/scenes_val.txt',
                                data_prefix=dict(img='val/'), scene_classes='scene_classes.txt',
                                pipeline=[], test_mode=True)
    assert dataset.metainfo['classes'] == SCENE_TYPES and len(dataset) == 5
    assert [dataset[i]['scene_label'] for i in range(5)] == [0, 1, 2, 3, 4]
    assert dataset[2]['img_path'].endswith('val/scene_val_000002.jpg')
    metric = SceneAccuracy(topk=(1, 2))
    samples = []
    for label, scores in [(0, [0.9, 0.1, 0, 0, 0]), (1, [0.6, 0.4, 0, 0, 0]),
                          (2, [0.1, 0.2, 0, 0.3, 0.4])]:
        sample = DetDataSample(metainfo=dict(scene_label=label))
        sample.pred_scene_scores = torch.tensor(scores)
        samples.append(sample)
    metric.process({}, samples)
    assert metric.compute_metrics(metric.results) == pytest.approx({'top1': 100 / 3,
                                                                    'top2': 200 / 3})
    bad = tmp_path / 'bad.txt'
    bad.write_text('scene_val_000000.jpg 7\n')
    with pytest.raises(ValueError, match='bad.txt:1: class index 7'):
        SceneLabelDataset(ann_file=str(bad), scene_classes=list(SCENE_TYPES), pipeline=[])


def test_make_toy_data_cli_coco_scenes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('make_toy_data',
                                                  REPO_ROOT / 'tools' / 'make_toy_data.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main(['coco-scenes', '--out', str(tmp_path / 's'), '--num-train', '2', '--num-val', '1',
               '--size', '48', '64', '--scene-types', 'snow', 'room', '--partial-prob', '0.5'])
    assert 'toy coco-scenes' in capsys.readouterr().out
    assert (tmp_path / 's' / 'scene_classes.txt').read_text() == 'snow\nroom\n'
    with pytest.raises(SystemExit):
        tool.main(['coco', '--out', str(tmp_path / 'c'), '--partial-prob', '0.5'])
    assert not (tmp_path / 'c').exists()
